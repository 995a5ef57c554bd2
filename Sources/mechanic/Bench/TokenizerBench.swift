import ArgumentParser
import Foundation
import Mechanic
import MechanicBench

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
