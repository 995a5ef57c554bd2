// MechanicBench: what `mechanic bench` times — patching sweeps (PatchingBenchmark), the multiply-adds
// a sweep cannot avoid (PatchFloor), tokenizer throughput.

import Foundation
import Mechanic
import MechanicAnalysis

/// The work `mechanic bench patch` times (and `scripts/bench/patch_bench.py` gives
/// TransformerLens on the same ids and weights): patching sweeps over prompt pairs with the
/// mean logit difference as the metric.
public enum PatchingBenchmark {
    /// The sweeps of issue 6: resid_pre by layer × position, attention head output by layer ×
    /// head (all positions), and `block_every` (resid_pre, attn_out, mlp_out by layer × position).
    public static let defaultSweeps: [ActPatchKind] = [.residPre, .attnHeadOutAllPos, .blockEvery]

    /// One timed sweep.
    public struct Sweep: Sendable {
        public var kind: ActPatchKind
        /// Wall and CPU (user + system, whole process) seconds of the sweep alone (mean over repeats).
        public var seconds: Double
        public var cpuSeconds: Double
        /// The grid, in TransformerLens's axis order.
        public var grid: Tensor
        /// Multiply-adds the engine cannot avoid for this sweep on these prompts (`PatchFloor`).
        public var multiplyAdds: Double
    }

    /// Setup (the clean and corrupted runs with every cache the sweeps read) and the sweeps.
    public struct Report: Sendable {
        public var setupSeconds: Double
        public var setupCPUSeconds: Double
        public var sweeps: [Sweep]
    }

    /// Deterministic prompt pairs of `seq` random ids: the corrupted prompt differs from the
    /// clean one at position 3 and at the final position; answer and wrong ids are random and
    /// distinct, fixed per pair.
    public static func pairs(count: Int = 10, seq: Int = 15, dVocab: Int = 50257, seed: UInt64 = 1) -> [PatchingPair] {
        var rng = SplitMix64(seed: seed)
        let V = UInt64(max(dVocab, 2))
        func id() -> Int { Int(rng.next() % V) }
        return (0..<count).map { _ in
            let clean = (0..<seq).map { _ in id() }
            var corrupt = clean
            var changed: [Int] = []
            for p in [min(3, seq - 1), seq - 1] where p >= 0 && !changed.contains(p) {
                corrupt[p] = (clean[p] + 1 + Int(rng.next() % (V - 1))) % Int(V)   // any other id
                changed.append(p)
            }
            let answer = id()
            let wrong = (answer + 1 + Int(rng.next() % (V - 1))) % Int(V)
            return PatchingPair(clean: clean, corrupt: corrupt, answer: answer, wrong: wrong)
        }
    }

    /// Times the setup once and then each sweep (the same `PatchingRun`, so the sweeps find the
    /// caches ready — the setup is reported separately, as TransformerLens's clean cache is
    /// computed before its timed call).
    public static func run(model: HookedTransformer, pairs: [PatchingPair], sweeps: [ActPatchKind] = defaultSweeps,
                           engine: PatchEngine = .fast, repeats: Int = 1) throws -> Report {
        let n = max(repeats, 1)
        func time(_ body: () throws -> Void) rethrows -> (Double, Double) {
            let (start, cpu) = (DispatchTime.now().uptimeNanoseconds, cpuSeconds())
            for _ in 0..<n { try body() }
            return (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 / Double(n), (cpuSeconds() - cpu) / Double(n))
        }
        var run: PatchingRun?
        let (setup, setupCPU) = try time {
            let r = try PatchingRun(model: model, pairs: pairs)
            try r.ensure(setupNames(model.config))
            run = r
        }
        guard let run else { return Report(setupSeconds: setup, setupCPUSeconds: setupCPU, sweeps: []) }
        var out: [Sweep] = []
        for kind in sweeps {
            var grid = Tensor(zeros: [0])
            let (s, cpu) = try time { grid = try run.run(kind, engine: engine).values }
            let floor = PatchFloor.multiplyAdds(kind, model.config, positions: run.positions, pairs: pairs.count,
                                                metric: run.metric) { site in
                (try? run.patchStarts(site, isPattern: HookKind(name: site.hook) == .pattern))
                    ?? [Int?](repeating: site.selection.suffixStart, count: pairs.count)
            }
            out.append(Sweep(kind: kind, seconds: s, cpuSeconds: cpu, grid: grid, multiplyAdds: floor))
        }
        return Report(setupSeconds: setup, setupCPUSeconds: setupCPU, sweeps: out)
    }

    /// Every activation the default sweeps read from the clean and corrupted runs, at every layer.
    static func setupNames(_ c: ModelConfig) -> [String] {
        let keys = c.positionalEmbedding == .rotary ? "rot_k" : "k"
        var kinds = ["resid_pre", keys, "v", "z", "attn_out", "mlp_out"]
        if !c.parallelAttnMLP && !c.attnOnly { kinds.append("resid_mid") }
        if c.attnOnly { kinds.removeAll { $0 == "mlp_out" } }
        return (0..<c.nLayers).flatMap { l in kinds.map { actName($0, layer: l) } } + [actName("resid_post", layer: c.nLayers - 1)]
    }

    /// User + system CPU seconds of this process so far.
    public static func cpuSeconds() -> Double {
        var usage = rusage()
        #if canImport(Glibc)
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        #else
        getrusage(RUSAGE_SELF, &usage)
        #endif
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }
}
