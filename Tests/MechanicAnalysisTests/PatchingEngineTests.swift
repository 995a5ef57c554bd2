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
