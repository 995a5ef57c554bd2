import ArgumentParser
import Foundation
import Mechanic
import MechanicAnalysis

/// Activation patching on a GPT-2-small-shaped random model: `get_act_patch_resid_pre` and
/// `get_act_patch_attn_head_out_all_pos` through the fast engine (and, with `--naive`, one full
/// forward per patch as TransformerLens does). `scripts/bench/patching.sh` runs TransformerLens
/// on the same shapes in the same run and prints the ratios.
struct PatchingBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "patching",
        abstract: "Time resid_pre and attn_head_out_all_pos patching on a GPT-2-small-shaped random model.")

    @Option(help: "Where to write (or reuse) the random checkpoint.")
    var dir = "/tmp/mechanic-bench/gpt2-random"

    @Option(help: "Prompt length.")
    var seq = 20

    @Option(help: "Repeats per measurement (mean).")
    var repeats = 1

    @Flag(help: "Also time the naive engine (one forward per patch).")
    var naive = false

    func run() throws {
        let url = URL(fileURLWithPath: dir)
        if !FileManager.default.fileExists(atPath: url.appendingPathComponent("model.safetensors").path) {
            warn("writing a random GPT-2-small-shaped checkpoint to \(dir) …")
            try RandomCheckpoint.gpt2(at: url)
        }
        let model = try HookedTransformer.load(url)
        var rng = SplitMix64(seed: 1)
        let clean = (0..<seq).map { _ in Int(rng.next() % UInt64(model.config.dVocab)) }
        var corrupt = clean
        corrupt[min(3, seq - 1)] = (clean[min(3, seq - 1)] + 1) % model.config.dVocab
        let result = try PatchingBenchmark.run(model: model, clean: clean, corrupt: corrupt, repeats: repeats, naive: naive)
        try printJSON(result)
    }
}

/// Tokenizer encode throughput and load time (`scripts/bench/tokenizer_bench.py` compares with
/// Hugging Face `tokenizers` on the same text).
struct TokenizerBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenizer",
        abstract: "Encode throughput (MB/s, single thread) and load time of a tokenizer on a text file.")

    @Option(help: "A directory with tokenizer.json or vocab.json + merges.txt.")
    var tokenizer: String

    @Option(help: "The text to encode.")
    var text: String

    @Option(help: "Repeats (best is reported).")
    var repeats = 3

    @Flag(help: "One encode call per line (as a corpus is usually fed).")
    var perLine = false

    func run() throws {
        let r = try TokenizerBenchmark.run(tokenizerDirectory: URL(fileURLWithPath: tokenizer),
                                           textFile: URL(fileURLWithPath: text), repeats: repeats, perLine: perLine)
        try printJSON(["mb_per_s": r.mbPerSecond, "load_ms": r.loadMilliseconds, "tokens": r.ids.count])
    }
}
