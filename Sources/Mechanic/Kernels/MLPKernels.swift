import MechanicTensor

extension Kernels {
    /// `hook_pre` of an MLP on normalised rows: `x @ W_in + b_in`, or `x @ W_gate` for a gated
    /// MLP (whose `b_in` is added after the gate, see `mlpPost`).
    ///
    /// `b_in` is added to the finished product, as `mlp` adds it in the activation's pass (and as
    /// TransformerLens adds it after its einsum). Writing it into the output before the product
    /// would round differently: the few-row product and OpenBLAS's K-blocked sgemm (K > 384)
    /// accumulate onto it.
    ///
    /// - x: `[rows, d_model]` (any leading shape) → `[rows, d_mlp]`
    public static func mlpPre(_ x: Tensor, _ w: BlockWeights) -> Tensor {
        guard let W_in = w.W_in else { return Tensor(zeros: x.shape) }
        if let W_gate = w.W_gate { return x.linear(W_gate) }   // [rows, d_mlp]
        var pre = x.linear(W_in)                               // [rows, d_mlp]
        guard let b = w.b_in, b.count == W_in.shape.last, b.count > 0 else { return pre }
        let n = b.count
        pre.data.withUnsafeMutableBufferPointer { p in
            b.data.withUnsafeBufferPointer { bp in
                guard let base = p.baseAddress, let bb = bp.baseAddress else { return }
                let (o, bias) = (UncheckedPointer(base), ConstPointer(bb))
                Parallel.chunks(p.count / n, grain: max(1, 16384 / n)) { rows in
                    for r in rows { for j in 0..<n { o.raw[r * n + j] += bias.raw[j] } }   // row r of [rows, d_mlp]
                }
            }
        }
        return pre
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
    /// same products in the same order as `mlpPre`, `mlpPost`, `mlpOut` (so the same values), with
    /// fewer passes over the hidden activations: the bias is added inside the activation's pass,
    /// and the hidden activations live in `scratch` (reused across calls: a fresh `[rows, d_mlp]`
    /// array per call costs page faults and zero-filling comparable to the activation itself).
    public static func mlp(_ x: Tensor, _ w: BlockWeights, _ act: Activation, scratch: MLPScratch? = nil) -> Tensor {
        guard let W_in = w.W_in, let W_out = w.W_out else { return Tensor(zeros: x.shape) }
        let (D, M, DO) = (W_in.shape[0], W_in.shape[1], W_out.shape[1])
        let T = x.count / max(D, 1)
        guard T > 0 else { return Tensor(zeros: Array(x.shape.dropLast()) + [DO]) }
        let scratch = scratch ?? MLPScratch()
        let gated = w.W_gate != nil
        scratch.reserve(T * M, gated: gated)
        let b_in = w.b_in?.data ?? [], b_out = w.b_out?.data ?? []
        var out = Tensor(zeros: [0])
        scratch.hidden.withUnsafeMutableBufferPointer { hp in
        scratch.linear.withUnsafeMutableBufferPointer { lp in
        x.data.withUnsafeBufferPointer { xp in
        W_in.data.withUnsafeBufferPointer { ip in
        b_in.withUnsafeBufferPointer { bi in
            guard let h = hp.baseAddress, let xb = xp.baseAddress, let wi = ip.baseAddress else { return }
            let hidden = UnsafeMutableBufferPointer(start: h, count: T * M)
            if let W_gate = w.W_gate, let lin = lp.baseAddress {
                W_gate.data.withUnsafeBufferPointer { gp in
                    guard let wg = gp.baseAddress else { return }
                    linear(rows: T, k: D, n: M, x: xb, lda: D, w: wg, ldw: M, bias: nil, out: h, ldc: M)     // pre = x @ W_gate       [rows, d_mlp]
                    linear(rows: T, k: D, n: M, x: xb, lda: D, w: wi, ldw: M, bias: nil, out: lin, ldc: M)   // pre_linear = x @ W_in  [rows, d_mlp]
                }
                gatedPost(hidden, linear: UnsafeBufferPointer(start: lin, count: T * M), bias: bi, act)
            } else {
                linear(rows: T, k: D, n: M, x: xb, lda: D, w: wi, ldw: M, bias: nil, out: h, ldc: M)         // x @ W_in               [rows, d_mlp]
                if T * M > 0 && D == 0 { hidden.initialize(repeating: 0) }
                act.apply(hidden, rowBias: b_in.count == M ? bi : UnsafeBufferPointer(start: nil, count: 0))   // post = act(· + b_in)
            }
            out = W_out.data.withUnsafeBufferPointer { op in
                b_out.withUnsafeBufferPointer { bo in
                    Tensor(shape: Array(x.shape.dropLast()) + [DO]) { o in   // post @ W_out + b_out  [rows, d_model]
                        guard let wo = op.baseAddress, let ob = o.baseAddress else { return }
                        if M == 0 { o.initialize(repeating: 0) }
                        linear(rows: T, k: M, n: DO, x: h, lda: M, w: wo, ldw: DO,
                               bias: b_out.count == DO ? bo.baseAddress : nil, out: ob, ldc: DO)
                    }
                }
            }
        }}}}}
        return out
    }

    /// A gated MLP's `hook_post` in place of the gate: `act(gate) · linear + b_in`, in parallel.
    static func gatedPost(_ gate: UnsafeMutableBufferPointer<Float>, linear: UnsafeBufferPointer<Float>,
                          bias: UnsafeBufferPointer<Float>, _ act: Activation) {
        guard let g = gate.baseAddress, let l = linear.baseAddress else { return }
        let (gp, lp) = (UncheckedPointer(g), ConstPointer(l))
        let d = bias.count, bp = bias.baseAddress.map(ConstPointer.init)
        func post(_ i: Int, _ a: Float) {   // element i from its activation a (the same value as act.apply)
            let b: Float = d > 0 ? bp?.raw[i % d] ?? 0 : 0
            gp.raw[i] = a * lp.raw[i] + b
        }
        Parallel.chunks(gate.count / 8, grain: 2048) { r in   // r: groups of 8 floats
            for g in r {
                let a = act.apply(SIMDMath.load8(gp.raw + 8 * g))
                for i in 0..<8 { post(8 * g + i, a[i]) }
            }
        }
        for i in (gate.count / 8 * 8)..<gate.count { post(i, act.apply(gp.raw[i])) }
    }
}

/// Reusable buffers of an MLP's hidden activations (`[rows, d_mlp]`; a gated MLP's second
/// product in `linear`), for `Kernels.mlp`.
public final class MLPScratch: @unchecked Sendable {
    public var hidden: [Float] = []
    public var linear: [Float] = []
    public init() {}

    /// Grows the buffers to at least `n` floats. Their contents are unspecified: `Kernels.mlp`'s
    /// products write every element they read (no zero-fill pass over pages about to be written).
    public func reserve(_ n: Int, gated: Bool) {
        if hidden.count < n { hidden = Self.unfilled(n) }
        if gated && linear.count < n { linear = Self.unfilled(n) }
    }

    private static func unfilled(_ n: Int) -> [Float] {
        [Float](unsafeUninitializedCapacity: n) { _, count in count = n }
    }
}
