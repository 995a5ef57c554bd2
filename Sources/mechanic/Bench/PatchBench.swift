import ArgumentParser
import Foundation
import Mechanic
import MechanicAnalysis
import MechanicBench

/// Issue 6's patching benchmark: a GPT-2-small-shaped random checkpoint, prompt pairs of random
/// ids (written with `--inputs` so that `scripts/bench/patch_bench.py` runs TransformerLens on the
/// same ids and weights), the mean logit difference, and three sweeps through the engine —
/// resid_pre (layer × position), attn_head_out_all_pos (layer × head), block_every. Each sweep's
/// time is set against its floor: the multiply-adds it still must do (`PatchFloor`) at the sgemm
/// rate measured in the same run. `scripts/bench/patch.sh` runs both sides and prints the table.
struct PatchBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "patch",
        abstract: "Time resid_pre, attn_head_out_all_pos and block_every patching sweeps on a GPT-2-small-shaped random model.",
        aliases: ["patching"])

    @OptionGroup var setup: BenchPairOptions
    var dir: String { setup.dir }
    var pairs: Int { setup.pairs }
    var seq: Int { setup.seq }

    @Option(help: "Comma-separated sweeps (get_act_patch_* suffixes).")
    var sweeps = PatchingBenchmark.defaultSweeps.map(\.rawValue).joined(separator: ",")

    @Option(help: "Engine: fast, batched or naive.")
    var engine = "fast"

    @Option(help: "Repeats per sweep (mean).")
    var repeats = 1

    @Option(help: "BLAS threads.")
    var threads = 2

    @Option(help: "Write the prompt pairs here as JSON ({\"pairs\": [{clean, corrupt, answer, wrong}]}) for the TransformerLens side.")
    var inputs: String?

    @Flag(help: "Print JSON (timings, floors and the grids).")
    var json = false

    func run() throws {
        guard pairs > 0, seq > 1, repeats > 0, threads > 0 else {
            throw ValidationError("--pairs, --repeats and --threads must be positive and --seq at least 2")
        }
        guard let engine = PatchEngine(rawValue: engine) else {
            throw ValidationError("--engine must be one of \(PatchEngine.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let kinds = try sweeps.split(separator: ",").map { name -> ActPatchKind in
            guard let k = ActPatchKind(rawValue: name.trimmingCharacters(in: .whitespaces)) else {
                throw ValidationError("unknown sweep '\(name)'; use get_act_patch_* suffixes such as resid_pre")
            }
            return k
        }
        blasSetThreads(threads)
        let url = try RandomCheckpoint.gpt2Directory(dir)
        let model = try HookedTransformer.load(url, streaming: setup.streaming.load)
        guard seq <= model.config.nCtx else { throw ValidationError("--seq \(seq) exceeds the model's context (\(model.config.nCtx))") }
        let prompts = PatchingBenchmark.pairs(count: pairs, seq: seq, dVocab: model.config.dVocab)
        if let inputs {
            let data = try JSONEncoder().encode(["pairs": prompts])
            try OutputFile(inputs, option: "--inputs").write(data)
        }
        let rateBefore = measuredSgemmRate(m: 1024)
        let report = try PatchingBenchmark.run(model: model, pairs: prompts, sweeps: kinds, engine: engine, repeats: repeats)
        let rate = max(rateBefore, measuredSgemmRate(m: 1024))   // best of before/after: the machine is shared
        if json {
            try printJSON(Self.jsonObject(report, rate: rate, pairs: pairs, seq: seq, engine: engine, threads: threads))
        } else {
            Self.printTable(report, rate: rate, pairs: pairs, seq: seq)
        }
    }

    static func jsonObject(_ r: PatchingBenchmark.Report, rate: Double, pairs: Int, seq: Int, engine: PatchEngine,
                           threads: Int) -> [String: Any] {
        var sweeps: [String: Any] = [:]
        for s in r.sweeps {
            sweeps[s.kind.rawValue] = [
                "s": s.seconds, "cpu_s": s.cpuSeconds, "multiply_adds": s.multiplyAdds,
                "floor_s": 2 * s.multiplyAdds / rate, "shape": s.grid.shape, "grid": s.grid.data.map { Double($0) },
            ]
        }
        return ["pairs": pairs, "seq": seq, "engine": engine.rawValue, "threads": threads, "sgemm_gflops": rate / 1e9,
                "setup_s": r.setupSeconds, "setup_cpu_s": r.setupCPUSeconds, "sweeps": sweeps,
                "order": r.sweeps.map(\.kind.rawValue)]
    }

    static func printTable(_ r: PatchingBenchmark.Report, rate: Double, pairs: Int, seq: Int) {
        func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
        print("\(pairs) pairs × \(seq) tokens; sgemm \(String(format: "%.1f", rate / 1e9)) GFLOP/s")
        print(pad("sweep", 22) + "      wall       cpu    GMAC(floor)     floor  wall/floor")
        print(pad("setup", 22) + String(format: " %8.2fs %8.2fs", r.setupSeconds, r.setupCPUSeconds))
        for s in r.sweeps {
            let floor = 2 * s.multiplyAdds / rate
            print(pad(s.kind.rawValue, 22) + String(format: " %8.2fs %8.2fs %14.1f %8.2fs %10.2f×", s.seconds, s.cpuSeconds,
                                                    s.multiplyAdds / 1e9, floor, s.seconds / floor))
        }
    }
}
