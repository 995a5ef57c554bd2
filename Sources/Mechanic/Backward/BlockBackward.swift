import MechanicTensor

extension HookedTransformer {
    /// Reverse mode through block `l`: from `d resid_post` to `d resid_pre`, recording the
    /// gradient of every hook point of the block in `grads`.
    func blockBackward(_ l: Int, dResidPost: Tensor, cache: ActivationCache, positions: [[Int]],
                       into grads: inout [String: Tensor]) throws -> Tensor {
        let c = config, n = blockNames[l]
        let (w, f) = try blockForForward(l)
        grads[n.residPost] = dResidPost
        let residPre = try cache.require(n.residPre)
        var dAttnOut: Tensor
        var dResidPre: Tensor
        if c.attnOnly {
            dAttnOut = dResidPost
            dResidPre = dResidPost
        } else {
            grads[n.mlpOut] = dResidPost
            // resid_post = resid_mid + mlp_out (sequential) or resid_pre + attn_out + mlp_out (parallel);
            // the MLP reads ln2(resid_mid) or ln2(resid_pre).
            let mlpInput = c.parallelAttnMLP ? residPre : try cache.require(n.residMid)
            let dX2 = try mlpBackward(l, w, dMLPOut: dResidPost, cache: cache, into: &grads)
            let dFromMLP = try normBackward(x: mlpInput, dOut: dX2, weight: w.ln2W, cache: cache,
                                            scale: n.ln2Scale, normalized: n.ln2Normalized, into: &grads)
            if c.parallelAttnMLP {
                dAttnOut = dResidPost
                dResidPre = dResidPost + dFromMLP
            } else {
                let dMid = dResidPost + dFromMLP
                grads[n.residMid] = dMid
                dAttnOut = dMid
                dResidPre = dMid
            }
        }
        grads[n.attnOut] = dAttnOut
        let dX1 = try attentionBackward(l, w, f, dAttnOut: dAttnOut, cache: cache, positions: positions, into: &grads)
        dResidPre.add(try normBackward(x: residPre, dOut: dX1, weight: w.ln1W, cache: cache,
                                       scale: n.ln1Scale, normalized: n.ln1Normalized, into: &grads))
        grads[n.residPre] = dResidPre
        return dResidPre
    }

    /// `mlp_out = post @ W_out + b_out`, `post = act(pre)` (or `act(pre) · pre_linear` gated);
    /// returns the gradient of the MLP's normalised input.
    private func mlpBackward(_ l: Int, _ w: BlockWeights, dMLPOut: Tensor, cache: ActivationCache,
                             into grads: inout [String: Tensor]) throws -> Tensor {
        let n = blockNames[l]
        guard let W_in = w.W_in, let W_out = w.W_out else { return Tensor(zeros: dMLPOut.shape) }
        let act = Kernels.activation(config)
        let dPost = matmul(dMLPOut, W_out, transB: true)   // [batch, pos, d_mlp]
        grads[n.post] = dPost
        let pre = try cache.require(n.pre)
        var dPre = dPost
        if let W_gate = w.W_gate {
            let preLinear = try cache.require(n.preLinear)
            var dPreLinear = dPost
            Self.elementwise(pre, preLinear, dPost, into: &dPre, &dPreLinear) { a, lin, g in
                (g * lin * act.derivative(a), g * act.apply(a))
            }
            grads[n.pre] = dPre
            grads[n.preLinear] = dPreLinear
            var dX = matmul(dPre, W_gate, transB: true)      // [batch, pos, d_model]
            dX.add(matmul(dPreLinear, W_in, transB: true))
            return dX
        }
        var unused = Tensor(zeros: [0])
        Self.elementwise(pre, pre, dPost, into: &dPre, &unused) { a, _, g in (g * act.derivative(a), 0) }
        grads[n.pre] = dPre
        return matmul(dPre, W_in, transB: true)              // [batch, pos, d_model]
    }

    /// `(out1[i], out2[i]) = f(a[i], b[i], c[i])` over all elements, in parallel chunks; `out2`
    /// is written only when it has the same count (pass an empty tensor to skip it).
    static func elementwise(_ a: Tensor, _ b: Tensor, _ c: Tensor, into out1: inout Tensor, _ out2: inout Tensor,
                            _ f: @escaping @Sendable (Float, Float, Float) -> (Float, Float)) {
        let n = a.count
        let second = out2.count == n
        a.data.withUnsafeBufferPointer { ap in b.data.withUnsafeBufferPointer { bp in c.data.withUnsafeBufferPointer { cp in
            out1.data.withUnsafeMutableBufferPointer { o1 in out2.data.withUnsafeMutableBufferPointer { o2 in
                guard let ab = ap.baseAddress, let bb = bp.baseAddress, let cb = cp.baseAddress, let p1 = o1.baseAddress else { return }
                let (x, y, z) = (ConstPointer(ab), ConstPointer(bb), ConstPointer(cb))
                let (w1, w2) = (UncheckedPointer(p1), o2.baseAddress.map(UncheckedPointer.init))
                Parallel.chunks(n, grain: 16384) { r in
                    for i in r {
                        let (u, v) = f(x.raw[i], y.raw[i], z.raw[i])
                        w1.raw[i] = u
                        if second, let w2 { w2.raw[i] = v }
                    }
                }
            }}
        }}}
    }

    /// Reverse mode through a norm of this model's kind (`Norm.swift`): `x` is the norm's input,
    /// `dOut` the gradient of its output; records `hook_scale` and `hook_normalized` gradients.
    ///
    /// With `x̂ = (x − mean?) / s`, `s = √(mean(x_c²) + eps)`: `d x̂ = dOut · w?`,
    /// `d s = −Σ d x̂ · x̂ / s`, `d x_c = d x̂ / s + d s · x_c / (d · s)`, centred again for LayerNorm.
    func normBackward(x: Tensor, dOut: Tensor, weight: Tensor?, cache: ActivationCache, scale: String, normalized: String,
                      into grads: inout [String: Tensor]) throws -> Tensor {
        let kind = config.normalization
        if kind == .none { return dOut }
        let s = try cache.require(scale)
        let d = x.shape.last ?? 1
        let rows = x.count / d
        let center = kind == .layerNorm || kind == .layerNormPre
        let affine = (kind == .layerNorm || kind == .rmsNorm) ? weight : nil
        var dx = Tensor(zeros: x.shape)
        var dScale = Tensor(zeros: s.shape)                     // [..., 1]
        var dNormalized = dOut
        var xc = [Float](repeating: 0, count: d), dxh = [Float](repeating: 0, count: d)
        for r in 0..<rows {
            let o = r * d
            var mean: Float = 0
            if center { for j in 0..<d { mean += x.data[o + j] }; mean /= Float(d) }
            for j in 0..<d { xc[j] = x.data[o + j] - mean }
            for j in 0..<d { dxh[j] = dOut.data[o + j] * (affine?.data[j] ?? 1) }
            if kind == .rmsNorm { for j in 0..<d { dNormalized.data[o + j] = dxh[j] } }
            let sr = s.data[r]
            var dot: Float = 0
            for j in 0..<d { dot += dxh[j] * xc[j] }
            let ds = -dot / (sr * sr)
            dScale.data[r] = ds
            var sum: Float = 0
            for j in 0..<d {
                let v = dxh[j] / sr + ds * xc[j] / (Float(d) * sr)
                dx.data[o + j] = v
                sum += v
            }
            if center {
                let m = sum / Float(d)
                for j in 0..<d { dx.data[o + j] -= m }
            }
        }
        grads[scale] = dScale
        grads[normalized] = dNormalized
        return dx
    }
}
