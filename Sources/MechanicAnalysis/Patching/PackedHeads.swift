import Mechanic

/// Rows entering at a head-level hook point (`hook_q`, `hook_k`, `hook_v`, `hook_pattern`,
/// `hook_z`). A patch there changes only the heads it touches: the other heads keep the target
/// run's z, and the attention output moves by `(z − z_target)[h] · W_O[h]` for each touched head —
/// a rank-`d_head` update of the target's `attn_out` instead of recomputing every head and the
/// whole output projection.
extension PackedBlock {
    /// `attn_out [tokens, d_model]` of rows entering at `entry.stage` (`.qkv`, `.pattern` or `.z`).
    func headLocalAttention(_ l: Int, _ layout: PackedLayout, entry: PackedEntry,
                            prefixKeys: Tensor, prefixValues: Tensor) throws -> Tensor {
        let c = model.config
        let zTarget = try entry.require(.z)   // [tokens, head, d_head]
        var z = zTarget
        switch entry.stage {
        case .qkv:
            let (q0, k0, v0) = (try entry.require(.q), try entry.require(.k), try entry.require(.v))
            var (q, k, v) = (q0, k0, v0)
            try entry.apply(.q, &q)
            try entry.apply(.k, &k)
            try entry.apply(.v, &v)
            var touched = touchedHeads(layout, q, q0, group: 1)
            for (a, b) in [(k, k0), (v, v0)] {
                for (i, t) in touchedHeads(layout, a, b, group: c.groupSize).enumerated() where t { touched[i] = true }
            }
            rotary?.apply(rows: &q, positions: layout.tokenPositions)
            rotary?.apply(rows: &k, positions: layout.tokenPositions)
            let keys = fullRows(layout, suffix: k, prefix: prefixKeys, slot: 0)
            let values = fullRows(layout, suffix: v, prefix: prefixValues, slot: 1)
            let pattern = scores(layout, q: q, keys: keys, layer: l, heads: touched)
            mix(layout, pattern: pattern, values: values, heads: touched, into: &z)
            recycle(keys: keys, values: values, pattern: pattern)
        case .pattern:
            let p0 = try entry.require(.pattern)
            var pattern = p0
            try entry.apply(.pattern, &pattern)
            let touched = touchedPatternHeads(layout, pattern, p0)
            let values = fullRows(layout, suffix: Tensor(zeros: [0, c.nKeyValueHeads, c.dHead]), prefix: prefixValues, whole: true, slot: 1)
            mix(layout, pattern: pattern, values: values, heads: touched, into: &z)
            recycle(keys: nil, values: values)
        default:
            try entry.apply(.z, &z)
        }
        var attnOut = try entry.require(.attnOut)   // [tokens, d_model]
        try addHeadUpdates(&attnOut, z: z, target: zTarget, layer: l)
        return attnOut
    }

    /// Per row and query head (`[rows · n_heads]`): whether `a` and `b` (`[tokens, n, d_head]`
    /// with n = n_heads / group) differ anywhere in the row, at a head of the query head's group.
    func touchedHeads(_ layout: PackedLayout, _ a: Tensor, _ b: Tensor, group: Int) -> [Bool] {
        let (H, E) = (model.config.nHeads, model.config.dHead)
        let n = H / max(group, 1)
        var out = [Bool](repeating: false, count: layout.rows.count * H)
        a.data.withUnsafeBufferPointer { ap in
            b.data.withUnsafeBufferPointer { bp in
                for r in layout.rows.indices {
                    for t in layout.offsets[r]..<(layout.offsets[r] + layout.length(r)) {
                        for g in 0..<n where !out[r * H + g * group] {
                            let o = (t * n + g) * E
                            guard (0..<E).contains(where: { ap[o + $0] != bp[o + $0] }) else { continue }
                            for h in (g * group)..<((g + 1) * group) { out[r * H + h] = true }
                        }
                    }
                }
            }
        }
        return out
    }

    /// Per row and head (`[rows · n_heads]`): whether two packed patterns (per row `[head,
    /// length, P]`) differ anywhere in that head's block.
    func touchedPatternHeads(_ layout: PackedLayout, _ a: Tensor, _ b: Tensor) -> [Bool] {
        let (H, P) = (model.config.nHeads, layout.positions)
        var out = [Bool](repeating: false, count: layout.rows.count * H)
        a.data.withUnsafeBufferPointer { ap in
            b.data.withUnsafeBufferPointer { bp in
                for r in layout.rows.indices {
                    let len = layout.length(r), base = layout.patternOffset(r, heads: H)
                    for h in 0..<H {
                        let o = base + h * len * P
                        out[r * H + h] = (o..<(o + len * P)).contains { ap[$0] != bp[$0] }
                    }
                }
            }
        }
        return out
    }

    /// `attnOut += Σ_h (z − target)[t, h] · W_O[h]` over the runs of consecutive tokens t where
    /// head h's z differs from the target's: one `[run, d_head] · [d_head, d_model]` product each.
    func addHeadUpdates(_ attnOut: inout Tensor, z: Tensor, target: Tensor, layer l: Int) throws {
        let c = model.config
        let (T, H, E, D) = (z.shape[0], c.nHeads, c.dHead, c.dModel)
        let delta = z - target   // [tokens, head, d_head]
        let W_O = try weights.block(l, of: model).W_O   // [head, d_head, d_model]
        delta.data.withUnsafeBufferPointer { dp in
            W_O.data.withUnsafeBufferPointer { op in
                attnOut.data.withUnsafeMutableBufferPointer { ap in
                    guard let db = dp.baseAddress, let ob = op.baseAddress, let ab = ap.baseAddress else { return }
                    func changed(_ t: Int, _ h: Int) -> Bool {
                        let o = db + (t * H + h) * E
                        return (0..<E).contains { o[$0] != 0 }
                    }
                    for h in 0..<H {
                        var t = 0
                        while t < T {
                            guard changed(t, h) else { t += 1; continue }
                            var end = t + 1
                            while end < T, changed(end, h) { end += 1 }
                            Kernels.addHeadOutput(db, W_O: ob, head: h, rows: t..<end, heads: H, dHead: E, dModel: D, into: ab)
                            t = end
                        }
                    }
                }
            }
        }
    }
}
