import Foundation

/// Encode throughput and load time of a tokenizer, for `mechanic bench tokenizer` and
/// scripts/bench/tokenizer_bench.py (which runs Hugging Face `tokenizers` on the same text).
public enum TokenizerBenchmark {
    /// Loads the tokenizer in `tokenizerDirectory` (timed), then encodes the whole of `textFile`
    /// `repeats` times without special tokens, as one string.
    ///
    /// - Returns: the best of the runs in MB/s (10⁶ bytes of UTF-8 per second; the word cache is
    ///   warm after the first run, as Hugging Face's is), the load time in milliseconds (the first
    ///   load of the process, so it includes one-time setup), and the ids of the last run.
    public static func run(tokenizerDirectory: URL, textFile: URL, repeats: Int) throws
        -> (mbPerSecond: Double, loadMilliseconds: Double, ids: [Int]) {
        let loadStart = DispatchTime.now().uptimeNanoseconds
        let tokenizer = try Tokenizer.load(directory: tokenizerDirectory)
        let loadMilliseconds = Double(DispatchTime.now().uptimeNanoseconds - loadStart) / 1e6
        let data = try readFile(textFile)
        let text = String(decoding: data, as: UTF8.self)
        var best = Double.infinity
        var ids: [Int] = []
        for _ in 0..<max(1, repeats) {
            let start = DispatchTime.now().uptimeNanoseconds
            ids = tokenizer.encode(text, addSpecialTokens: false)
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        let megabytes = Double(text.utf8.count) / 1e6
        return (megabytes / max(best, 1e-9), loadMilliseconds, ids)
    }
}
