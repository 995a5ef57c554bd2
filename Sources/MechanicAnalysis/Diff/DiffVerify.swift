import Mechanic

/// `mechanic diff --verify`: turns the correlational ranking into a causal one by patching each
/// component's activation from run A into run B at the aligned position.
enum DiffVerify {
    /// Components whose value at one position can be patched (attention patterns and scores
    /// span every key position, so they are not).
    static func patchable(_ c: DiffComponent) -> Bool { c.kind != "pattern" && c.kind != "attn_scores" && c.norm > 0 }

    static func run(model: HookedTransformer, a: [[Int]], b: [[Int]], posA: [Int], posB: [Int], components: [DiffComponent],
                    answer: Int?, wrong: Int?, warnings: inout [String], progress: WorkProgress? = nil) throws -> DiffVerification {
        guard a.count == b.count else {
            throw MechanicError.invalidArgument("--verify patches prompt pairs: give as many A prompts (\(a.count)) as B prompts (\(b.count))")
        }
        let V = model.config.dVocab
        func row(_ logits: Tensor, _ p: Int) -> LogitRow { LogitRow(Array(logits.data[(p * V)..<((p + 1) * V)])) }
        var logitsA: [LogitRow] = [], logitsB: [LogitRow] = []
        for i in a.indices {
            logitsA.append(row(try model.runWithHooks(TokenBatch(a[i]), hooks: []), posA[i]))
            logitsB.append(row(try model.runWithHooks(TokenBatch(b[i]), hooks: []), posB[i]))
        }
        let ans = answer ?? logitsA[0].topIDs(1, largest: true)[0]
        var wr = wrong ?? logitsB[0].topIDs(1, largest: true)[0]
        if wrong == nil && wr == ans {
            wr = logitsB[0].topIDs(2, largest: true)[1]
            warnings.append("A and B both predict \(model.pieceString(ans).debugDescription) first; the wrong token is B's second choice \(model.pieceString(wr).debugDescription) (give --answer/--wrong to choose)")
        }
        for t in [ans, wr] where t < 0 || t >= V { throw MechanicError.tokenOutOfRange(id: t, dVocab: V) }
        let metric = { (r: LogitRow) in r.logits[ans] - r.logits[wr] }
        let metricA = logitsA.map(metric).reduce(0, +) / Float(a.count)
        let metricB = logitsB.map(metric).reduce(0, +) / Float(b.count)

        let patched = try patchedMetrics(model: model, a: a, b: b, posA: posA, posB: posB, components: components,
                                         answer: ans, wrong: wr, progress: progress)
        let results = zip(components, patched).map { comp, value in
            DiffPatchResult(label: comp.label, hook: comp.hook, patchedMetric: value,
                            fractionRestored: LogitDifference.normalized(value, clean: metricA, corrupt: metricB))
        }
        return DiffVerification(answerId: ans, answerToken: model.pieceString(ans), wrongId: wr, wrongToken: model.pieceString(wr),
                                metricA: metricA, metricB: metricB, results: results)
    }

    /// The mean logit difference of B with each component patched from A. When every prompt has
    /// one length and the components sit at the final position (where the metric is read), this
    /// is a `PatchingRun` on the patching engine (A = clean, B = corrupted); otherwise one
    /// forward of B per component and pair.
    static func patchedMetrics(model: HookedTransformer, a: [[Int]], b: [[Int]], posA: [Int], posB: [Int], components: [DiffComponent],
                               answer: Int, wrong: Int, progress: WorkProgress?, forceForwards: Bool = false) throws -> [Float] {
        let lengths = Set(a.map(\.count) + b.map(\.count))
        let final = (lengths.first ?? 0) - 1
        let engine = !forceForwards && lengths.count == 1 && a.indices.allSatisfy { posA[$0] == final && posB[$0] == final }
        if engine {
            let pairs = a.indices.map { PatchingPair(clean: a[$0], corrupt: b[$0], answer: answer, wrong: wrong) }
            let run = try PatchingRun(model: model, pairs: pairs, metric: .logitDiff)
            run.progress = progress
            let sites = components.map { c in
                PatchSite(hook: c.hook, layer: c.layer ?? 0, selection: c.head.map { .positionHead(pos: final, head: $0) } ?? .position(final))
            }
            // Hooks outside the blocks (embeddings, ln_final) need the whole forward: the naive engine.
            let inBlocks = components.indices.filter { components[$0].layer != nil }
            let outside = components.indices.filter { components[$0].layer == nil }
            var out = [Float](repeating: 0, count: components.count)
            func work() throws {
                for (group, engine) in [(inBlocks, PatchEngine.fast), (outside, .naive)] where !group.isEmpty {
                    for (i, v) in zip(group, try run.evaluate(group.map { sites[$0] }, engine: engine)) { out[i] = Float(v) }
                }
            }
            if let progress { try progress.run(total: components.count, scale: a.count, work) } else { try work() }
            return out
        }
        let V = model.config.dVocab
        let hooks = Array(Set(components.map(\.hook)))
        let caches = try a.map { try model.runWithCache(TokenBatch($0), names: .names(hooks)).cache }
        var results: [Float] = []
        // One patch per component, over every pair; the progress counts them and stops them when cancelled.
        func patchAll() throws {
            for comp in components {
                var total: Float = 0
                for i in a.indices {
                    let source = try caches[i].require(comp.hook)
                    let hook = Hook(comp.hook) { t, _ in
                        let (src, dst) = span(t.shape, head: comp.head, posA: posA[i], posB: posB[i])
                        for k in 0..<src.count { t.data[dst.lowerBound + k] = source.data[src.lowerBound + k] }
                    }
                    let logits = try model.forward(TokenBatch(b[i]), options: ForwardOptions(hooks: [hook])).logits ?? Tensor(zeros: [0])
                    total += logits.data[posB[i] * V + answer] - logits.data[posB[i] * V + wrong]
                    try progress?.advance(1)
                }
                results.append(total / Float(a.count))
            }
        }
        if let progress { try progress.run(total: components.count, scale: a.count, patchAll) } else { try patchAll() }
        return results
    }

    /// Flat ranges of the activation at A's and B's positions in `[1, pos, ...]` tensors (one
    /// head's `d_model` slice of `hook_result` when `head` is set). A's tensor has A's length,
    /// but only the inner size matters for the offsets.
    static func span(_ shape: [Int], head: Int?, posA: Int, posB: Int) -> (Range<Int>, Range<Int>) {
        let inner = shape.dropFirst(2).reduce(1, *)
        if let head, shape.count == 4 {
            let D = shape[3]
            let a = posA * inner + head * D, b = posB * inner + head * D
            return (a..<(a + D), b..<(b + D))
        }
        return ((posA * inner)..<((posA + 1) * inner), (posB * inner)..<((posB + 1) * inner))
    }
}
