import Mechanic

extension HookedTransformer {
    /// TransformerLens's `model.ln_final(x)` on the last axis of `x` (`[..., d_model]`): the final
    /// LayerNorm/RMSNorm with statistics computed from `x` itself, then its weight and bias when
    /// the model still has them (they are folded into `W_U`/`b_U` by default processing).
    public func applyFinalNorm(_ x: Tensor) -> Tensor {
        Kernels.norm(x, config, weight: weights.lnFinalW, bias: weights.lnFinalB)
    }

    /// `x @ W_U + b_U` on the last axis (`model.unembed`).
    public func unembed(_ x: Tensor) -> Tensor { Kernels.unembed(x, W_U: weights.W_U, b_U: weights.b_U) }
}

/// Subtracts each row's mean over the last axis (the centering step of a LayerNorm).
func centerRows(_ x: Tensor) -> Tensor {
    let d = x.shape.last ?? 1
    let rows = d == 0 ? 0 : x.count / d
    var out = x
    out.data.withUnsafeMutableBufferPointer { c in
        for r in 0..<rows {
            var mean: Float = 0
            for j in 0..<d { mean += c[r * d + j] }
            mean /= Float(d)
            for j in 0..<d { c[r * d + j] -= mean }
        }
    }
    return out
}

extension ActivationCache {
    /// TransformerLens's `apply_ln_to_stack`: treats each component of `stack`
    /// (`[components, *batch_and_pos_dims, d_model]`, already position-sliced) as input to layer
    /// `layer` (nil or `n_layers` = the unembed) and applies that norm with the **cached** scale —
    /// centering first for LayerNorm models, no weight or bias — so the components still sum to
    /// the normalised residual. `posSlice` is applied to the cached scale. With `recomputeLN` and
    /// the unembed as target, each component is instead passed through `ln_final` with its own
    /// statistics (the logit-lens view; the components then no longer sum).
    public func applyLNToStack(_ stack: Tensor, model: HookedTransformer, layer: Int? = nil, mlpInput: Bool = false,
                               posSlice: PosSlice = .all, recomputeLN: Bool = false) throws -> Tensor {
        let c = config
        guard c.normalization != .none else { return stack }
        let target = (layer == nil || layer == -1) ? c.nLayers : (layer ?? c.nLayers)
        guard (0...c.nLayers).contains(target) else {
            throw MechanicError.invalidArgument("layer \(target) is outside 0...\(c.nLayers) (n_layers means the unembed)")
        }
        if recomputeLN && target == c.nLayers { return model.applyFinalNorm(stack) }
        let x = c.usesLayerNorm ? centerRows(stack) : stack
        let scaleName = target == c.nLayers ? "ln_final.hook_scale" : "blocks.\(target).ln\(mlpInput ? 2 : 1).hook_scale"
        let scale = try posSlice.apply(require(scaleName), axis: -2)  // [batch?, pos', 1] or [batch?, 1]
        let d = stack.shape.last ?? 1
        let perComponent = stack.shape.dropFirst().reduce(1, *) / max(d, 1)
        guard scale.count == perComponent else {
            throw MechanicError.invalidArgument(
                "the stack's components have shape \(Array(stack.shape.dropFirst())) but \(scaleName) sliced by \(posSlice) has shape \(scale.shape); slice the stack and the scale with the same positions")
        }
        var out = x
        out.data.withUnsafeMutableBufferPointer { o in
            let rows = o.count / max(d, 1)
            for r in 0..<rows {
                let inv = 1 / scale.data[r % perComponent]
                for j in 0..<d { o[r * d + j] *= inv }
            }
        }
        return out
    }

    /// `applyLNToStack` on a labelled stack.
    public func applyLNToStack(_ stack: ResidualStack, model: HookedTransformer, layer: Int? = nil, mlpInput: Bool = false,
                               posSlice: PosSlice = .all, recomputeLN: Bool = false) throws -> ResidualStack {
        ResidualStack(labels: stack.labels, tensor: try applyLNToStack(stack.tensor, model: model, layer: layer, mlpInput: mlpInput,
                                                                       posSlice: posSlice, recomputeLN: recomputeLN))
    }
}
