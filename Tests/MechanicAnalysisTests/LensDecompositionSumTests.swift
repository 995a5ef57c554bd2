import Foundation
import Testing
@testable import Mechanic
@testable import MechanicAnalysis

/// Ground truth: every decomposition adds up to the residual stream it decomposes, at every
/// position, on sequential (GPT-2), parallel (Pythia) and grouped-query (Llama) models, with and
/// without weight processing.
@Suite struct LensDecompositionSumTests {
    static let cases: [(String, Bool)] = LensFixtures.models.flatMap { [($0, true), ($0, false)] }

    func run(_ name: String, _ processed: Bool) throws -> (HookedTransformer, ActivationCache) {
        let m = try LensFixtures.load(name, processed: processed)
        let tokens = LensFixtures.ints(try LensFixtures.analysis(name)["clean_tokens"])
        return (m, try m.runWithCache(TokenBatch(tokens), names: .all).cache)
    }

    @Test(arguments: cases)
    func decompositionsSumToTheFinalResidual(name: String, processed: Bool) throws {
        let (m, cache) = try run(name, processed)
        let L = m.config.nLayers
        let resid = try cache.require("blocks.\(L - 1).hook_resid_post")  // [batch, pos, d_model], input to ln_final
        let tag = "\(name) \(processed ? "processed" : "unprocessed")"
        lensExpectClose(try cache.decomposeResid(model: m).sum(), resid, "\(tag) decompose_resid")
        let full = try cache.getFullResidDecomposition(model: m, expandNeurons: true)
        #expect(full.count == L * m.config.nHeads + L * m.config.dMLP + (m.weights.W_pos == nil ? 1 : 2) + 1)
        lensExpectClose(full.sum(), resid, "\(tag) full decomposition (neurons)")
        lensExpectClose(try cache.getFullResidDecomposition(model: m, expandNeurons: false).sum(), resid,
                        "\(tag) full decomposition (mlp_out)")
        let accumulated = try cache.accumulatedResid(model: m)
        lensExpectClose(try #require(accumulated.component("final_post")), resid, "\(tag) accumulated final_post")
        // Position-sliced decompositions add up to the sliced residual.
        let last = try PosSlice.index(-1).apply(resid, axis: -2)
        lensExpectClose(try cache.getFullResidDecomposition(model: m, posSlice: .index(-1)).sum(), last, "\(tag) full @ -1")
    }

    @Test(arguments: cases)
    func decompositionsSumToEarlierLayerInputs(name: String, processed: Bool) throws {
        let (m, cache) = try run(name, processed)
        let tag = "\(name) \(processed ? "processed" : "unprocessed")"
        for layer in 0..<m.config.nLayers {
            let pre = try cache.require("blocks.\(layer).hook_resid_pre")
            lensExpectClose(try cache.getFullResidDecomposition(model: m, layer: layer).sum(), pre, "\(tag) full → resid_pre \(layer)")
            lensExpectClose(try cache.decomposeResid(model: m, layer: layer).sum(), pre, "\(tag) decompose → resid_pre \(layer)")
            guard let mid = cache["blocks.\(layer).hook_resid_mid"] else { continue }  // parallel models have none
            lensExpectClose(try cache.getFullResidDecomposition(model: m, layer: layer, mlpInput: true).sum(), mid,
                            "\(tag) full → resid_mid \(layer)")
        }
    }

    @Test(arguments: cases)
    func headsAndNeuronsSumToLayerOutputs(name: String, processed: Bool) throws {
        let (m, cache) = try run(name, processed)
        let (H, M) = (m.config.nHeads, m.config.dMLP)
        let heads = try cache.stackHeadResults(model: m)
        let neurons = try cache.stackNeuronResults(model: m)
        for l in 0..<m.config.nLayers {
            let b = try m.block(l)
            var attn = ResidualStack(labels: [], tensor: Tensor.stack((0..<H).map { heads.tensor.slice0(l * H + $0) })).sum()
            attn = attn + broadcast(b.b_O, like: attn)
            lensExpectClose(attn, try cache.require("blocks.\(l).hook_attn_out"), "\(name) heads + b_O = attn_out \(l)")
            var mlp = ResidualStack(labels: [], tensor: Tensor.stack((0..<M).map { neurons.tensor.slice0(l * M + $0) })).sum()
            if let bo = b.b_out { mlp = mlp + broadcast(bo, like: mlp) }
            lensExpectClose(mlp, try cache.require("blocks.\(l).hook_mlp_out"), "\(name) neurons + b_out = mlp_out \(l)")
        }
        #expect(heads.labels.prefix(2) == ["L0H0", "L0H1"] && neurons.labels.last == "L\(m.config.nLayers - 1)N\(M - 1)")
    }

    /// With `applyLN` the components add up to the normalised residual that feeds `W_U`
    /// (`ln_final.hook_normalized`, which holds no weight for folded or RMS norms).
    @Test(arguments: cases)
    func normalisedDecompositionSumsToNormalisedResidual(name: String, processed: Bool) throws {
        let (m, cache) = try run(name, processed)
        guard processed || m.config.usesRMSNorm else { return }  // unfolded LayerNorm's hook_normalized includes w and b
        let normalized = try cache.require("ln_final.hook_normalized")
        lensExpectClose(try cache.getFullResidDecomposition(model: m, applyLN: true).sum(), normalized, "\(name) full applyLN")
        lensExpectClose(try cache.decomposeResid(model: m, applyLN: true).sum(), normalized, "\(name) decompose applyLN")
    }

    func broadcast(_ v: Tensor, like t: Tensor) -> Tensor {
        Tensor(shape: t.shape, data: (0..<t.count).map { v.data[$0 % v.count] })
    }
}
