import MechanicTensor

/// One block's parameters. The query/key/value weights are stored once, fused in the layout the
/// forward reads (`wQKV [d_model, (heads + 2·kv_heads)·d_head]`, q | k | v side by side); their
/// TransformerLens per-head views (`W_Q [n_heads, d_model, d_head]`, …) are derived on demand
/// (a copy on each read; setting one rewrites its columns). Every other member is in
/// TransformerLens's layout (`x @ W`). Optional members are absent where the architecture or
/// processing has none.
public struct BlockWeights: Sendable {
    public var ln1W: Tensor?   // [d_model]
    public var ln1B: Tensor?   // [d_model]
    /// q | k | v weights: `[d_model, (heads + 2·kv_heads)·d_head]`.
    public var wQKV: Tensor
    /// q | k | v biases: `[(heads + 2·kv_heads)·d_head]`.
    public var bQKV: Tensor
    /// Head counts of `wQKV`.
    public let attnShape: AttentionShape
    public var W_O: Tensor     // [n_heads, d_head, d_model]
    public var b_O: Tensor     // [d_model]
    public var ln2W: Tensor?   // [d_model]
    public var ln2B: Tensor?   // [d_model]
    public var W_in: Tensor?   // [d_model, d_mlp]
    public var W_gate: Tensor? // [d_model, d_mlp] (gated MLPs)
    public var b_in: Tensor?   // [d_mlp]
    public var W_out: Tensor?  // [d_mlp, d_model]
    public var b_out: Tensor?  // [d_model]

    /// A block from TransformerLens-layout tensors (`W_Q [heads, d_model, d_head]`,
    /// `W_K`/`W_V [kv_heads, d_model, d_head]`, biases `[heads | kv_heads, d_head]`); the query,
    /// key and value weights are fused on the way in.
    public init(ln1W: Tensor?, ln1B: Tensor?, W_Q: Tensor, W_K: Tensor, W_V: Tensor, b_Q: Tensor, b_K: Tensor,
                b_V: Tensor, W_O: Tensor, b_O: Tensor, ln2W: Tensor?, ln2B: Tensor?, W_in: Tensor?,
                W_gate: Tensor?, b_in: Tensor?, W_out: Tensor?, b_out: Tensor?) {
        let s = AttentionShape(heads: W_Q.shape[0], kvHeads: W_K.shape[0], dHead: W_Q.shape[2])
        let D = W_Q.shape[1]
        attnShape = s
        wQKV = Tensor(zeros: [D, (s.heads + 2 * s.kvHeads) * s.dHead])
        bQKV = Tensor(zeros: [(s.heads + 2 * s.kvHeads) * s.dHead])
        self.ln1W = ln1W; self.ln1B = ln1B
        self.W_O = W_O; self.b_O = b_O
        self.ln2W = ln2W; self.ln2B = ln2B
        self.W_in = W_in; self.W_gate = W_gate; self.b_in = b_in
        self.W_out = W_out; self.b_out = b_out
        self.W_Q = W_Q; self.W_K = W_K; self.W_V = W_V
        self.b_Q = b_Q; self.b_K = b_K; self.b_V = b_V
    }

    /// A block whose query/key/value weights are already fused (`wQKV [d_model, width]`,
    /// `bQKV [width]`, width = `(heads + 2·kv_heads)·d_head`), e.g. mapped from the weight cache.
    public init(ln1W: Tensor?, ln1B: Tensor?, wQKV: Tensor, bQKV: Tensor, attnShape: AttentionShape,
                W_O: Tensor, b_O: Tensor, ln2W: Tensor?, ln2B: Tensor?, W_in: Tensor?,
                W_gate: Tensor?, b_in: Tensor?, W_out: Tensor?, b_out: Tensor?) {
        self.ln1W = ln1W; self.ln1B = ln1B
        self.wQKV = wQKV; self.bQKV = bQKV; self.attnShape = attnShape
        self.W_O = W_O; self.b_O = b_O
        self.ln2W = ln2W; self.ln2B = ln2B
        self.W_in = W_in; self.W_gate = W_gate; self.b_in = b_in
        self.W_out = W_out; self.b_out = b_out
    }

    public var W_Q: Tensor {   // [n_heads, d_model, d_head]
        get { headWeights(.q) }
        set { setHeadWeights(.q, newValue) }
    }
    public var W_K: Tensor {   // [n_kv_heads, d_model, d_head]
        get { headWeights(.k) }
        set { setHeadWeights(.k, newValue) }
    }
    public var W_V: Tensor {   // [n_kv_heads, d_model, d_head]
        get { headWeights(.v) }
        set { setHeadWeights(.v, newValue) }
    }
    public var b_Q: Tensor {   // [n_heads, d_head]
        get { headBiases(.q) }
        set { setHeadBiases(.q, newValue) }
    }
    public var b_K: Tensor {   // [n_kv_heads, d_head]
        get { headBiases(.k) }
        set { setHeadBiases(.k, newValue) }
    }
    public var b_V: Tensor {   // [n_kv_heads, d_head]
        get { headBiases(.v) }
        set { setHeadBiases(.v, newValue) }
    }

    /// The fused projection the forward's kernels read (sharing this block's buffers, no copy).
    public var fused: FusedAttention { FusedAttention(wQKV: wQKV.data, bQKV: bQKV.data, shape: attnShape) }
}

/// Resident copies of the blocks (TransformerLens views on demand, fused storage).
extension BlockWeights {
    /// Width of `wQKV`: all heads of q, k and v.
    var width: Int { (attnShape.heads + 2 * attnShape.kvHeads) * attnShape.dHead }

    private func partRange(_ part: FusedAttention.Part) -> (column: Int, heads: Int) {
        let (H, K, E) = (attnShape.heads, attnShape.kvHeads, attnShape.dHead)
        switch part {
        case .q: return (0, H)
        case .k: return (H * E, K)
        case .v: return ((H + K) * E, K)
        }
    }

    /// `wQKV[m, column + h·E + e]` → `W[h, m, e]`.
    private func headWeights(_ part: FusedAttention.Part) -> Tensor {
        let (col, n) = partRange(part)
        let (D, E, Wd) = (wQKV.shape[0], attnShape.dHead, width)
        return Tensor(shape: [n, D, E]) { out in
            wQKV.data.withUnsafeBufferPointer { w in
                for h in 0..<n {
                    for m in 0..<D {
                        let src = m * Wd + col + h * E, dst = (h * D + m) * E
                        for e in 0..<E { out[dst + e] = w[src + e] }
                    }
                }
            }
        }
    }

    /// `W[h, m, e]` → `wQKV[m, column + h·E + e]`.
    private mutating func setHeadWeights(_ part: FusedAttention.Part, _ W: Tensor) {
        let (col, n) = partRange(part)
        let (D, E, Wd) = (wQKV.shape[0], attnShape.dHead, width)
        precondition(W.shape == [n, D, E], "BlockWeights: \(part) weights of shape \(W.shape), expected \([n, D, E])")
        W.data.withUnsafeBufferPointer { src in
            wQKV.data.withUnsafeMutableBufferPointer { w in
                for h in 0..<n {
                    for m in 0..<D {
                        let dst = m * Wd + col + h * E, s = (h * D + m) * E
                        for e in 0..<E { w[dst + e] = src[s + e] }
                    }
                }
            }
        }
    }

    private func headBiases(_ part: FusedAttention.Part) -> Tensor {
        let (col, n) = partRange(part)
        let E = attnShape.dHead
        return Tensor(shape: [n, E], data: Array(bQKV.data[col..<(col + n * E)]))   // [(h e)] -> [h, e]
    }

    private mutating func setHeadBiases(_ part: FusedAttention.Part, _ b: Tensor) {
        let (col, n) = partRange(part)
        let E = attnShape.dHead
        precondition(b.count == n * E, "BlockWeights: \(part) biases of shape \(b.shape), expected \([n, E])")
        bQKV.data.replaceSubrange(col..<(col + n * E), with: b.data)
    }
}

extension FusedAttention {
    /// Fused weights as stored (`wQKV [d_model, width]`, `bQKV [width]`); the arrays are shared.
    public init(wQKV: [Float], bQKV: [Float], shape: AttentionShape) {
        self.wQKV = wQKV
        self.bQKV = bQKV
        self.width = (shape.heads + 2 * shape.kvHeads) * shape.dHead
        self.shape = shape
    }
}

/// All parameters of a model in TransformerLens's layout — the one source of truth; the forward
/// pass derives its fused matrices from these.
///
/// The blocks are not public: a streamed model (`HookedTransformer.streamsWeights`) keeps them
/// in the checkpoint and this array is empty, so code outside the core reads a block through
/// `HookedTransformer.block(_:)`, which serves resident and streamed models alike.
public struct ModelWeights: Sendable {
    public var W_E: Tensor          // [d_vocab, d_model]
    public var W_pos: Tensor?       // [n_ctx, d_model] (learned positions only)
    var blocks: [BlockWeights]
    public var lnFinalW: Tensor?    // [d_model]
    public var lnFinalB: Tensor?    // [d_model]
    public var W_U: Tensor          // [d_model, d_vocab]
    public var b_U: Tensor          // [d_vocab]

    public init(W_E: Tensor, W_pos: Tensor?, blocks: [BlockWeights], lnFinalW: Tensor?, lnFinalB: Tensor?, W_U: Tensor, b_U: Tensor) {
        self.W_E = W_E; self.W_pos = W_pos; self.blocks = blocks
        self.lnFinalW = lnFinalW; self.lnFinalB = lnFinalB
        self.W_U = W_U; self.b_U = b_U
    }

    /// Named parameters with TransformerLens's state-dict names (`blocks.0.attn.W_Q`, …).
    /// Holds the blocks' parameters only where they are resident (not for a streamed model).
    /// Grouped-query K/V use TransformerLens's `_W_K`/`_W_V`/`_b_K`/`_b_V` names.
    public func named(groupedQuery: Bool = false) -> [(String, Tensor)] {
        var out: [(String, Tensor)] = [("embed.W_E", W_E)]
        if let W_pos { out.append(("pos_embed.W_pos", W_pos)) }
        let kv = groupedQuery ? "_" : ""
        for (l, b) in blocks.enumerated() {
            let p = "blocks.\(l)."
            if let t = b.ln1W { out.append((p + "ln1.w", t)) }
            if let t = b.ln1B { out.append((p + "ln1.b", t)) }
            out += [(p + "attn.W_Q", b.W_Q), (p + "attn.\(kv)W_K", b.W_K), (p + "attn.\(kv)W_V", b.W_V),
                    (p + "attn.W_O", b.W_O), (p + "attn.b_Q", b.b_Q), (p + "attn.\(kv)b_K", b.b_K),
                    (p + "attn.\(kv)b_V", b.b_V), (p + "attn.b_O", b.b_O)]
            if let t = b.ln2W { out.append((p + "ln2.w", t)) }
            if let t = b.ln2B { out.append((p + "ln2.b", t)) }
            if let t = b.W_in { out.append((p + "mlp.W_in", t)) }
            if let t = b.W_gate { out.append((p + "mlp.W_gate", t)) }
            if let t = b.b_in { out.append((p + "mlp.b_in", t)) }
            if let t = b.W_out { out.append((p + "mlp.W_out", t)) }
            if let t = b.b_out { out.append((p + "mlp.b_out", t)) }
        }
        if let t = lnFinalW { out.append(("ln_final.w", t)) }
        if let t = lnFinalB { out.append(("ln_final.b", t)) }
        out += [("unembed.W_U", W_U), ("unembed.b_U", b_U)]
        return out
    }
}
