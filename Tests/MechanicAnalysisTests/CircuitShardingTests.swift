import Foundation
import FixtureSupport
import Testing
import Mechanic
@testable import MechanicAnalysis

/// EAP / EAP-IG split by pairs (`CircuitDiscovery.partial`), merged: the unsharded result; and
/// `--top-n` never putting an edge scored exactly 0 in the circuit.
@Suite struct CircuitShardingTests {
    /// Five pairs of gpt2-tiny: the fixture's two, their swaps with other answers, and one more.
    static func pairs() throws -> (HookedTransformer, [PatchingPair]) {
        let (m, p) = try CircuitExactTests.pairs("gpt2-tiny")
        let extra = [PatchingPair(clean: p[0].clean, corrupt: p[1].clean, answer: p[0].wrong, wrong: p[0].answer),
                     PatchingPair(clean: p[1].clean, corrupt: p[0].clean, answer: 3, wrong: 4),
                     PatchingPair(clean: Array(p[0].clean.prefix(5)), corrupt: Array(p[1].clean.prefix(5)), answer: 7, wrong: 2)]
        return (m, p + extra)
    }

    @Test("shards of EAP and EAP-IG merge into the unsharded result", arguments: [1, 3, 7])
    func shardsMerge(_ n: Int) throws {
        let (model, pairs) = try Self.pairs()
        for options in [CircuitOptions(method: .eap, topN: 12), CircuitOptions(method: .eapIG, igSteps: 3, threshold: 0.01)] {
            let whole = try CircuitDiscovery.run(model: model, pairs: pairs, options: options)
            var parts: [CircuitPartial] = []
            for k in (0..<n).reversed() {
                let part = try CircuitDiscovery.partial(model: model, pairs: pairs, options: options, shard: try Shard(index: k, count: n))
                #expect(part.pairsInShard == (try Shard(index: k, count: n)).range(of: pairs.count).count)
                parts.append(part)
            }
            let merged = try CircuitDiscovery.merge(parts)
            let a = merged.edgeOrder.map { merged.edges[$0]?.score ?? .nan }, b = whole.edgeOrder.map { whole.edges[$0]?.score ?? .nan }
            #expect(merged.edgeOrder == whole.edgeOrder)
            #expect(Float32Rounding.mismatch("\(options.method) \(n) shards", a, b) == nil)
            #expect(b.contains { $0 != 0 })
            let inMerged = Set(merged.edges.filter(\.value.inGraph).keys), inWhole = Set(whole.edges.filter(\.value.inGraph).keys)
            #expect(inMerged == inWhole && !inWhole.isEmpty)
            #expect(merged.nodes == whole.nodes && merged.cfg == whole.cfg && merged.notes == whole.notes && merged.pairs == whole.pairs)
        }
    }

    @Test func acdcAndEvaluateAreNotSharded() throws {
        let (model, pairs) = try Self.pairs()
        let shard = try Shard(index: 0, count: 2)
        #expect(throws: ShardError.self) { try CircuitDiscovery.partial(model: model, pairs: pairs, options: CircuitOptions(method: .acdc), shard: shard) }
        #expect(throws: ShardError.self) { try CircuitDiscovery.partial(model: model, pairs: pairs, options: CircuitOptions(evaluate: true), shard: shard) }
    }

    @Test("--top-n leaves out edges scored exactly 0")
    func topNSkipsZeroScores() throws {
        let (model, p) = try CircuitExactTests.pairs("gpt2-tiny")
        // Clean = corrupted: every u_corrupt − u_clean is 0, so every score is exactly 0.
        let same = [PatchingPair(clean: p[0].clean, corrupt: p[0].clean, answer: p[0].answer, wrong: p[0].wrong)]
        let flat = try CircuitDiscovery.run(model: model, pairs: same, options: CircuitOptions(method: .eap, topN: 5))
        #expect(flat.edges.values.allSatisfy { $0.score == 0 })
        #expect(flat.edges.values.filter(\.inGraph).isEmpty && flat.nodes.values.filter(\.inGraph).isEmpty)
        // A real run asking for more edges than score non-zero gets only the non-zero ones.
        let real = try CircuitDiscovery.run(model: model, pairs: p, options: CircuitOptions(method: .eap, topN: 1_000_000))
        let nonZero = real.edges.values.filter { $0.score != 0 }.count
        #expect(real.edges.values.filter(\.inGraph).count == nonZero)
        #expect(real.edges.values.allSatisfy { $0.inGraph == ($0.score != 0) })
    }
}
