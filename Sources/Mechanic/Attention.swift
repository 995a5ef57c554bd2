import MechanicTensor

extension HookedTransformer {
    /// Attention of block `l` with its hooks (`hook_q/k/v`, `hook_rot_q/k`, `hook_attn_scores`,
    /// `hook_pattern`, `hook_z`, `hook_result`). Inputs are the normalised query/key/value inputs:
    /// `[batch, pos, d_model]` shared by all heads, or `[batch, pos, heads, d_model]` per head
    /// (split-qkv / attn_in). Returns `attn_out` `[batch, pos, d_model]` before `hook_attn_out`.
    func attention(layer l: Int, _ w: BlockWeights, _ f: FusedAttention, qIn: Tensor, kIn: Tensor, vIn: Tensor,
                   ctx: ForwardContext) throws -> Tensor {
        let c = config, n = blockNames[l]
        let (B, P, H, K, E, D) = (ctx.batch, ctx.length, c.nHeads, c.nKeyValueHeads, c.dHead, c.dModel)
        let N = B * P

        // q, k, v = x @ W_{Q,K,V} + b — one GEMM per input (or per head when inputs are per head).
        func project(_ x: Tensor, heads: Int, column: Int) -> Tensor {
            var out = Tensor(zeros: [B, P, heads, E])
            let perHead = x.rank == 4
            x.data.withUnsafeBufferPointer { xp in
                f.wQKV.withUnsafeBufferPointer { wp in
                    f.bQKV.withUnsafeBufferPointer { bp in
                        out.data.withUnsafeMutableBufferPointer { op in
                            guard let xb = xp.baseAddress, let wb = wp.baseAddress, let bb = bp.baseAddress, let ob = op.baseAddress else { return }
                            if perHead {
                                let xHeads = x.shape[2]
                                for h in 0..<heads {
                                    linear(rows: N, k: D, n: E, x: xb + min(h, xHeads - 1) * D, lda: xHeads * D,
                                           w: wb + column + h * E, ldw: f.width, bias: bb + column + h * E,
                                           out: ob + h * E, ldc: heads * E)
                                }
                            } else {
                                linear(rows: N, k: D, n: heads * E, x: xb, lda: D, w: wb + column, ldw: f.width,
                                       bias: bb + column, out: ob, ldc: heads * E)
                            }
                        }
                    }
                }
            }
            return out
        }
        var q = project(qIn, heads: H, column: 0)            // [batch, pos, head, d_head]
        var k = project(kIn, heads: K, column: H * E)        // [batch, pos, kv_head, d_head]
        var v = project(vIn, heads: K, column: (H + K) * E)  // [batch, pos, kv_head, d_head]
        try ctx.hooks.fire(n.q, layer: l, &q)
        try ctx.hooks.fire(n.k, layer: l, &k)
        try ctx.hooks.fire(n.v, layer: l, &v)
        if let rotary {
            rotary.apply(&q, positions: ctx.positions)
            rotary.apply(&k, positions: ctx.positions)
            try ctx.hooks.fire(n.rotQ, layer: l, &q)
            try ctx.hooks.fire(n.rotK, layer: l, &k)
        }

        // Keys and values over past + current positions.
        let past = ctx.pastLength
        let Pk = past + P
        let (keys, values) = ctx.kvCache?.append(layer: l, keys: k, values: v) ?? (k.data, v.data)

        // scores[b, h, i, j] = q[b, i, h] · k[b, j, h / group] / attn_scale, masked → -inf.
        var attnScale = Float(E).squareRoot()
        if c.scaleAttnByInverseLayerIdx { attnScale *= Float(l + 1) }
        var scores = Tensor(zeros: [B, H, P, Pk])
        q.data.withUnsafeBufferPointer { qp in
            keys.withUnsafeBufferPointer { kp in
                scores.data.withUnsafeMutableBufferPointer { sp in
                    guard let qb = qp.baseAddress, let kb = kp.baseAddress, let sb = sp.baseAddress else { return }
                    for b in 0..<B {
                        for h in 0..<H {
                            let g = h / c.groupSize
                            let s = sb + (b * H + h) * P * Pk
                            sgemm(transB: true, m: P, n: Pk, k: E, alpha: 1 / attnScale,
                                  a: qb + b * P * H * E + h * E, lda: H * E,
                                  b: kb + b * Pk * K * E + g * E, ldb: K * E, c: s, ldc: Pk)
                            let keyMask = ctx.fullMask[b]
                            for i in 0..<P {
                                let row = s + i * Pk
                                for j in 0..<Pk where j > past + i || keyMask[j] == 0 { row[j] = -.infinity }
                            }
                        }
                    }
                }
            }
        }
        try ctx.hooks.fire(n.attnScores, layer: l, &scores)
        var pattern = scores
        pattern.data.withUnsafeMutableBufferPointer { p in
            if let base = p.baseAddress { Rows.softmax(base, rows: B * H * P, n: Pk) }
        }
        try ctx.hooks.fire(n.pattern, layer: l, &pattern)

        // z[b, i, h] = Σ_j pattern[b, h, i, j] · v[b, j, h / group]
        var z = Tensor(zeros: [B, P, H, E])
        pattern.data.withUnsafeBufferPointer { pp in
            values.withUnsafeBufferPointer { vp in
                z.data.withUnsafeMutableBufferPointer { zp in
                    guard let pb = pp.baseAddress, let vb = vp.baseAddress, let zb = zp.baseAddress else { return }
                    for b in 0..<B {
                        for h in 0..<H {
                            sgemm(m: P, n: E, k: Pk, a: pb + (b * H + h) * P * Pk, lda: Pk,
                                  b: vb + b * Pk * K * E + (h / c.groupSize) * E, ldb: K * E,
                                  c: zb + b * P * H * E + h * E, ldc: H * E)
                        }
                    }
                }
            }
        }
        try ctx.hooks.fire(n.z, layer: l, &z)

        // attn_out = Σ_h z[h] @ W_O[h] + b_O, through hook_result when it is wanted.
        var out = Tensor(zeros: [B, P, D])
        if ctx.options.attnResult {
            var result = Tensor(zeros: [B, P, H, D])
            z.data.withUnsafeBufferPointer { zp in
                w.W_O.data.withUnsafeBufferPointer { op in
                    result.data.withUnsafeMutableBufferPointer { rp in
                        guard let zb = zp.baseAddress, let ob = op.baseAddress, let rb = rp.baseAddress else { return }
                        for h in 0..<H {
                            linear(rows: N, k: E, n: D, x: zb + h * E, lda: H * E, w: ob + h * E * D, ldw: D,
                                   bias: nil, out: rb + h * D, ldc: H * D)
                        }
                    }
                }
            }
            try ctx.hooks.fire(n.result, layer: l, &result)
            out.data.withUnsafeMutableBufferPointer { o in
                result.data.withUnsafeBufferPointer { r in
                    for t in 0..<N {
                        for m in 0..<D { o[t * D + m] = w.b_O.data[m] }
                        for h in 0..<H { for m in 0..<D { o[t * D + m] += r[(t * H + h) * D + m] } }
                    }
                }
            }
        } else {
            z.data.withUnsafeBufferPointer { zp in
                w.W_O.data.withUnsafeBufferPointer { op in
                    w.b_O.data.withUnsafeBufferPointer { bp in
                        out.data.withUnsafeMutableBufferPointer { rp in
                            guard let zb = zp.baseAddress, let ob = op.baseAddress, let rb = rp.baseAddress else { return }
                            linear(rows: N, k: H * E, n: D, x: zb, lda: H * E, w: ob, ldw: D, bias: bp.baseAddress, out: rb, ldc: D)
                        }
                    }
                }
            }
        }
        return out
    }
}
