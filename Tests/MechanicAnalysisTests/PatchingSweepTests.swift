import Foundation
import Testing
import FixtureSupport
import Mechanic
@testable import MechanicAnalysis

/// Streaming pairs through in batches gives the numbers of one run over every pair.
@Suite struct PatchingSweepTests {
    /// `count` pairs of the fixture's length: the fixture pair with the tokens both prompts
    /// share replaced at random, every other pair mirrored (clean ↔ corrupted, answer ↔ wrong).
    static func pairs(_ count: Int = 7, seed: UInt64 = 7) throws -> [PatchingPair] {
        let base = try PatchingFixtures.pair("gpt2-tiny")
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { i in
            var (c, d) = (base.clean, base.corrupt)
            for p in 1..<(c.count - 1) where c[p] == d[p] && rng.next() % 2 == 0 {
                c[p] = Int(rng.next() % 500)
                d[p] = c[p]
            }
            return i % 2 == 0 ? PatchingPair(clean: c, corrupt: d, answer: base.answer, wrong: base.wrong)
                : PatchingPair(clean: d, corrupt: c, answer: base.wrong, wrong: base.answer)
        }
    }

    static var model: HookedTransformer { get throws { try PatchingFixtures.model("gpt2-tiny") } }

    /// Results agree to float32 rounding: each batch runs its own pairs through products of its
    /// own shape, so the sums round differently (by how much depends on the BLAS kernel).
    static func mismatch(_ what: String, _ a: PatchingResult, _ b: PatchingResult) -> String? {
        if a.values.shape != b.values.shape { return "\(what): shape \(a.values.shape) vs \(b.values.shape)" }
        if let bad = Float32Rounding.mismatch(what, a.values.data, b.values.data) { return bad }
        let scalars = [(a.cleanMetric, b.cleanMetric), (a.corruptMetric, b.corruptMetric),
                       (a.cleanLogitDiff, b.cleanLogitDiff), (a.corruptLogitDiff, b.corruptLogitDiff)]
        if !scalars.allSatisfy({ Float32Rounding.agree($0, $1) }) { return "\(what): metrics \(scalars)" }
        if a.act != b.act || a.axes != b.axes || a.metric != b.metric { return "\(what): labels differ" }
        return nil
    }

    func compare(metric: PatchingMetric = .logitDiff, mode: PatchingMode = .denoise, kinds: [ActPatchKind],
                 engine: PatchEngine = .fast) throws {
        let pairs = try Self.pairs()
        let whole = try PatchingRun(model: Self.model, pairs: pairs, metric: metric, mode: mode)
        let sweep = try PatchingSweep(model: Self.model, pairs: pairs, metric: metric, mode: mode, pairBatchSize: 3)
        #expect(sweep.batchCount == 3)
        var failures: [String] = []
        for kind in kinds {
            let expected = try whole.run(kind, engine: engine)
            if let bad = Self.mismatch("\(metric) \(mode) \(kind)", try sweep.run(kind, engine: engine), expected) { failures.append(bad) }
            if kind != .attnHeadPatternDestSrcPos, Set(expected.values.data).count < 2 { failures.append("\(kind): constant grid") }
        }
        #expect(failures.isEmpty, "\(failures.joined(separator: "; "))")
    }

    @Test(arguments: PatchingMetric.allCases)
    func streamedEqualsOneRunForEveryMetric(_ metric: PatchingMetric) throws {
        try compare(metric: metric, kinds: [.residPre, .attnHeadOutAllPos, .mlpNeuron, .blockEvery, .attnHeadAllPosEvery])
    }

    @Test(arguments: AblationMode.allCases)
    func streamedAblationEqualsOneRun(_ mode: AblationMode) throws {
        try compare(mode: .ablate(mode), kinds: [.residPre, .attnHeadOutAllPos, .attnHeadPatternByPos, .mlpNeuron, .blockEvery])
        try compare(metric: .normalizedLogitDiff, mode: .ablate(mode), kinds: [.attnHeadOutAllPos])
    }

    /// The mean is over every prompt, not over each batch's: per-batch means would differ here.
    @Test func meanAblationUsesTheMeanOfEveryPrompt() throws {
        let pairs = try Self.pairs()
        let sweep = try PatchingSweep(model: Self.model, pairs: pairs, mode: .ablate(.mean), pairBatchSize: 3)
        let streamed = try sweep.run(.residPre).values
        var perBatch = [Float](repeating: 0, count: streamed.count)
        for start in stride(from: 0, to: 7, by: 3) {
            let batch = Array(pairs[start..<min(start + 3, 7)])
            let v = try PatchingRun(model: Self.model, pairs: batch, mode: .ablate(.mean)).run(.residPre).values
            for i in v.data.indices { perBatch[i] += v.data[i] * Float(batch.count) / 7 }
        }
        #expect(zip(streamed.data, perBatch).contains { abs($0 - $1) > 1e-3 })
        // `meanPrompts` (prompts other than the pairs') streams too.
        let prompts = try Self.pairs(5, seed: 99).map(\.clean)
        let whole = try PatchingRun(model: Self.model, pairs: pairs, mode: .ablate(.mean))
        whole.meanPrompts = prompts
        sweep.meanPrompts = prompts
        #expect(Self.mismatch("mean prompts", try sweep.run(.attnHeadOutAllPos), try whole.run(.attnHeadOutAllPos)) == nil)
    }

    @Test(arguments: [PatchEngine.batched, .naive])
    func streamedEqualsOneRunOnTheReferenceEngines(_ engine: PatchEngine) throws {
        try compare(metric: .kl, kinds: [.residPre, .attnHeadQByPos], engine: engine)
        let pairs = try Self.pairs()
        let sites = [PatchSite("z", layer: 1, .head(2)), PatchSite("resid_pre", layer: 0, .position(2)), PatchSite("post", layer: 0, .neuron(5))]
        let whole = try PatchingRun(model: Self.model, pairs: pairs, metric: .prob).evaluate(sites, engine: engine)
        let streamed = try PatchingSweep(model: Self.model, pairs: pairs, metric: .prob, pairBatchSize: 2).evaluate(sites, engine: engine)
        #expect(Float32Rounding.mismatch("\(engine)", streamed, whole) == nil)
    }

    @Test(arguments: [PatchingMetric.logitDiff, .normalizedLogitDiff, .kl])
    func streamedPathPatchingEqualsOneRun(_ metric: PatchingMetric) throws {
        let pairs = try Self.pairs()
        let whole = try PatchingRun(model: Self.model, pairs: pairs, metric: metric)
        let sweep = try PatchingSweep(model: Self.model, pairs: pairs, metric: metric, pairBatchSize: 3)
        let receivers: [PathReceiver] = [.head(HeadIndex(layer: 1, head: 0), .q), .head(HeadIndex(layer: 1, head: 2), .v)]
        let grids: [(String, PatchingResult, PatchingResult)] = [
            ("logits", try sweep.pathPatchEachHead(receivers: [.logits]), try whole.pathPatchEachHead(receivers: [.logits])),
            ("frozen", try sweep.pathPatchEachHead(receivers: [.logits], freezeMLPs: true),
             try whole.pathPatchEachHead(receivers: [.logits], freezeMLPs: true)),
            ("heads", try sweep.pathPatchEachHead(receivers: receivers), try whole.pathPatchEachHead(receivers: receivers)),
            ("one", try sweep.pathPatchResult(senders: [HeadIndex(layer: 0, head: 1), HeadIndex(layer: 0, head: 3)], receivers: receivers),
             try whole.pathPatchResult(senders: [HeadIndex(layer: 0, head: 1), HeadIndex(layer: 0, head: 3)], receivers: receivers)),
        ]
        for (name, a, b) in grids { #expect(Self.mismatch("\(metric) path \(name)", a, b) == nil, "\(a.values.data) vs \(b.values.data)") }
    }

    /// Pairs that fit one batch are one `PatchingRun`: bit-for-bit its numbers (the same products
    /// of the same shapes, so `==` holds by construction on any BLAS kernel).
    @Test func oneBatchIsOneRun() throws {
        let pairs = try Self.pairs(4)
        let whole = try PatchingRun(model: Self.model, pairs: pairs, metric: .normalizedLogitDiff, mode: .ablate(.mean)).run(.residPre)
        let sweep = try PatchingSweep(model: Self.model, pairs: pairs, metric: .normalizedLogitDiff, mode: .ablate(.mean))
        #expect(sweep.batchCount == 1)
        #expect(try sweep.run(.residPre).values.data == whole.values.data)
    }

    @Test func badInputIsNamed() throws {
        let pairs = try Self.pairs()
        #expect(throws: MechanicError.invalidArgument("the pair batch size must be at least 1 (got 0)")) {
            try PatchingSweep(model: Self.model, pairs: pairs, pairBatchSize: 0)
        }
        var bad = pairs
        bad[5].answer = 500
        #expect(throws: MechanicError.tokenOutOfRange(id: 500, dVocab: 500)) { try PatchingSweep(model: Self.model, pairs: bad, pairBatchSize: 3) }
        // The normalisation is checked over every pair before any batch runs.
        let same = pairs.map { PatchingPair(clean: $0.clean, corrupt: $0.clean, answer: $0.answer, wrong: $0.wrong) }
        #expect(throws: MechanicError.self) { try PatchingSweep(model: Self.model, pairs: same, metric: .normalizedLogitDiff, pairBatchSize: 3) }
    }
}
