import Foundation
import Testing
import FixtureSupport
@testable import Mechanic
import MechanicAnalysis

/// `mechanic patch --attribution … --shard K/N --out PART` as N processes, then `mechanic merge`:
/// the merged `--json` and text are the unsharded run's (exact checks to float32 rounding).
@Suite struct AttributionShardCLITests {
    static func mismatch(_ what: String, _ merged: [String: Any], _ whole: [String: Any]) -> String? {
        guard Set(merged.keys) == Set(whole.keys) else { return "\(what): keys \(merged.keys.sorted()) vs \(whole.keys.sorted())" }
        for key in ["act", "axes", "shape", "method", "metric", "mode", "pairs"] where "\(merged[key] ?? "nil")" != "\(whole[key] ?? "nil")" {
            return "\(what): \(key) \(merged[key] ?? "nil") vs \(whole[key] ?? "nil")"
        }
        if let bad = Float32Rounding.mismatch("\(what) estimates", ShardCLITests.flat(merged["estimates"]), ShardCLITests.flat(whole["estimates"])) {
            return bad
        }
        let a = merged["checks"] as? [[String: Any]] ?? [], b = whole["checks"] as? [[String: Any]] ?? []
        guard a.count == b.count, a.count >= 2 else { return "\(what): \(a.count) vs \(b.count) checks" }
        for (x, y) in zip(a, b) {
            for key in ["kind", "index", "hook"] where "\(x[key] ?? "nil")" != "\(y[key] ?? "nil")" {
                return "\(what): check \(key) \(x[key] ?? "nil") vs \(y[key] ?? "nil")"
            }
        }
        for key in ["estimate", "exact"] {
            if let bad = Float32Rounding.mismatch("\(what) \(key)", a.map { $0[key] as? Double ?? .nan }, b.map { $0[key] as? Double ?? .nan }) { return bad }
        }
        return nil
    }

    @Test(arguments: [1, 3, 7])
    func shardsMergeIntoTheUnshardedOutput(_ n: Int) throws {
        let dir = try ShardCLITests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = try PatchSweepCLITests.dataset(count: 5, length: 8)
        defer { try? FileManager.default.removeItem(at: data) }
        var failures: [String] = []
        for (i, extra) in [["--act", "resid_pre", "--attribution", "atp", "--top-k", "5", "--pair-batch", "2"],
                           ["--act", "attn_head_all_pos_every", "--attribution", "atp*", "--metric", "normalized_logit_diff", "--top-k", "6"]].enumerated() {
            let base = ["patch", "--model", CLI.model("gpt2-tiny"), "--dataset", data.path] + extra
            let whole = try CLI.run(base + ["--json"])
            let parts = try CLI.runShards(base, count: n, dir: dir, name: "attr-\(i)", items: { try Shard(index: $0, count: n).range(of: 5).count })
            let merged = try CLI.run(["merge", "--json"] + parts)
            #expect(whole.status == 0 && merged.status == 0, "\(whole.stderr) \(merged.stderr)")
            if let bad = Self.mismatch("\(n) shards \(extra)", try CLI.json(merged), try CLI.json(whole)) { failures.append(bad) }
            // The text report: the same header and the same components checked, in order.
            let text = try CLI.run(["merge"] + parts), wholeText = try CLI.run(base)
            let firstWords = { (s: String) in s.split(separator: "\n").map { $0.split(separator: " ").first.map(String.init) ?? "" } }
            #expect(text.stdout.split(separator: "\n").first == wholeText.stdout.split(separator: "\n").first)
            #expect(firstWords(text.stdout) == firstWords(wholeText.stdout))
            // The merged HTML report is written.
            let html = dir.appendingPathComponent("attr-\(i).html")
            #expect(try CLI.run(["merge", "--html", html.path] + parts).status == 0)
            #expect(try String(contentsOf: html, encoding: .utf8).contains("Attribution patching: \(extra[1])"))
        }
        #expect(failures.isEmpty, "\(failures.joined(separator: "; "))")
    }

    @Test func mergeRefusesMismatchedMissingAndDuplicatedPartials() throws {
        let dir = try ShardCLITests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = try PatchSweepCLITests.dataset(count: 4, length: 8)
        defer { try? FileManager.default.removeItem(at: data) }
        func shard(_ k: Int, _ extra: [String] = ["--attribution", "atp"]) throws -> String {
            let part = dir.appendingPathComponent("a\(k)-\(UUID().uuidString.prefix(6)).safetensors").path
            let r = try CLI.run(["patch", "--model", CLI.model("gpt2-tiny"), "--dataset", data.path, "--act", "resid_pre", "--shard", "\(k)/3", "--out", part] + extra)
            #expect(r.status == 0, "\(r.stderr)")
            return part
        }
        let p = try (0..<3).map { try shard($0) }
        #expect(try CLI.run(["merge", p[2], p[1], p[0]]).status == 0)
        let missing = try CLI.run(["merge", p[0], p[2]])
        #expect(missing.status != 0 && missing.stderr.contains("shard 1 of 3 is missing"), "\(missing.stderr)")
        let twice = try CLI.run(["merge", p[0], p[1], p[1], p[2]])
        #expect(twice.status != 0 && twice.stderr.contains("shard 1 is given twice"), "\(twice.stderr)")
        let method = try CLI.run(["merge", p[0], try shard(1, ["--attribution", "atp*"]), p[2]])
        #expect(method.status != 0 && method.stderr.contains("--attribution options differ"), "\(method.stderr)")
        let topK = try CLI.run(["merge", p[0], try shard(1, ["--attribution", "atp", "--top-k", "3"]), p[2]])
        #expect(topK.status != 0 && topK.stderr.contains("--top-k options differ"), "\(topK.stderr)")
        let sweep = try CLI.run(["merge", p[0], try shard(1, []), p[2]])
        #expect(sweep.status != 0 && sweep.stderr.contains("options differ"), "\(sweep.stderr)")
    }
}
