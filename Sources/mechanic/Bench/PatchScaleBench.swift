import ArgumentParser
import Foundation
import Mechanic
import MechanicAnalysis
import MechanicBench

/// Patching at scale: a sweep (`resid_pre` by layer × position by default) over growing numbers
/// of prompt pairs on the GPT-2-small-shaped random model, pairs streamed through in batches
/// (`PatchingSweep`). For each count: wall and CPU time per pair and the process's peak
/// resident memory. Each count runs in a fresh process, since peak RSS only grows within one.
struct PatchScaleBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "patch-scale",
        abstract: "Time per pair and peak memory of a patching sweep as the number of prompt pairs grows (GPT-2-small-shaped random model).")

    @Option(help: "Pair counts, comma-separated; each runs in its own process.")
    var pairs = "10,50,100,500"

    @Option(help: "Tokens per prompt.")
    var seq = 15

    @Option(help: "Pairs per streamed batch (0: every pair in one run, unstreamed).")
    var pairBatch = 32

    @Option(help: "The patching family (an --act of mechanic patch).")
    var act = "resid_pre"

    @Option(help: "BLAS threads.")
    var threads = 2

    @Flag(help: "Print one JSON object per count instead of the table.")
    var json = false

    @Option(help: "Stream the model's blocks from the checkpoint: auto, on or off.")
    var streaming: StreamingMode = .auto

    @Flag(help: .hidden)
    var child = false

    func validate() throws {
        guard !counts.isEmpty, counts.allSatisfy({ $0 > 0 }) else { throw ValidationError("--pairs \(pairs): give positive counts, e.g. 10,50,100,500") }
        guard ActPatchKind(rawValue: act) != nil else { throw ValidationError("--act \(act): expected one of \(ActPatchKind.allCases.map(\.rawValue).joined(separator: ", "))") }
        guard seq >= 4, pairBatch >= 0, threads >= 1 else { throw ValidationError("--seq must be ≥ 4, --pair-batch ≥ 0, --threads ≥ 1") }
    }

    var counts: [Int] { pairs.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }

    func run() throws {
        if child { return try printJSON(try measure(counts[0])) }
        if !json {
            print("\(act), \(seq)-token pairs, \(pairBatch == 0 ? "unstreamed (one run)" : "batches of \(pairBatch) pairs"), \(threads) BLAS threads")
            print("pairs  wall s  s/pair  CPU s/pair  peak RSS MB  RSS before sweep MB")
        }
        for n in counts {
            let row = try runChild(n)
            if json { try printJSON(row); continue }
            func num(_ k: String) -> Double { (row[k] as? NSNumber)?.doubleValue ?? .nan }
            print(String(format: "%5d  %6.1f  %6.3f  %10.3f  %11.0f  %19.0f", n, num("seconds"), num("seconds_per_pair"),
                         num("cpu_seconds_per_pair"), num("peak_rss_mb"), num("rss_before_sweep_mb")))
        }
    }

    /// This command again, for one count, in a fresh process; its JSON line.
    func runChild(_ n: Int) throws -> [String: Any] {
        let p = Process()
        p.executableURL = Bundle.main.executableURL ?? URL(fileURLWithPath: CommandLine.arguments[0])
        p.arguments = ["bench", "patch-scale", "--pairs", "\(n)", "--seq", "\(seq)", "--pair-batch", "\(pairBatch)",
                       "--act", act, "--threads", "\(threads)", "--streaming", streaming.rawValue, "--child"]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0, let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw MechanicError.invalidArgument("bench patch-scale: the run with \(n) pairs failed (status \(p.terminationStatus))")
        }
        return object
    }

    /// One sweep over `n` pairs in this process.
    func measure(_ n: Int) throws -> [String: Any] {
        blasSetThreads(threads)
        guard let kind = ActPatchKind(rawValue: act) else { throw MechanicError.invalidArgument("--act \(act) is unknown") }
        let url = try RandomCheckpoint.gpt2Directory("/tmp/mechanic-bench/gpt2-random")
        let model = try HookedTransformer.load(url, streaming: streaming.load)
        // Random tokens, the corrupted prompt differing at position 3 and at the end (`bench patch`'s pairs).
        let pairs = PatchingBenchmark.pairs(count: n, seq: seq, dVocab: model.config.dVocab)
        let before = ProcessUsage.now()
        let start = Date()
        let result = try Interruptible.run(unit: "patches", quiet: false) { progress -> PatchingResult in
            let sweep = try PatchingSweep(model: model, pairs: pairs, pairBatchSize: pairBatch == 0 ? n : pairBatch)
            sweep.progress = progress
            return try sweep.run(kind)
        }
        let seconds = Date().timeIntervalSince(start)
        let after = ProcessUsage.now()
        return ["pairs": n, "act": act, "seq": seq, "pair_batch": pairBatch, "patches": result.values.count,
                "seconds": seconds, "seconds_per_pair": seconds / Double(n),
                "cpu_seconds_per_pair": (after.cpuSeconds - before.cpuSeconds) / Double(n),
                "peak_rss_mb": Double(after.peakRSSBytes) / 1e6, "rss_before_sweep_mb": Double(before.peakRSSBytes) / 1e6]
    }
}

/// This process's CPU time and peak resident memory (`getrusage`).
struct ProcessUsage {
    var cpuSeconds: Double
    var peakRSSBytes: Int

    static func now() -> ProcessUsage {
        var u = rusage()
        #if canImport(Glibc)
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &u)
        let rssUnit = 1024   // ru_maxrss is in KiB on Linux
        #else
        getrusage(RUSAGE_SELF, &u)
        let rssUnit = 1      // and in bytes on macOS
        #endif
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return ProcessUsage(cpuSeconds: seconds(u.ru_utime) + seconds(u.ru_stime), peakRSSBytes: Int(u.ru_maxrss) * rssUnit)
    }
}
