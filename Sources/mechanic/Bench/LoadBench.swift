import ArgumentParser
import Foundation
import Mechanic
import MechanicBench

/// Whole-process load cost: `mechanic predict` on the GPT-2-small-shaped random checkpoint with
/// a cold weight cache, a warm one and none, and a one-pair `mechanic patch --act resid_pre`,
/// each run as a child process (wall time, peak RSS from `wait4`). TransformerLens's figures come
/// from scripts/bench/load.sh in the same run.
struct LoadBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Time whole `mechanic predict` / one-pair `mechanic patch` processes with a cold, warm and no weight cache; peak RSS.")

    @Option(help: "Where to write (or reuse) the random checkpoint.")
    var dir = "/tmp/mechanic-bench/gpt2-random"

    @Option(help: "Warm runs (the median time and the largest peak RSS are reported).")
    var repeats = 5

    @Option(help: "Write the patch pair here (JSON, for scripts/bench/patch_bench.py --inputs).")
    var inputs: String?

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let model = try RandomCheckpoint.gpt2Directory(dir)
        let checkpointBytes = FileIdentity.inspect(model.appendingPathComponent("model.safetensors").path).size
        let cache = FileManager.default.temporaryDirectory.appendingPathComponent("mechanic-bench-load-\(getpid())")
        defer { try? FileManager.default.removeItem(at: cache) }   // a directory this run made
        let exe = try ChildProcess.selfExecutable()
        let env = ["MECHANIC_CACHE=\(cache.path)", "OPENBLAS_NUM_THREADS=2"]

        var rng = SplitMix64(seed: 11)
        let ids = { (n: Int) in (0..<n).map { _ in Int(rng.next() % 50257) } }
        let prompt = ids(3).map(String.init).joined(separator: ",")
        let predict = ["predict", "--model", model.path, "--tokens", prompt, "--json"]
        let clean = ids(15), corrupt = ids(15), answer = ids(1)[0], wrong = ids(1)[0]
        let patch = ["patch", "--model", model.path, "--act", "resid_pre", "--json",
                     "--clean-tokens", clean.map(String.init).joined(separator: ","),
                     "--corrupt-tokens", corrupt.map(String.init).joined(separator: ","),
                     "--answer-id", "\(answer)", "--wrong-id", "\(wrong)"]
        if let inputs {
            let pair: [String: Any] = ["pairs": [["clean": clean, "corrupt": corrupt, "answer": answer, "wrong": wrong]]]
            try OutputFile(inputs, option: "--inputs").write(try JSONSerialization.data(withJSONObject: pair))
        }

        let cold = try ChildProcess.run(exe, predict, environment: env)
        var warm: [ChildProcess.Run] = []
        for _ in 0..<repeats { warm.append(try ChildProcess.run(exe, predict, environment: env)) }
        let uncached = try ChildProcess.run(exe, predict + ["--no-weight-cache"], environment: env)
        var patches: [ChildProcess.Run] = []
        for _ in 0..<max(1, repeats / 2) { patches.append(try ChildProcess.run(exe, patch, environment: env)) }

        func median(_ runs: [ChildProcess.Run], _ key: KeyPath<ChildProcess.Run, Double> = \.seconds) -> Double {
            runs.map { $0[keyPath: key] }.sorted()[runs.count / 2]
        }
        let warmRSS = warm.map(\.peakRSS).max() ?? 0
        let result = LoadBenchResult(
            checkpointBytes: checkpointBytes,
            coldSeconds: cold.seconds, coldCPU: cold.cpuSeconds, coldPeakRSS: cold.peakRSS, coldRSSRatio: Double(cold.peakRSS) / Double(checkpointBytes),
            warmSeconds: median(warm), warmCPU: median(warm, \.cpuSeconds), warmPeakRSS: warmRSS, warmRSSRatio: Double(warmRSS) / Double(checkpointBytes),
            uncachedSeconds: uncached.seconds, uncachedCPU: uncached.cpuSeconds, uncachedPeakRSS: uncached.peakRSS,
            patchOnePairSeconds: median(patches), patchOnePairCPU: median(patches, \.cpuSeconds), patchPeakRSS: patches.map(\.peakRSS).max() ?? 0)
        if json { try printResult(result) } else {
            let mb = { (b: Int) in String(format: "%.0f MB", Double(b) / 1e6) }
            print("checkpoint \(mb(checkpointBytes))")
            print(String(format: "predict, cold cache  %6.3f s (CPU %.2f s)  peak RSS %@ (%.2f× the checkpoint)", cold.seconds, cold.cpuSeconds, mb(cold.peakRSS), result.coldRSSRatio))
            print(String(format: "predict, warm cache  %6.3f s (CPU %.2f s)  peak RSS %@ (%.2f×)", result.warmSeconds, result.warmCPU, mb(warmRSS), result.warmRSSRatio))
            print(String(format: "predict, no cache    %6.3f s (CPU %.2f s)  peak RSS %@", uncached.seconds, uncached.cpuSeconds, mb(uncached.peakRSS)))
            print(String(format: "patch resid_pre, 1 pair (warm)  %6.3f s (CPU %.2f s)", result.patchOnePairSeconds, result.patchOnePairCPU))
        }
    }
}

/// What `mechanic bench load --json` prints (seconds are whole processes; RSS in bytes).
struct LoadBenchResult: Codable {
    var checkpointBytes: Int
    var coldSeconds: Double
    var coldCPU: Double
    var coldPeakRSS: Int
    var coldRSSRatio: Double
    var warmSeconds: Double
    var warmCPU: Double
    var warmPeakRSS: Int
    var warmRSSRatio: Double
    var uncachedSeconds: Double
    var uncachedCPU: Double
    var uncachedPeakRSS: Int
    var patchOnePairSeconds: Double
    var patchOnePairCPU: Double
    var patchPeakRSS: Int

    enum CodingKeys: String, CodingKey {
        case checkpointBytes = "checkpoint_bytes", coldSeconds = "cold_s", coldCPU = "cold_cpu_s", coldPeakRSS = "cold_peak_rss"
        case warmCPU = "warm_cpu_s", uncachedCPU = "uncached_cpu_s", patchOnePairCPU = "patch_one_pair_cpu_s"
        case coldRSSRatio = "cold_rss_ratio", warmSeconds = "warm_s", warmPeakRSS = "warm_peak_rss"
        case warmRSSRatio = "warm_rss_ratio", uncachedSeconds = "uncached_s", uncachedPeakRSS = "uncached_peak_rss"
        case patchOnePairSeconds = "patch_one_pair_s", patchPeakRSS = "patch_peak_rss"
    }
}
