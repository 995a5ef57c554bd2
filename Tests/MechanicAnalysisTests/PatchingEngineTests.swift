import Foundation
import Testing
import Mechanic
@testable import MechanicAnalysis

/// The fast engine (start at the patched layer, variants batched, last-position logits) against
/// the naive reference (one full forward per patch, as TransformerLens) for every kind.
@Suite struct PatchingEngineTests {
    /// The fixture pair and its mirror image (clean ↔ corrupted, answer ↔ wrong): two pairs, so
    /// that batching of pairs inside a variant is exercised too.
    static func pairs(_ name: String) throws -> [PatchingPair] {
        let p = try PatchingFixtures.pair(name)
        return [p, PatchingPair(clean: p.corrupt, corrupt: p.clean, answer: p.wrong, wrong: p.answer)]
    }

    func compare(_ run: PatchingRun, _ kinds: [ActPatchKind], context: String) throws {
        var failures: [String] = []
        for kind in kinds {
            if (try? kind.checkSupported(run.model.config)) == nil { continue }
            let positionsModes: [ActPatchKind.NeuronPositions] = kind == .mlpNeuron ? [.all, .final] : [.all]
            for np in positionsModes {
                let naive = try run.run(kind, neuronPositions: np, engine: .naive).values
                for engine in [PatchEngine.fast, .batched] {
                    let ours = try run.run(kind, neuronPositions: np, engine: engine).values
                    if let bad = patchingMismatch("\(context) \(kind.rawValue)/\(np) \(engine)", ours, naive) { failures.append(bad) }
                }
                // Not a vacuous comparison: the grid is not constant.
                if kind != .attnHeadPatternDestSrcPos, Set(naive.data).count < 2 { failures.append("\(context) \(kind.rawValue): constant grid") }
            }
        }
        #expect(failures.isEmpty, "\(failures.joined(separator: "; "))")
    }

    @Test(arguments: PatchingFixtures.models)
    func fastEqualsNaiveForEveryKind(_ name: String) throws {
        let run = try PatchingRun(model: try PatchingFixtures.model(name), pairs: try Self.pairs(name))
        run.maxBatchTokens = 64   // several chunks per hook point
        try compare(run, ActPatchKind.allCases.filter { $0.components == nil }, context: name)
    }

    @Test(arguments: [PatchingMetric.normalizedLogitDiff, .prob, .loss, .kl])
    func fastEqualsNaiveForEveryMetric(_ metric: PatchingMetric) throws {
        let run = try PatchingRun(model: try PatchingFixtures.model("gpt2-tiny"), pairs: try Self.pairs("gpt2-tiny"), metric: metric)
        try compare(run, [.residPre, .mlpOut, .residPost, .attnHeadOutAllPos, .attnHeadPatternByPos], context: metric.rawValue)
    }

    @Test(arguments: AblationMode.allCases)
    func fastEqualsNaiveForAblations(_ mode: AblationMode) throws {
        for name in PatchingFixtures.models {
            let run = try PatchingRun(model: try PatchingFixtures.model(name), pairs: try Self.pairs(name), mode: .ablate(mode))
            try compare(run, [.residPre, .attnOut, .mlpOut, .residPost, .attnHeadOutAllPos, .attnHeadVByPos,
                              .attnHeadResult, .mlpNeuron], context: "\(name) \(mode)")
        }
    }

    /// Unprocessed weights (LayerNorm weights in the blocks) go through the same engine.
    @Test func fastEqualsNaiveUnprocessed() throws {
        let run = try PatchingRun(model: try PatchingFixtures.model("llama-tiny", processed: false), pairs: try Self.pairs("llama-tiny"))
        try compare(run, [.residPre, .mlpOut, .attnHeadKByPos, .attnHeadQAllPos, .attnHeadResult], context: "llama unprocessed")
    }

    /// `scale_attn_by_inverse_layer_idx`, LayerNorm weights in the blocks (unprocessed GPT-2) and an
    /// attention-only rotary model with LayerNorm weights (random, 3 layers).
    @Test func fastEqualsNaiveOnMoreArchitectures() throws {
        let pairs = try Self.pairs("gpt2-tiny")
        for (name, processed) in [("gpt2-tiny-scaled", true), ("gpt2-tiny", false)] {
            let run = try PatchingRun(model: try PatchingFixtures.model(name, processed: processed), pairs: pairs)
            try compare(run, [.residPre, .mlpOut, .attnHeadQByPos, .attnHeadPatternByPos, .attnHeadResult, .mlpNeuron],
                        context: "\(name) processed=\(processed)")
        }
        let model = try Self.attentionOnlyModel()
        let attnPairs = [PatchingPair(clean: [1, 5, 9, 3, 7, 2], corrupt: [1, 6, 9, 3, 8, 2], answer: 4, wrong: 11),
                         PatchingPair(clean: [2, 2, 9, 30, 7, 1], corrupt: [2, 3, 9, 31, 7, 1], answer: 12, wrong: 4)]
        let run = try PatchingRun(model: model, pairs: attnPairs)
        try compare(run, [.residPre, .residPost, .attnOut, .attnHeadOutByPos, .attnHeadKAllPos, .attnHeadVByPos,
                          .attnHeadPatternByPos, .attnHeadResult], context: "attention-only")
        #expect(throws: MechanicError.self) { try run.run(.mlpOut) }
    }

    /// A random attention-only model: rotary on half of each head, LayerNorm with weights, 1/(l+1) attention scaling.
    static func attentionOnlyModel() throws -> HookedTransformer {
        let (D, H, E, V, L) = (32, 4, 8, 40, 3)
        let config = ModelConfig(modelType: "gpt_neox", dModel: D, nLayers: L, nHeads: H, dHead: E, dMLP: 0, dVocab: V, nCtx: 16,
                                 normalization: .layerNorm, positionalEmbedding: .rotary, rotaryDim: 4, attnOnly: true,
                                 scaleAttnByInverseLayerIdx: true)
        var rng = SplitMix64(seed: 7)
        func t(_ shape: [Int], _ std: Float, _ mean: Float = 0) -> Tensor {
            Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in mean + rng.normal() * std })
        }
        let blocks = (0..<L).map { _ in
            BlockWeights(ln1W: t([D], 0.1, 1), ln1B: t([D], 0.1), W_Q: t([H, D, E], 0.3), W_K: t([H, D, E], 0.3), W_V: t([H, D, E], 0.3),
                         b_Q: t([H, E], 0.1), b_K: t([H, E], 0.1), b_V: t([H, E], 0.1), W_O: t([H, E, D], 0.3), b_O: t([D], 0.1),
                         ln2W: nil, ln2B: nil, W_in: nil, W_gate: nil, b_in: nil, W_out: nil, b_out: nil)
        }
        let weights = ModelWeights(W_E: t([V, D], 1), W_pos: nil, blocks: blocks, lnFinalW: t([D], 0.1, 1), lnFinalB: t([D], 0.1),
                                   W_U: t([D, V], 0.3), b_U: t([V], 0.1))
        return try HookedTransformer(config: config, weights: weights)
    }

    /// The `_every` kinds are their parts stacked (patterns moved to [layer, pos, head], k/v padded).
    @Test func everyKindsStackTheirParts() throws {
        let run = try PatchingRun(model: try PatchingFixtures.model("llama-tiny"), pairs: [try PatchingFixtures.pair("llama-tiny")])
        let every = try run.run(.attnHeadByPosEvery).values
        #expect(every.shape == [5, 2, 10, 6])
        let k = try run.run(.attnHeadKByPos).values        // [layer, pos, kv_head] = [2, 10, 2]
        let pattern = try run.run(.attnHeadPatternByPos).values  // [layer, head, dest] = [2, 6, 10]
        for l in 0..<2 { for p in 0..<10 { for h in 0..<6 {
            #expect(every[2, l, p, h] == (h < 2 ? k[l, p, h] : 0))
            #expect(every[4, l, p, h] == pattern[l, h, p])
        } } }
    }
}

/// Grouped-query attention (llama-tiny: 6 query heads, 2 key/value heads): k and v are patched
/// per key/value head, q/z/pattern/result per query head.
@Suite struct PatchingGroupedQueryTests {
    @Test func shapesFollowTheHeadKind() throws {
        let model = try PatchingFixtures.model("llama-tiny")
        let run = try PatchingRun(model: model, pairs: [try PatchingFixtures.pair("llama-tiny")])
        let expected: [(ActPatchKind, [Int])] = [
            (.attnHeadKAllPos, [2, 2]), (.attnHeadVAllPos, [2, 2]), (.attnHeadKByPos, [2, 10, 2]), (.attnHeadVByPos, [2, 10, 2]),
            (.attnHeadQAllPos, [2, 6]), (.attnHeadOutByPos, [2, 10, 6]), (.attnHeadPatternByPos, [2, 6, 10]),
            (.attnHeadResult, [2, 6]), (.attnHeadAllPosEvery, [5, 2, 6]), (.mlpNeuron, [2, 160]),
        ]
        for (kind, shape) in expected {
            #expect(kind.shape(model.config, positions: 10) == shape)
            #expect(try run.run(kind).shape == shape, "\(kind.rawValue)")
        }
        // Patching one KV head is patching that slice of hook_k by hand.
        let k = try run.run(.attnHeadKAllPos).values
        let name = "blocks.1.attn.hook_k"
        let pair = try PatchingFixtures.pair("llama-tiny")
        let cleanK = try model.runWithCache(TokenBatch(pair.clean), names: .names([name])).cache.require(name)
        let logits = try model.runWithHooks(TokenBatch(pair.corrupt), hooks: [Hook(name) { act, _ in
            for p in 0..<10 { for e in 0..<16 { act[0, p, 1, e] = cleanK[0, p, 1, e] } }
        }])
        let o = logits.count - model.config.dVocab
        let expectedK = logits.data[o + pair.answer] - logits.data[o + pair.wrong]
        #expect(abs(k[1, 1] - expectedK) < 1e-4 * max(1, abs(expectedK)))
    }
}
