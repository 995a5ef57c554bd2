import Foundation
import MechanicTokenizers

/// Encode throughput and load time of a tokenizer, for `mechanic bench tokenizer` and
/// scripts/bench/tokenizer_bench.py (which runs Hugging Face `tokenizers` on the same text).
public enum TokenizerBenchmark {
    /// Loads the tokenizer in `tokenizerDirectory` (timed), then encodes the whole of `textFile`
    /// as one string, `repeats` times, without special tokens.
    ///
    /// - Returns: the best of the runs in MB/s (10⁶ bytes of UTF-8 per second; the word cache is
    ///   warm after the first run, as Hugging Face's is), the load time in milliseconds (the first
    ///   load of the process, so it includes one-time setup), and the ids of the last run.
    public static func run(tokenizerDirectory: URL, textFile: URL, repeats: Int) throws
        -> (mbPerSecond: Double, loadMilliseconds: Double, ids: [Int]) {
        try run(tokenizerDirectory: tokenizerDirectory, textFile: textFile, repeats: repeats, perLine: false)
    }

    /// As `run(tokenizerDirectory:textFile:repeats:)`; with `perLine`, each line (with its "\n")
    /// is encoded by its own `encode` call and the ids are concatenated.
    public static func run(tokenizerDirectory: URL, textFile: URL, repeats: Int, perLine: Bool) throws
        -> (mbPerSecond: Double, loadMilliseconds: Double, ids: [Int]) {
        let loadStart = DispatchTime.now().uptimeNanoseconds
        let tokenizer = try Tokenizer.load(directory: tokenizerDirectory)
        let loadMilliseconds = Double(DispatchTime.now().uptimeNanoseconds - loadStart) / 1e6
        let data = try readFile(textFile)
        let text = String(decoding: data, as: UTF8.self)
        let lines = perLine ? splitLines(data) : [text]
        var best = Double.infinity
        var ids: [Int] = []
        for _ in 0..<max(1, repeats) {
            let start = DispatchTime.now().uptimeNanoseconds
            if perLine {
                ids.removeAll(keepingCapacity: true)
                for line in lines { ids.append(contentsOf: tokenizer.encode(line, addSpecialTokens: false)) }
            } else {
                ids = tokenizer.encode(text, addSpecialTokens: false)
            }
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return (Double(data.count) / 1e6 / max(best, 1e-9), loadMilliseconds, ids)
    }

    /// Lines of UTF-8 text, each with its trailing "\n" (the last one may have none).
    static func splitLines(_ data: Data) -> [String] {
        data.withUnsafeBytes { raw in
            let p = raw.bindMemory(to: UInt8.self)
            var lines: [String] = []
            var start = 0
            for i in 0..<p.count where p[i] == 0x0A {
                lines.append(String(decoding: UnsafeBufferPointer(rebasing: p[start...i]), as: UTF8.self))
                start = i + 1
            }
            if start < p.count { lines.append(String(decoding: UnsafeBufferPointer(rebasing: p[start...]), as: UTF8.self)) }
            return lines
        }
    }
}
