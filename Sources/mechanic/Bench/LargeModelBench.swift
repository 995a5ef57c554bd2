import ArgumentParser
import Foundation
import Mechanic
import MechanicBench

/// A Llama-2-7B-shaped checkpoint of random bf16 weights (sharded like the real one), loaded in
/// streaming mode: load time, a 32-token forward with a cache of selected hooks, and peak RSS.
struct LargeModelBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "llama7b",
        abstract: "Write a random bf16 Llama-2-7B-shaped checkpoint, run a 32-token forward, report load time, forward time and peak RSS; the checkpoint is deleted afterwards.")

    @Option(help: "Where to write the temporary checkpoint (needs 13.5 GB free).")
    var dir = "/tmp/mechanic-bench/llama2-7b-random"

    @Option(help: "Tokens in the forward.")
    var tokens = 32

    @Option(help: "Hooks to cache (regular expression).")
    var names = "hook_resid_post|ln_final.hook_scale"

    @Option(help: "Layers (32 for Llama-2-7B; fewer for a quick check).")
    var layers = 32

    @Flag(help: "Keep the checkpoint instead of deleting it.")
    var keep = false

    @Flag(help: "Print JSON.")
    var json = false

    @Option(help: "Stream the blocks from the checkpoint: auto, on or off.")
    var streaming: StreamingMode = .auto

    func run() throws {
        let url = URL(fileURLWithPath: dir)
        let writeStart = Date()
        // Only a checkpoint this run wrote is removed afterwards — never a directory that was there.
        let written = !FileManager.default.fileExists(atPath: url.appendingPathComponent("model.safetensors.index.json").path)
        if written {
            try RandomCheckpoint.requireNewOrEmpty(url, option: "--dir")
            warn("writing a random bf16 Llama-2-7B-shaped checkpoint to \(dir) …")
            try RandomCheckpoint.llama(at: url, layers: layers)
        }
        let writeSeconds = Date().timeIntervalSince(writeStart)
        defer { if written && !keep { try? FileManager.default.removeItem(at: url) } }
        let rssBefore = SystemMemory.residentBytes()
        let t0 = Date()
        let model = try HookedTransformer.load(url, streaming: streaming.load)
        let loadSeconds = Date().timeIntervalSince(t0)
        var rng = SplitMix64(seed: 3)
        let ids = [1] + (1..<tokens).map { _ in Int(rng.next() % 32000) }
        let t1 = Date()
        let (logits, cache) = try model.runWithCache(TokenBatch(ids), names: .regex(names))
        let forwardSeconds = Date().timeIntervalSince(t1)
        // The second pass: with the checkpoint in the page cache, what every later forward costs.
        let (t2, cpu2) = (Date(), PatchingBenchmark.cpuSeconds())
        _ = try model.runWithCache(TokenBatch(ids), names: .regex(names))
        let secondSeconds = Date().timeIntervalSince(t2)
        let secondCPU = PatchingBenchmark.cpuSeconds() - cpu2
        let result: [String: Any] = [
            "write_s": writeSeconds, "load_s": loadSeconds, "forward_s": forwardSeconds, "second_forward_s": secondSeconds, "second_forward_cpu_s": secondCPU,
            "anon_rss_gb": Double(anonymousResidentBytes()) / 1e9,
            "tokens": ids.count, "streaming": model.streamsWeights,
            "peak_rss_gb": Double(SystemMemory.peakResidentBytes()) / 1e9, "rss_before_gb": Double(rssBefore) / 1e9,
            "cached_hooks": cache.activations.count, "cache_mb": Double(cache.byteCount) / 1e6,
            "logits_finite": logits.data.allSatisfy(\.isFinite),
        ]
        if json { try printJSON(result) } else {
            print(String(format: "load %.2f s · forward(%d tokens, %d cached hooks) %.2f s, again %.2f s (CPU %.2f s) · peak RSS %.2f GB (anonymous now %.2f GB) · streaming %@",
                         loadSeconds, ids.count, cache.activations.count, forwardSeconds, secondSeconds, secondCPU,
                         Double(SystemMemory.peakResidentBytes()) / 1e9,
                         Double(anonymousResidentBytes()) / 1e9, model.streamsWeights ? "yes" : "no"))
        }
    }
}

/// Resident anonymous (non-file) memory of this process, from `/proc/self/status` (`RssAnon`; 0 elsewhere).
func anonymousResidentBytes() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("RssAnon:") {
        return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024   // "RssAnon:  123 kB"
    }
    return 0
}
