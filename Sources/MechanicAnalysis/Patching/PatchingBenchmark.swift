import Foundation
import Mechanic

/// Timings of the patching engine on the work `scripts/bench/patching_bench.py` gives
/// TransformerLens: `get_act_patch_resid_pre` and `get_act_patch_attn_head_out_all_pos`.
public enum PatchingBenchmark {
    /// Seconds per call (mean over `repeats`): `resid_pre`, `attn_head_out_all_pos` (fast
    /// engine), `setup` (the clean/corrupted runs and caches), `forward` (one plain forward of
    /// the corrupted prompt, for scale) and, with `naive`, the same two kinds through the naive
    /// engine (one full forward per patch, as TransformerLens does) as `*_naive`. Each key also
    /// has a `*_cpu` twin: the process's CPU seconds (user + system), steadier than wall time on
    /// a shared machine.
    public static func run(model: HookedTransformer, clean: [Int], corrupt: [Int], answer: Int = 11, wrong: Int = 12,
                           repeats: Int = 1, naive: Bool = false) throws -> [String: Double] {
        var out: [String: Double] = [:]
        func time(_ key: String, _ body: () throws -> Void) rethrows {
            let n = Double(max(repeats, 1))
            let (start, cpu) = (DispatchTime.now().uptimeNanoseconds, cpuSeconds())
            for _ in 0..<max(repeats, 1) { try body() }
            out[key] = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 / n
            out[key + "_cpu"] = (cpuSeconds() - cpu) / n
        }
        try time("forward") { _ = try model.forward(TokenBatch(corrupt)) }
        var run: PatchingRun?
        try time("setup") {
            let r = try PatchingRun(model: model, clean: clean, corrupt: corrupt, answer: answer, wrong: wrong)
            try r.ensure((0..<model.config.nLayers).flatMap { [actName("resid_pre", layer: $0), actName("z", layer: $0)] })
            run = r
        }
        guard let run else { return out }
        for kind in [ActPatchKind.residPre, .attnHeadOutAllPos] {
            try time(kind.rawValue) { _ = try run.run(kind, engine: .fast) }
            if naive { try time(kind.rawValue + "_naive") { _ = try run.run(kind, engine: .naive) } }
        }
        return out
    }

    /// The whole benchmark as `scripts/bench/patching_bench.py` runs it: a GPT-2-small-shaped
    /// random model, prompts of `seq` tokens, BLAS limited to `threads` threads.
    public static func gpt2SmallShaped(seq: Int = 20, threads: Int = 2, repeats: Int = 1, naive: Bool = false) throws -> [String: Double] {
        blasSetThreads(threads)
        let model = try randomModel()
        let (clean, corrupt) = prompts(seq: seq)
        return try run(model: model, clean: clean, corrupt: corrupt, repeats: repeats, naive: naive)
    }

    /// User + system CPU seconds of this process so far.
    static func cpuSeconds() -> Double {
        var usage = rusage()
        #if canImport(Glibc)
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        #else
        getrusage(RUSAGE_SELF, &usage)
        #endif
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    /// A GPT-2-small-shaped model with random weights (what the Python side builds with
    /// `HookedTransformerConfig(n_layers=12, d_model=768, n_heads=12, d_head=64, d_mlp=3072,
    /// d_vocab=50257, n_ctx=1024, act_fn="gelu_new", normalization_type="LNPre")`).
    public static func randomModel(layers: Int = 12, dModel: Int = 768, heads: Int = 12, dMLP: Int = 3072,
                                   dVocab: Int = 50257, nCtx: Int = 1024, seed: UInt64 = 0) throws -> HookedTransformer {
        let config = ModelConfig(modelType: "gpt2", dModel: dModel, nLayers: layers, nHeads: heads, dHead: dModel / heads,
                                 dMLP: dMLP, dVocab: dVocab, nCtx: nCtx, actFn: "gelu_new", normalization: .layerNormPre)
        var rng = SplitMix64(seed: seed)
        func normal(_ shape: [Int], _ std: Float) -> Tensor {
            Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in rng.normal() * std })
        }
        let (D, H, E, M) = (dModel, heads, dModel / heads, dMLP)
        let blocks = (0..<layers).map { _ in
            BlockWeights(ln1W: nil, ln1B: nil,
                         W_Q: normal([H, D, E], 0.02), W_K: normal([H, D, E], 0.02), W_V: normal([H, D, E], 0.02),
                         b_Q: Tensor(zeros: [H, E]), b_K: Tensor(zeros: [H, E]), b_V: Tensor(zeros: [H, E]),
                         W_O: normal([H, E, D], 0.02), b_O: Tensor(zeros: [D]), ln2W: nil, ln2B: nil,
                         W_in: normal([D, M], 0.02), W_gate: nil, b_in: Tensor(zeros: [M]),
                         W_out: normal([M, D], 0.02), b_out: Tensor(zeros: [D]))
        }
        let weights = ModelWeights(W_E: normal([dVocab, D], 0.02), W_pos: normal([nCtx, D], 0.02), blocks: blocks,
                                   lnFinalW: nil, lnFinalB: nil, W_U: normal([D, dVocab], 0.02), b_U: Tensor(zeros: [dVocab]))
        return try HookedTransformer(config: config, weights: weights, source: "<random gpt2-small-shaped>")
    }

    /// Prompts as the Python side makes them: `seq` random ids, the corrupted prompt differing at
    /// position 3 and at the final position.
    public static func prompts(seq: Int = 20, dVocab: Int = 50257, seed: UInt64 = 1) -> (clean: [Int], corrupt: [Int]) {
        var rng = SplitMix64(seed: seed)
        let clean = (0..<seq).map { _ in Int(rng.next() % UInt64(dVocab)) }
        var corrupt = clean
        for p in [min(3, seq - 1), seq - 1] { corrupt[p] = (clean[p] + 1) % dVocab }
        return (clean, corrupt)
    }
}

/// Box–Muller normals from the core's `SplitMix64` (reproducible random weights for benchmarks).
extension SplitMix64 {
    mutating func uniform() -> Double { Double(next() >> 11) / Double(1 << 53) }
    mutating func normal() -> Float {
        let u = max(uniform(), 1e-300), v = uniform()
        return Float((-2 * log(u)).squareRoot() * cos(2 * Double.pi * v))
    }
}
