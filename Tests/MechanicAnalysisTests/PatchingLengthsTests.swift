import Foundation
import Testing
import FixtureSupport
import Mechanic
@testable import MechanicAnalysis

/// Issue 10 §4 trap 4: pairs of different lengths (a dataset of several templates). Position-free
/// kinds run each length group and combine exactly; position-indexed kinds refuse, saying which
/// pairs have which length.
@Suite struct PatchingLengthsTests {
    /// 3 pairs of the fixture's length, 2 one token shorter (the first shared token dropped), 2
    /// one token longer (a shared token inserted), interleaved.
    static func mixedPairs() throws -> [PatchingPair] {
        let same = try PatchingSweepTests.pairs(7, seed: 11)
        return same.enumerated().map { i, p in
            switch i % 3 {
            case 1: return PatchingPair(clean: [p.clean[0]] + p.clean.dropFirst(2), corrupt: [p.corrupt[0]] + p.corrupt.dropFirst(2),
                                        answer: p.answer, wrong: p.wrong)
            case 2: return PatchingPair(clean: [p.clean[0], 42] + p.clean.dropFirst(), corrupt: [p.corrupt[0], 42] + p.corrupt.dropFirst(),
                                        answer: p.answer, wrong: p.wrong)
            default: return p
            }
        }
    }

    /// The grid of every length group run alone, combined by the groups' shares of the pairs.
    static func byGroups(_ pairs: [PatchingPair], metric: PatchingMetric, mode: PatchingMode = .denoise,
                         _ body: (PatchingSweep) throws -> PatchingResult) throws -> (values: [Double], clean: Double, corrupt: Double) {
        let model = try PatchingSweepTests.model
        var sums: [Double] = [], clean = 0.0, corrupt = 0.0
        for n in Set(pairs.map(\.clean.count)).sorted() {
            let group = pairs.filter { $0.clean.count == n }
            let r = try body(PatchingSweep(model: model, pairs: group, metric: metric, mode: mode))
            let w = Double(group.count) / Double(pairs.count)
            if sums.isEmpty { sums = [Double](repeating: 0, count: r.values.count) }
            for i in sums.indices { sums[i] += w * Double(r.values.data[i]) }
            clean += w * r.cleanLogitDiff
            corrupt += w * r.corruptLogitDiff
        }
        return (sums, clean, corrupt)
    }

    static func expectClose(_ got: [Float], _ want: [Double], _ what: String) {
        let scale = want.map(abs).max() ?? 0
        #expect(got.count == want.count && got.count > 1, "\(what): \(got.count) values vs \(want.count)")
        let worst = zip(got, want).map { abs(Double($0) - $1) }.max() ?? .infinity
        #expect(worst <= 1e-5 + 1e-4 * scale, "\(what): worst difference \(worst) (scale \(scale))")
        #expect(Set(got).count > 1, "\(what): constant grid")
    }

    @Test(arguments: [ActPatchKind.attnHeadOutAllPos, .attnHeadPatternAllPos, .attnHeadAllPosEvery, .mlpNeuron])
    func positionFreeKindsCombineLengthGroups(kind: ActPatchKind) throws {
        let pairs = try Self.mixedPairs()
        #expect(Set(pairs.map(\.clean.count)).count == 3)
        let want = try Self.byGroups(pairs, metric: .logitDiff) { try $0.run(kind) }
        for batch in [32, 2] {
            let sweep = try PatchingSweep(model: PatchingSweepTests.model, pairs: pairs, metric: .logitDiff, pairBatchSize: batch)
            #expect(sweep.lengthGroups.map(\.length).sorted() == Set(pairs.map(\.clean.count)).sorted())
            let got = try sweep.run(kind)
            Self.expectClose(got.values.data, want.values, "\(kind) batch \(batch)")
            #expect(abs(got.cleanLogitDiff - want.clean) <= 1e-6 * max(1, abs(want.clean)))  // float32 forwards batched differently
        }
    }

    /// The normalised logit difference normalises with every pair's clean and corrupted runs:
    /// the combined logit-difference grid, mapped through (x − corrupt) / (clean − corrupt).
    @Test func normalizedMetricUsesEveryPair() throws {
        let pairs = try Self.mixedPairs()
        let raw = try Self.byGroups(pairs, metric: .logitDiff) { try $0.run(.attnHeadOutAllPos) }
        let want = raw.values.map { ($0 - raw.corrupt) / (raw.clean - raw.corrupt) }
        let got = try PatchingSweep(model: PatchingSweepTests.model, pairs: pairs, metric: .normalizedLogitDiff).run(.attnHeadOutAllPos)
        Self.expectClose(got.values.data, want, "normalized")
        #expect(got.cleanMetric == 1 && got.corruptMetric == 0)
    }

    @Test func pathPatchingAndResampleAblationCombineLengthGroups() throws {
        let pairs = try Self.mixedPairs()
        let path = try Self.byGroups(pairs, metric: .logitDiff) { try $0.pathPatchEachHead(receivers: [.logits]) }
        let sweep = try PatchingSweep(model: PatchingSweepTests.model, pairs: pairs, metric: .logitDiff)
        Self.expectClose(try sweep.pathPatchEachHead(receivers: [.logits]).values.data, path.values, "path")
        let ablate = try Self.byGroups(pairs, metric: .logitDiff, mode: .ablate(.resample)) { try $0.run(.attnHeadOutAllPos) }
        let resample = try PatchingSweep(model: PatchingSweepTests.model, pairs: pairs, metric: .logitDiff, mode: .ablate(.resample))
        Self.expectClose(try resample.run(.attnHeadOutAllPos).values.data, ablate.values, "resample")
    }

    /// Attribution patching estimates per length group and checks the top heads exactly over every pair.
    @Test func attributionCombinesLengthGroups() throws {
        let pairs = try Self.mixedPairs()
        let sweep = try PatchingSweep(model: PatchingSweepTests.model, pairs: pairs, metric: .logitDiff)
        let r = try sweep.attribution(.attnHeadOutAllPos, method: .atp, topK: 3)
        let exact = try sweep.run(.attnHeadOutAllPos)
        #expect(r.checks.count == 3)
        for c in r.checks {
            let want = Double(exact.values[c.index[0], c.index[1]]) - exact.corruptMetric
            #expect(abs(c.exact - want) <= 1e-5 + 1e-4 * abs(want), "\(c.index): \(c.exact) vs \(want)")
        }
    }

    @Test func positionIndexedKindsSayWhichPairsHaveWhichLength() throws {
        let pairs = try Self.mixedPairs()
        let sweep = try PatchingSweep(model: PatchingSweepTests.model, pairs: pairs, metric: .logitDiff)
        let n = pairs[0].clean.count
        for kind in [ActPatchKind.residPre, .attnHeadOutByPos, .attnHeadPatternDestSrcPos, .blockEvery] {
            let error = #expect(throws: MechanicError.self) { try sweep.run(kind) }
            let message = error.map { "\($0)" } ?? ""
            #expect(message.contains("\(kind.rawValue) results are indexed by position") && message.contains("attn_head_out_all_pos")
                    && message.contains("\(n) tokens: 3 pairs 0, 3, 6") && message.contains("\(n - 1) tokens: 2 pairs 1, 4"), "\(message)")
        }
        let mean = try PatchingSweep(model: PatchingSweepTests.model, pairs: pairs, metric: .logitDiff, mode: .ablate(.mean))
        let error = #expect(throws: MechanicError.self) { try mean.run(.attnHeadOutAllPos) }
        #expect("\(error.map { "\($0)" } ?? "")".contains("mean ablation averages every position"))
    }
}
