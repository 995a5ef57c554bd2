import Foundation
import Testing
@testable import Mechanic
@testable import MechanicAnalysis

/// Name-mover scatter data: TransformerLens's per-head direct logit attribution
/// (`stack_head_results` → `apply_ln_to_stack` → `· (W_U[:, a] − W_U[:, w])`) and attention.
@Suite(.enabled(if: HeadsFixtures.modelsAvailable, "fixture models not generated (set MECHANIC_FIXTURES)"))
struct HeadsNameMoverTests {
    @Test(arguments: ["gpt2-tiny", "pythia-tiny"])
    func scatterMatchesTransformerLens(name: String) throws {
        let model = try HeadsFixtures.load(name)
        let ref = try HeadsFixtures.manifest(name)["name_movers"] as? [String: Any] ?? [:]
        let tokens = HeadsFixtures.ints(ref["tokens"])
        let s = try model.nameMoverScatter(tokens: tokens, answer: ref["answer"] as? Int ?? -1, wrong: ref["wrong"] as? Int ?? -1)
        #expect(s.answerPosition == ref["answer_pos"] as? Int && s.wrongPosition == ref["wrong_pos"] as? Int)
        let shape = [model.config.nLayers, model.config.nHeads]
        expectHeadsClose(Tensor(shape: shape, data: s.points.map(\.directEffect)), HeadsFixtures.tensor(ref["direct_effect"]), "\(name) direct effect")
        expectHeadsClose(Tensor(shape: shape, data: s.points.map(\.attnToAnswer)), HeadsFixtures.tensor(ref["attn_to_answer"]), "\(name) attention to answer")
        expectHeadsClose(Tensor(shape: shape, data: s.points.map { $0.attnToWrong ?? .nan }), HeadsFixtures.tensor(ref["attn_to_wrong"]), "\(name) attention to wrong")
    }

    /// For an unprocessed model the heads' effects plus every other component add up to the logit
    /// difference exactly (the final norm's weight included, which TransformerLens's apply_ln_to_stack leaves out).
    @Test func directEffectsSumWithTheRestToTheLogitDifference() throws {
        let model = try HeadsFixtures.load("gpt2-tiny", processed: false)
        let tokens = [499, 279, 410, 358, 13, 332, 410, 358, 13, 332]
        let (answer, wrong) = (410, 279)
        let s = try model.nameMoverScatter(tokens: tokens, answer: answer, wrong: wrong)
        let (logits, cache) = try model.runWithCache(TokenBatch(tokens), names: .all)
        let V = model.config.dVocab, D = model.config.dModel, last = tokens.count - 1
        let logitDiff = logits.data[last * V + answer] - logits.data[last * V + wrong]
        // Everything else in the final residual: embeddings, b_O, MLP outputs — and ln_final.b · direction + b_U.
        let resid = try cache.require("blocks.1.hook_resid_post")
        var headSum = [Float](repeating: 0, count: D)
        for l in 0..<2 {
            let z = try cache.require("blocks.\(l).attn.hook_z")  // [1, pos, head, d_head]
            for h in 0..<4 {
                let zh = Tensor(shape: [1, 16], data: Array(z.data[((last * 4 + h) * 16)..<((last * 4 + h + 1) * 16)]))
                let out = zh.linear(try model.block(l).W_O.slice0(h))
                for m in 0..<D { headSum[m] += out.data[m] }
            }
        }
        var rest = Array(resid.data[(last * D)..<((last + 1) * D)])
        for m in 0..<D { rest[m] -= headSum[m] }
        let scale = try cache.require("ln_final.hook_scale").data[last]
        let mean = rest.reduce(0, +) / Float(D)
        let w = try #require(model.weights.lnFinalW), b = try #require(model.weights.lnFinalB)
        var restEffect: Float = 0
        for m in 0..<D {
            let dir = model.weights.W_U[m, answer] - model.weights.W_U[m, wrong]
            restEffect += ((rest[m] - mean) / scale * w.data[m] + b.data[m]) * dir
        }
        restEffect += model.weights.b_U.data[answer] - model.weights.b_U.data[wrong]
        let total = s.points.reduce(Float(0)) { $0 + $1.directEffect } + restEffect
        #expect(abs(total - logitDiff) < 1e-4 * max(1, abs(logitDiff)), "Σ direct effects + rest = \(total), logit diff = \(logitDiff)")
    }

    @Test func positionsAreCheckedAndExplicit() throws {
        let model = try HeadsFixtures.load("gpt2-tiny")
        let tokens = [499, 279, 410, 358, 13]
        #expect(throws: MechanicError.self) { try model.nameMoverScatter(tokens: tokens, answer: 77, wrong: 279) }
        #expect(throws: MechanicError.self) { try model.nameMoverScatter(tokens: tokens, answer: 410, wrong: 279, answerPosition: 5) }
        let s = try model.nameMoverScatter(tokens: tokens, answer: 77, wrong: 78, answerPosition: 2)
        #expect(s.answerPosition == 2 && s.wrongPosition == nil && s.finalPosition == 4)
        let pattern = try model.attentionPattern(tokens: tokens, layer: 1, head: 3)
        #expect(abs(s.points[7].attnToAnswer - pattern[4, 2]) < 1e-6)  // L1H3 = point 7
    }
}
