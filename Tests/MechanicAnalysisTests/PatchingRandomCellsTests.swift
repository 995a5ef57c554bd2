import Foundation
import Testing
import Mechanic
@testable import MechanicAnalysis

/// Random cells on random and fixture models: the fast engine, the batched engine and the naive
/// one-forward-per-cell reference give the same metric for the same patches, whatever their order
/// and mix of kinds; attribution gradients on the random model agree with finite differences.
@Suite struct PatchingRandomCellsTests {
    /// A random grouped-query model with a gated MLP, RMSNorm with weights and full rotary.
    static func gatedModel(seed: UInt64) throws -> HookedTransformer {
        let (D, H, K, E, M, V, L) = (24, 4, 2, 6, 40, 50, 3)
        let config = ModelConfig(modelType: "llama", dModel: D, nLayers: L, nHeads: H, dHead: E, nKeyValueHeads: K, dMLP: M, dVocab: V,
                                 nCtx: 32, actFn: "silu", normalization: .rmsNorm, positionalEmbedding: .rotary, rotaryDim: E,
                                 gatedMLP: true)
        var rng = SplitMix64(seed: seed)
        func t(_ shape: [Int], _ std: Float, _ mean: Float = 0) -> Tensor {
            Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in mean + rng.normal() * std })
        }
        let blocks = (0..<L).map { _ in
            BlockWeights(ln1W: t([D], 0.1, 1), ln1B: nil, W_Q: t([H, D, E], 0.4), W_K: t([K, D, E], 0.4), W_V: t([K, D, E], 0.4),
                         b_Q: Tensor(zeros: [H, E]), b_K: Tensor(zeros: [K, E]), b_V: Tensor(zeros: [K, E]),
                         W_O: t([H, E, D], 0.4), b_O: Tensor(zeros: [D]), ln2W: t([D], 0.1, 1), ln2B: nil,
                         W_in: t([D, M], 0.3), W_gate: t([D, M], 0.3), b_in: Tensor(zeros: [M]), W_out: t([M, D], 0.3), b_out: Tensor(zeros: [D]))
        }
        let weights = ModelWeights(W_E: t([V, D], 1), W_pos: nil, blocks: blocks, lnFinalW: t([D], 0.1, 1), lnFinalB: nil,
                                   W_U: t([D, V], 0.4), b_U: Tensor(zeros: [V]))
        return try HookedTransformer(config: config, weights: weights)
    }

    static func randomPairs(_ rng: inout SplitMix64, count: Int, length: Int, vocab: Int) -> [PatchingPair] {
        (0..<count).map { _ in
            let clean = (0..<length).map { _ in Int(rng.next() % UInt64(vocab)) }
            var corrupt = clean
            for _ in 0..<2 { let p = Int(rng.next() % UInt64(length)); corrupt[p] = (corrupt[p] + 1) % vocab }
            return PatchingPair(clean: clean, corrupt: corrupt, answer: Int(rng.next() % UInt64(vocab)), wrong: Int(rng.next() % UInt64(vocab)))
        }
    }

    /// `count` random sites drawn from every single kind the model supports, shuffled.
    static func randomSites(_ run: PatchingRun, _ rng: inout SplitMix64, count: Int) -> [PatchSite] {
        let c = run.model.config
        let all = ActPatchKind.allCases.filter { $0.components == nil && (try? $0.checkSupported(c)) != nil }
            .flatMap { $0.sites(c, positions: run.positions, neuronPositions: rng.next() % 2 == 0 ? .all : .final).map(\.site) }
        return (0..<count).map { _ in all[Int(rng.next() % UInt64(all.count))] }
    }

    @Test(arguments: [0, 1, 2] as [UInt64])
    func randomCellsAgreeAcrossEngines(_ seed: UInt64) throws {
        var rng = SplitMix64(seed: 100 + seed)
        let models: [HookedTransformer] = [try Self.gatedModel(seed: seed), try PatchingEngineTests.attentionOnlyModel(),
                                           try PatchingFixtures.model(["gpt2-tiny", "pythia-tiny", "llama-tiny"][Int(seed)])]
        for model in models {
            let pairs = Self.randomPairs(&rng, count: 3, length: 5 + Int(rng.next() % 4), vocab: min(model.config.dVocab, 50))
            let mode: PatchingMode = [.denoise, .ablate(.mean), .ablate(.resample)][Int(rng.next() % 3)]
            let run = try PatchingRun(model: model, pairs: pairs, mode: mode)
            run.maxBatchTokens = 40 + Int(rng.next() % 60)   // chunk boundaries fall in different places
            let sites = Self.randomSites(run, &rng, count: 40)
            let naive = try run.evaluate(sites, engine: .naive)
            #expect(Set(naive.map { Float($0) }).count > 5, "the random cells should not all have the same effect")
            for engine in [PatchEngine.fast, .batched] {
                let ours = try run.evaluate(sites, engine: engine)
                let scale = naive.map(abs).max() ?? 1
                let worst = zip(ours, naive).map { abs($0 - $1) }.max() ?? 0
                #expect(worst <= 1e-5 + 1e-4 * scale, "\(model.source) \(mode) \(engine): max |Δ| = \(worst) (scale \(scale))")
            }
        }
    }

    /// Gradients through partial rotary, 1/(l+1) attention scaling, LayerNorm weights and
    /// grouped-query attention with a gated MLP, against central differences of the metric.
    @Test(arguments: [PatchingMetric.logitDiff, .loss])
    func randomModelGradientsMatchFiniteDifferences(_ metric: PatchingMetric) throws {
        var rng = SplitMix64(seed: 42)
        for model in [try PatchingEngineTests.attentionOnlyModel(), try Self.gatedModel(seed: 5)] {
            let pairs = Self.randomPairs(&rng, count: 2, length: 7, vocab: 40)
            let run = try PatchingRun(model: model, pairs: pairs, metric: metric)
            let g = try run.metricGradients()
            for name in [actName("resid_pre", layer: 1), actName("rot_k", layer: 2), actName("q", layer: 0), actName("pattern", layer: 1),
                         actName("scale", layer: 2), actName("v", layer: 2)] {
                let grad = try #require(g.gradients[name], "\(name)")
                let u = (0..<grad.count).map { _ in Float(Double(rng.next() % 2001) / 1000 - 1) }
                let eps: Float = 5e-3
                func value(_ sign: Float) throws -> Double {
                    let hook = Hook(name) { act, _ in for i in 0..<act.count { act.data[i] += sign * eps * u[i] } }
                    let logits = try #require(try model.forward(run.target, options: ForwardOptions(hooks: [hook], logits: .last)).logits)
                    return run.context.mean(logits.data, dVocab: model.config.dVocab)
                }
                let numeric = (try value(1) - value(-1)) / Double(2 * eps)
                let analytic = zip(grad.data, u).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
                #expect(abs(numeric - analytic) <= 2e-2 * max(abs(analytic), 1e-2) + 1e-3, "\(model.source) \(name) \(metric): \(numeric) vs \(analytic)")
            }
        }
    }
}
