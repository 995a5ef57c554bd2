import Foundation
import Testing
import FixtureSupport
@testable import Mechanic
import MechanicAnalysis

/// `mechanic circuit --shard K/N --out PART` as N processes, then `mechanic merge`: the merged
/// JSON is the unsharded run's (scores to float32 rounding), and ACDC is refused in one sentence.
@Suite struct CircuitShardCLITests {
    static func edges(_ json: [String: Any]) -> [String: [String: Any]] { json["edges"] as? [String: [String: Any]] ?? [:] }

    @Test(arguments: [1, 3, 7])
    func shardsMergeIntoTheUnshardedOutput(_ n: Int) throws {
        let dir = try ShardCLITests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = try PatchSweepCLITests.dataset(count: 5, length: 8)
        defer { try? FileManager.default.removeItem(at: data) }
        for (i, extra) in [["--method", "eap", "--top-n", "10"], ["--method", "eap-ig", "--ig-steps", "2", "--threshold", "0.001"]].enumerated() {
            let base = ["circuit", "--model", CLI.model("gpt2-tiny"), "--dataset", data.path, "--quiet"] + extra
            let whole = try CLI.run(base + ["--json"])
            let parts = try CLI.runShards(base, count: n, dir: dir, name: "part-\(i)", items: { try Shard(index: $0, count: n).range(of: 5).count })
            let merged = try CLI.run(["merge", "--json"] + parts)
            #expect(whole.status == 0 && merged.status == 0, "\(whole.stderr) \(merged.stderr)")
            let a = try CLI.json(merged), b = try CLI.json(whole)
            #expect(Set(a.keys) == Set(b.keys))
            func canonical(_ v: Any?) throws -> String {
                String(decoding: try JSONSerialization.data(withJSONObject: ["v": v ?? NSNull()], options: [.sortedKeys]), as: UTF8.self)
            }
            for key in ["cfg", "nodes", "method", "metric", "pairs", "notes", "edge_order"] {
                #expect(try canonical(a[key]) == canonical(b[key]), "\(n) shards \(extra): \(key)")
            }
            let order = b["edge_order"] as? [String] ?? []
            let ea = Self.edges(a), eb = Self.edges(b)
            func scores(_ e: [String: [String: Any]]) -> [Double] { order.map { (e[$0]?["score"] as? Double) ?? .nan } }
            #expect(order.count > 100 && Float32Rounding.mismatch("\(n) shards \(extra)", scores(ea), scores(eb)) == nil)
            let inA = Set(ea.filter { ($0.value["in_graph"] as? Bool) == true }.keys), inB = Set(eb.filter { ($0.value["in_graph"] as? Bool) == true }.keys)
            #expect(inA == inB && !inB.isEmpty, "\(n) shards \(extra): \(inA.count) vs \(inB.count) edges in the circuit")
            // The text report is the unsharded one's first line.
            let text = try CLI.run(["merge"] + parts), wholeText = try CLI.run(base)
            #expect(text.stdout.split(separator: "\n").first == wholeText.stdout.split(separator: "\n").first)
        }
    }

    @Test func mergeRefusesPartialsOfOtherCircuitRuns() throws {
        let dir = try ShardCLITests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = try PatchSweepCLITests.dataset(count: 4, length: 6)
        defer { try? FileManager.default.removeItem(at: data) }
        func shard(_ k: Int, _ extra: [String]) throws -> String {
            let part = dir.appendingPathComponent("c-\(k)-\(extra.joined()).safetensors").path
            let r = try CLI.run(["circuit", "--model", CLI.model("gpt2-tiny"), "--dataset", data.path, "--quiet", "--shard", "\(k)/2", "--out", part] + extra)
            #expect(r.status == 0, "\(r.stderr)")
            return part
        }
        let a0 = try shard(0, ["--method", "eap"]), b1 = try shard(1, ["--method", "eap-ig"]), a1 = try shard(1, ["--method", "eap"])
        let mixed = try CLI.run(["merge", a0, b1])
        #expect(mixed.status != 0 && mixed.stderr.contains("--method options differ"), "\(mixed.stderr)")
        let missing = try CLI.run(["merge", a0])
        #expect(missing.status != 0 && missing.stderr.contains("shard 1 of 2 is missing"), "\(missing.stderr)")
        let twice = try CLI.run(["merge", a0, a0, a1])
        #expect(twice.status != 0 && twice.stderr.contains("shard 0 is given twice"), "\(twice.stderr)")
        #expect(try CLI.run(["merge", a0, a1]).status == 0)
    }

    @Test func acdcAndEvaluateRefuseShardsInOneSentence() throws {
        let data = try PatchSweepCLITests.dataset(count: 3, length: 6)
        defer { try? FileManager.default.removeItem(at: data) }
        let base = ["circuit", "--model", CLI.model("gpt2-tiny"), "--dataset", data.path, "--shard", "0/2", "--out", "/tmp/never-written-circuit.part"]
        for (extra, needle) in [(["--method", "acdc"], "ACDC cannot be sharded"), (["--evaluate"], "--evaluate cannot be sharded")] {
            let r = try CLI.run(base + extra)
            #expect(r.status != 0 && r.stderr.contains(needle), "\(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: "/tmp/never-written-circuit.part"))
    }
}
