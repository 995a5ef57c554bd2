import MechanicTensor

extension Kernels {
    /// `hook_pre` of an MLP on normalised rows: `x @ W_in + b_in`, or `x @ W_gate` for a gated
    /// MLP (whose `b_in` is added after the gate, see `mlpPost`).
    ///
    /// - x: `[rows, d_model]` (any leading shape) → `[rows, d_mlp]`
    public static func mlpPre(_ x: Tensor, _ w: BlockWeights) -> Tensor {
        guard let W_in = w.W_in else { return Tensor(zeros: x.shape) }
        if let W_gate = w.W_gate { return x.linear(W_gate) }   // [rows, d_mlp]
        return x.linear(W_in, bias: w.b_in)                    // [rows, d_mlp]
    }

    /// `hook_pre_linear` of a gated MLP: `x @ W_in`; nil for an ungated one.
    ///
    /// - x: `[rows, d_model]` → `[rows, d_mlp]`
    public static func mlpPreLinear(_ x: Tensor, _ w: BlockWeights) -> Tensor? {
        guard w.W_gate != nil, let W_in = w.W_in else { return nil }
        return x.linear(W_in)                                  // [rows, d_mlp]
    }

    /// `hook_post`: `act(pre)`, or `act(pre) · pre_linear + b_in` for a gated MLP.
    ///
    /// - pre, preLinear: `[rows, d_mlp]` → `[rows, d_mlp]`
    public static func mlpPost(pre: Tensor, preLinear: Tensor?, _ w: BlockWeights, _ act: Activation) -> Tensor {
        var post = pre
        guard let preLinear else {
            post.data.withUnsafeMutableBufferPointer { act.apply($0) }
            return post
        }
        let bias = w.b_in?.data ?? []
        let d = bias.count
        post.data.withUnsafeMutableBufferPointer { p in
            preLinear.data.withUnsafeBufferPointer { lin in
                for i in p.indices { p[i] = act.apply(p[i]) * lin[i] + (d > 0 ? bias[i % d] : 0) }
            }
        }
        return post
    }

    /// `mlp_out = post @ W_out + b_out`.
    ///
    /// - post: `[rows, d_mlp]` → `[rows, d_model]`
    public static func mlpOut(post: Tensor, _ w: BlockWeights) -> Tensor {
        guard let W_out = w.W_out else { return Tensor(zeros: Array(post.shape.dropLast()) + [w.b_O.count]) }
        return post.linear(W_out, bias: w.b_out)               // [rows, d_model]
    }

    /// The whole MLP on normalised rows, `x [rows, d_model]` → `mlp_out [rows, d_model]`: the
    /// same products in the same order as `mlpPre`, `mlpPost`, `mlpOut`. An ungated MLP keeps
    /// its hidden activations in `scratch` (reused across calls: a fresh `[rows, d_mlp]` array
    /// per call costs page faults and zero-filling comparable to the activation itself).
    public static func mlp(_ x: Tensor, _ w: BlockWeights, _ act: Activation, scratch: MLPScratch? = nil) -> Tensor {
        guard let W_in = w.W_in, let W_out = w.W_out else { return Tensor(zeros: x.shape) }
        guard w.W_gate == nil, let scratch else {
            let pre = mlpPre(x, w)
            return mlpOut(post: mlpPost(pre: pre, preLinear: mlpPreLinear(x, w), w, act), w)
        }
        let (D, M) = (W_in.shape[0], W_in.shape[1])
        let T = x.count / max(D, 1)
        if scratch.hidden.count < T * M { scratch.hidden = [Float](repeating: 0, count: T * M) }
        var out = Tensor(zeros: Array(x.shape.dropLast()) + [W_out.shape[1]])
        let (b_in, b_out) = (w.b_in?.data ?? [], w.b_out?.data ?? [])
        scratch.hidden.withUnsafeMutableBufferPointer { hp in
        x.data.withUnsafeBufferPointer { xp in
        W_in.data.withUnsafeBufferPointer { ip in
        W_out.data.withUnsafeBufferPointer { op in
        b_in.withUnsafeBufferPointer { bi in
        b_out.withUnsafeBufferPointer { bo in
        out.data.withUnsafeMutableBufferPointer { outp in
            guard let h = hp.baseAddress, let xb = xp.baseAddress, let wi = ip.baseAddress,
                  let wo = op.baseAddress, let o = outp.baseAddress else { return }
            linear(rows: T, k: D, n: M, x: xb, lda: D, w: wi, ldw: M,                 // pre = x @ W_in + b_in  [rows, d_mlp]
                   bias: b_in.isEmpty ? nil : bi.baseAddress, out: h, ldc: M)
            act.apply(UnsafeMutableBufferPointer(start: h, count: T * M))            // post = act(pre)
            linear(rows: T, k: M, n: W_out.shape[1], x: h, lda: M, w: wo, ldw: W_out.shape[1],   // post @ W_out + b_out  [rows, d_model]
                   bias: b_out.isEmpty ? nil : bo.baseAddress, out: o, ldc: W_out.shape[1])
        }}}}}}}
        return out
    }
}

/// Reusable buffer of an MLP's hidden activations (`[rows, d_mlp]`), for `Kernels.mlp`.
public final class MLPScratch: @unchecked Sendable {
    public var hidden: [Float] = []
    public init() {}
}
