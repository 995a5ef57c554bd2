import Mechanic

/// Which layer outputs `decomposeResid` returns (TransformerLens's `mode`).
public enum DecomposeMode: String, Sendable, Codable { case all, mlp, attn }

extension ActivationCache {
    /// Resolves TransformerLens's `layer` argument: nil or -1 mean `n_layers` (the unembed).
    func targetLayer(_ layer: Int?) throws -> Int {
        let n = config.nLayers
        let l = (layer == nil || layer == -1) ? n : (layer ?? n)
        guard (0...n).contains(l) else {
            throw MechanicError.invalidArgument("layer \(l) is outside 0...\(n) (n_layers, -1 or nil mean the unembed)")
        }
        return l
    }

    /// Stacks cached activations (each position-sliced on `axis`) along a new axis 0.
    func stacked(_ names: [String], labels: [String], posSlice: PosSlice, axis: Int = -2) throws -> ResidualStack {
        let parts = try names.map { try posSlice.apply(require($0), axis: axis) }
        guard let first = parts.first else {
            let embed = try posSlice.apply(require("hook_embed"), axis: -2)
            return ResidualStack(labels: [], tensor: Tensor(zeros: [0] + embed.shape))
        }
        for (p, n) in zip(parts, names) where p.shape != first.shape {
            throw MechanicError.invalidArgument("'\(n)' has shape \(p.shape), expected \(first.shape)")
        }
        return ResidualStack(labels: labels, tensor: Tensor.stack(parts))  // [components, ..., d_model]
    }

    /// Whether the model has a `resid_mid` (not in parallel attention+MLP or attention-only models).
    var hasResidMid: Bool { !config.parallelAttnMLP && !config.attnOnly }

    /// TransformerLens's `accumulated_resid`: the residual stream before each layer up to `layer`
    /// (labels `0_pre`, `1_pre`, …; with `inclMid` also `0_mid`, …; `final_post` when `layer` is
    /// `n_layers`), `[components, *batch_and_pos_dims, d_model]`.
    ///
    /// `applyLN` follows TransformerLens 2.18: for the unembed (`layer` = `n_layers`, the default)
    /// each entry goes through `ln_final` with its **own** statistics (a true logit lens);
    /// for an earlier layer every entry is divided by that layer's cached `ln1` scale
    /// (`ln2` with `mlpInput`). Models without `resid_mid` (parallel attention and MLP) simply
    /// have no `_mid` entries (TransformerLens raises there).
    public func accumulatedResid(model: HookedTransformer, layer: Int? = nil, inclMid: Bool = false, applyLN: Bool = false,
                                 posSlice: PosSlice = .all, mlpInput: Bool = false) throws -> ResidualStack {
        let n = config.nLayers
        let target = try targetLayer(layer)
        var names: [String] = [], labels: [String] = []
        for l in 0...target {
            if l == n {
                names.append("blocks.\(n - 1).hook_resid_post"); labels.append("final_post")
                continue
            }
            names.append("blocks.\(l).hook_resid_pre"); labels.append("\(l)_pre")
            if hasResidMid && ((inclMid && l < target) || (mlpInput && l == target)) {
                names.append("blocks.\(l).hook_resid_mid"); labels.append("\(l)_mid")
            }
        }
        var stack = try stacked(names, labels: labels, posSlice: posSlice)
        if applyLN {
            stack = try applyLNToStack(stack, model: model, layer: target, mlpInput: mlpInput, posSlice: posSlice,
                                       recomputeLN: target == n)
        }
        return stack
    }

    /// TransformerLens's `decompose_resid`: the residual stream input to `layer` as the sum of
    /// `embed`, `pos_embed` (learned positions only) and each earlier layer's `{l}_attn_out` and
    /// `{l}_mlp_out` (plus `{layer}_attn_out` with `mlpInput`). With `applyLN` every component is
    /// divided by the cached scale of the norm it feeds (the final norm by default).
    public func decomposeResid(model: HookedTransformer, layer: Int? = nil, mlpInput: Bool = false, mode: DecomposeMode = .all,
                               applyLN: Bool = false, posSlice: PosSlice = .all, inclEmbeds: Bool = true) throws -> ResidualStack {
        let target = try targetLayer(layer)
        let inclAttn = mode != .mlp
        let inclMLP = mode != .attn && !config.attnOnly
        var names: [String] = [], labels: [String] = []
        if inclEmbeds {
            if activations["hook_embed"] != nil { names.append("hook_embed"); labels.append("embed") }
            if activations["hook_pos_embed"] != nil { names.append("hook_pos_embed"); labels.append("pos_embed") }
        }
        for l in 0..<target {
            if inclAttn { names.append("blocks.\(l).hook_attn_out"); labels.append("\(l)_attn_out") }
            if inclMLP { names.append("blocks.\(l).hook_mlp_out"); labels.append("\(l)_mlp_out") }
        }
        if mlpInput && inclAttn {
            guard target < config.nLayers else {
                throw MechanicError.invalidArgument("mlpInput needs a layer below n_layers = \(config.nLayers)")
            }
            names.append("blocks.\(target).hook_attn_out"); labels.append("\(target)_attn_out")
        }
        var stack = try stacked(names, labels: labels, posSlice: posSlice)
        if applyLN { stack = try applyLNToStack(stack, model: model, layer: target, mlpInput: mlpInput, posSlice: posSlice) }
        return stack
    }
}
