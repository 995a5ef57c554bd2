import Foundation
import Testing
import FixtureSupport
@testable import Mechanic
import MechanicAnalysis

/// `mechanic patch --shard K/N --out PART` as N separate processes, then `mechanic merge`: the
/// merged output is the unsharded run's (values to float32 rounding: the shards sum their pairs
/// in other groups), and merge refuses partials of other runs, missing and duplicated shards.
@Suite struct ShardCLITests {
    static func tempDir() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mechanic-shards-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// The numbers of a JSON value, nested arrays flattened in order.
    static func flat(_ v: Any?) -> [Double] {
        if let n = v as? Double { return [n] }
        if let a = v as? [Any] { return a.flatMap(flat) }
        return []
    }

    static func values(_ object: [String: Any]) -> [Double] { flat(object["values"]) }

    /// Every key but the values and metrics is equal; values and metrics agree to rounding.
    static func mismatch(_ what: String, _ merged: [String: Any], _ whole: [String: Any]) -> String? {
        guard Set(merged.keys) == Set(whole.keys) else { return "\(what): keys \(merged.keys.sorted()) vs \(whole.keys.sorted())" }
        for key in ["act", "axes", "shape", "metric", "mode", "pairs", "senders", "receivers"] {
            if "\(merged[key] ?? "nil")" != "\(whole[key] ?? "nil")" { return "\(what): \(key) \(merged[key] ?? "nil") vs \(whole[key] ?? "nil")" }
        }
        for key in ["clean_metric", "corrupt_metric", "clean_logit_diff", "corrupt_logit_diff"] {
            guard let a = merged[key] as? Double, let b = whole[key] as? Double else {
                if (merged[key] == nil) != (whole[key] == nil) { return "\(what): \(key) present in one only" }
                continue
            }
            if !Float32Rounding.agree(a, b) { return "\(what): \(key) \(a) vs \(b)" }
        }
        let a = values(merged), b = values(whole)
        if a.count < 2 { return "\(what): \(a.count) values" }
        return Float32Rounding.mismatch(what, a, b)
    }

    @Test(arguments: [1, 3, 7])
    func shardsMergeIntoTheUnshardedOutput(_ n: Int) throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = try PatchSweepCLITests.dataset(count: 5, length: 8)
        defer { try? FileManager.default.removeItem(at: data) }
        var failures: [String] = []
        for (i, extra) in [["--act", "resid_pre", "--metric", "normalized_logit_diff"], ["--act", "attn_head_out_all_pos", "--ablate", "mean"],
                           ["--path-receivers", "logits", "--metric", "kl"], ["--act", "mlp_neuron", "--pair-batch", "2"]].enumerated() {
            let base = ["patch", "--model", CLI.model("gpt2-tiny"), "--dataset", data.path] + extra
            let whole = try CLI.run(base + ["--json"])
            let parts = try CLI.runShards(base, count: n, dir: dir, name: "part-\(i)", items: { try Shard(index: $0, count: n).range(of: 5).count })
            let merged = try CLI.run(["merge", "--json"] + parts)
            #expect(whole.status == 0 && merged.status == 0, "\(whole.stderr) \(merged.stderr)")
            if let bad = Self.mismatch("\(n) shards \(extra)", try CLI.json(merged), try CLI.json(whole)) { failures.append(bad) }
            // The text report is the unsharded one's, line for line, but for the rounding of numbers.
            let text = try CLI.run(["merge"] + parts), wholeText = try CLI.run(base)
            #expect(text.stdout.split(separator: "\n").first == wholeText.stdout.split(separator: "\n").first)
        }
        #expect(failures.isEmpty, "\(failures.joined(separator: "; "))")
    }

    @Test func mergeRefusesPartialsOfOtherRunsAndNamesMissingOrDuplicatedShards() throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = try PatchSweepCLITests.dataset(count: 4, length: 8)
        let other = try PatchSweepCLITests.dataset(count: 4, length: 8, seed: 9)
        defer { try? FileManager.default.removeItem(at: data); try? FileManager.default.removeItem(at: other) }
        func shard(_ k: Int, _ extra: [String] = [], dataset: URL? = nil, model: String = "gpt2-tiny") throws -> String {
            let part = dir.appendingPathComponent("p\(k)-\(UUID().uuidString.prefix(6)).safetensors").path
            let r = try CLI.run(["patch", "--model", CLI.model(model), "--dataset", (dataset ?? data).path, "--act", "resid_pre", "--shard", "\(k)/3", "--out", part] + extra)
            #expect(r.status == 0, "\(r.stderr)")
            return part
        }
        let p = try (0..<3).map { try shard($0) }
        let missing = try CLI.run(["merge", p[0], p[2]])
        #expect(missing.status != 0 && missing.stderr.contains("shard 1 of 3 is missing"))
        let twice = try CLI.run(["merge", p[0], p[1], p[2], p[1]])
        #expect(twice.status != 0 && twice.stderr.contains("shard 1 is given twice"))
        let metric = try CLI.run(["merge", p[0], try shard(1, ["--metric", "kl"]), p[2]])
        #expect(metric.status != 0 && metric.stderr.contains("--metric options differ"), "\(metric.stderr)")
        let inputs = try CLI.run(["merge", p[0], try shard(1, dataset: other), p[2]])
        #expect(inputs.status != 0 && inputs.stderr.contains("inputs (hash) differ"), "\(inputs.stderr)")
        let model = try CLI.run(["merge", p[0], try shard(1, model: "gpt2-tiny-scaled"), p[2]])
        #expect(model.status != 0 && model.stderr.contains("models differ"), "\(model.stderr)")
        // Not a partial; and a shard's own output must not replace an input.
        let notPartial = try CLI.run(["merge", CLI.model("gpt2-tiny") + "/model.safetensors"])
        #expect(notPartial.status != 0 && notPartial.stderr.contains("is not a Mechanic partial result"), "\(notPartial.stderr)")
        let overwrite = try CLI.run(["patch", "--model", CLI.model("gpt2-tiny"), "--dataset", data.path, "--act", "resid_pre", "--shard", "0/3", "--out", data.path])
        #expect(overwrite.status != 0 && overwrite.stderr.contains("inputs"), "\(overwrite.stderr)")
        let html = try CLI.run(["merge", p[0], p[1], p[2], "--html", p[0]])
        #expect(html.status != 0 && html.stderr.contains("inputs"), "\(html.stderr)")
        // A failed shard re-run alone merges with the others.
        try FileManager.default.removeItem(atPath: p[1])
        let rerun = try shard(1)
        #expect(try CLI.run(["merge", p[0], rerun, p[2]]).status == 0)
        // Options that make no sense for a shard.
        let noOut = try CLI.run(["patch", "--model", CLI.model("gpt2-tiny"), "--dataset", data.path, "--act", "resid_pre", "--shard", "0/2"])
        #expect(noOut.status != 0 && noOut.stderr.contains("give --out PART"))
    }

    static var repoRoot: URL { URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent() }

    /// Runs `args[0]` (a shell) with the rest as its arguments and `env` added.
    static func shell(_ args: [String], env: [String: String]) throws -> CLI.Result {
        try CLI.run(Array(args.dropFirst()), executable: URL(fileURLWithPath: args[0]), extra: env)
    }

    @Test func slurmArrayAndKubernetesIndexedJobCommandsRunLocally() throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = try PatchSweepCLITests.dataset(count: 5, length: 8)
        defer { try? FileManager.default.removeItem(at: data) }
        let whole = try CLI.json(try CLI.run(["patch", "--model", CLI.model("gpt2-tiny"), "--dataset", data.path, "--act", "resid_pre", "--json"]))
        let scripts = Self.repoRoot.appendingPathComponent("scripts/distributed")
        let common = ["MECHANIC": CLI.binary.path, "MODEL": CLI.model("gpt2-tiny"), "PAIRS": data.path, "ACT": "resid_pre"]

        // Slurm: `--array=5-7` → task ids 5, 6, 7 (min 5, count 3), each running the script.
        let slurmParts = dir.appendingPathComponent("slurm").path
        for id in 5...7 {
            let r = try Self.shell(["/bin/bash", scripts.appendingPathComponent("patch-array.sbatch").path], env: common.merging([
                "PARTS": slurmParts, "SLURM_ARRAY_TASK_ID": "\(id)", "SLURM_ARRAY_TASK_MIN": "5", "SLURM_ARRAY_TASK_COUNT": "3",
            ]) { $1 })
            #expect(r.status == 0, "\(r.stderr)")
        }
        let json = dir.appendingPathComponent("slurm.json").path, html = dir.appendingPathComponent("slurm.html").path
        let merge = try Self.shell(["/bin/bash", scripts.appendingPathComponent("merge.sbatch").path],
                                   env: common.merging(["PARTS": slurmParts, "JSON": json, "HTML": html]) { $1 })
        #expect(merge.status == 0, "\(merge.stderr)")
        let slurm = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any] ?? [:]
        #expect(Self.mismatch("slurm", slurm, whole) == nil)
        #expect(FileManager.default.fileExists(atPath: html))

        // Kubernetes: the manifest's per-pod command, with `mechanic` on PATH, for indices 0…3 of 4.
        let manifest = try String(contentsOf: scripts.appendingPathComponent("patch-indexed-job.yaml"), encoding: .utf8)
        let argsLine = try #require(manifest.split(separator: "\n").first { $0.trimmingCharacters(in: .whitespaces).hasPrefix("args: ['") })
        let command = try #require(argsLine.split(separator: "'", maxSplits: 2).dropFirst().first).description
        let k8sParts = dir.appendingPathComponent("k8s")
        try FileManager.default.createDirectory(at: k8sParts, withIntermediateDirectories: true)
        let path = CLI.binary.deletingLastPathComponent().path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        for index in 0..<4 {
            let r = try Self.shell(["/bin/sh", "-c", command], env: common.merging([
                "PATH": path, "PARTS": k8sParts.path, "SHARDS": "4", "JOB_COMPLETION_INDEX": "\(index)",
            ]) { $1 })
            #expect(r.status == 0, "\(r.stderr)")
        }
        let parts = (0..<4).map { k8sParts.appendingPathComponent("patch-\($0).safetensors").path }
        let k8s = try CLI.json(try CLI.run(["merge", "--json"] + parts))
        #expect(Self.mismatch("kubernetes", k8s, whole) == nil)
    }
}
