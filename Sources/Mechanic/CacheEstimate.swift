/// How many bytes a cache of the given hook points will hold, so that a cache that cannot fit is
/// refused before the forward starts rather than killed by the kernel halfway.
extension ModelConfig {
    /// Elements of one activation at `name` for `batch` rows of `pos` positions (`keys` = positions
    /// attended to, past + current).
    /// `perHeadLN1`: split q/k/v inputs or attn_in are on, so the ln1 hooks carry a head axis.
    public func activationElements(_ name: String, batch: Int, pos: Int, keys: Int, perHeadLN1: Bool = false) -> Int {
        let (D, H, K, E, M) = (dModel, nHeads, nKeyValueHeads, dHead, dMLP)
        let n = batch * pos
        let splitLN = perHeadLN1 && name.contains(".ln1.")
        switch name.split(separator: ".").last.map(String.init) ?? name {
        case "hook_scale": return n * (splitLN ? H : 1)
        case "hook_q", "hook_rot_q", "hook_z": return n * H * E
        case "hook_k", "hook_v", "hook_rot_k": return n * K * E
        case "hook_attn_scores", "hook_pattern": return batch * H * pos * keys
        case "hook_result", "hook_attn_in", "hook_q_input": return n * H * D
        case "hook_k_input", "hook_v_input": return n * K * D
        case "hook_pre", "hook_post", "hook_pre_linear": return n * M
        case "hook_normalized": return n * D * (splitLN ? H : 1)
        default: return n * D
        }
    }

    /// Bytes of a cache holding `names`, plus the logits.
    public func cacheBytes(_ names: [String], batch: Int, pos: Int, keys: Int, perHeadLN1: Bool = false) -> Int {
        4 * (names.reduce(0) { $0 + activationElements($1, batch: batch, pos: pos, keys: keys, perHeadLN1: perHeadLN1) }
             + batch * pos * dVocab)
    }
}

extension HookedTransformer {
    /// Throws `memoryEstimate` when caching `names` would need more than 80% of the available
    /// memory, naming the estimate and a `--names` filter that would fit.
    func checkCacheFits(_ names: [String], batch: Int, pos: Int, keys: Int, perHeadLN1: Bool = false) throws {
        let need = config.cacheBytes(names, batch: batch, pos: pos, keys: keys, perHeadLN1: perHeadLN1)
        let available = SystemMemory.availableBytes()
        guard Double(need) > 0.8 * Double(available) else { return }
        let resid = (0..<config.nLayers).map { "blocks.\($0).hook_resid_post" }
        let residBytes = config.cacheBytes(resid, batch: batch, pos: pos, keys: keys)
        throw MechanicError.memoryEstimate(
            bytes: need, available: available,
            hint: String(format: "cache fewer hooks, e.g. --names 'hook_resid_post$' (about %.1f GB), or fewer/shorter prompts", Double(residBytes) / 1e9))
    }
}
