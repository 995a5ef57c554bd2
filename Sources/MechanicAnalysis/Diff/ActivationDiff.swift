// MechanicAnalysis/Diff: activation differences between two prompts at every hook point, the
// summary and its HTML.

import Foundation
import Mechanic

/// Activation differences between two prompts (or the means of two prompt sets): every cached
/// component at an aligned position, its norm, relative norm and cosine, ranked, with residual
/// and output differences unembedded — the "father − mother is a masculine direction" view.
public enum ActivationDiff {
    /// Hook kinds whose activation is a `d_model` vector written into the residual stream (or the
    /// stream itself), so a difference can be read in vocabulary space.
    static let unembeddable: Set<String> = ["embed", "pos_embed", "resid_pre", "resid_mid", "resid_post", "attn_out", "mlp_out", "result"]
    /// Kinds shown in `byLayer`.
    static let layerKinds: Set<String> = ["resid_pre", "resid_mid", "resid_post", "attn_out", "mlp_out"]

    /// Compares `a` with `b` (one or more token sequences each; several = their mean) at `position`.
    /// `verify` > 0 patches that many top-ranked components from A into B (pairwise; the sets
    /// must then have equal sizes) and reports the fraction of `logit[answer] − logit[wrong]` each
    /// restores (answer/wrong default to A's and B's top predictions); `progress` counts those
    /// patches and stops them when cancelled.
    ///
    /// Unembedding (documented choice): the difference is centered for LayerNorm models, divided
    /// by A's cached `ln_final.hook_scale` at the aligned position (averaged over set A) and
    /// multiplied by the final norm's weight if unfolded, then by `W_U` without `b_U` — the
    /// `apply_ln` semantics under which `(a − b)`'s logit effect is linear and exact.
    public static func run(model: HookedTransformer, a: [[Int]], b: [[Int]], texts: (a: [String], b: [String])? = nil,
                           position: DiffPosition = .final, top: Int = 10, rankBy: DiffRanking = .relativeNorm,
                           verify: Int = 0, answer: Int? = nil, wrong: Int? = nil,
                           progress: WorkProgress? = nil) throws -> ActivationDiffReport {
        try report(model: model, a: a, b: b, texts: texts, sums: try sums(model: model, a: a, b: b, position: position),
                   position: position, top: top, rankBy: rankBy, verify: verify, answer: answer, wrong: wrong, progress: progress)
    }

    /// `run` from the prompts' summed vectors (`sums`, or the merged sums of a sharded run).
    public static func report(model: HookedTransformer, a: [[Int]], b: [[Int]], texts: (a: [String], b: [String])? = nil,
                              sums: DiffSums, position: DiffPosition = .final, top: Int = 10, rankBy: DiffRanking = .relativeNorm,
                              verify: Int = 0, answer: Int? = nil, wrong: Int? = nil,
                              progress: WorkProgress? = nil) throws -> ActivationDiffReport {
        try checkSides(a, b)
        guard sums.promptsA == a.count, sums.promptsB == b.count else {
            throw MechanicError.invalidArgument("diff: the sums hold \(sums.promptsA) + \(sums.promptsB) prompts, not \(a.count) + \(b.count)")
        }
        let posA = try a.map { try resolve(position, $0.count) }
        let posB = try b.map { try resolve(position, $0.count) }
        var warnings = alignmentWarnings(model: model, a: a, b: b, position: position)
        var skipped: [String] = []
        var rows: [(label: String, hook: String, kind: String, layer: Int?, head: Int?, a: [Float], b: [Float])] = []
        for key in sums.components {
            guard key.lengths.count == 1, key.sumA.count == key.lengths[0], key.sumB.count == key.lengths[0] else {
                if key.head == nil || key.head == 0 {
                    let why = key.kind == "attn_scores" || key.kind == "pattern"
                        ? "the compared queries see different numbers of keys (A: \(posA.map { $0 + 1 }), B: \(posB.map { $0 + 1 }))"
                        : "shapes differ between prompts (\(key.lengths) values)"
                    skipped.append("\(key.hook): \(why)")
                }
                continue
            }
            rows.append((key.label, key.hook, key.kind, key.layer, key.head, mean(key.sumA, a.count), mean(key.sumB, b.count)))
        }

        // Unembed the d_model-wide differences in one product with W_U.
        let c = model.config, D = c.dModel
        let scale = Float(sums.finalScaleA / Double(a.count))
        let outIdx = rows.indices.filter { unembeddable.contains(rows[$0].kind) && rows[$0].a.count == D }
        var dirs = Tensor(shape: [outIdx.count, D], data: outIdx.flatMap { i in zip(rows[i].a, rows[i].b).map { $0 - $1 } })
        dirs = try finalNormDirection(model: model, dirs, scale: scale)
        let vocab = dirs.linear(model.weights.W_U)  // [components, d_vocab]
        var up: [Int: [DiffToken]] = [:], down: [Int: [DiffToken]] = [:]
        for (j, i) in outIdx.enumerated() {
            // A zero difference unembeds to a zero row whose "top" tokens would be the lowest ids.
            if zip(rows[i].a, rows[i].b).allSatisfy({ $0 == $1 }) { up[i] = []; down[i] = []; continue }
            let row = LogitRow(Array(vocab.data[(j * c.dVocab)..<((j + 1) * c.dVocab)]))
            let tok = { (id: Int) in DiffToken(id: id, token: model.pieceString(id), value: row.logits[id]) }
            up[i] = row.topIDs(top, largest: true).map(tok)
            down[i] = row.topIDs(top, largest: false).map(tok)
        }

        var components = rows.enumerated().map { i, r -> DiffComponent in
            let s = stats(r.a, r.b)
            return DiffComponent(hook: r.hook, label: r.label, kind: r.kind, layer: r.layer, head: r.head, norm: s.norm,
                                 normA: s.normA, normB: s.normB, relativeNorm: s.relative, cosine: s.cosine, up: up[i], down: down[i],
                                 noDifference: r.a == r.b)
        }
        let byLayer = components.filter { layerKinds.contains($0.kind) }
        components = rank(components, by: rankBy)

        var verification: DiffVerification?
        if verify > 0 {
            let targets = components.filter { DiffVerify.patchable($0) }.prefix(verify)
            verification = try DiffVerify.run(model: model, a: a, b: b, posA: posA, posB: posB, components: Array(targets),
                                              answer: answer, wrong: wrong, warnings: &warnings, progress: progress)
        }
        let sideA = DiffSide(texts: texts?.a, tokens: a, strTokens: a.map(model.pieceStrings), positions: posA)
        let sideB = DiffSide(texts: texts?.b, tokens: b, strTokens: b.map(model.pieceStrings), positions: posB)
        var report = ActivationDiffReport(a: sideA, b: sideB, rankBy: rankBy, warnings: warnings, components: components,
                                          byLayer: byLayer, skipped: skipped, summary: [], verification: verification)
        report.summary = DiffSummary.lines(report, nLayers: c.nLayers)
        return report
    }

    /// Sorts components largest-first by the ranking (ties keep firing order).
    static func rank(_ components: [DiffComponent], by: DiffRanking) -> [DiffComponent] {
        func key(_ c: DiffComponent) -> Float {
            switch by {
            case .norm: return c.norm
            case .relativeNorm: return c.relativeNorm ?? (c.norm > 0 ? .infinity : 0)
            case .angle: return 1 - (c.cosine ?? 1)
            }
        }
        return components.enumerated().sorted { x, y in
            let (kx, ky) = (key(x.element), key(y.element))
            return kx != ky ? kx > ky : x.offset < y.offset
        }.map(\.element)
    }

    static func resolve(_ position: DiffPosition, _ n: Int) throws -> Int {
        switch position {
        case .final: return n - 1
        case let .index(i): return try PosSlice.index(i).positions(count: n)[0]
        }
    }

    /// `v` (`[head, keys]` flattened) with every head's row zero-padded to `to` keys.
    static func padKeys(_ v: [Float], keys: Int, to: Int) -> [Float] {
        guard keys > 0, keys < to, v.count % keys == 0 else { return v }
        var out: [Float] = []
        out.reserveCapacity(v.count / keys * to)
        for h in 0..<(v.count / keys) {
            out += v[(h * keys)..<((h + 1) * keys)]
            out += [Float](repeating: 0, count: to - keys)
        }
        return out
    }

    /// Warnings about lengths and BOS that change what "the same position" means. Lengths are
    /// compared pair by pair (A[i] with B[i]) when the sides have as many prompts, else all at once:
    /// a set whose prompts differ in length among themselves but match the other side is aligned.
    static func alignmentWarnings(model: HookedTransformer, a: [[Int]], b: [[Int]], position: DiffPosition) -> [String] {
        var w: [String] = []
        let mismatched = a.count == b.count ? a.map(\.count) != b.map(\.count) : Set((a + b).map(\.count)).count > 1
        if mismatched {
            let where_ = position == .final ? "the final token of each prompt" : "index \(position) of each prompt"
            w.append("the prompts have different token lengths (A: \(a.map(\.count)), B: \(b.map(\.count))); compared at \(where_) — check the tokenizations side by side")
        }
        if let bos = model.bosTokenId {
            let starts = Set((a + b).map { $0.first == bos })
            if starts.count > 1 { w.append("some prompts start with BOS (\(bos)) and some do not: positions and activations are not comparable") }
        }
        return w
    }

    /// One run's vectors at its position, keyed by label, in firing order.
    struct Capture {
        var order: [(label: String, hook: String, kind: String, layer: Int?, head: Int?)] = []
        var vectors: [String: [Float]] = [:]
        var finalScale: Float = 1
    }

    static func capture(_ model: HookedTransformer, _ tokens: [Int], _ pos: Int) throws -> Capture {
        let (_, cache) = try model.runWithCache(TokenBatch(tokens), names: .all, hookOptions: HookOptions(attnResult: true))
        var cap = Capture()
        for name in cache.names {
            guard let t = cache[name] else { continue }
            let (kind, layer) = parse(name)
            if kind == "result" {
                let (H, D) = (t.shape[2], t.shape[3])  // [1, pos, head, d_model]
                for h in 0..<H {
                    let label = "L\(layer ?? 0)H\(h)"
                    cap.order.append((label, name, kind, layer, h))
                    let o = (pos * H + h) * D
                    cap.vectors[label] = Array(t.data[o..<(o + D)])
                }
                continue
            }
            cap.order.append((name, name, kind, layer, nil))
            cap.vectors[name] = vector(t, kind: kind, pos: pos)
        }
        if let s = cache["ln_final.hook_scale"] { cap.finalScale = s.data[pos] }
        return cap
    }

    /// The activation at one position of a batch-of-one tensor, flattened: `t[0, pos, ...]`, or
    /// `t[0, :, pos, :pos+1]` for attention patterns/scores (`[1, head, q, k]`; only the keys the
    /// query can attend to, so masked `-inf` scores never enter a norm).
    static func vector(_ t: Tensor, kind: String, pos: Int) -> [Float] {
        if kind == "pattern" || kind == "attn_scores" {
            let (H, Q, K) = (t.shape[1], t.shape[2], t.shape[3])
            var out: [Float] = []
            out.reserveCapacity(H * (pos + 1))
            for h in 0..<H {
                let start: Int = (h * Q + pos) * K
                out += t.data[start..<(start + pos + 1)]
            }
            return out
        }
        let inner = t.shape.dropFirst(2).reduce(1, *)
        return Array(t.data[(pos * inner)..<((pos + 1) * inner)])
    }

    /// `blocks.3.attn.hook_z` → (`z`, 3); `ln_final.hook_scale` → (`scale`, nil); `blocks.1.ln2.hook_scale` → (`scale`, 1).
    static func parse(_ name: String) -> (kind: String, layer: Int?) {
        guard let hook = HookName(name) else { return (name, nil) }
        return (hook.kind.shortName, hook.layer)
    }

    /// The mean of `count` vectors from their float64 sum.
    static func mean(_ sum: [Double], _ count: Int) -> [Float] {
        let n = Double(max(count, 1))
        return sum.map { Float($0 / n) }
    }

    /// Norms and cosine, accumulated in double precision.
    static func stats(_ a: [Float], _ b: [Float]) -> (norm: Float, normA: Float, normB: Float, relative: Float?, cosine: Float?) {
        var (dd, aa, bb, ab) = (0.0, 0.0, 0.0, 0.0)
        for (x, y) in zip(a, b) {
            let (x, y) = (Double(x), Double(y))
            dd += (x - y) * (x - y); aa += x * x; bb += y * y; ab += x * y
        }
        let na: Double = aa.squareRoot(), nb: Double = bb.squareRoot(), nd: Double = dd.squareRoot()
        let relative: Float? = na > 0 ? Float(nd / na) : nil
        var cosine: Float? = nil
        if na > 0 && nb > 0 {
            let cos: Double = ab / (na * nb)
            cosine = Float(Swift.max(-1.0, Swift.min(1.0, cos)))
        }
        return (Float(nd), Float(na), Float(nb), relative, cosine)
    }

    /// A residual-stream direction (`[n, d_model]`) as the final norm passes it to `W_U` under a
    /// frozen scale: centered (LayerNorm), divided by `scale`, times the unfolded weight.
    public static func finalNormDirection(model: HookedTransformer, _ dirs: Tensor, scale: Float) throws -> Tensor {
        let c = model.config
        guard c.normalization != .none else { return dirs }
        guard scale > 0 else { throw MechanicError.invalidArgument("the cached final-norm scale is \(scale)") }
        var x = c.usesLayerNorm ? centerRows(dirs) : dirs
        x.scale(by: 1 / scale)
        return affine(x, weight: model.weights.lnFinalW, bias: nil)
    }
}
