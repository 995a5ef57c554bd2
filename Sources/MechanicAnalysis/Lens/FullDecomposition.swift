import Mechanic

extension HookedTransformer {
    /// TransformerLens's `accumulated_bias`: the sum of the output biases (`b_O`, and `b_out`
    /// unless `includeMLPBiases` is false) of the layers below `layer`, plus `b_O` of `layer`
    /// itself with `mlpInput`. `[d_model]`.
    public func accumulatedBias(layer: Int, mlpInput: Bool = false, includeMLPBiases: Bool = true) throws -> Tensor {
        guard (0...config.nLayers).contains(layer) else {
            throw MechanicError.invalidArgument("layer \(layer) is outside 0...\(config.nLayers)")
        }
        var bias = Tensor(zeros: [config.dModel])
        for l in 0..<layer {
            let b = try block(l)   // a streamed model reads each block once here
            bias.add(b.b_O)
            if includeMLPBiases, let b_out = b.b_out { bias.add(b_out) }
        }
        if mlpInput {
            guard layer < config.nLayers else {
                throw MechanicError.invalidArgument("mlpInput: there is no attention bias beyond the final layer")
            }
            bias.add(try block(layer).b_O)
        }
        return bias
    }
}

extension ActivationCache {
    /// TransformerLens's `get_full_resid_decomposition`: the residual stream input to `layer`
    /// (the unembed by default) as every head's output (`L0H0`, …), every neuron's output
    /// (`L0N0`, …; or each layer's `{l}_mlp_out` without `expandNeurons`), `embed`, `pos_embed`
    /// and the accumulated output biases (`bias`). The components sum exactly to the residual
    /// (`blocks.{layer-1}.hook_resid_post` for the unembed). Works for grouped-query models.
    public func getFullResidDecomposition(model: HookedTransformer, layer: Int? = nil, mlpInput: Bool = false,
                                          expandNeurons: Bool = true, applyLN: Bool = false,
                                          posSlice: PosSlice = .all) throws -> ResidualStack {
        let target = try targetLayer(layer)
        if mlpInput && target == config.nLayers {
            throw MechanicError.invalidArgument("mlpInput needs a layer below n_layers = \(config.nLayers) (the unembed has no MLP)")
        }
        let heads = try stackHeadResults(model: model, layer: target + (mlpInput ? 1 : 0), posSlice: posSlice)
        var parts = [heads]
        if !config.attnOnly && target > 0 {
            if expandNeurons {
                parts.append(try stackNeuronResults(model: model, layer: target, posSlice: posSlice))
            } else {
                parts.append(try decomposeResid(model: model, layer: target, mlpInput: mlpInput, mode: .mlp,
                                                posSlice: posSlice, inclEmbeds: false))
            }
        }
        let embeds = try decomposeResid(model: model, layer: 0, posSlice: posSlice)  // embed, pos_embed
        parts.append(embeds)
        let inner = Array(embeds.tensor.shape.dropFirst())          // [*batch_and_pos_dims, d_model]
        let b = try model.accumulatedBias(layer: target, mlpInput: mlpInput, includeMLPBiases: expandNeurons)
        let rows = inner.reduce(1, *) / config.dModel
        let bias = Tensor(shape: [1] + inner, data: Array((0..<rows).map { _ in b.data }.joined()))  // expanded [1, ..., d_model]
        parts.append(ResidualStack(labels: ["bias"], tensor: bias))
        var stack = try ResidualStack.concatenate(parts)
        if applyLN { stack = try applyLNToStack(stack, model: model, layer: target, mlpInput: mlpInput, posSlice: posSlice) }
        return stack
    }
}
