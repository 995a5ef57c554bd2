import Foundation
import Testing
import FixtureSupport
@testable import Mechanic
import MechanicAnalysis

/// `mechanic diff --a-tokens … --b-tokens … --shard K/N --out PART` as N processes, then
/// `mechanic merge`: the merged output is the unsharded run's (numbers to float32 rounding).
@Suite struct DiffShardCLITests {
    /// Two JSON values equal but for numbers, which agree to float32 rounding.
    static func mismatch(_ path: String, _ a: Any?, _ b: Any?) -> String? {
        switch (a, b) {
        case let (x as [String: Any], y as [String: Any]):
            guard Set(x.keys) == Set(y.keys) else { return "\(path): keys \(x.keys.sorted()) vs \(y.keys.sorted())" }
            for k in x.keys.sorted() { if let bad = mismatch(path + "." + k, x[k], y[k]) { return bad } }
            return nil
        case let (x as [Any], y as [Any]):
            guard x.count == y.count else { return "\(path): \(x.count) vs \(y.count) elements" }
            for (i, (u, v)) in zip(x, y).enumerated() { if let bad = mismatch("\(path)[\(i)]", u, v) { return bad } }
            return nil
        case let (x as Double, y as Double):
            return Float32Rounding.agree(x, y, scale: max(abs(y), 1)) ? nil : "\(path): \(x) vs \(y)"
        default:
            return "\(a ?? "nil")" == "\(b ?? "nil")" ? nil : "\(path): \(a ?? "nil") vs \(b ?? "nil")"
        }
    }

    static func sides(seed: UInt64, a: Int, b: Int) -> [String] {
        var rng = SplitMix64(seed: seed)
        func prompt() -> String { ([499] + (0..<6).map { _ in Int(rng.next() % 499) }).map(String.init).joined(separator: ",") }
        return (0..<a).flatMap { _ in ["--a-tokens", prompt()] } + (0..<b).flatMap { _ in ["--b-tokens", prompt()] }
    }

    @Test(arguments: [1, 3, 7])
    func shardsMergeIntoTheUnshardedOutput(_ n: Int) throws {
        let dir = try ShardCLITests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let base = ["diff", "--model", CLI.model("gpt2-tiny")] + Self.sides(seed: 3, a: 4, b: 4) + ["--top", "4"]
        let whole = try CLI.run(base + ["--json"])
        #expect(whole.status == 0, "\(whole.stderr)")
        let parts = try CLI.runShards(base, count: n, dir: dir, name: "diff", items: { try Shard(index: $0, count: n).range(of: 8).count })
        let merged = try CLI.run(["merge", "--json"] + parts)
        #expect(merged.status == 0, "\(merged.stderr)")
        let wholeJSON = try JSONSerialization.jsonObject(with: Data(whole.stdout.utf8))
        #expect(Self.mismatch("\(n) shards", try JSONSerialization.jsonObject(with: Data(merged.stdout.utf8)), wholeJSON) == nil)
        #expect(((wholeJSON as? [String: Any])?["components"] as? [Any])?.count ?? 0 > 10)
        // The text report lists the same components in the same order.
        let labels = { (s: String) in s.split(separator: "\n").map { $0.split(separator: " ").first.map(String.init) ?? "" } }
        #expect(labels(try CLI.run(["merge"] + parts).stdout) == labels(try CLI.run(base).stdout))
        let html = dir.appendingPathComponent("diff.html")
        #expect(try CLI.run(["merge", "--html", html.path] + parts).status == 0)
        #expect(try String(contentsOf: html, encoding: .utf8).contains("Activation differences"))
    }

    @Test func mergeRefusesMismatchedMissingAndDuplicatedPartials() throws {
        let dir = try ShardCLITests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let sides = Self.sides(seed: 4, a: 3, b: 3)
        func shard(_ k: Int, _ extra: [String] = [], sides s: [String]? = nil) throws -> String {
            let part = dir.appendingPathComponent("d\(k)-\(UUID().uuidString.prefix(6)).safetensors").path
            let r = try CLI.run(["diff", "--model", CLI.model("gpt2-tiny")] + (s ?? sides) + ["--shard", "\(k)/3", "--out", part] + extra)
            #expect(r.status == 0, "\(r.stderr)")
            return part
        }
        let p = try (0..<3).map { try shard($0) }
        #expect(try CLI.run(["merge", p[1], p[2], p[0]]).status == 0)
        let missing = try CLI.run(["merge", p[0], p[1]])
        #expect(missing.status != 0 && missing.stderr.contains("shard 2 of 3 is missing"), "\(missing.stderr)")
        let twice = try CLI.run(["merge", p[0], p[0], p[1], p[2]])
        #expect(twice.status != 0 && twice.stderr.contains("shard 0 is given twice"), "\(twice.stderr)")
        let position = try CLI.run(["merge", p[0], try shard(1, ["--pos", "3"]), p[2]])
        #expect(position.status != 0 && position.stderr.contains("--pos options differ"), "\(position.stderr)")
        let inputs = try CLI.run(["merge", p[0], try shard(1, sides: Self.sides(seed: 9, a: 3, b: 3)), p[2]])
        #expect(inputs.status != 0 && inputs.stderr.contains("differ"), "\(inputs.stderr)")
        let verify = try CLI.run(["diff", "--model", CLI.model("gpt2-tiny")] + sides + ["--verify", "2", "--shard", "0/2", "--out", dir.appendingPathComponent("v").path])
        #expect(verify.status != 0 && verify.stderr.contains("--verify"), "\(verify.stderr)")
    }
}
