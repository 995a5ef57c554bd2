import MechanicTensor

extension HookedTransformer {
    /// Reverse mode through the attention of block `l` (`Attention.swift`), from `d attn_out`
    /// to the gradient of the normalised input (shared by q, k and v); records `hook_z`,
    /// `hook_pattern`, `hook_attn_scores`, `hook_rot_q/k`, `hook_q/k/v` gradients.
    func attentionBackward(_ l: Int, _ w: BlockWeights, _ f: FusedAttention, dAttnOut: Tensor, cache: ActivationCache,
                           positions: [[Int]], into grads: inout [String: Tensor]) throws -> Tensor {
        let c = config, n = blockNames[l]
        let (B, P, H, K, E, D) = (dAttnOut.shape[0], dAttnOut.shape[1], c.nHeads, c.nKeyValueHeads, c.dHead, c.dModel)
        let N = B * P, G = c.groupSize
        let pattern = try cache.require(n.pattern)                        // [batch, head, q_pos, k_pos]
        let v = try cache.require(n.v)                                    // [batch, pos, kv_head, d_head]
        let q = try cache.require(rotary == nil ? n.q : n.rotQ)          // [batch, pos, head, d_head]
        let k = try cache.require(rotary == nil ? n.k : n.rotK)          // [batch, pos, kv_head, d_head]
        let attnScale = c.attnScale(layer: l)

        // attn_out = z @ W_O + b_O with z viewed as [batch·pos, head·d_head], W_O as [head·d_head, d_model].
        var dz = Tensor(zeros: [B, P, H, E])
        var dPattern = Tensor(zeros: [B, H, P, P])
        var dScores = Tensor(zeros: [B, H, P, P])
        var dq = Tensor(zeros: [B, P, H, E])
        var dk = Tensor(zeros: [B, P, K, E])
        var dv = Tensor(zeros: [B, P, K, E])
        dAttnOut.data.withUnsafeBufferPointer { ga in
            w.W_O.data.withUnsafeBufferPointer { wo in
                dz.data.withUnsafeMutableBufferPointer { gz in
                    guard let a = ga.baseAddress, let o = wo.baseAddress, let z = gz.baseAddress else { return }
                    sgemm(transB: true, m: N, n: H * E, k: D, a: a, lda: D, b: o, ldb: D, c: z, ldc: H * E)
                }
            }
        }
        pattern.data.withUnsafeBufferPointer { pp in
        v.data.withUnsafeBufferPointer { vp in
        q.data.withUnsafeBufferPointer { qp in
        k.data.withUnsafeBufferPointer { kp in
        dz.data.withUnsafeBufferPointer { gzp in
        dPattern.data.withUnsafeMutableBufferPointer { gpp in
        dScores.data.withUnsafeMutableBufferPointer { gsp in
        dq.data.withUnsafeMutableBufferPointer { gqp in
        dk.data.withUnsafeMutableBufferPointer { gkp in
        dv.data.withUnsafeMutableBufferPointer { gvp in
            guard let pb = pp.baseAddress, let vb = vp.baseAddress, let qb = qp.baseAddress, let kb = kp.baseAddress,
                  let gz = gzp.baseAddress, let gp = gpp.baseAddress, let gs = gsp.baseAddress,
                  let gq = gqp.baseAddress, let gk = gkp.baseAddress, let gv = gvp.baseAddress else { return }
            for b in 0..<B {
                for h in 0..<H {
                    let g = h / G
                    let A = pb + (b * H + h) * P * P, dA = gp + (b * H + h) * P * P, dS = gs + (b * H + h) * P * P
                    let zRows = gz + b * P * H * E + h * E                  // rows of dz[b, :, h], stride H·E
                    let vRows = vb + b * P * K * E + g * E                  // rows of v[b, :, g], stride K·E
                    // z = A @ v: dA = dz @ vᵀ, dv += Aᵀ @ dz.
                    sgemm(transB: true, m: P, n: P, k: E, a: zRows, lda: H * E, b: vRows, ldb: K * E, c: dA, ldc: P)
                    sgemm(transA: true, m: P, n: E, k: P, a: A, lda: P, b: zRows, ldb: H * E, beta: 1,
                          c: gv + b * P * K * E + g * E, ldc: K * E)
                    // pattern = softmax(scores): dS = A ⊙ (dA − Σ_j dA·A); masked entries have A = 0.
                    for i in 0..<P {
                        var dot: Float = 0
                        for j in 0..<P { dot += dA[i * P + j] * A[i * P + j] }
                        for j in 0..<P { dS[i * P + j] = A[i * P + j] * (dA[i * P + j] - dot) }
                    }
                    // scores = q @ kᵀ / scale: dq = dS @ k / scale, dk += dSᵀ @ q / scale.
                    sgemm(m: P, n: E, k: P, alpha: 1 / attnScale, a: dS, lda: P, b: kb + b * P * K * E + g * E, ldb: K * E,
                          c: gq + b * P * H * E + h * E, ldc: H * E)
                    sgemm(transA: true, m: P, n: E, k: P, alpha: 1 / attnScale, a: dS, lda: P,
                          b: qb + b * P * H * E + h * E, ldb: H * E, beta: 1, c: gk + b * P * K * E + g * E, ldc: K * E)
                }
            }
        }}}}}}}}}}
        grads[n.z] = dz
        grads[n.pattern] = dPattern
        grads[n.attnScores] = dScores
        if let rotary {
            grads[n.rotQ] = dq
            grads[n.rotK] = dk
            rotary.apply(&dq, positions: positions, transposed: true)
            rotary.apply(&dk, positions: positions, transposed: true)
        }
        grads[n.q] = dq
        grads[n.k] = dk
        grads[n.v] = dv

        // q | k | v = x @ W_QKV + b: d x = [dq | dk | dv] @ W_QKVᵀ, the fused matrix [d_model, width].
        var dQKV = Tensor(zeros: [N, f.width])                            // [batch·pos, (head + 2·kv_head)·d_head]
        for t in 0..<N {
            let o = t * f.width
            for i in 0..<(H * E) { dQKV.data[o + i] = dq.data[t * H * E + i] }
            for i in 0..<(K * E) {
                dQKV.data[o + H * E + i] = dk.data[t * K * E + i]
                dQKV.data[o + (H + K) * E + i] = dv.data[t * K * E + i]
            }
        }
        var dx = Tensor(zeros: [B, P, D])
        dQKV.data.withUnsafeBufferPointer { gp in
            f.wQKV.withUnsafeBufferPointer { wp in
                dx.data.withUnsafeMutableBufferPointer { xp in
                    guard let g = gp.baseAddress, let wq = wp.baseAddress, let x = xp.baseAddress else { return }
                    sgemm(transB: true, m: N, n: D, k: f.width, a: g, lda: f.width, b: wq, ldb: f.width, c: x, ldc: D)
                }
            }
        }
        return dx
    }
}
