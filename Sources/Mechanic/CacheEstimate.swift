/// How many bytes a cache of the given hook points will hold, so that a cache that cannot fit is
/// refused before the forward starts rather than killed by the kernel halfway.
extension ModelConfig {
    /// Elements of one activation at `name` for `batch` rows of `pos` positions (`keys` = positions
    /// attended to, past + current).
    /// `perHeadLN1`: split q/k/v inputs or attn_in are on, so the ln1 hooks carry a head axis.
    public func activationElements(_ name: String, batch: Int, pos: Int, keys: Int, perHeadLN1: Bool = false) -> Int {
        let (D, H, K, E, M) = (dModel, nHeads, nKeyValueHeads, dHead, dMLP)
        let n = batch * pos
        guard let kind = HookKind(name: name) else { return n * D }
        let splitLN = perHeadLN1 && (kind == .ln1Scale || kind == .ln1Normalized)
        switch kind {
        case .ln1Scale, .ln2Scale, .lnFinalScale: return n * (splitLN ? H : 1)
        case .q, .rotQ, .z: return n * H * E
        case .k, .v, .rotK: return n * K * E
        case .attnScores, .pattern: return batch * H * pos * keys
        case .result, .attnIn, .qInput: return n * H * D
        case .kInput, .vInput: return n * K * D
        case .pre, .post, .preLinear: return n * M
        case .ln1Normalized, .ln2Normalized, .lnFinalNormalized: return n * D * (splitLN ? H : 1)
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
    /// Throws `cacheTooLarge` when caching `names` would need more than 80% of the available
    /// memory, with the estimate and what caching only `hook_resid_post` would need (the CLI
    /// adds which flag does that). A forward that caches
    /// nothing (every step of generation) has nothing to refuse and reads no memory figures; one
    /// that does reads `MemAvailable` once, here.
    func checkCacheFits(_ names: [String], batch: Int, pos: Int, keys: Int, perHeadLN1: Bool = false) throws {
        guard !names.isEmpty else { return }
        let need = config.cacheBytes(names, batch: batch, pos: pos, keys: keys, perHeadLN1: perHeadLN1)
        let available = SystemMemory.availableBytes()
        guard Double(need) > 0.8 * Double(available) else { return }
        let resid = (0..<config.nLayers).map { HookKind.residPost.name(layer: $0) }
        let residBytes = config.cacheBytes(resid, batch: batch, pos: pos, keys: keys)
        throw MechanicError.cacheTooLarge(bytes: need, available: available, residPostBytes: residBytes)
    }
}
