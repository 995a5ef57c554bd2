import ArgumentParser
import Foundation
import Mechanic

/// Forward-pass throughput on a GPT-2-small-shaped model of random weights, and the fraction of
/// the machine's measured sgemm rate the forward reaches.
struct ForwardBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forward",
        abstract: "Time forward passes (1×16, 8×64) and a full-cache forward (8×64) on a GPT-2-small-shaped random model.")

    @Option(help: "Where to write (or reuse) the random checkpoint.")
    var dir = "/tmp/mechanic-bench/gpt2-random"

    @Option(help: "Repeats per measurement (the median is reported).")
    var repeats = 5

    @Flag(help: "Print JSON.")
    var json = false

    @Option(help: "Stream the blocks from the checkpoint: auto, on or off.")
    var streaming: StreamingMode = .auto

    func run() throws {
        let url = try RandomCheckpoint.gpt2Directory(dir)
        let loadStart = Date()
        let model = try HookedTransformer.load(url, streaming: streaming.load)
        let loadSeconds = Date().timeIntervalSince(loadStart)
        let c = model.config
        var rng = SplitMix64(seed: 7)
        func batch(_ b: Int, _ p: Int) throws -> TokenBatch {
            try TokenBatch(ids: (0..<b).map { _ in (0..<p).map { _ in Int(rng.next() % UInt64(c.dVocab)) } })
        }
        func median(_ f: () throws -> Void) rethrows -> Double {
            try f()  // warm-up
            var times: [Double] = []
            for _ in 0..<repeats {
                let t = Date()
                try f()
                times.append(Date().timeIntervalSince(t))
            }
            return times.sorted()[times.count / 2]
        }
        let rateBefore = measuredSgemmRate()
        let small = try batch(1, 16), large = try batch(8, 64)
        let tSmall = try median { _ = try model.forward(small) }
        let tLarge = try median { _ = try model.forward(large) }
        let tCache = try median { _ = try model.runWithCache(large, names: .all) }
        let rate = max(rateBefore, measuredSgemmRate())  // best of before/after: the machine is shared
        let flops = forwardFLOPs(c, batch: 8, pos: 64)
        let result: [String: Any] = [
            "load_s": loadSeconds,
            "forward_1x16_s": tSmall, "forward_8x64_s": tLarge, "forward_cache_8x64_s": tCache,
            "tokens_per_s_8x64": 512 / tLarge, "tokens_per_s_cache_8x64": 512 / tCache,
            "sgemm_gflops": rate / 1e9, "forward_gflops": flops / tLarge / 1e9,
            "fraction_of_sgemm": flops / tLarge / rate,
        ]
        if json {
            try printJSON(result)
        } else {
            print(String(format: "forward 1×16        %8.2f ms", tSmall * 1e3))
            print(String(format: "forward 8×64        %8.2f ms  (%.0f tokens/s)", tLarge * 1e3, 512 / tLarge))
            print(String(format: "forward+cache 8×64  %8.2f ms  (%.0f tokens/s)", tCache * 1e3, 512 / tCache))
            print(String(format: "sgemm %.1f GFLOP/s; forward %.1f GFLOP/s = %.0f%% of sgemm", rate / 1e9, flops / tLarge / 1e9, 100 * flops / tLarge / rate))
        }
    }

    /// Multiply-adds of one forward (matrix products only), counted as 2 FLOPs each.
    func forwardFLOPs(_ c: ModelConfig, batch: Int, pos: Int) -> Double {
        let n = Double(batch * pos), d = Double(c.dModel), m = Double(c.dMLP), v = Double(c.dVocab)
        let perLayer = 2 * n * d * 3 * d + 2 * n * d * d + 2 * 2 * n * d * m + 2 * 2 * Double(batch) * Double(pos * pos) * d
        return Double(c.nLayers) * perLayer + 2 * n * d * v
    }
}
