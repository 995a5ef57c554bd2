import ArgumentParser
import Foundation
import Mechanic
import MechanicAnalysis
import MechanicBench

/// Attribution patching (AtP) on a GPT-2-small-shaped random checkpoint: the clean and corrupted
/// runs, one forward and one backward of the metric, and the estimates of `resid_pre`,
/// `attn_head_out_all_pos` and `block_every`; beside it the exact fast-engine sweep of
/// `resid_pre` for scale. `scripts/bench/atp.sh` runs TransformerLens's attribution-patching
/// recipe (its demo notebook's: a cached clean run, a corrupted run with backward hooks) on the
/// same checkpoint and prompts, in the same run.
struct AttributionBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "atp",
        abstract: "Time attribution patching (resid_pre, attn_head_out_all_pos, block_every) on a GPT-2-small-shaped random model.")

    @OptionGroup var setup: BenchPairOptions
    var dir: String { setup.dir }
    var pairs: Int { setup.pairs }
    var seq: Int { setup.seq }
    @Option(help: "Repeats (the median is reported).")
    var repeats = 3
    @Flag(help: "Skip the exact resid_pre sweep (profiling the attribution alone).")
    var skipExact = false
    @Option(help: "Write the prompt pairs here (JSON) for the TransformerLens side.")
    var writeInputs: String?

    func run() throws {
        let url = try RandomCheckpoint.gpt2Directory(dir)
        let model = try HookedTransformer.load(url, streaming: setup.streaming.load)
        let list = PatchingBenchmark.pairs(count: pairs, seq: seq, dVocab: model.config.dVocab)   // `bench patch`'s pairs
        if let writeInputs {
            let object: [String: Any] = ["clean": list.map(\.clean), "corrupt": list.map(\.corrupt),
                                         "answer": list.map(\.answer), "wrong": list.map(\.wrong)]
            try OutputFile(writeInputs, option: "--write-inputs").write(JSONSerialization.data(withJSONObject: object))
        }
        func median(_ body: () throws -> Void) rethrows -> Double {
            try body()   // warm-up
            var times: [Double] = []
            for _ in 0..<max(repeats, 1) {
                let t = Date()
                try body()
                times.append(Date().timeIntervalSince(t))
            }
            return times.sorted()[times.count / 2]
        }
        var checksum = 0.0
        let atp = try median {
            let run = try PatchingRun(model: model, pairs: list)
            for r in try run.attribution([.residPre, .attnHeadOutAllPos, .blockEvery], method: .atp, topK: 0) {
                checksum += Double(r.estimates.data.first ?? 0)
            }
        }
        let gradientsRun = try PatchingRun(model: model, pairs: list)
        let gradientsOnly = try median { _ = try gradientsRun.metricGradients() }
        let setup = try median { _ = try PatchingRun(model: model, pairs: list) }
        let tokens = try TokenBatch(ids: list.map(\.corrupt))
        let forward = try median { _ = try model.forward(tokens, options: ForwardOptions(logits: .last)) }
        let forwardCache = try median { _ = try model.forward(tokens, options: ForwardOptions(cache: .all, logits: .last)) }
        let exact = skipExact ? 0 : try median {
            let run = try PatchingRun(model: model, pairs: list)
            _ = try run.run(.residPre)
        }
        try printJSON(["atp_s": atp, "forward_backward_s": gradientsOnly, "exact_resid_pre_s": exact, "setup_s": setup,
                       "forward_s": forward, "forward_cache_s": forwardCache, "pairs": pairs, "seq": seq,
                       "checksum": checksum])
    }
}
