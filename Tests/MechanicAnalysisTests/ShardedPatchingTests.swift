import Foundation
import Testing
import FixtureSupport
import Mechanic
import MechanicIO
@testable import MechanicAnalysis

/// A sweep split into N shards (each run alone, as separate processes would) merges into the
/// result of one unsharded run — to float32 rounding, since the shards sum their pairs in other
/// groups than one run does.
@Suite struct ShardedPatchingTests {
    static func merged(_ pairs: [PatchingPair], count: Int, metric: PatchingMetric = .logitDiff, mode: PatchingMode = .denoise,
                       _ body: (PatchingSweep) throws -> PatchingResult) throws -> PatchingResult {
        var parts: [PatchingPartial] = []
        // Shards in reverse order: the merge must not depend on the order partials arrive in.
        for k in (0..<count).reversed() {
            let sweep = try PatchingSweep(model: PatchingSweepTests.model, pairs: pairs, metric: metric, mode: mode,
                                          pairBatchSize: 2, shard: try Shard(index: k, count: count))
            _ = try body(sweep)
            let partial = try #require(sweep.lastPartial)
            #expect(partial.pairs == sweep.ownedPairs.count)
            parts.append(partial)
        }
        return try PatchingPartial.merge(parts)
    }

    @Test(arguments: [1, 3, 7])
    func shardsMergeIntoOneRun(_ n: Int) throws {
        let pairs = try PatchingSweepTests.pairs(5)
        let m = try PatchingSweepTests.model
        var failures: [String] = []
        for metric in [PatchingMetric.logitDiff, .normalizedLogitDiff, .kl] {
            let whole = try PatchingSweep(model: m, pairs: pairs, metric: metric)
            for kind in [ActPatchKind.residPre, .attnHeadOutAllPos] {
                let expected = try whole.run(kind)
                let got = try Self.merged(pairs, count: n, metric: metric) { try $0.run(kind) }
                if let bad = PatchingSweepTests.mismatch("\(n) shards \(metric) \(kind)", got, expected) { failures.append(bad) }
            }
        }
        // Path patching of every head into the logits, and mean ablation (means over every pair).
        let path = try PatchingSweep(model: m, pairs: pairs).pathPatchEachHead(receivers: [])
        if let bad = PatchingSweepTests.mismatch("\(n) shards path", try Self.merged(pairs, count: n) { try $0.pathPatchEachHead(receivers: []) }, path) {
            failures.append(bad)
        }
        let ablated = try PatchingSweep(model: m, pairs: pairs, mode: .ablate(.mean)).run(.residPre)
        if let bad = PatchingSweepTests.mismatch("\(n) shards mean ablation", try Self.merged(pairs, count: n, mode: .ablate(.mean)) { try $0.run(.residPre) }, ablated) {
            failures.append(bad)
        }
        #expect(failures.isEmpty, "\(failures.joined(separator: "; "))")
        #expect(Set(path.values.data).count > 2)
    }

    @Test func shardsSplitThePairsEvenlyAndCoverEachOnce() throws {
        for total in [0, 1, 5, 7, 10, 1000] {
            for n in [1, 2, 3, 7, 11] {
                let ranges = try (0..<n).map { try Shard(index: $0, count: n).range(of: total) }
                #expect(ranges.map(\.count).reduce(0, +) == total)
                #expect(zip(ranges, ranges.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
                #expect((ranges.map(\.count).max() ?? 0) - (ranges.map(\.count).min() ?? 0) <= 1)
            }
        }
        #expect(try Shard(index: 1, count: 3).range(of: 7) == 2..<4)
    }

    @Test func shardSpecsAndEnvironments() throws {
        #expect(try Shard(parsing: "2/7") == Shard(index: 2, count: 7))
        #expect(throws: ShardError.self) { try Shard(parsing: "7/7") }
        #expect(throws: ShardError.self) { try Shard(parsing: "-1/3") }
        #expect(throws: ShardError.self) { try Shard(parsing: "1/0") }
        #expect(throws: ShardError.self) { try Shard(parsing: "1-3") }
        // Slurm: `--array=5-9` numbers tasks 5…9; the shard is the task's offset.
        #expect(try Shard.fromEnvironment(["SLURM_ARRAY_TASK_ID": "7", "SLURM_ARRAY_TASK_MIN": "5", "SLURM_ARRAY_TASK_COUNT": "5"])
                == Shard(index: 2, count: 5))
        #expect(try Shard.fromEnvironment(["JOB_COMPLETION_INDEX": "3"], count: 4) == Shard(index: 3, count: 4))
        #expect(throws: ShardError.self) { try Shard.fromEnvironment(["JOB_COMPLETION_INDEX": "3"]) }
        #expect(throws: ShardError.self) { try Shard.fromEnvironment(["JOB_COMPLETION_INDEX": "4"], count: 4) }
        #expect(throws: ShardError.self) { try Shard.fromEnvironment([:], count: 4) }
        #expect(throws: ShardError.self) { try Shard.fromEnvironment(["SLURM_ARRAY_TASK_ID": "x", "SLURM_ARRAY_TASK_COUNT": "2"]) }
    }

    // Attribution patching in shards: ShardedAttributionTests.

    static func partial(_ k: Int, of n: Int, options: [String: String] = ["act": "resid_pre"], hash: String = "00ff", items: Int = 5) throws -> PartialFile {
        let shard = try Shard(index: k, count: n)
        let manifest = ShardManifest(command: "patch", model: "m", options: options, inputsHash: hash, shard: shard,
                                     items: items, itemsInShard: shard.range(of: items).count)
        var p = PartialFile(manifest: manifest, payload: Data("{}".utf8), arrays: ["sums": [Double(k), 0.1 + Double(k)]])
        p.path = "part\(k)"
        return p
    }

    @Test func partialFilesRoundTripExactly() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mechanic-shard-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("part1.safetensors").path
        var p = try Self.partial(1, of: 3)
        p.arrays = ["sums": [1.0 / 3.0, -2.5e-300, .pi]]
        try p.write(to: OutputFile(path))
        let back = try PartialFile.read(path)
        #expect(back.manifest == p.manifest)
        #expect(back.arrays == p.arrays)  // float64 bit for bit
        #expect(back.payload == p.payload)
        // A safetensors file that is not a partial is named as such.
        var plain = SafeTensorsWriter()
        plain.add("x", Tensor(shape: [1], data: [1]))
        let other = dir.appendingPathComponent("plain.safetensors").path
        try plain.write(to: URL(fileURLWithPath: other))
        #expect(throws: ShardError.notAPartial(file: other, reason: "its safetensors metadata has no mechanic.manifest and mechanic.payload")) {
            try PartialFile.read(other)
        }
    }

    @Test func mergeRefusesMismatchedMissingAndDuplicatedPartials() throws {
        let good = try (0..<3).map { try Self.partial($0, of: 3) }
        #expect(try ShardMerge.check(good.reversed()).map(\.manifest.shard.index) == [0, 1, 2])
        #expect(throws: ShardError.missingShards([1], count: 3)) { try ShardMerge.check([good[0], good[2]]) }
        #expect(throws: ShardError.duplicateShard(2, files: ["part2", "part2"])) { try ShardMerge.check(good + [good[2]]) }
        let otherAct = try Self.partial(1, of: 3, options: ["act": "attn_head_out"])
        #expect(throws: ShardError.mismatch(file: "part1", other: "part0", field: "--act options", value: "attn_head_out", otherValue: "resid_pre")) {
            try ShardMerge.check([good[0], otherAct, good[2]])
        }
        let otherInputs = try Self.partial(2, of: 3, hash: "1234")
        #expect(throws: ShardError.self) { try ShardMerge.check([good[0], good[1], otherInputs]) }
        let otherCount = try Self.partial(1, of: 4)
        #expect(throws: ShardError.self) { try ShardMerge.check([good[0], otherCount]) }
    }
}
