import Mechanic

/// One transformer block over packed rows, each attending to the target run's keys and values
/// at the positions before its start (`prefixKeys`/`prefixValues`: `[pairs, P, kv_heads, d_head]`,
/// keys after rotary).
struct PackedBlock {
    let model: HookedTransformer
    let rotary: RotaryTables?
    let weights = PackedWeights()

    /// resid_pre `[tokens, d_model]` → resid_post, from `entry.stage` on (earlier stages' values
    /// come from `entry.preset`).
    func run(_ l: Int, _ layout: PackedLayout, residPre input: Tensor, entry: PackedEntry,
             prefixKeys: Tensor, prefixValues: Tensor) throws -> Tensor {
        let c = model.config, w = try weights.block(l, of: model)
        let (T, D) = (layout.tokens, c.dModel)
        let stage = entry.stage
        var residPre = input
        try entry.apply(.residPre, &residPre)
        if stage == .residPost {
            var post = try entry.require(.residPost)
            try entry.apply(.residPost, &post)
            return post
        }

        var attnOut: Tensor
        switch stage {
        case .residPre:
            attnOut = try attention(l, layout, residPre: residPre, prefixKeys: prefixKeys, prefixValues: prefixValues)
        case .qkv, .pattern, .z:
            attnOut = try headLocalAttention(l, layout, entry: entry, prefixKeys: prefixKeys, prefixValues: prefixValues)
        case .result:
            var result = try entry.require(.result)   // [tokens, head, d_model]
            try entry.apply(.result, &result)
            attnOut = Kernels.sumHeadResults(result, b_O: w.b_O)   // [tokens, d_model]
        case .attnOut:
            attnOut = try entry.require(.attnOut)
        default:
            attnOut = entry.preset[.attnOut] ?? Tensor(zeros: [T, D])
        }
        if stage <= .attnOut { try entry.apply(.attnOut, &attnOut) }

        if c.attnOnly { return residPre + attnOut }
        var residMid = residPre
        if !c.parallelAttnMLP {
            if stage <= .attnOut {
                attnOut.add(residPre)   // attn_out + resid_pre in attn_out's buffer (the same sums as resid_pre + attn_out)
                residMid = attnOut
            } else {
                residMid = try entry.require(.residMid)
            }
            if stage <= .residMid { try entry.apply(.residMid, &residMid) }
        }
        // The MLP, recomputed only at the tokens whose input the patch changed; elsewhere it is
        // the target's (a parallel block's MLP reads resid_pre, unchanged after entry).
        var mlpOut: Tensor
        if stage == .residPre {
            mlpOut = mlp(Kernels.norm(residMid, c, weight: w.ln2W, bias: w.ln2B), w)
        } else if stage == .post {
            let target = try entry.require(.post)
            var post = target
            try entry.apply(.post, &post)
            mlpOut = try entry.require(.mlpOut)
            recompute(changedRows(post, target), of: post, into: &mlpOut) { Kernels.mlpOut(post: $0, w) }   // [n, d_model]
        } else {
            mlpOut = try entry.require(.mlpOut)
            if stage < .post, !c.parallelAttnMLP {
                recompute(changedRows(residMid, try entry.require(.residMid)), of: residMid, into: &mlpOut) {
                    mlp(Kernels.norm($0, c, weight: w.ln2W, bias: w.ln2B), w)   // [n, d_model]
                }
            }
        }
        try entry.apply(.mlpOut, &mlpOut)
        mlpOut.add(c.parallelAttnMLP ? residPre + attnOut : residMid)   // resid_post, in mlp_out's buffer (x + y = y + x)
        var post = mlpOut
        try entry.apply(.residPost, &post)
        return post
    }

    /// The tokens (rows of `[tokens, n]` tensors) where `a` differs from `b`.
    func changedRows(_ a: Tensor, _ b: Tensor) -> [Int] {
        let n = a.shape.last ?? 1
        let T = n == 0 ? 0 : a.count / n
        return a.data.withUnsafeBufferPointer { ap in
            b.data.withUnsafeBufferPointer { bp in
                (0..<T).filter { t in (t * n..<(t + 1) * n).contains { ap[$0] != bp[$0] } }
            }
        }
    }

    /// `out[t] = f(x)[t]` at the listed tokens `t` only: `f` runs once, on those rows of `x`
    /// gathered (`[n, width]` → `[n, d_out]`), and its rows are scattered back into `out [tokens, d_out]`.
    func recompute(_ rows: [Int], of x: Tensor, into out: inout Tensor, _ f: (Tensor) -> Tensor) {
        guard !rows.isEmpty else { return }
        let T = out.shape[0]
        if rows.count == T { out = f(x); return }
        let (wIn, wOut) = (x.count / max(x.shape[0], 1), out.count / max(T, 1))
        let y = f(Kernels.gatherRows(x.reshaped([x.shape[0], wIn]), rows))   // [n, width] -> [n, d_out]
        out.data.withUnsafeMutableBufferPointer { o in
            for (i, t) in rows.enumerated() { for m in 0..<wOut { o[t * wOut + m] = y.data[i * wOut + m] } }
        }
    }

    /// The attention output `[tokens, d_model]` of rows whose input changed (entering at
    /// resid_pre, or running since an earlier layer): every head at every token.
    func attention(_ l: Int, _ layout: PackedLayout, residPre: Tensor, prefixKeys: Tensor, prefixValues: Tensor) throws -> Tensor {
        let c = model.config, w = try weights.block(l, of: model), f = try weights.projections(l, of: model)
        let T = layout.tokens
        let x = Kernels.norm(residPre, c, weight: w.ln1W, bias: w.ln1B)   // [tokens, d_model]
        // q, k, v in the sweep's reused buffers (slots 4–6; every element written by the product).
        func projected(_ part: FusedAttention.Part, slot: Int) -> Tensor {
            let n = part == .q ? c.nHeads : c.nKeyValueHeads
            var t = Tensor(shape: [T, n, c.dHead], data: weights.reusable(slot, count: T * n * c.dHead))
            t.data.withUnsafeMutableBufferPointer { Kernels.project(x, f, part, into: $0) }
            return t
        }
        var q = projected(.q, slot: 4)                                     // [tokens, head, d_head]
        var k = projected(.k, slot: 5)                                     // [tokens, kv_head, d_head]
        let v = projected(.v, slot: 6)                                     // [tokens, kv_head, d_head]
        rotary?.apply(rows: &q, positions: layout.tokenPositions)
        rotary?.apply(rows: &k, positions: layout.tokenPositions)
        let keys = fullRows(layout, suffix: k, prefix: prefixKeys, slot: 0)        // per row [P, kv_head, d_head]
        let values = fullRows(layout, suffix: v, prefix: prefixValues, slot: 1)
        weights.recycle(k.data, slot: 5)
        weights.recycle(v.data, slot: 6)
        var z = Tensor(shape: [T, c.nHeads, c.dHead], data: weights.reusable(3, count: T * c.nHeads * c.dHead))   // every head written by mix
        let pattern = scores(layout, q: q, keys: keys, layer: l)
        weights.recycle(q.data, slot: 4)
        mix(layout, pattern: pattern, values: values, into: &z)
        recycle(keys: keys, values: values, pattern: pattern)
        defer { weights.recycle(z.data, slot: 3) }
        return Kernels.attentionOut(z: z, W_O: w.W_O, b_O: w.b_O)          // [tokens, d_model]
    }

    /// The last block for rows that entered earlier, computed only where the metric reads it:
    /// keys and values at every token, everything else at each row's final token →
    /// resid_post `[rows, d_model]` of the final tokens.
    func runFinal(_ l: Int, _ layout: PackedLayout, residPre x: Tensor, prefixKeys: Tensor, prefixValues: Tensor) throws -> Tensor {
        let c = model.config, w = try weights.block(l, of: model), f = try weights.projections(l, of: model)
        let (R, P) = (layout.rows.count, layout.positions)
        let xn = Kernels.norm(x, c, weight: w.ln1W, bias: w.ln1B)          // [tokens, d_model]
        var k = Kernels.project(xn, f, .k)                                 // [tokens, kv_head, d_head]
        let v = Kernels.project(xn, f, .v)                                 // [tokens, kv_head, d_head]
        var q = Kernels.project(layout.lastTokens(xn), f, .q)              // [rows, head, d_head]
        rotary?.apply(rows: &q, positions: [Int](repeating: P - 1, count: R))
        rotary?.apply(rows: &k, positions: layout.tokenPositions)
        let keys = fullRows(layout, suffix: k, prefix: prefixKeys, slot: 0)
        let values = fullRows(layout, suffix: v, prefix: prefixValues, slot: 1)
        let last = PackedLayout(layout.rows.map { var r = $0; r.start = P - 1; return r }, positions: P)
        var z = Tensor(zeros: [R, c.nHeads, c.dHead])
        let pattern = scores(last, q: q, keys: keys, layer: l)
        mix(last, pattern: pattern, values: values, into: &z)
        recycle(keys: keys, values: values, pattern: pattern)
        let attnOut = Kernels.attentionOut(z: z, W_O: w.W_O, b_O: w.b_O)   // [rows, d_model]
        let residPre = layout.lastTokens(x)                                // [rows, d_model]
        if c.attnOnly { return residPre + attnOut }
        let residMid = c.parallelAttnMLP ? residPre : residPre + attnOut
        let mlpOut = mlp(Kernels.norm(residMid, c, weight: w.ln2W, bias: w.ln2B), w)
        var post = c.parallelAttnMLP ? residPre + attnOut : residMid
        post.add(mlpOut)
        return post
    }

    /// The MLP of normalised `x [tokens, d_model]` → `[tokens, d_model]`, with the hidden
    /// activations in the sweep's buffer.
    func mlp(_ x: Tensor, _ w: BlockWeights) -> Tensor {
        Kernels.mlp(x, w, Kernels.activation(model.config), scratch: weights.scratch)
    }

    /// Per row `[P, kv, d_head]`: the target's prefix `0..<start` then the row's own suffix
    /// (or, with `whole`, the target's values at every position). `slot` names the sweep's
    /// reused buffer it fills (0 keys, 1 values); hand the result back with `recycle`.
    func fullRows(_ layout: PackedLayout, suffix: Tensor, prefix: Tensor, whole: Bool = false, slot: Int) -> Tensor {
        let P = layout.positions
        let per = prefix.count / max(prefix.shape[0] * P, 1)   // kv · d_head
        var data = weights.reusable(slot, count: layout.rows.count * P * per)
        data.withUnsafeMutableBufferPointer { out in
            prefix.data.withUnsafeBufferPointer { pp in
                suffix.data.withUnsafeBufferPointer { sp in
                    guard let o = out.baseAddress, let pb = pp.baseAddress else { return }
                    for (r, row) in layout.rows.enumerated() {
                        let dst = o + r * P * per, src = pb + row.pair * P * per   // row r [P, kv, d_head]; its pair's prefix
                        let own = whole ? 0 : P - row.start
                        dst.update(from: src, count: (P - own) * per)
                        if own > 0, let sb = sp.baseAddress {
                            (dst + (P - own) * per).update(from: sb + layout.offsets[r] * per, count: own * per)   // suffix [own, kv, d_head]
                        }
                    }
                }
            }
        }
        return Tensor(shape: [layout.rows.count * P * per], data: data)
    }

    /// Hands `fullRows` (and `scores`) results back for the next layer's (call when they are no longer needed).
    func recycle(keys: Tensor?, values: Tensor, pattern: Tensor? = nil) {
        if let keys { weights.recycle(keys.data, slot: 0) }
        weights.recycle(values.data, slot: 1)
        if let pattern { weights.recycle(pattern.data, slot: 2) }
    }

    /// Softmax of causal scores, per row `[head, length, P]` (query positions start..<P); with
    /// `heads` (`[rows · n_heads]`) only the heads marked true are computed, the others stay zero.
    func scores(_ layout: PackedLayout, q: Tensor, keys: Tensor, layer l: Int, heads: [Bool]? = nil) -> Tensor {
        let c = model.config, s = AttentionShape(c)
        let (H, K, E, P) = (s.heads, s.kvHeads, s.dHead, layout.positions)
        let n = H * layout.tokens * P
        // Every head's scores are written when all are computed; the others must stay zero.
        var out = heads == nil ? Tensor(shape: [n], data: weights.reusable(2, count: n)) : Tensor(zeros: [n])
        q.data.withUnsafeBufferPointer { qp in
            keys.data.withUnsafeBufferPointer { kp in
                out.data.withUnsafeMutableBufferPointer { sp in
                    guard let qb = qp.baseAddress, let kb = kp.baseAddress, let sb = sp.baseAddress else { return }
                    // Rows on all cores: each row's products are far below what OpenBLAS threads.
                    Kernels.eachHead(batch: layout.rows.count, heads: 1, productSize: P * P * E) { r, _ in
                        let row = layout.rows[r]
                        Kernels.attentionScores(s, q: qb + layout.offsets[r] * H * E,        // q of row r   [length, head, d_head]
                                                k: kb + r * P * K * E,                       // keys of row r [P, kv_head, d_head]
                                                queries: layout.length(r), keys: P, firstQuery: row.start,
                                                scale: c.attnScale(layer: l), softmax: true,
                                                include: { heads?[r * H + $0] ?? true },
                                                scores: sb + layout.patternOffset(r, heads: H))   // [head, length, P]
                    }
                }
            }
        }
        return out
    }

    /// `z[t, h] = Σ_j pattern[h, t, j] · v[j, h / group]` per row, written into `z [tokens, head,
    /// d_head]` — with `heads` (`[rows · n_heads]`) only for the heads marked true.
    func mix(_ layout: PackedLayout, pattern: Tensor, values: Tensor, heads: [Bool]? = nil, into z: inout Tensor) {
        let s = AttentionShape(model.config)
        let (H, K, E, P) = (s.heads, s.kvHeads, s.dHead, layout.positions)
        pattern.data.withUnsafeBufferPointer { pp in
            values.data.withUnsafeBufferPointer { vp in
                z.data.withUnsafeMutableBufferPointer { zp in
                    guard let pb = pp.baseAddress, let vb = vp.baseAddress, let zb = zp.baseAddress else { return }
                    Kernels.eachHead(batch: layout.rows.count, heads: 1, productSize: P * P * E) { r, _ in
                        Kernels.attentionMix(s, pattern: pb + layout.patternOffset(r, heads: H),   // [head, length, P]
                                             v: vb + r * P * K * E,                               // [P, kv_head, d_head]
                                             queries: layout.length(r), keys: P,
                                             include: { heads?[r * H + $0] ?? true },
                                             z: zb + layout.offsets[r] * H * E)                   // [length, head, d_head]
                    }
                }
            }
        }
    }
}
