import Foundation
import Testing
@testable import Mechanic
@testable import MechanicAnalysis
import MechanicIO

/// `topActivatingExamples` with `NeuronSearchOptions.shard`: N shards, each running every N-th
/// forward batch of the corpus, merge (top-k of the union, statistics by Chan's formula) into the
/// unsharded search — the same examples in the same order, ties included.
@Suite struct ShardedNeuronTests {
    /// The planted-neuron corpus plus documents of ties (every token 1: equal values at equal
    /// chunk positions), so the tie-break by document and position decides the order.
    static let documents = PlantedNeuron.documents + [[1, 1, 1, 1], [1, 1, 7, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]]

    func search(_ options: NeuronSearchOptions) throws -> NeuronSearchResult {
        let model = try PlantedNeuron.model()
        var corpus = DocumentList(tokens: Self.documents)
        return try model.topActivatingExamples(.neuron(layer: 0, index: PlantedNeuron.neuron), corpus: &corpus, options: options,
                                               display: { "t\($0)" })
    }

    static func options(_ topK: Int, _ order: NeuronSearchOptions.Order, batch: Int, maxTokens: Int? = nil, shard: Shard? = nil) -> NeuronSearchOptions {
        NeuronSearchOptions(topK: topK, order: order, batchSize: batch, bos: PlantedNeuron.bos, maxTokens: maxTokens, shard: shard)
    }

    @Test(arguments: [1, 3, 7])
    func shardsMergeIntoTheUnshardedSearch(_ n: Int) throws {
        for (topK, order, batch, maxTokens) in [(6, NeuronSearchOptions.Order.highest, 2, nil as Int?), (9, .lowest, 3, nil),
                                                (100, .highest, 1, nil), (4, .lowest, 8, 30)] {
            let whole = try search(Self.options(topK, order, batch: batch, maxTokens: maxTokens))
            var parts: [NeuronSearchResult] = []
            for k in (0..<n).reversed() {
                let shard = try Shard(index: k, count: n)
                let p = try search(Self.options(topK, order, batch: batch, maxTokens: maxTokens, shard: shard))
                // Every N-th forward batch of the unsharded run: its chunks.
                let batches = (whole.chunks + batch - 1) / batch
                let own = (0..<batches).filter { $0 % n == k }.map { min(batch, whole.chunks - $0 * batch) }.reduce(0, +)
                #expect(p.chunksInShard == own && shard.roundRobinCount(of: batches) == (0..<batches).filter { $0 % n == k }.count)
                #expect(p.documents == whole.documents && p.tokens == whole.tokens && p.chunks == whole.chunks)
                #expect(p.inputsHash == whole.inputsHash)
                parts.append(p)
            }
            #expect(parts.map(\.stats.count).reduce(0, +) == whole.stats.count)
            let merged = try NeuronSearchResult.merge(parts, topK: topK)
            let what = "\(n) shards, top \(topK) \(order) batch \(batch)"
            // Same tokens in the same order (the tie-break included), with the same windows.
            #expect(merged.examples.map { [$0.document, $0.position] } == whole.examples.map { [$0.document, $0.position] }, "\(what)")
            #expect(merged.examples.map(\.tokens) == whole.examples.map(\.tokens) && merged.examples.map(\.focus) == whole.examples.map(\.focus))
            #expect(merged.examples.map(\.strings) == whole.examples.map(\.strings))
            // Each shard ran the very batches of the unsharded run: the values are bit-identical.
            #expect(merged.examples == whole.examples, "\(what)")
            let s = merged.stats, w = whole.stats
            #expect(s.count == w.count && s.positive == w.positive && s.minimum == w.minimum && s.maximum == w.maximum, "\(what)")
            #expect(abs(s.mean - w.mean) <= 1e-12 * max(1, abs(w.mean)) && abs(s.standardDeviation - w.standardDeviation) <= 1e-12, "\(what)")
            #expect(merged.chunksInShard == whole.chunks && merged.chunks == whole.chunks)
        }
    }

    @Test func tiesAcrossShardsFallAsInOneRun() throws {
        // Lowest 12 of the tie documents: many equal values (0.01 at chunk position 1, …), ordered by document, position.
        let whole = try search(Self.options(12, .lowest, batch: 1))
        let parts = try (0..<3).map { try search(Self.options(12, .lowest, batch: 1, shard: Shard(index: $0, count: 3))) }
        let merged = try NeuronSearchResult.merge(parts, topK: 12)
        #expect(Set(whole.examples.prefix(4).map(\.value)).count == 1)  // the test has ties to break
        #expect(merged.examples.map { [$0.document, $0.position] } == whole.examples.map { [$0.document, $0.position] })
    }

    @Test func chansFormulaEqualsOnePass() {
        var rng = SplitMix64(seed: 11)
        let values = (0..<1000).map { _ in Double(rng.next() % 100_000) / 997 - 30 }
        var one = RunningStats()
        for v in values { one.add(v) }
        for cuts in [[0, 1000], [0, 1, 1000], [0, 400, 401, 999, 1000], [0, 0, 500, 1000]] {
            var combined = RunningStats()
            for (lo, hi) in zip(cuts, cuts.dropFirst()) {
                var part = RunningStats()
                for v in values[lo..<hi] { part.add(v) }
                combined.combine(part)
            }
            #expect(combined.count == 1000 && combined.positive == one.positive)
            #expect(combined.minimum == one.minimum && combined.maximum == one.maximum)
            #expect(abs(combined.mean - one.mean) <= 1e-12 * abs(one.mean))
            #expect(abs(combined.standardDeviation - one.standardDeviation) <= 1e-12 * one.standardDeviation)
        }
        // Known values: {1, 2, 3} and {10}: mean 4, population variance (9 + 4 + 1 + 36) / 4 = 12.5.
        var a = RunningStats(), b = RunningStats()
        for v in [1.0, 2, 3] { a.add(v) }
        b.add(10)
        a.combine(b)
        #expect(a.mean == 4 && abs(a.standardDeviation - 12.5.squareRoot()) < 1e-15)
    }

    @Test func mergeRefusesMissingChunksAndOtherSearches() throws {
        let parts = try (0..<3).map { try search(Self.options(5, .highest, batch: 2, shard: Shard(index: $0, count: 3))) }
        #expect(throws: ShardError.self) { try NeuronSearchResult.merge([parts[0], parts[2]], topK: 5) }
        let other = try search(Self.options(5, .lowest, batch: 2, shard: Shard(index: 1, count: 3)))
        #expect(throws: ShardError.self) { try NeuronSearchResult.merge([parts[0], other, parts[2]], topK: 5) }
        let fewer = try search(Self.options(5, .highest, batch: 2, maxTokens: 20, shard: Shard(index: 1, count: 3)))
        #expect(throws: ShardError.self) { try NeuronSearchResult.merge([parts[0], fewer, parts[2]], topK: 5) }
    }

    @Test func anEmptyShardsPartialRoundTrips() throws {
        // 2 chunks over 7 shards: shards 2…6 run nothing; their minimum is +∞ (written as "inf").
        let model = try PlantedNeuron.model()
        var corpus = DocumentList(tokens: [[1, 2, 7], [3]])
        let p = try model.topActivatingExamples(.neuron(layer: 0, index: PlantedNeuron.neuron), corpus: &corpus,
                                                options: Self.options(3, .highest, batch: 1, shard: Shard(index: 5, count: 7)))
        #expect(p.chunksInShard == 0 && p.examples.isEmpty && p.stats.minimum == .infinity)
        let manifest = ShardManifest(command: "neurons", model: "m", options: [:], inputsHash: p.inputsHash, shard: try Shard(index: 5, count: 7),
                                     items: p.chunks, itemsInShard: p.chunksInShard, split: .roundRobin)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mechanic-neuron-shard-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("part.safetensors").path
        try PartialFile(manifest: manifest, payload: try PartialFile.encodePayload(p), arrays: [:]).write(to: OutputFile(path))
        let back = try PartialFile.read(path)
        #expect(back.manifest == manifest)
        let decoded = try back.decodePayload(NeuronSearchResult.self)
        #expect(decoded.stats == p.stats && decoded.inputsHash == p.inputsHash && decoded.chunks == 2)
        // A manifest whose count is not the shard's round-robin share is refused.
        var wrong = manifest
        wrong.itemsInShard = 1
        let bad = dir.appendingPathComponent("bad.safetensors").path
        try PartialFile(manifest: wrong, payload: Data("{}".utf8), arrays: [:]).write(to: OutputFile(bad))
        #expect(throws: ShardError.self) { try PartialFile.read(bad) }
    }

    @Test func roundRobinSharesCoverEveryItemOnce() throws {
        for n in 1...8 {
            for total in 0...20 {
                let counts = try (0..<n).map { try Shard(index: $0, count: n).roundRobinCount(of: total) }
                let owned = (0..<total).map { $0 % n }
                #expect(counts == (0..<n).map { k in owned.filter { $0 == k }.count }, "\(total) items, \(n) shards")
            }
        }
    }
}
