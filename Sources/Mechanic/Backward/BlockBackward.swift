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
        let act = Activation(rawValue: config.actFn) ?? .geluNew
        let dPost = matmul(dMLPOut, W_out, transB: true)   // [batch, pos, d_mlp]
        grads[n.post] = dPost
        let pre = try cache.require(n.pre)
        var dPre = dPost
        if let W_gate = w.W_gate {
            let preLinear = try cache.require(n.preLinear)
            var dPreLinear = dPost
            for i in 0..<dPost.count {
                let a = pre.data[i]
                dPre.data[i] = dPost.data[i] * preLinear.data[i] * act.derivative(a)
                dPreLinear.data[i] = dPost.data[i] * act.apply(a)
            }
            grads[n.pre] = dPre
            grads[n.preLinear] = dPreLinear
            var dX = matmul(dPre, W_gate, transB: true)      // [batch, pos, d_model]
            dX.add(matmul(dPreLinear, W_in, transB: true))
            return dX
        }
        for i in 0..<dPost.count { dPre.data[i] = dPost.data[i] * act.derivative(pre.data[i]) }
        grads[n.pre] = dPre
        return matmul(dPre, W_in, transB: true)              // [batch, pos, d_model]
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
