import Foundation
import Testing
import FixtureSupport
import Mechanic
@testable import MechanicAnalysis

/// Attribution patching in N shards: every shard estimates over every pair (so all pick the same
/// top components), patches those exactly over its own pairs, and the merge adds the shares —
/// the unsharded result to float32 rounding.
@Suite struct ShardedAttributionTests {
    static func partials(_ pairs: [PatchingPair], count: Int, metric: PatchingMetric, mode: PatchingMode = .denoise,
                         kind: ActPatchKind, topK: Int) throws -> [AttributionPartial] {
        var parts: [AttributionPartial] = []
        for k in (0..<count).reversed() {
            let sweep = try PatchingSweep(model: PatchingSweepTests.model, pairs: pairs, metric: metric, mode: mode,
                                          pairBatchSize: 2, shard: try Shard(index: k, count: count))
            _ = try sweep.attribution(kind, topK: topK)
            let partial = try #require(sweep.lastAttributionPartial)
            #expect(partial.pairs == sweep.ownedPairs.count && partial.exactShares.count == min(topK, partial.estimates.count))
            parts.append(partial)
        }
        return parts
    }

    static func mismatch(_ what: String, _ a: AttributionPatchingResult, _ b: AttributionPatchingResult) -> String? {
        guard a.act == b.act, a.estimates.shape == b.estimates.shape, a.checks.count == b.checks.count, a.checks.count >= 2 else {
            return "\(what): \(a.act) \(a.estimates.shape) \(a.checks.count) checks vs \(b.act) \(b.estimates.shape) \(b.checks.count)"
        }
        if let bad = Float32Rounding.mismatch("\(what) estimates", a.estimates.data, b.estimates.data) { return bad }
        // The same components in the same order.
        if a.checks.map(\.kind) != b.checks.map(\.kind) || a.checks.map(\.index) != b.checks.map(\.index) || a.checks.map(\.site) != b.checks.map(\.site) {
            return "\(what): checked \(a.checks.map(\.index)) vs \(b.checks.map(\.index))"
        }
        if let bad = Float32Rounding.mismatch("\(what) check estimates", a.checks.map(\.estimate), b.checks.map(\.estimate)) { return bad }
        if let bad = Float32Rounding.mismatch("\(what) exact", a.checks.map(\.exact), b.checks.map(\.exact)) { return bad }
        let runs = { (r: AttributionPatchingResult) in [r.targetMetric, r.cleanMetric, r.corruptMetric, r.cleanLogitDiff, r.corruptLogitDiff] }
        return Float32Rounding.mismatch("\(what) runs", runs(a), runs(b))
    }

    @Test(arguments: [1, 3, 7])
    func shardsMergeIntoOneRun(_ n: Int) throws {
        let pairs = try PatchingSweepTests.pairs(5)
        var failures: [String] = []
        for (metric, mode, kind) in [(PatchingMetric.logitDiff, PatchingMode.denoise, ActPatchKind.residPre),
                                     (.normalizedLogitDiff, .denoise, .attnHeadAllPosEvery),
                                     (.kl, .ablate(.mean), .attnHeadOutAllPos)] {
            let whole = try PatchingSweep(model: PatchingSweepTests.model, pairs: pairs, metric: metric, mode: mode, pairBatchSize: 2)
                .attribution(kind, topK: 6)
            let merged = try AttributionPartial.merge(try Self.partials(pairs, count: n, metric: metric, mode: mode, kind: kind, topK: 6))
            if let bad = Self.mismatch("\(n) shards \(metric) \(kind)", merged, whole) { failures.append(bad) }
            // The exact checks are real patching results: not the estimates, and not all equal.
            #expect(Set(whole.checks.map(\.exact)).count > 2)
        }
        // One batch of every pair (the unsharded sweep's single run) agrees to rounding too.
        let single = try PatchingSweep(model: PatchingSweepTests.model, pairs: pairs).attribution(.residPre, topK: 4)
        let merged = try AttributionPartial.merge(try Self.partials(pairs, count: n, metric: .logitDiff, kind: .residPre, topK: 4))
        if let bad = Self.mismatch("\(n) shards, single run", merged, single) { failures.append(bad) }
        #expect(failures.isEmpty, "\(failures.joined(separator: "; "))")
    }

    @Test func mergeRefusesMissingPairsAndDisagreeingEstimates() throws {
        let pairs = try PatchingSweepTests.pairs(5)
        let parts = try Self.partials(pairs, count: 3, metric: .logitDiff, kind: .residPre, topK: 4)
        #expect(throws: ShardError.self) { try AttributionPartial.merge([parts[0], parts[2]]) }
        // A shard whose estimates pick other components (another machine's arithmetic, say).
        var off = parts[1]
        off.estimates = off.estimates.map { -$0 * 3 + 1 }
        #expect(throws: ShardError.self) { try AttributionPartial.merge([parts[0], off, parts[2]]) }
        let other = try Self.partials(pairs, count: 3, metric: .logitDiff, kind: .residPre, topK: 2)
        #expect(throws: ShardError.self) { try AttributionPartial.merge([parts[0], other[1], parts[2]]) }
        #expect(try AttributionPartial.merge(parts.reversed()).checks.count == 4)
    }
}
