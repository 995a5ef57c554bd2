import Mechanic

/// What a sweep keeps across its passes: the fused q | k | v projection of each layer
/// (`FusedAttention`, the forward's own for a resident model), and the buffer of the MLP's
/// hidden activations (`MLPScratch`).
///
/// A streamed model's block is read from the checkpoint once per layer of a pass (the block of
/// the layer asked last is kept: a pass asks for its layers in order, several times each), and
/// only that layer's projections are kept, so memory stays near one block.
final class PackedWeights {
    let scratch = MLPScratch()
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
