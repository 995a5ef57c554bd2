import Foundation
import Testing
import FixtureSupport
@testable import Mechanic
import MechanicAnalysis

/// `mechanic neurons --shard K/N --out PART` as N separate processes, then `mechanic merge`: the
/// merged `--json`, text and HTML are the unsharded run's, and merge refuses partials of other
/// runs, missing and duplicated shards, and a mix of commands.
@Suite struct NeuronShardCLITests {
    /// A text corpus of four lines with a common start, then `count` lines of pseudo-random words
    /// (some long enough for two chunks).
    static func corpus(count: Int, seed: UInt64 = 5) throws -> URL {
        var rng = SplitMix64(seed: seed)
        let words = ["the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "far", "away", "when", "it", "rained", "Mary", "John"]
        let lines = (0..<count).map { _ in
            (0..<(3 + Int(rng.next() % 30))).map { _ in words[Int(rng.next() % UInt64(words.count))] }.joined(separator: " ")
        }
        // Documents that share their first words: exactly equal values, which the tie-break orders.
        let repeated = (0..<4).map { "Mary and John went to the shop and Mary gave the cat to John number \($0)" }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("corpus-\(UUID().uuidString).txt")
        try (repeated + lines).joined(separator: "\n").write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    /// Every key equal — the examples' values too: each shard ran the unsharded run's very forward
    /// batches — but the statistics, combined in another order, which agree to rounding.
    static func mismatch(_ what: String, _ merged: [String: Any], _ whole: [String: Any]) -> String? {
        for key in ["probe", "hook", "order", "documents", "tokens", "chunks", "chunk_length"] {
            if "\(merged[key] ?? "nil")" != "\(whole[key] ?? "nil")" { return "\(what): \(key) \(merged[key] ?? "nil") vs \(whole[key] ?? "nil")" }
        }
        let a = merged["examples"] as? [[String: Any]] ?? [], b = whole["examples"] as? [[String: Any]] ?? []
        guard a.count == b.count, a.count >= 2 else { return "\(what): \(a.count) vs \(b.count) examples" }
        for (x, y) in zip(a, b) {
            for key in ["document", "position", "tokens", "strings", "focus", "value", "values"] where "\(x[key] ?? "nil")" != "\(y[key] ?? "nil")" {
                return "\(what): example \(key) \(x[key] ?? "nil") vs \(y[key] ?? "nil")"
            }
        }
        let s = merged["stats"] as? [String: Double] ?? [:], t = whole["stats"] as? [String: Double] ?? [:]
        guard Set(s.keys) == Set(t.keys), s.count == 5 else { return "\(what): stats \(s) vs \(t)" }
        for (k, v) in t where !Float32Rounding.agree(s[k] ?? .nan, v) { return "\(what): stats \(k) \(s[k] ?? .nan) vs \(v)" }
        return nil
    }

    static let probes: [[String]] = [["--neuron", "1:5", "--top", "7", "--chunk", "12", "--batch", "3"],
                                     ["--hook", "resid_post", "--layer", "0", "--index", "3", "--lowest", "--top", "5", "--chunk", "9"],
                                     // Most tokens kept: the four documents' equal values are among them.
                                     ["--neuron", "0:9", "--top", "200", "--chunk", "10", "--batch", "2"]]

    @Test(arguments: [1, 3, 7])
    func shardsMergeIntoTheUnshardedOutput(_ n: Int) throws {
        let dir = try ShardCLITests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let corpus = try Self.corpus(count: 11)
        defer { try? FileManager.default.removeItem(at: corpus) }
        var failures: [String] = []
        for (i, extra) in Self.probes.enumerated() {
            let batch = Int(extra.drop { $0 != "--batch" }.dropFirst().first ?? "8") ?? 8
            let base = ["neurons", "--model", CLI.model("gpt2-tiny"), "--corpus", corpus.path, "--no-progress"] + extra
            let whole = try CLI.run(base + ["--json"])
            let wholeJSON = try CLI.json(whole)
            let chunks = wholeJSON["chunks"] as? Int ?? 0
            #expect(whole.status == 0 && chunks > 15, "\(whole.stderr)")  // some documents take two chunks
            let values = (wholeJSON["examples"] as? [[String: Any]] ?? []).compactMap { $0["value"] as? Double }
            if extra.contains("200") { #expect(Set(values).count < values.count) }  // there are ties to break
            let batches = (chunks + batch - 1) / batch
            let parts = try CLI.runShards(base, count: n, dir: dir, name: "neurons-\(i)",
                                          items: { try Shard(index: $0, count: n).roundRobinCount(of: batches) }, totalItems: batches)
            let merged = try CLI.run(["merge", "--json"] + parts)
            #expect(merged.status == 0, "\(merged.stderr)")
            if let bad = Self.mismatch("\(n) shards \(extra)", try CLI.json(merged), wholeJSON) { failures.append(bad) }
            // The text report and the HTML report are the unsharded run's.
            let text = try CLI.run(["merge"] + parts), wholeText = try CLI.run(base)
            #expect(text.stdout == wholeText.stdout, "\(n) shards \(extra)")
            let html = dir.appendingPathComponent("merged-\(i).html"), wholeHTML = dir.appendingPathComponent("whole-\(i).html")
            #expect(try CLI.run(["merge", "--html", html.path] + parts).status == 0)
            #expect(try CLI.run(base + ["--html", wholeHTML.path]).status == 0)
            #expect(try String(contentsOf: html, encoding: .utf8) == String(contentsOf: wholeHTML, encoding: .utf8), "\(n) shards \(extra)")
        }
        #expect(failures.isEmpty, "\(failures.joined(separator: "; "))")
    }

    @Test func mergeRefusesPartialsOfOtherRunsAndNamesMissingOrDuplicatedShards() throws {
        let dir = try ShardCLITests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let corpus = try Self.corpus(count: 6), other = try Self.corpus(count: 6, seed: 8)
        defer { try? FileManager.default.removeItem(at: corpus); try? FileManager.default.removeItem(at: other) }
        func shard(_ k: Int, _ extra: [String] = [], corpus c: URL? = nil, model: String = "gpt2-tiny") throws -> String {
            let part = dir.appendingPathComponent("n\(k)-\(UUID().uuidString.prefix(6)).safetensors").path
            let r = try CLI.run(["neurons", "--model", CLI.model(model), "--corpus", (c ?? corpus).path, "--neuron", "0:2", "--no-progress",
                                 "--shard", "\(k)/3", "--out", part] + extra)
            #expect(r.status == 0, "\(r.stderr)")
            return part
        }
        let p = try (0..<3).map { try shard($0) }
        #expect(try CLI.run(["merge", p[2], p[0], p[1]]).status == 0)
        let missing = try CLI.run(["merge", p[0], p[2]])
        #expect(missing.status != 0 && missing.stderr.contains("shard 1 of 3 is missing"), "\(missing.stderr)")
        let twice = try CLI.run(["merge", p[0], p[1], p[2], p[1]])
        #expect(twice.status != 0 && twice.stderr.contains("shard 1 is given twice"), "\(twice.stderr)")
        let top = try CLI.run(["merge", p[0], try shard(1, ["--top", "3"]), p[2]])
        #expect(top.status != 0 && top.stderr.contains("--top options differ"), "\(top.stderr)")
        let inputs = try CLI.run(["merge", p[0], try shard(1, corpus: other), p[2]])
        #expect(inputs.status != 0 && inputs.stderr.contains("inputs (hash) differ"), "\(inputs.stderr)")
        let model = try CLI.run(["merge", p[0], try shard(1, model: "gpt2-tiny-scaled"), p[2]])
        #expect(model.status != 0 && model.stderr.contains("models differ"), "\(model.stderr)")
        // A patch partial among neurons partials: one sentence naming both commands.
        let pairs = try PatchSweepCLITests.dataset(count: 3, length: 6)
        defer { try? FileManager.default.removeItem(at: pairs) }
        let patch = dir.appendingPathComponent("patch.safetensors").path
        #expect(try CLI.run(["patch", "--model", CLI.model("gpt2-tiny"), "--dataset", pairs.path, "--act", "resid_pre", "--shard", "1/3", "--out", patch]).status == 0)
        let mixed = try CLI.run(["merge", p[0], patch, p[2]])
        #expect(mixed.status != 0 && mixed.stderr.contains("is a partial of `patch`") && mixed.stderr.contains("one command at a time"), "\(mixed.stderr)")
        #expect(mixed.stderr.split(separator: "\n").count == 1)
        // A shard writes no report, and never replaces its corpus.
        let html = try CLI.run(["neurons", "--model", CLI.model("gpt2-tiny"), "--corpus", corpus.path, "--neuron", "0:2", "--shard", "0/2",
                                "--out", dir.appendingPathComponent("x").path, "--html", dir.appendingPathComponent("x.html").path])
        #expect(html.status != 0 && html.stderr.contains("give --html to `mechanic merge`"), "\(html.stderr)")
        let overwrite = try CLI.run(["neurons", "--model", CLI.model("gpt2-tiny"), "--corpus", corpus.path, "--neuron", "0:2", "--shard", "0/2", "--out", corpus.path])
        #expect(overwrite.status != 0 && overwrite.stderr.contains("inputs"), "\(overwrite.stderr)")
        // A failed shard re-run alone merges with the others.
        try FileManager.default.removeItem(atPath: p[1])
        #expect(try CLI.run(["merge", p[0], try shard(1), p[2]]).status == 0)
    }

    @Test func slurmArrayAndKubernetesIndexedJobCommandsRunLocally() throws {
        let dir = try ShardCLITests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let corpus = try Self.corpus(count: 9)
        defer { try? FileManager.default.removeItem(at: corpus) }
        let whole = try CLI.json(try CLI.run(["neurons", "--model", CLI.model("gpt2-tiny"), "--corpus", corpus.path, "--neuron", "1:7",
                                              "--top", "6", "--no-progress", "--json"]))
        let scripts = ShardCLITests.repoRoot.appendingPathComponent("scripts/distributed")
        let common = ["MECHANIC": CLI.binary.path, "MODEL": CLI.model("gpt2-tiny"), "CORPUS": corpus.path, "NEURON": "1:7", "TOP": "6"]

        // Slurm: `--array=2-5` → task ids 2…5 (min 2, count 4).
        let slurmParts = dir.appendingPathComponent("slurm").path
        for id in 2...5 {
            let r = try ShardCLITests.shell(["/bin/bash", scripts.appendingPathComponent("neurons-array.sbatch").path], env: common.merging([
                "PARTS": slurmParts, "SLURM_ARRAY_TASK_ID": "\(id)", "SLURM_ARRAY_TASK_MIN": "2", "SLURM_ARRAY_TASK_COUNT": "4",
            ]) { $1 })
            #expect(r.status == 0, "\(r.stderr)")
        }
        let json = dir.appendingPathComponent("slurm.json").path, html = dir.appendingPathComponent("slurm.html").path
        let merge = try ShardCLITests.shell(["/bin/bash", scripts.appendingPathComponent("merge.sbatch").path],
                                            env: common.merging(["PARTS": slurmParts, "NAME": "neurons", "JSON": json, "HTML": html]) { $1 })
        #expect(merge.status == 0, "\(merge.stderr)")
        let slurm = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any] ?? [:]
        #expect(Self.mismatch("slurm", slurm, whole) == nil)
        #expect(FileManager.default.fileExists(atPath: html))

        // Kubernetes: the manifest's per-pod command, with `mechanic` on PATH, for indices 0…2 of 3.
        let manifest = try String(contentsOf: scripts.appendingPathComponent("neurons-indexed-job.yaml"), encoding: .utf8)
        let argsLine = try #require(manifest.split(separator: "\n").first { $0.trimmingCharacters(in: .whitespaces).hasPrefix("args: ['") })
        let command = try #require(argsLine.split(separator: "'", maxSplits: 2).dropFirst().first).description
        let k8sParts = dir.appendingPathComponent("k8s")
        try FileManager.default.createDirectory(at: k8sParts, withIntermediateDirectories: true)
        let path = CLI.binary.deletingLastPathComponent().path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        for index in 0..<3 {
            let r = try ShardCLITests.shell(["/bin/sh", "-c", command], env: common.merging([
                "PATH": path, "PARTS": k8sParts.path, "SHARDS": "3", "JOB_COMPLETION_INDEX": "\(index)",
            ]) { $1 })
            #expect(r.status == 0, "\(r.stderr)")
        }
        let parts = (0..<3).map { k8sParts.appendingPathComponent("neurons-\($0).safetensors").path }
        let k8s = try CLI.json(try CLI.run(["merge", "--json"] + parts))
        #expect(Self.mismatch("kubernetes", k8s, whole) == nil)
    }
}
