import Mechanic

/// The activation-patching families of TransformerLens's `patching` module, named by the suffix
/// of their `get_act_patch_*` function, plus the kinds Mechanic adds (`resid_post`,
/// `mlp_neuron`, `attn_head_result`, `attn_head_result_by_pos`).
///
/// Output shapes, in TransformerLens's axis order:
/// - `resid_pre`, `resid_mid`, `resid_post`, `attn_out`, `mlp_out`: `[layer, pos]`
/// - `attn_head_{out,q,pattern}_all_pos`, `attn_head_result`: `[layer, head]`
/// - `attn_head_{k,v}_all_pos`: `[layer, n_key_value_heads]` — per key/value head in
///   grouped-query models (patching one KV head changes every query head of its group)
/// - `attn_head_{out,q}_by_pos`, `attn_head_result_by_pos`: `[layer, pos, head]`;
///   `attn_head_{k,v}_by_pos`: `[layer, pos, n_key_value_heads]`
/// - `attn_head_pattern_by_pos`: `[layer, head, dest_pos]` (as TransformerLens defines it)
/// - `attn_head_pattern_dest_src_pos`: `[layer, head, dest_pos, src_pos]`
/// - `attn_head_all_pos_every`: `[5, layer, head]` (out, q, k, v, pattern; k and v zero-padded
///   to `n_heads` as TransformerLens pads them)
/// - `attn_head_by_pos_every`: `[5, layer, pos, head]` (pattern moved to `[layer, pos, head]`)
/// - `block_every`: `[3, layer, pos]` (resid_pre, attn_out, mlp_out)
/// - `mlp_neuron`: `[layer, d_mlp]` (`mlp.hook_post`, at every position or the final one)
public enum ActPatchKind: String, CaseIterable, Sendable {
    case residPre = "resid_pre"
    case residMid = "resid_mid"
    case residPost = "resid_post"
    case attnOut = "attn_out"
    case mlpOut = "mlp_out"
    case attnHeadOutAllPos = "attn_head_out_all_pos"
    case attnHeadQAllPos = "attn_head_q_all_pos"
    case attnHeadKAllPos = "attn_head_k_all_pos"
    case attnHeadVAllPos = "attn_head_v_all_pos"
    case attnHeadPatternAllPos = "attn_head_pattern_all_pos"
    case attnHeadOutByPos = "attn_head_out_by_pos"
    case attnHeadQByPos = "attn_head_q_by_pos"
    case attnHeadKByPos = "attn_head_k_by_pos"
    case attnHeadVByPos = "attn_head_v_by_pos"
    case attnHeadPatternByPos = "attn_head_pattern_by_pos"
    case attnHeadPatternDestSrcPos = "attn_head_pattern_dest_src_pos"
    case attnHeadAllPosEvery = "attn_head_all_pos_every"
    case attnHeadByPosEvery = "attn_head_by_pos_every"
    case blockEvery = "block_every"
    case mlpNeuron = "mlp_neuron"
    case attnHeadResult = "attn_head_result"
    case attnHeadResultByPos = "attn_head_result_by_pos"

    /// Where `mlp_neuron` patches each neuron.
    public enum NeuronPositions: String, Sendable, CaseIterable { case all, final }

    /// The stacked kinds of an `_every` kind (nil for a single kind).
    public var components: [ActPatchKind]? {
        switch self {
        case .attnHeadAllPosEvery:
            return [.attnHeadOutAllPos, .attnHeadQAllPos, .attnHeadKAllPos, .attnHeadVAllPos, .attnHeadPatternAllPos]
        case .attnHeadByPosEvery:
            return [.attnHeadOutByPos, .attnHeadQByPos, .attnHeadKByPos, .attnHeadVByPos, .attnHeadPatternByPos]
        case .blockEvery:
            return [.residPre, .attnOut, .mlpOut]
        default:
            return nil
        }
    }

    /// The hook kind a single kind patches (`act`, typed).
    package var hookKind: HookKind? { HookName(actName(act, layer: 0))?.kind }

    /// The `utils.get_act_name` activation a single kind patches.
    package var act: String {
        switch self {
        case .residPre: return "resid_pre"
        case .residMid: return "resid_mid"
        case .residPost: return "resid_post"
        case .attnOut: return "attn_out"
        case .mlpOut: return "mlp_out"
        case .attnHeadOutAllPos, .attnHeadOutByPos: return "z"
        case .attnHeadQAllPos, .attnHeadQByPos: return "q"
        case .attnHeadKAllPos, .attnHeadKByPos: return "k"
        case .attnHeadVAllPos, .attnHeadVByPos: return "v"
        case .attnHeadPatternAllPos, .attnHeadPatternByPos, .attnHeadPatternDestSrcPos: return "pattern"
        case .mlpNeuron: return "post"
        case .attnHeadResult, .attnHeadResultByPos: return "result"
        case .attnHeadAllPosEvery, .attnHeadByPosEvery, .blockEvery: return ""
        }
    }

    /// Axis names of the result, TransformerLens's order.
    public func axes() -> [String] {
        if let parts = components {
            return ["patch_type"] + (self == .attnHeadByPosEvery ? ["layer", "pos", "head"] : parts[0].axes())
        }
        switch self {
        case .residPre, .residMid, .residPost, .attnOut, .mlpOut: return ["layer", "pos"]
        case .attnHeadOutAllPos, .attnHeadQAllPos, .attnHeadKAllPos, .attnHeadVAllPos, .attnHeadResult: return ["layer", "head"]
        case .attnHeadPatternAllPos: return ["layer", "head_index"]
        case .attnHeadOutByPos, .attnHeadQByPos, .attnHeadKByPos, .attnHeadVByPos, .attnHeadResultByPos: return ["layer", "pos", "head"]
        case .attnHeadPatternByPos: return ["layer", "head_index", "dest_pos"]
        case .attnHeadPatternDestSrcPos: return ["layer", "head_index", "dest_pos", "src_pos"]
        case .mlpNeuron: return ["layer", "neuron"]
        default: return []
        }
    }

    /// Heads along the head axis: key/value heads for k and v.
    func heads(_ c: ModelConfig) -> Int {
        act == "k" || act == "v" ? c.nKeyValueHeads : c.nHeads
    }

    /// Result shape for prompts of `positions` tokens.
    public func shape(_ c: ModelConfig, positions P: Int) -> [Int] {
        let (L, H) = (c.nLayers, c.nHeads)
        switch self {
        case .attnHeadAllPosEvery: return [5, L, H]
        case .attnHeadByPosEvery: return [5, L, P, H]
        case .blockEvery: return [3, L, P]
        default: break
        }
        let h = heads(c)
        switch axes() {
        case ["layer", "pos"]: return [L, P]
        case ["layer", "head"], ["layer", "head_index"]: return [L, h]
        case ["layer", "pos", "head"]: return [L, P, h]
        case ["layer", "head_index", "dest_pos"]: return [L, h, P]
        case ["layer", "head_index", "dest_pos", "src_pos"]: return [L, h, P, P]
        case ["layer", "neuron"]: return [L, c.dMLP]
        default: return []
        }
    }

    /// Throws when this model has no such activation (no MLPs, no `hook_resid_mid`).
    func checkSupported(_ c: ModelConfig) throws {
        if let parts = components { for p in parts { try p.checkSupported(c) }; return }
        if c.attnOnly, ["mlp_out", "post", "resid_mid"].contains(act) {
            throw MechanicError.invalidArgument("--act \(rawValue): the model is attention-only and has no \(act == "post" ? "MLP neurons" : "hook_\(act)")")
        }
        if c.parallelAttnMLP, act == "resid_mid" {
            throw MechanicError.invalidArgument("--act resid_mid: the model runs attention and MLP in parallel, so it has no hook_resid_mid (TransformerLens fails the same way); patch resid_pre, attn_out or mlp_out")
        }
    }

    /// Every patch of a single kind, each with its flat index into the result (row-major in
    /// `shape`). Sites are listed layer by layer.
    package func sites(_ c: ModelConfig, positions P: Int, neuronPositions: NeuronPositions = .all) -> [(index: Int, site: PatchSite)] {
        let (L, h) = (c.nLayers, heads(c))
        var out: [(Int, PatchSite)] = []
        func add(_ l: Int, _ sel: PatchSelection) { out.append((out.count, PatchSite(act, layer: l, sel))) }
        for l in 0..<L {
            switch axes() {
            case ["layer", "pos"]:
                for p in 0..<P { add(l, .position(p)) }
            case ["layer", "head"]:
                for hh in 0..<h { add(l, .head(hh)) }
            case ["layer", "head_index"]:
                for hh in 0..<h { add(l, .patternHead(hh)) }
            case ["layer", "pos", "head"]:
                for p in 0..<P { for hh in 0..<h { add(l, .positionHead(pos: p, head: hh)) } }
            case ["layer", "head_index", "dest_pos"]:
                for hh in 0..<h { for d in 0..<P { add(l, .patternDest(head: hh, dest: d)) } }
            case ["layer", "head_index", "dest_pos", "src_pos"]:
                for hh in 0..<h { for d in 0..<P { for s in 0..<P { add(l, .patternDestSrc(head: hh, dest: d, src: s)) } } }
            case ["layer", "neuron"]:
                for n in 0..<c.dMLP { add(l, neuronPositions == .final ? .positionNeuron(pos: P - 1, neuron: n) : .neuron(n)) }
            default:
                break
            }
        }
        return out
    }
}
