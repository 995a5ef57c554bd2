import Mechanic

/// Where a row enters the block of its patched layer: the hook point patched there, in block order.
enum PackedStage: Int, Comparable {
    case residPre, qkv, pattern, z, result, attnOut, residMid, post, mlpOut, residPost

    static func < (a: PackedStage, b: PackedStage) -> Bool { a.rawValue < b.rawValue }

    /// The stage of a hook-point kind (`hook_z` → `.z`); nil for points the packed engine does not patch.
    init?(hookKind: String) {
        switch hookKind {
        case "hook_resid_pre": self = .residPre
        case "hook_q", "hook_k", "hook_v": self = .qkv
        case "hook_pattern": self = .pattern
        case "hook_z": self = .z
        case "hook_result": self = .result
        case "hook_attn_out": self = .attnOut
        case "hook_resid_mid": self = .residMid
        case "hook_post": self = .post
        case "hook_mlp_out": self = .mlpOut
        case "hook_resid_post": self = .residPost
        default: return nil
        }
    }
}

/// Values a row entering mid-block takes from the target run (packed suffixes), and the patch.
struct PackedEntry {
    var stage: PackedStage = .residPre
    /// Activations of the target run at the entry layer, by hook kind (`hook_q`, `hook_z`, …).
    var preset: [String: Tensor] = [:]
    /// The hook kind patched and the function that patches it (packed, in the entry layout).
    var hookKind = ""
    var patch: ((inout Tensor) throws -> Void)? = nil

    func apply(_ kind: String, _ t: inout Tensor) throws {
        if kind == hookKind, let patch { try patch(&t) }
    }
}

/// One transformer block over packed rows, each attending to the target run's keys and values
/// at the positions before its start (`prefixKeys`/`prefixValues`: `[pairs, P, kv_heads, d_head]`,
/// keys after rotary).
struct PackedBlock {
    let model: HookedTransformer
    let rotary: PackedRotary?

    /// resid_pre `[tokens, d_model]` → resid_post, from `entry.stage` on (earlier stages' values
    /// come from `entry.preset`).
    func run(_ l: Int, _ layout: PackedLayout, residPre input: Tensor, entry: PackedEntry,
             prefixKeys: Tensor, prefixValues: Tensor) throws -> Tensor {
        let c = model.config, w = model.weights.blocks[l]
        let (T, H, K, E, D) = (layout.tokens, c.nHeads, c.nKeyValueHeads, c.dHead, c.dModel)
        let stage = entry.stage
        func preset(_ kind: String) throws -> Tensor {
            guard let t = entry.preset[kind] else { throw MechanicError.invalidArgument("packed patching: no preset \(kind)") }
            return t
        }
        var residPre = input
        try entry.apply("hook_resid_pre", &residPre)
        if stage == .residPost {
            var post = try preset("hook_resid_post")
            try entry.apply("hook_resid_post", &post)
            return post
        }

        var attnOut = Tensor(zeros: [T, D])
        if stage <= .result {
            var z = Tensor(zeros: [T, H, E])
            if stage <= .pattern {
                var pattern: Tensor
                var values: Tensor   // per row [P, kv, d_head], rows concatenated
                if stage <= .qkv {
                    var q: Tensor, k: Tensor, v: Tensor
                    if stage == .residPre {
                        let x = PackedMath.norm(residPre, c, weight: w.ln1W, bias: w.ln1B)   // [tokens, d_model]
                        (q, k, v) = project(x, w, c)
                    } else {
                        (q, k, v) = (try preset("hook_q"), try preset("hook_k"), try preset("hook_v"))
                    }
                    try entry.apply("hook_q", &q)
                    try entry.apply("hook_k", &k)
                    try entry.apply("hook_v", &v)
                    rotary?.apply(&q, positions: layout.tokenPositions)
                    rotary?.apply(&k, positions: layout.tokenPositions)
                    let keys = fullRows(layout, suffix: k, prefix: prefixKeys)
                    values = fullRows(layout, suffix: v, prefix: prefixValues)
                    pattern = scores(layout, q: q, keys: keys, layer: l)
                } else {
                    pattern = try preset("hook_pattern")
                    values = fullRows(layout, suffix: Tensor(zeros: [0, K, E]), prefix: prefixValues, whole: true)
                }
                try entry.apply("hook_pattern", &pattern)
                z = mix(layout, pattern: pattern, values: values)
            } else if stage == .z {
                z = try preset("hook_z")
            }
            if stage <= .z { try entry.apply("hook_z", &z) }
            if stage == .result || entry.hookKind == "hook_result" {
                var result = stage == .result ? try preset("hook_result") : perHead(z, w, c)   // [tokens, head, d_model]
                try entry.apply("hook_result", &result)
                attnOut.data.withUnsafeMutableBufferPointer { o in
                    for t in 0..<T {
                        for m in 0..<D { o[t * D + m] = w.b_O.data[m] }
                        for h in 0..<H { for m in 0..<D { o[t * D + m] += result.data[(t * H + h) * D + m] } }
                    }
                }
            } else {
                attnOut = z.reshaped([T, H * E]).linear(w.W_O.reshaped([H * E, D]), bias: w.b_O)   // [tokens, d_model]
            }
        } else if stage == .attnOut {
            attnOut = try preset("hook_attn_out")
        } else {
            attnOut = entry.preset["hook_attn_out"] ?? attnOut
        }
        if stage <= .attnOut { try entry.apply("hook_attn_out", &attnOut) }

        if c.attnOnly { return residPre + attnOut }
        var residMid = residPre
        if !c.parallelAttnMLP {
            residMid = stage <= .attnOut ? residPre + attnOut : try preset("hook_resid_mid")
            if stage <= .residMid { try entry.apply("hook_resid_mid", &residMid) }
        }
        var mlpOut: Tensor
        if stage == .post {
            var post = try preset("hook_post")
            try entry.apply("hook_post", &post)
            mlpOut = post.linear(w.W_out ?? Tensor(zeros: [c.dMLP, D]), bias: w.b_out)   // [tokens, d_model]
        } else if stage < .post {
            let x2 = PackedMath.norm(residMid, c, weight: w.ln2W, bias: w.ln2B)
            var failure: Error?
            mlpOut = PackedMath.mlp(x2, w, c) { post in
                do { try entry.apply("hook_post", &post) } catch { failure = error }
            }
            if let failure { throw failure }
        } else {
            mlpOut = try preset("hook_mlp_out")
        }
        try entry.apply("hook_mlp_out", &mlpOut)
        var post = c.parallelAttnMLP ? residPre + attnOut : residMid
        post.add(mlpOut)
        try entry.apply("hook_resid_post", &post)
        return post
    }

    /// The last block for rows that entered earlier, computed only where the metric reads it:
    /// keys and values at every token, everything else at each row's final token →
    /// resid_post `[rows, d_model]` of the final tokens.
    func runFinal(_ l: Int, _ layout: PackedLayout, residPre x: Tensor, prefixKeys: Tensor, prefixValues: Tensor) -> Tensor {
        let c = model.config, w = model.weights.blocks[l]
        let (R, H, E, D, P) = (layout.rows.count, c.nHeads, c.dHead, c.dModel, layout.positions)
        var (q, k, v) = project(PackedMath.norm(x, c, weight: w.ln1W, bias: w.ln1B), w, c)
        rotary?.apply(&q, positions: layout.tokenPositions)
        rotary?.apply(&k, positions: layout.tokenPositions)
        let keys = fullRows(layout, suffix: k, prefix: prefixKeys)
        let values = fullRows(layout, suffix: v, prefix: prefixValues)
        let last = PackedLayout(layout.rows.map { var r = $0; r.start = P - 1; return r }, positions: P)
        let qLast = layout.lastTokens(q.reshaped([layout.tokens, H * E])).reshaped([R, H, E])   // [rows, head, d_head]
        let z = mix(last, pattern: scores(last, q: qLast, keys: keys, layer: l), values: values)
        let attnOut = z.reshaped([R, H * E]).linear(w.W_O.reshaped([H * E, D]), bias: w.b_O)    // [rows, d_model]
        let residPre = layout.lastTokens(x)                                                      // [rows, d_model]
        if c.attnOnly { return residPre + attnOut }
        let residMid = c.parallelAttnMLP ? residPre : residPre + attnOut
        let mlpOut = PackedMath.mlp(PackedMath.norm(residMid, c, weight: w.ln2W, bias: w.ln2B), w, c) { _ in }
        var post = c.parallelAttnMLP ? residPre + attnOut : residMid
        post.add(mlpOut)
        return post
    }

    /// q `[tokens, head, d_head]`, k and v `[tokens, kv_head, d_head]` from the normalised input.
    func project(_ x: Tensor, _ w: BlockWeights, _ c: ModelConfig) -> (Tensor, Tensor, Tensor) {
        func heads(_ W: Tensor, _ b: Tensor, _ n: Int) -> Tensor {
            // W [n, d_model, d_head] → [d_model, n·d_head] so that one GEMM projects every head.
            let Wcat = W.permuted([1, 0, 2]).reshaped([c.dModel, n * c.dHead])
            return x.linear(Wcat, bias: b.reshaped([n * c.dHead])).reshaped([x.shape[0], n, c.dHead])
        }
        return (heads(w.W_Q, w.b_Q, c.nHeads), heads(w.W_K, w.b_K, c.nKeyValueHeads), heads(w.W_V, w.b_V, c.nKeyValueHeads))
    }

    /// Per row `[P, kv, d_head]`: the target's prefix `0..<start` then the row's own suffix
    /// (or, with `whole`, the target's values at every position).
    func fullRows(_ layout: PackedLayout, suffix: Tensor, prefix: Tensor, whole: Bool = false) -> Tensor {
        let P = layout.positions
        let per = prefix.count / max(prefix.shape[0] * P, 1)   // kv · d_head
        var data = [Float]()
        data.reserveCapacity(layout.rows.count * P * per)
        for (r, row) in layout.rows.enumerated() {
            let base = row.pair * P * per
            if whole {
                data += prefix.data[base..<(base + P * per)]
            } else {
                data += prefix.data[base..<(base + row.start * per)]
                data += suffix.data[(layout.offsets[r] * per)..<((layout.offsets[r] + layout.length(r)) * per)]
            }
        }
        return Tensor(shape: [layout.rows.count * P * per], data: data)
    }

    /// Softmax of causal scores, per row `[head, length, P]` (query positions start..<P).
    func scores(_ layout: PackedLayout, q: Tensor, keys: Tensor, layer l: Int) -> Tensor {
        let c = model.config
        let (H, K, E, P) = (c.nHeads, c.nKeyValueHeads, c.dHead, layout.positions)
        var attnScale = Float(E).squareRoot()
        if c.scaleAttnByInverseLayerIdx { attnScale *= Float(l + 1) }
        var out = Tensor(zeros: [H * layout.tokens * P])
        q.data.withUnsafeBufferPointer { qp in
            keys.data.withUnsafeBufferPointer { kp in
                out.data.withUnsafeMutableBufferPointer { sp in
                    guard let qb = qp.baseAddress, let kb = kp.baseAddress, let sb = sp.baseAddress else { return }
                    for (r, row) in layout.rows.enumerated() {
                        let len = layout.length(r), base = layout.patternOffset(r, heads: H)
                        for h in 0..<H {
                            let s = sb + base + h * len * P
                            sgemm(transB: true, m: len, n: P, k: E, alpha: 1 / attnScale,
                                  a: qb + layout.offsets[r] * H * E + h * E, lda: H * E,
                                  b: kb + r * P * K * E + (h / c.groupSize) * E, ldb: K * E, c: s, ldc: P)
                            for i in 0..<len { for j in (row.start + i + 1)..<P { s[i * P + j] = -.infinity } }
                        }
                        Rows.softmax(sb + base, rows: H * len, n: P)
                    }
                }
            }
        }
        return out
    }

    /// `z[t, h] = Σ_j pattern[h, t, j] · v[j, h / group]` per row → `[tokens, head, d_head]`.
    func mix(_ layout: PackedLayout, pattern: Tensor, values: Tensor) -> Tensor {
        let c = model.config
        let (H, K, E, P) = (c.nHeads, c.nKeyValueHeads, c.dHead, layout.positions)
        var z = Tensor(zeros: [layout.tokens, H, E])
        pattern.data.withUnsafeBufferPointer { pp in
            values.data.withUnsafeBufferPointer { vp in
                z.data.withUnsafeMutableBufferPointer { zp in
                    guard let pb = pp.baseAddress, let vb = vp.baseAddress, let zb = zp.baseAddress else { return }
                    for r in layout.rows.indices {
                        let len = layout.length(r), base = layout.patternOffset(r, heads: H)
                        for h in 0..<H {
                            sgemm(m: len, n: E, k: P, a: pb + base + h * len * P, lda: P,
                                  b: vb + r * P * K * E + (h / c.groupSize) * E, ldb: K * E,
                                  c: zb + layout.offsets[r] * H * E + h * E, ldc: H * E)
                        }
                    }
                }
            }
        }
        return z
    }

    /// `result[t, h] = z[t, h] · W_O[h]` → `[tokens, head, d_model]`.
    func perHead(_ z: Tensor, _ w: BlockWeights, _ c: ModelConfig) -> Tensor {
        let (T, H, E, D) = (z.shape[0], c.nHeads, c.dHead, c.dModel)
        var result = Tensor(zeros: [T, H, D])
        z.data.withUnsafeBufferPointer { zp in
            w.W_O.data.withUnsafeBufferPointer { op in
                result.data.withUnsafeMutableBufferPointer { rp in
                    guard let zb = zp.baseAddress, let ob = op.baseAddress, let rb = rp.baseAddress else { return }
                    for h in 0..<H {
                        linear(rows: T, k: E, n: D, x: zb + h * E, lda: H * E, w: ob + h * E * D, ldw: D, bias: nil, out: rb + h * D, ldc: H * D)
                    }
                }
            }
        }
        return result
    }
}
