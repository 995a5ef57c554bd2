import MechanicTensor

extension HookedTransformer {
    /// Attention of block `l` with its hooks (`hook_q/k/v`, `hook_rot_q/k`, `hook_attn_scores`,
    /// `hook_pattern`, `hook_z`, `hook_result`). Inputs are the normalised query/key/value inputs:
    /// `[batch, pos, d_model]` shared by all heads, or `[batch, pos, heads, d_model]` per head
    /// (split-qkv / attn_in). Returns `attn_out` `[batch, pos, d_model]` before `hook_attn_out`.
    func attention(layer l: Int, _ w: BlockWeights, _ f: FusedAttention, qIn: Tensor, kIn: Tensor, vIn: Tensor,
                   ctx: ForwardContext) throws -> Tensor {
        let n = blockNames[l], s = f.shape
        let (B, P, H, K, E) = (ctx.batch, ctx.length, s.heads, s.kvHeads, s.dHead)

        // q, k, v = x @ W_{Q,K,V} + b — one product per input (or per head when inputs are per head).
        var q = Kernels.project(qIn, f, .q, perHead: qIn.rank == 4)   // [batch, pos, head, d_head]
        var k = Kernels.project(kIn, f, .k, perHead: kIn.rank == 4)   // [batch, pos, kv_head, d_head]
        var v = Kernels.project(vIn, f, .v, perHead: vIn.rank == 4)   // [batch, pos, kv_head, d_head]
        try ctx.hooks.fire(n.q, layer: l, &q)
        try ctx.hooks.fire(n.k, layer: l, &k)
        try ctx.hooks.fire(n.v, layer: l, &v)
        if let rotary {
            rotary.apply(&q, positions: ctx.positions)
            rotary.apply(&k, positions: ctx.positions)
            try ctx.hooks.fire(n.rotQ, layer: l, &q)
            try ctx.hooks.fire(n.rotK, layer: l, &k)
        }

        // Keys and values over past + current positions: [batch, past + pos, kv_head, d_head].
        let past = ctx.pastLength
        let Pk = past + P
        let (keys, values) = ctx.kvCache?.append(layer: l, keys: k, values: v) ?? (k.data, v.data)

        // scores[b, h, i, j] = q[b, i, h] · k[b, j, h / group] / attn_scale, masked → -inf; each
        // (sequence, head) on its own core when the products are small. The softmax is taken in
        // the same task when nothing reads the scores themselves.
        let fuseSoftmax = !ctx.hooks.wants(n.attnScores)
        func each(_ body: (Int, Int) -> Void) { Kernels.eachHead(batch: B, heads: H, productSize: P * Pk * E, body) }
        var scores = Tensor(shape: [B, H, P, Pk]) { sp in
            q.data.withUnsafeBufferPointer { qp in
                keys.withUnsafeBufferPointer { kp in
                    guard let qb = qp.baseAddress, let kb = kp.baseAddress, let sb = sp.baseAddress else { return }
                    each { b, h in
                        Kernels.attentionScores(s, q: qb + b * P * H * E,                    // q[b]      [pos, head, d_head]
                                                k: kb + b * Pk * K * E,                      // keys[b]   [past + pos, kv_head, d_head]
                                                queries: P, keys: Pk, firstQuery: past, keyMask: ctx.fullMask[b],
                                                scale: config.attnScale(layer: l), softmax: fuseSoftmax, include: { $0 == h },
                                                scores: sb + b * H * P * Pk)                 // scores[b] [head, pos, past + pos]
                    }
                }
            }
        }
        var pattern: Tensor
        if fuseSoftmax {
            pattern = consume scores
        } else {
            try ctx.hooks.fire(n.attnScores, layer: l, &scores)
            pattern = scores
            pattern.data.withUnsafeMutableBufferPointer { p in
                if let base = p.baseAddress { Rows.softmax(base, rows: B * H * P, n: Pk) }
            }
        }
        try ctx.hooks.fire(n.pattern, layer: l, &pattern)

        // z[b, i, h] = Σ_j pattern[b, h, i, j] · v[b, j, h / group]
        var z = Tensor(shape: [B, P, H, E]) { zp in
            pattern.data.withUnsafeBufferPointer { pp in
                values.withUnsafeBufferPointer { vp in
                    guard let pb = pp.baseAddress, let vb = vp.baseAddress, let zb = zp.baseAddress else { return }
                    each { b, h in
                        Kernels.attentionMix(s, pattern: pb + b * H * P * Pk,                // pattern[b] [head, pos, past + pos]
                                             v: vb + b * Pk * K * E,                         // values[b]  [past + pos, kv_head, d_head]
                                             queries: P, keys: Pk, include: { $0 == h },
                                             z: zb + b * P * H * E)                          // z[b]       [pos, head, d_head]
                    }
                }
            }
        }
        try ctx.hooks.fire(n.z, layer: l, &z)

        // attn_out = Σ_h z[h] @ W_O[h] + b_O, through hook_result when it is wanted.
        guard ctx.options.attnResult else { return Kernels.attentionOut(z: z, W_O: w.W_O, b_O: w.b_O) }   // [batch, pos, d_model]
        var result = Kernels.headResults(z: z, W_O: w.W_O)                                 // [batch, pos, head, d_model]
        try ctx.hooks.fire(n.result, layer: l, &result)
        return Kernels.sumHeadResults(result, b_O: w.b_O)                                  // [batch, pos, d_model]
    }
}
