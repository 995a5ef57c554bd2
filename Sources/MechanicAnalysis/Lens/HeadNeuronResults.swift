import Mechanic

extension ActivationCache {
    /// Each head's output of layer `layer`, `[*batch_and_pos_dims, head, d_model]`: the cached
    /// `attn.hook_result` when present, else `z[..., h, :] @ W_O[h]` (TransformerLens's
    /// `compute_head_results`). Correct for grouped-query models (`z` has `n_heads` heads).
    public func headResults(model: HookedTransformer, layer: Int) throws -> Tensor {
        if let r = activations["blocks.\(layer).attn.hook_result"] { return r }
        let z = try require("blocks.\(layer).attn.hook_z")  // [..., head, d_head]
        let (H, E, D) = (config.nHeads, config.dHead, config.dModel)
        let W_O = try model.block(layer).W_O                 // [head, d_head, d_model]
        let rows = z.count / (H * E)
        return Tensor(shape: Array(z.shape.dropLast()) + [D]) { out in  // [..., head, d_model]
            z.data.withUnsafeBufferPointer { zp in
                W_O.data.withUnsafeBufferPointer { wp in
                    guard let zb = zp.baseAddress, let wb = wp.baseAddress, let ob = out.baseAddress else { return }
                    for h in 0..<H {
                        linear(rows: rows, k: E, n: D, x: zb + h * E, lda: H * E, w: wb + h * E * D, ldw: D,
                               bias: nil, out: ob + h * D, ldc: H * D)
                    }
                }
            }
        }
    }

    /// TransformerLens's `compute_head_results`: adds `blocks.{l}.attn.hook_result` for every
    /// layer from `hook_z` and `W_O` (for caches recorded without `HookOptions(attnResult: true)`).
    public mutating func computeHeadResults(model: HookedTransformer) throws {
        for l in 0..<config.nLayers where activations["blocks.\(l).attn.hook_result"] == nil {
            activations["blocks.\(l).attn.hook_result"] = try headResults(model: model, layer: l)
        }
    }

    /// Moves the second-to-last axis (`head` or `neuron`) of equally shaped per-layer tensors
    /// `[rows..., k, d_model]` to the front and concatenates over layers: `[(layer k), rows..., d_model]`.
    private func componentsFirst(_ parts: [Tensor]) -> Tensor? {
        guard let first = parts.first, first.rank >= 2 else { return nil }
        let k = first.shape[first.rank - 2], d = first.shape[first.rank - 1]
        let rows = first.count / max(k * d, 1)
        let inner = Array(first.shape.dropLast(2)) + [d]
        return Tensor(shape: [parts.count * k] + inner) { out in   // [(layer k), rows..., d_model]
            var o = 0
            for p in parts {
                p.data.withUnsafeBufferPointer { src in
                    for c in 0..<k {
                        for r in 0..<rows {
                            let s = (r * k + c) * d
                            for j in 0..<d { out[o + j] = src[s + j] }
                            o += d
                        }
                    }
                }
            }
        }
    }

    /// An empty stack shaped like the position-sliced embedding, `[0, *batch_and_pos_dims, d_model]`.
    private func emptyStack(_ posSlice: PosSlice) throws -> ResidualStack {
        let embed = try posSlice.apply(require("hook_embed"), axis: -2)
        return ResidualStack(labels: [], tensor: Tensor(zeros: [0] + embed.shape))
    }

    /// The stack of `parts` (each `[..., components, d_model]`), with the remainder and the norm
    /// of `layer` applied when asked: the end of both `stack_*_results`.
    private func finishStack(_ parts: [Tensor], labels: [String], model: HookedTransformer, layer target: Int, posSlice: PosSlice,
                             inclRemainder: Bool, applyLN: Bool) throws -> ResidualStack {
        var stack = try componentsFirst(parts).map { ResidualStack(labels: labels, tensor: $0) } ?? emptyStack(posSlice)
        if inclRemainder {
            guard target > 0 else { throw MechanicError.invalidArgument("a remainder needs layer ≥ 1") }
            stack = try withRemainder(stack, layer: target, posSlice: posSlice)
        }
        if applyLN { stack = try applyLNToStack(stack, model: model, layer: target, posSlice: posSlice) }
        return stack
    }

    /// Appends TransformerLens's "remainder": `resid_post` of `layer - 1` minus the components.
    private func withRemainder(_ stack: ResidualStack, layer: Int, posSlice: PosSlice) throws -> ResidualStack {
        let resid = try posSlice.apply(require("blocks.\(layer - 1).hook_resid_post"), axis: -2)
        let rest = stack.count == 0 ? resid : resid - stack.sum()
        return try ResidualStack.concatenate([stack, ResidualStack(labels: ["remainder"], tensor: Tensor.stack([rest]))])
    }

    /// TransformerLens's `stack_head_results`: every head's output in layers below `layer`
    /// (labels `L0H0`, `L0H1`, …), `[layer·n_heads, *batch_and_pos_dims, d_model]`. Uses the cached
    /// `hook_result` or computes it from `hook_z`. `applyLN` divides by the cached scale of the
    /// norm that `layer` feeds (the final norm by default).
    public func stackHeadResults(model: HookedTransformer, layer: Int? = nil, posSlice: PosSlice = .all,
                                 applyLN: Bool = false, inclRemainder: Bool = false) throws -> ResidualStack {
        let target = try targetLayer(layer)
        var parts: [Tensor] = [], labels: [String] = []
        for l in 0..<target {
            parts.append(try posSlice.apply(headResults(model: model, layer: l), axis: -3))  // [..., head, d_model]
            labels += (0..<config.nHeads).map { "L\(l)H\($0)" }
        }
        return try finishStack(parts, labels: labels, model: model, layer: target, posSlice: posSlice,
                               inclRemainder: inclRemainder, applyLN: applyLN)
    }

    /// TransformerLens's `get_neuron_results`: each neuron's contribution `post[..., n] · W_out[n]`,
    /// `[*batch_and_pos_dims, neurons, d_model]`.
    public func neuronResults(model: HookedTransformer, layer: Int, neuronSlice: PosSlice = .all,
                              posSlice: PosSlice = .all) throws -> Tensor {
        guard let W_out = try model.block(layer).W_out else {
            throw MechanicError.invalidArgument("layer \(layer) has no MLP (attention-only model)")
        }
        let post = try posSlice.apply(require("blocks.\(layer).mlp.hook_post"), axis: -2)  // [..., pos', d_mlp]
        let M = config.dMLP, D = config.dModel
        let picks = try neuronSlice.positions(count: M)
        let rows = post.count / M
        let lead = Array(post.shape.dropLast())
        let shape = neuronSlice.collapsesAxis ? lead + [D] : lead + [picks.count, D]
        return Tensor(shape: shape) { out in   // [..., neurons, d_model]
            var o = 0
            for r in 0..<rows {
                for n in picks {
                    let a = post.data[r * M + n]
                    for j in 0..<D { out[o + j] = a * W_out.data[n * D + j] }
                    o += D
                }
            }
        }
    }

    /// TransformerLens's `stack_neuron_results`: every neuron's contribution in layers below
    /// `layer` (labels `L0N0`, …), `[layer·d_mlp, *batch_and_pos_dims, d_model]`. Memory grows as
    /// layers × d_mlp × positions × d_model: slice positions on real models.
    public func stackNeuronResults(model: HookedTransformer, layer: Int? = nil, posSlice: PosSlice = .all,
                                   neuronSlice: PosSlice = .all, inclRemainder: Bool = false,
                                   applyLN: Bool = false) throws -> ResidualStack {
        let target = try targetLayer(layer)
        let picks = try neuronSlice.positions(count: config.dMLP)
        let sliceForResults: PosSlice = neuronSlice.collapsesAxis ? .indices(picks) : neuronSlice
        var parts: [Tensor] = [], labels: [String] = []
        if !config.attnOnly {
            for l in 0..<target {
                parts.append(try neuronResults(model: model, layer: l, neuronSlice: sliceForResults, posSlice: posSlice))
                labels += picks.map { "L\(l)N\($0)" }
            }
        }
        return try finishStack(parts, labels: labels, model: model, layer: target, posSlice: posSlice,
                               inclRemainder: inclRemainder, applyLN: applyLN)
    }
}
