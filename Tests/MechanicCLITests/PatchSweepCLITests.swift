import Foundation
import Testing
import FixtureSupport
@testable import Mechanic

/// `mechanic patch` over a dataset: `--pair-batch` streaming, and Ctrl-C.
@Suite struct PatchSweepCLITests {
    /// A JSON-lines dataset of `count` random pairs of `length` token ids for gpt2-tiny.
    static func dataset(count: Int, length: Int, seed: UInt64 = 3) throws -> URL {
        var rng = SplitMix64(seed: seed)
        func token() -> Int { Int(rng.next() % 500) }
        var lines: [String] = []
        for _ in 0..<count {
            let clean = (0..<length).map { _ in token() }
            var corrupt = clean
            corrupt[1] = (clean[1] + 1) % 500
            corrupt[length - 1] = (clean[length - 1] + 7) % 500
            let (answer, wrong) = (token(), token())
            lines.append("{\"clean\": \(clean), \"corrupt\": \(corrupt), \"answer\": \(answer), \"wrong\": \(wrong)}")
        }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("pairs-\(UUID().uuidString).jsonl")
        try lines.joined(separator: "\n").write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    @Test func pairBatchesGiveTheNumbersOfOneRun() throws {
        let data = try Self.dataset(count: 7, length: 8)
        defer { try? FileManager.default.removeItem(at: data) }
        for extra in [["--act", "resid_pre", "--metric", "normalized_logit_diff"], ["--act", "attn_head_out_all_pos", "--ablate", "mean"],
                      ["--path-receivers", "logits", "--metric", "kl"]] {
            let args = ["patch", "--model", CLI.model("gpt2-tiny"), "--dataset", data.path, "--json"] + extra
            let whole = try CLI.run(args), streamed = try CLI.run(args + ["--pair-batch", "3"])
            #expect(whole.status == 0 && streamed.status == 0, "\(whole.stderr) \(streamed.stderr)")
            let a = try CLI.json(whole), b = try CLI.json(streamed)
            let va = (a["values"] as? [[Double]] ?? []).flatMap { $0 }, vb = (b["values"] as? [[Double]] ?? []).flatMap { $0 }
            #expect(va.count > 1 && va.count == vb.count, "\(extra)")
            // Batches of 3 pairs run products of other shapes than one run of 7: equal to rounding.
            #expect(Float32Rounding.mismatch("\(extra)", vb, va) == nil)
            #expect(a["pairs"] as? Int == 7 && b["pairs"] as? Int == 7)
            #expect(whole.stderr.isEmpty && streamed.stderr.isEmpty)   // no progress bar when stderr is not a terminal
        }
        let bad = try CLI.run(["patch", "--model", CLI.model("gpt2-tiny"), "--dataset", data.path, "--act", "resid_pre", "--pair-batch", "0"])
        #expect(bad.status != 0 && bad.stderr.contains("--pair-batch 0"))
    }

    /// SIGINT during a long sweep: exit status 130, one sentence on stderr, no output at all.
    @Test func ctrlCStopsTheSweepAndWritesNothing() throws {
        // 512 neuron patches of 400 pairs × 60 tokens, one full forward each: minutes uninterrupted.
        let data = try Self.dataset(count: 400, length: 60)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("interrupt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: data); try? FileManager.default.removeItem(at: dir) }
        let html = dir.appendingPathComponent("report.html")
        // The handler is installed once the model and dataset are loaded; a process interrupted
        // before that dies of the signal, and is tried again with a longer wait.
        for wait in [2.0, 6.0] {
            let p = Process()
            p.executableURL = CLI.binary
            p.environment = CLI.environment
            p.arguments = ["patch", "--model", CLI.model("gpt2-tiny"), "--dataset", data.path, "--act", "mlp_neuron",
                           "--engine", "naive", "--json", "--html", html.path]
            let out = Pipe(), err = Pipe()
            p.standardOutput = out
            p.standardError = err
            try p.run()
            Thread.sleep(forTimeInterval: wait)
            #expect(p.isRunning, "the sweep finished within \(wait) s; make it longer")
            p.interrupt()
            let sent = Date()
            while p.isRunning && Date().timeIntervalSince(sent) < 60 { Thread.sleep(forTimeInterval: 0.05) }
            if p.isRunning { kill(p.processIdentifier, SIGKILL) }
            p.waitUntilExit()
            let stopped = Date().timeIntervalSince(sent)
            let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            if p.terminationReason == .uncaughtSignal && wait < 6 { continue }
            #expect(p.terminationReason == .exit && p.terminationStatus == 130, "status \(p.terminationStatus), stderr: \(stderr)")
            #expect(stopped < 20, "took \(stopped) s to stop")
            let pattern = /interrupted after (\d+) of 512 patches; nothing was written\n/
            let match = try #require(stderr.wholeMatch(of: pattern), "stderr: \(stderr)")
            #expect((Int(match.1) ?? 512) < 512)
            #expect(stdout.isEmpty)
            #expect(!FileManager.default.fileExists(atPath: html.path))
            #expect((try FileManager.default.contentsOfDirectory(atPath: dir.path)).isEmpty)
            return
        }
    }
}
