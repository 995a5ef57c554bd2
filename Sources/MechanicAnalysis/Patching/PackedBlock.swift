import Mechanic

/// Where a row enters the block of its patched layer: the hook point patched there, in block order.
package enum PackedStage: Int, Comparable {
    case residPre, qkv, pattern, z, result, attnOut, residMid, post, mlpOut, residPost

    package static func < (a: PackedStage, b: PackedStage) -> Bool { a.rawValue < b.rawValue }

    /// The stage of a hook-point kind (`hook_z` → `.z`); nil for points the packed engine does not patch.
    package init?(hookKind: String) {
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

    /// The target's activation `kind` (packed), which the engine must have preset.
    func require(_ kind: String) throws -> Tensor {
        guard let t = preset[kind] else { throw MechanicError.invalidArgument("packed patching: no preset \(kind)") }
        return t
    }
}

/// What a sweep keeps across its passes: the q, k, v projections of each layer as one
/// `[d_model, n·d_head]` matrix apiece (from TransformerLens's `[n, d_model, d_head]`), built on
/// first use, and the buffer of the MLP's hidden activations (a fresh `[tokens, d_mlp]` array per
/// block would cost page faults and zero-filling comparable to the activation function itself).
///
/// A streamed model's block is read from the checkpoint once per layer of a pass (the block of
/// the layer asked last is kept: a pass asks for its layers in order, several times each), and
/// only that layer's projections are kept, so memory stays near one block.
final class PackedWeights {
    var hidden: [Float] = []
    private var current: (layer: Int, block: BlockWeights)?

    /// Block `l`'s weights: a resident model's own tensors (no copy), or the streamed block read
    /// once for as long as the pass stays at layer `l`.
    func block(_ l: Int, of model: HookedTransformer) throws -> BlockWeights {
        if let current, current.layer == l { return current.block }
        let b = try model.block(l)
        current = (l, b)
        return b
    }

    struct Projections {
        let q: Tensor, k: Tensor, v: Tensor      // [d_model, n·d_head]
        let bq: Tensor, bk: Tensor, bv: Tensor   // [n·d_head]
    }

    private var layers: [Int: Projections] = [:]

    /// `keepAll`: keep every layer's projections for the sweep (resident models); otherwise only
    /// the last layer's.
    func projections(_ l: Int, _ w: BlockWeights, _ c: ModelConfig, keepAll: Bool) -> Projections {
        if let p = layers[l] { return p }
        if !keepAll { layers.removeAll() }
        func cat(_ W: Tensor, _ n: Int) -> Tensor {
            W.permuted([1, 0, 2]).reshaped([c.dModel, n * c.dHead])   // [n, d_model, d_head] -> [d_model, n·d_head]
        }
        let (H, K, E) = (c.nHeads, c.nKeyValueHeads, c.dHead)
        let p = Projections(q: cat(w.W_Q, H), k: cat(w.W_K, K), v: cat(w.W_V, K),
                            bq: w.b_Q.reshaped([H * E]), bk: w.b_K.reshaped([K * E]), bv: w.b_V.reshaped([K * E]))
        layers[l] = p
        return p
    }
}

/// One transformer block over packed rows, each attending to the target run's keys and values
/// at the positions before its start (`prefixKeys`/`prefixValues`: `[pairs, P, kv_heads, d_head]`,
/// keys after rotary).
struct PackedBlock {
    let model: HookedTransformer
    let rotary: PackedRotary?
    let weights = PackedWeights()

    /// resid_pre `[tokens, d_model]` → resid_post, from `entry.stage` on (earlier stages' values
    /// come from `entry.preset`).
    func run(_ l: Int, _ layout: PackedLayout, residPre input: Tensor, entry: PackedEntry,
             prefixKeys: Tensor, prefixValues: Tensor) throws -> Tensor {
        let c = model.config, w = try weights.block(l, of: model)
        let (T, H, D) = (layout.tokens, c.nHeads, c.dModel)
        let stage = entry.stage
        var residPre = input
        try entry.apply("hook_resid_pre", &residPre)
        if stage == .residPost {
            var post = try entry.require("hook_resid_post")
            try entry.apply("hook_resid_post", &post)
            return post
        }

        var attnOut: Tensor
        switch stage {
        case .residPre:
            attnOut = try attention(l, layout, residPre: residPre, prefixKeys: prefixKeys, prefixValues: prefixValues)
        case .qkv, .pattern, .z:
            attnOut = try headLocalAttention(l, layout, entry: entry, prefixKeys: prefixKeys, prefixValues: prefixValues)
        case .result:
            var result = try entry.require("hook_result")   // [tokens, head, d_model]
            try entry.apply("hook_result", &result)
            attnOut = Tensor(zeros: [T, D])
            attnOut.data.withUnsafeMutableBufferPointer { o in
                for t in 0..<T {
                    for m in 0..<D { o[t * D + m] = w.b_O.data[m] }
                    for h in 0..<H { for m in 0..<D { o[t * D + m] += result.data[(t * H + h) * D + m] } }
                }
            }
        case .attnOut:
            attnOut = try entry.require("hook_attn_out")
        default:
            attnOut = entry.preset["hook_attn_out"] ?? Tensor(zeros: [T, D])
        }
        if stage <= .attnOut { try entry.apply("hook_attn_out", &attnOut) }

        if c.attnOnly { return residPre + attnOut }
        var residMid = residPre
        if !c.parallelAttnMLP {
            residMid = stage <= .attnOut ? residPre + attnOut : try entry.require("hook_resid_mid")
            if stage <= .residMid { try entry.apply("hook_resid_mid", &residMid) }
        }
        // The MLP, recomputed only at the tokens whose input the patch changed; elsewhere it is
        // the target's (a parallel block's MLP reads resid_pre, unchanged after entry).
        var mlpOut: Tensor
        if stage == .residPre {
            mlpOut = mlp(PackedMath.norm(residMid, c, weight: w.ln2W, bias: w.ln2B), w)
        } else if stage == .post {
            let target = try entry.require("hook_post")
            var post = target
            try entry.apply("hook_post", &post)
            mlpOut = try entry.require("hook_mlp_out")
            let W_out = w.W_out ?? Tensor(zeros: [c.dMLP, D])
            recompute(changedRows(post, target), of: post, into: &mlpOut) { $0.linear(W_out, bias: w.b_out) }   // [n, d_model]
        } else {
            mlpOut = try entry.require("hook_mlp_out")
            if stage < .post, !c.parallelAttnMLP {
                recompute(changedRows(residMid, try entry.require("hook_resid_mid")), of: residMid, into: &mlpOut) {
                    mlp(PackedMath.norm($0, c, weight: w.ln2W, bias: w.ln2B), w)   // [n, d_model]
                }
            }
        }
        try entry.apply("hook_mlp_out", &mlpOut)
        var post = c.parallelAttnMLP ? residPre + attnOut : residMid
        post.add(mlpOut)
        try entry.apply("hook_resid_post", &post)
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
        var gathered = [Float]()
        gathered.reserveCapacity(rows.count * wIn)
        for t in rows { gathered += x.data[(t * wIn)..<((t + 1) * wIn)] }
        let y = f(Tensor(shape: [rows.count, wIn], data: gathered))   // [n, d_out]
        out.data.withUnsafeMutableBufferPointer { o in
            for (i, t) in rows.enumerated() { for m in 0..<wOut { o[t * wOut + m] = y.data[i * wOut + m] } }
        }
    }

    /// The attention output `[tokens, d_model]` of rows whose input changed (entering at
    /// resid_pre, or running since an earlier layer): every head at every token.
    func attention(_ l: Int, _ layout: PackedLayout, residPre: Tensor, prefixKeys: Tensor, prefixValues: Tensor) throws -> Tensor {
        let c = model.config, w = try weights.block(l, of: model)
        let (T, H, E, D) = (layout.tokens, c.nHeads, c.dHead, c.dModel)
        var (q, k, v) = project(PackedMath.norm(residPre, c, weight: w.ln1W, bias: w.ln1B), layer: l, w)
        rotary?.apply(&q, positions: layout.tokenPositions)
        rotary?.apply(&k, positions: layout.tokenPositions)
        let keys = fullRows(layout, suffix: k, prefix: prefixKeys)
        let values = fullRows(layout, suffix: v, prefix: prefixValues)
        var z = Tensor(zeros: [T, H, E])
        mix(layout, pattern: scores(layout, q: q, keys: keys, layer: l), values: values, into: &z)
        return z.reshaped([T, H * E]).linear(w.W_O.reshaped([H * E, D]), bias: w.b_O)   // [tokens, d_model]
    }

    /// The last block for rows that entered earlier, computed only where the metric reads it:
    /// keys and values at every token, everything else at each row's final token →
    /// resid_post `[rows, d_model]` of the final tokens.
    func runFinal(_ l: Int, _ layout: PackedLayout, residPre x: Tensor, prefixKeys: Tensor, prefixValues: Tensor) throws -> Tensor {
        let c = model.config, w = try weights.block(l, of: model)
        let (R, H, K, E, D, P) = (layout.rows.count, c.nHeads, c.nKeyValueHeads, c.dHead, c.dModel, layout.positions)
        let p = weights.projections(l, w, c, keepAll: !model.streamsWeights)
        let xn = PackedMath.norm(x, c, weight: w.ln1W, bias: w.ln1B)                             // [tokens, d_model]
        var k = xn.linear(p.k, bias: p.bk).reshaped([layout.tokens, K, E])                       // [tokens, kv, d_head]
        let v = xn.linear(p.v, bias: p.bv).reshaped([layout.tokens, K, E])                       // [tokens, kv, d_head]
        var q = layout.lastTokens(xn).linear(p.q, bias: p.bq).reshaped([R, H, E])                // [rows, head, d_head]
        rotary?.apply(&q, positions: [Int](repeating: P - 1, count: R))
        rotary?.apply(&k, positions: layout.tokenPositions)
        let keys = fullRows(layout, suffix: k, prefix: prefixKeys)
        let values = fullRows(layout, suffix: v, prefix: prefixValues)
        let last = PackedLayout(layout.rows.map { var r = $0; r.start = P - 1; return r }, positions: P)
        var z = Tensor(zeros: [R, H, E])
        mix(last, pattern: scores(last, q: q, keys: keys, layer: l), values: values, into: &z)
        let attnOut = z.reshaped([R, H * E]).linear(w.W_O.reshaped([H * E, D]), bias: w.b_O)    // [rows, d_model]
        let residPre = layout.lastTokens(x)                                                      // [rows, d_model]
        if c.attnOnly { return residPre + attnOut }
        let residMid = c.parallelAttnMLP ? residPre : residPre + attnOut
        let mlpOut = mlp(PackedMath.norm(residMid, c, weight: w.ln2W, bias: w.ln2B), w)
        var post = c.parallelAttnMLP ? residPre + attnOut : residMid
        post.add(mlpOut)
        return post
    }

    /// The MLP of normalised `x [tokens, d_model]` → `[tokens, d_model]`, as `PackedMath.mlp`
    /// computes it (same products in the same order), with the hidden activations in the
    /// sweep's buffer. Gated MLPs go through `PackedMath.mlp`.
    func mlp(_ x: Tensor, _ w: BlockWeights) -> Tensor {
        let c = model.config
        guard w.W_gate == nil, let W_in = w.W_in, let W_out = w.W_out else { return PackedMath.mlp(x, w, c) { _ in } }
        let (T, D, M) = (x.shape[0], c.dModel, c.dMLP)
        let act = Activation(rawValue: c.actFn) ?? .geluNew
        if weights.hidden.count < T * M { weights.hidden = [Float](repeating: 0, count: T * M) }
        var out = Tensor(zeros: [T, D])
        let (b_in, b_out) = (w.b_in?.data ?? [], w.b_out?.data ?? [])
        weights.hidden.withUnsafeMutableBufferPointer { hp in
            x.data.withUnsafeBufferPointer { xp in
                W_in.data.withUnsafeBufferPointer { ip in
                    W_out.data.withUnsafeBufferPointer { op in
                        b_in.withUnsafeBufferPointer { bi in
                            b_out.withUnsafeBufferPointer { bo in
                                out.data.withUnsafeMutableBufferPointer { outp in
                                    guard let h = hp.baseAddress, let xb = xp.baseAddress, let wi = ip.baseAddress,
                                          let wo = op.baseAddress, let o = outp.baseAddress else { return }
                                    linear(rows: T, k: D, n: M, x: xb, lda: D, w: wi, ldw: M, bias: b_in.isEmpty ? nil : bi.baseAddress, out: h, ldc: M)   // [tokens, d_mlp]
                                    act.apply(UnsafeMutableBufferPointer(start: h, count: T * M))
                                    linear(rows: T, k: M, n: D, x: h, lda: M, w: wo, ldw: D, bias: b_out.isEmpty ? nil : bo.baseAddress, out: o, ldc: D)   // [tokens, d_model]
                                }
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    /// q `[tokens, head, d_head]`, k and v `[tokens, kv_head, d_head]` from the normalised input
    /// `x [tokens, d_model]` (layer `l`, weights `w`): one matrix product per projection.
    func project(_ x: Tensor, layer l: Int, _ w: BlockWeights) -> (Tensor, Tensor, Tensor) {
        let c = model.config, T = x.shape[0]
        let p = weights.projections(l, w, c, keepAll: !model.streamsWeights)
        return (x.linear(p.q, bias: p.bq).reshaped([T, c.nHeads, c.dHead]),          // [tokens, head, d_head]
                x.linear(p.k, bias: p.bk).reshaped([T, c.nKeyValueHeads, c.dHead]),   // [tokens, kv, d_head]
                x.linear(p.v, bias: p.bv).reshaped([T, c.nKeyValueHeads, c.dHead]))   // [tokens, kv, d_head]
    }

    /// Per row `[P, kv, d_head]`: the target's prefix `0..<start` then the row's own suffix
    /// (or, with `whole`, the target's values at every position).
    func fullRows(_ layout: PackedLayout, suffix: Tensor, prefix: Tensor, whole: Bool = false) -> Tensor {
        let P = layout.positions
        let per = prefix.count / max(prefix.shape[0] * P, 1)   // kv · d_head
        return Tensor(shape: [layout.rows.count * P * per]) { out in
            prefix.data.withUnsafeBufferPointer { pp in
                suffix.data.withUnsafeBufferPointer { sp in
                    guard let o = out.baseAddress, let pb = pp.baseAddress else { return }
                    for (r, row) in layout.rows.enumerated() {
                        let dst = o + r * P * per, src = pb + row.pair * P * per
                        let own = whole ? 0 : P - row.start
                        dst.initialize(from: src, count: (P - own) * per)
                        if own > 0, let sb = sp.baseAddress {
                            (dst + (P - own) * per).initialize(from: sb + layout.offsets[r] * per, count: own * per)
                        }
                    }
                }
            }
        }
    }

    /// Softmax of causal scores, per row `[head, length, P]` (query positions start..<P); with
    /// `heads` (`[rows · n_heads]`) only the heads marked true are computed, the others stay zero.
    func scores(_ layout: PackedLayout, q: Tensor, keys: Tensor, layer l: Int, heads: [Bool]? = nil) -> Tensor {
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
                        for h in 0..<H where heads?[r * H + h] ?? true {
                            let s = sb + base + h * len * P
                            sgemm(transB: true, m: len, n: P, k: E, alpha: 1 / attnScale,
                                  a: qb + layout.offsets[r] * H * E + h * E, lda: H * E,
                                  b: kb + r * P * K * E + (h / c.groupSize) * E, ldb: K * E, c: s, ldc: P)
                            for i in 0..<len { for j in (row.start + i + 1)..<P { s[i * P + j] = -.infinity } }
                            Rows.softmax(s, rows: len, n: P)
                        }
                    }
                }
            }
        }
        return out
    }

    /// `z[t, h] = Σ_j pattern[h, t, j] · v[j, h / group]` per row, written into `z [tokens, head,
    /// d_head]` — with `heads` (`[rows · n_heads]`) only for the heads marked true.
    func mix(_ layout: PackedLayout, pattern: Tensor, values: Tensor, heads: [Bool]? = nil, into z: inout Tensor) {
        let c = model.config
        let (H, K, E, P) = (c.nHeads, c.nKeyValueHeads, c.dHead, layout.positions)
        pattern.data.withUnsafeBufferPointer { pp in
            values.data.withUnsafeBufferPointer { vp in
                z.data.withUnsafeMutableBufferPointer { zp in
                    guard let pb = pp.baseAddress, let vb = vp.baseAddress, let zb = zp.baseAddress else { return }
                    for r in layout.rows.indices {
                        let len = layout.length(r), base = layout.patternOffset(r, heads: H)
                        for h in 0..<H where heads?[r * H + h] ?? true {
                            sgemm(m: len, n: E, k: P, a: pb + base + h * len * P, lda: P,
                                  b: vb + r * P * K * E + (h / c.groupSize) * E, ldb: K * E,
                                  c: zb + layout.offsets[r] * H * E + h * E, ldc: H * E)
                        }
                    }
                }
            }
        }
    }
}
