// Mechanic/Backward: reverse mode through norms, MLP and attention from a cached forward: the
// gradient of an objective of the final-position logits at every hook point (no weight gradients).

import MechanicTensor

/// A forward pass with every activation cached, an objective of the final-position logits, and
/// the objective's gradient with respect to every hook point — what TransformerLens users get
/// from `model.add_hook(name, fn, dir="bwd")` after `metric(model(tokens)).backward()`.
///
/// The gradients are those of the activations only (no weight gradients): reverse mode through
/// each block operation (`Backward/*.swift`), checked against finite differences and against
/// torch autograd through TransformerLens.
public struct Gradients: Sendable {
    /// The forward activations of every hook point (default hook options), `[batch, pos, ...]`.
    public let activations: ActivationCache
    /// `d objective / d activation` for the same names and shapes.
    public let gradients: ActivationCache
    /// Final-position logits of each row, `[batch, d_vocab]`.
    public let logits: Tensor
}

extension HookedTransformer {
    /// Runs `batch`, hands the final-position logits (`[batch, d_vocab]`, each row's last real
    /// token) to `objectiveGradient`, which returns `d objective / d logits` of the same shape, and
    /// propagates that back through the model.
    ///
    /// The forward caches every activation of the default hook points; memory is that of a full
    /// cache (checked before the forward like any cache). `hooks` edit the forward (e.g. the
    /// embeddings of integrated gradients); the backward runs through the edited activations.
    public func gradients(_ batch: TokenBatch, hooks: [Hook] = [], objectiveGradient: (Tensor) throws -> Tensor) throws -> Gradients {
        let c = config
        let r = try forward(batch, options: ForwardOptions(hooks: hooks, cache: .all, logits: .none))
        guard let final = r.residual else { throw MechanicError.invalidArgument("gradients: the forward returned no final residual stream") }
        let cache = r.cache
        let (B, P, D, V) = (batch.batch, batch.length, c.dModel, c.dVocab)
        let last = batch.lastPositions

        // logits[b] = ln_final(resid)[b, last_b] @ W_U + b_U.
        let rows = Kernels.gatherRows(final.reshaped([B * P, D]), (0..<B).map { $0 * P + last[$0] })   // [batch, d_model]
        let logits = Kernels.unembed(rows, W_U: weights.W_U, b_U: weights.b_U)   // [batch, d_vocab]
        let dLogits = try objectiveGradient(logits)
        guard dLogits.count == B * V else {
            throw MechanicError.invalidArgument("gradients: the objective's gradient has shape \(dLogits.shape), expected [\(B), \(V)]")
        }

        var grads: [String: Tensor] = [:]
        // d ln_final(resid) at each row's last position: d logits @ W_Uᵀ.
        let dRows = matmul(dLogits.reshaped([B, V]), weights.W_U, transB: true)   // [batch, d_model]
        var dFinal = Tensor(zeros: [B, P, D])
        for b in 0..<B { for m in 0..<D { dFinal.data[(b * P + last[b]) * D + m] = dRows.data[b * D + m] } }
        let residName = c.nLayers > 0 ? actName("resid_post", layer: c.nLayers - 1) : "hook_embed"
        let residFinal = try residualBefore(residName, cache: cache, batch: batch)
        var dResid = try normBackward(x: residFinal, dOut: dFinal, weight: weights.lnFinalW, cache: cache,
                                      scale: "ln_final.hook_scale", normalized: "ln_final.hook_normalized", into: &grads)

        let positions = ForwardContext(batch: batch, hooks: HookRunner(hooks: [], cacheNames: []), options: HookOptions(), kvCache: nil).positions
        for l in stride(from: c.nLayers - 1, through: 0, by: -1) {
            dResid = try blockBackward(l, dResidPost: dResid, cache: cache, positions: positions, into: &grads)
        }
        grads["hook_embed"] = dResid
        if c.positionalEmbedding == .standard, weights.W_pos != nil { grads["hook_pos_embed"] = dResid }
        return Gradients(activations: cache, gradients: ActivationCache(grads, config: c), logits: logits)
    }

    /// The residual stream a name holds; `hook_embed` stands for the embedding sum of a 0-layer model.
    private func residualBefore(_ name: String, cache: ActivationCache, batch: TokenBatch) throws -> Tensor {
        if name != "hook_embed" { return try cache.require(name) }
        var x = try cache.require("hook_embed")
        if let pos = cache["hook_pos_embed"] { x.add(pos) }
        return x
    }
}
