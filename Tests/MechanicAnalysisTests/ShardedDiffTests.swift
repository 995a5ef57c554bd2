import Foundation
import Testing
import FixtureSupport
@testable import Mechanic
@testable import MechanicAnalysis

/// A diff between two prompt sets in N shards: each shard sums its range of the prompts, the
/// merged sums give the unsharded diff (to float32 rounding: the sums group differently).
@Suite struct ShardedDiffTests {
    static func sets(lengths: [Int], seed: UInt64) -> [[Int]] {
        var rng = SplitMix64(seed: seed)
        return lengths.map { n in [499] + (1..<n).map { _ in Int(rng.next() % 499) } }
    }

    static func mismatch(_ what: String, _ a: ActivationDiffReport, _ b: ActivationDiffReport) -> String? {
        guard a.components.map(\.label) == b.components.map(\.label) else { return "\(what): components ranked \(a.components.prefix(5).map(\.label)) vs \(b.components.prefix(5).map(\.label))" }
        guard a.skipped == b.skipped, a.warnings == b.warnings, a.byLayer.map(\.label) == b.byLayer.map(\.label) else {
            return "\(what): skipped \(a.skipped) vs \(b.skipped); warnings \(a.warnings) vs \(b.warnings)"
        }
        for (name, f) in [("norm", { (c: DiffComponent) in Double(c.norm) }), ("normA", { Double($0.normA) }), ("normB", { Double($0.normB) }),
                          ("cosine", { Double($0.cosine ?? 9) })] {
            if let bad = Float32Rounding.mismatch("\(what) \(name)", a.components.map(f), b.components.map(f)) { return bad }
        }
        // The unembedded directions' top tokens.
        let up = { (r: ActivationDiffReport) in r.components.map { ($0.up ?? []).prefix(3).map(\.id) } }
        return up(a) == up(b) ? nil : "\(what): unembedded top tokens differ"
    }

    @Test(arguments: [1, 3, 7])
    func shardsMergeIntoOneRun(_ n: Int) throws {
        let m = try PatchingSweepTests.model
        var failures: [String] = []
        // Equal lengths; lengths that differ within each side but match pairwise (patterns padded);
        // and sides of different sizes and lengths (patterns skipped).
        for (la, lb) in [([6, 6, 6, 6], [6, 6, 6]), ([5, 7, 6, 8], [5, 7, 6, 8]), ([5, 6, 7], [8, 4, 6, 6, 5])] {
            let a = Self.sets(lengths: la, seed: 1), b = Self.sets(lengths: lb, seed: 2)
            let whole = try ActivationDiff.run(model: m, a: a, b: b)
            var parts: [DiffSums] = []
            for k in (0..<n).reversed() {
                let s = try ActivationDiff.sums(model: m, a: a, b: b, shard: Shard(index: k, count: n))
                #expect(s.promptsA + s.promptsB == (try Shard(index: k, count: n)).range(of: a.count + b.count).count)
                parts.append(s)
            }
            let merged = try ActivationDiff.report(model: m, a: a, b: b, sums: try DiffSums.merged(parts))
            if let bad = Self.mismatch("\(n) shards \(la) vs \(lb)", merged, whole) { failures.append(bad) }
            #expect(whole.components.filter { $0.norm > 0 }.count > 10)
            if la.count != lb.count && Set(la + lb).count > 1 { #expect(!whole.skipped.isEmpty) }
        }
        #expect(failures.isEmpty, "\(failures.joined(separator: "; "))")
    }

    @Test func setMeansEqualTheMeanOfEachPromptsActivations() throws {
        // The summed form of `run`: a set's mean is the mean of its prompts' cached activations.
        let m = try PatchingSweepTests.model
        let a = Self.sets(lengths: [6, 6, 6], seed: 4), b = Self.sets(lengths: [6], seed: 5)
        let r = try ActivationDiff.run(model: m, a: a, b: b)
        var mean = [Double](repeating: 0, count: m.config.dModel)
        for p in a {
            let (_, cache) = try m.runWithCache(TokenBatch(p), names: .all)
            let t = try cache.require("blocks.1.hook_resid_post")  // [1, pos, d_model]
            for i in mean.indices { mean[i] += Double(t.data[5 * m.config.dModel + i]) / 3 }
        }
        let (_, cb) = try m.runWithCache(TokenBatch(b[0]), names: .all)
        let tb = try cb.require("blocks.1.hook_resid_post")
        let expected = zip(mean, tb.data[(5 * m.config.dModel)...]).map { ($0 - Double($1)) * ($0 - Double($1)) }.reduce(0, +).squareRoot()
        let c = try #require(r.components.first { $0.label == "blocks.1.hook_resid_post" })
        #expect(Float32Rounding.agree(Double(c.norm), expected))
    }

    @Test func mergeRefusesOtherModelsComponents() throws {
        let a = Self.sets(lengths: [6, 6], seed: 1), b = Self.sets(lengths: [6, 6], seed: 2)
        let s0 = try ActivationDiff.sums(model: try PatchingSweepTests.model, a: a, b: b, shard: Shard(index: 0, count: 2))
        var s1 = try ActivationDiff.sums(model: try PatchingSweepTests.model, a: a, b: b, shard: Shard(index: 1, count: 2))
        s1.components.removeLast()
        #expect(throws: ShardError.self) { try DiffSums.merged([s0, s1]) }
        // Sums of too few prompts are refused by the report.
        #expect(throws: MechanicError.self) { try ActivationDiff.report(model: try PatchingSweepTests.model, a: a, b: b, sums: s0) }
    }
}
