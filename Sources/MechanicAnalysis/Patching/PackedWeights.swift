import Mechanic

/// What a sweep keeps across its passes: the fused q | k | v projection of each layer
/// (`FusedAttention`, the forward's own for a resident model), the buffer of the MLP's
/// hidden activations (`MLPScratch`) and the attention's q, k, v, per-row keys, values, scores and z (`reusable`).
///
/// A streamed model's block is read from the checkpoint once per layer of a pass (the block of
/// the layer asked last is kept: a pass asks for its layers in order, several times each), and
/// only that layer's projections are kept, so memory stays near one block.
final class PackedWeights {
    let scratch = MLPScratch()
    /// Buffers handed back by `recycle`, by slot (0 keys, 1 values, 2 scores, 3 z, 4–6 q, k, v): each layer of a pass fills
    /// arrays of about the same size, and a fresh one costs page faults and zero-filling
    /// comparable to the copy that fills it.
    private var spare: [Int: [Float]] = [:]

    /// An array of `count` floats (contents unspecified: the caller writes every element),
    /// reusing the one last recycled into `slot` when it is large enough.
    func reusable(_ slot: Int, count: Int) -> [Float] {
        guard var a = spare.removeValue(forKey: slot), a.capacity >= count else { return [Float](repeating: 0, count: count) }
        if a.count > count { a.removeLast(a.count - count) }
        if a.count < count { a.append(contentsOf: repeatElement(0, count: count - a.count)) }
        return a
    }

    /// Sizes the MLP's hidden buffer and every slot for a pass of at most `tokens` tokens in `rows`
    /// rows of `positions` positions, before its first layer. A pass's live rows grow layer by
    /// layer (rows join at their patched layer), so buffers sized on demand would be replaced by
    /// larger fresh ones at nearly every layer, each page-faulted and zero-filled on one thread.
    /// Reserved capacity is left untouched until a layer needs it.
    func reserve(tokens T: Int, rows R: Int, positions P: Int, _ c: ModelConfig) {
        let (H, K, E) = (c.nHeads, c.nKeyValueHeads, c.dHead)
        scratch.reserve(T * c.dMLP, gated: c.gatedMLP)
        let sizes = [R * P * K * E, R * P * K * E, H * T * P, T * H * E, T * H * E, T * K * E, T * K * E]   // slots 0–6, as in `spare`
        for (slot, n) in sizes.enumerated() where (spare[slot]?.capacity ?? 0) < n {
            var a: [Float] = []
            a.reserveCapacity(n)
            spare[slot] = a
        }
    }

    /// Keeps `a` for the next `reusable(slot, …)` (written in place once its other owners are gone).
    func recycle(_ a: [Float], slot: Int) { spare[slot] = a }
    private var current: (layer: Int, block: BlockWeights)?
    private var fused: [Int: FusedAttention] = [:]

    /// Block `l`'s weights: a resident model's own tensors (no copy), or the streamed block read
    /// once for as long as the pass stays at layer `l`.
    func block(_ l: Int, of model: HookedTransformer) throws -> BlockWeights {
        if let current, current.layer == l { return current.block }
        let b = try model.block(l)
        current = (l, b)
        return b
    }

    /// Block `l`'s fused q | k | v weights: a resident model's own (no copy); a streamed model's
    /// fused from the block once, only the last layer's kept.
    func projections(_ l: Int, of model: HookedTransformer) throws -> FusedAttention {
        if let f = fused[l] { return f }
        guard model.streamsWeights else {
            let f = try model.fusedAttention(l)
            fused[l] = f
            return f
        }
        fused.removeAll()
        let f = try block(l, of: model).fused
        fused[l] = f
        return f
    }
}
