import Foundation
import Testing
import Mechanic
@testable import MechanicAnalysis

/// Zero, mean and resample ablation against hand-written hooks on plain forwards.
@Suite struct PatchingAblationTests {
    /// Logit difference at the final position of `ids` under `hooks`.
    static func logitDiff(_ model: HookedTransformer, _ pair: PatchingPair, hooks: [Hook]) throws -> Float {
        let logits = try model.runWithHooks(TokenBatch(pair.clean), hooks: hooks)
        let V = model.config.dVocab, o = logits.count - V
        return logits.data[o + pair.answer] - logits.data[o + pair.wrong]
    }

    /// A hook that sets `z[:, :, head]` (per row) to `values` (`[1, pos, head, d_head]`) or zeros — written out by hand.
    static func headHook(_ layer: Int, _ head: Int, _ values: Tensor?) -> Hook {
        Hook("blocks.\(layer).attn.hook_z") { z, _ in
            let (P, H, E) = (z.shape[1], z.shape[2], z.shape[3])
            for p in 0..<P { for e in 0..<E { z[0, p, head, e] = values.map { $0.data[(p * H + head) * E + e] } ?? 0 } }
        }
    }

    @Test(arguments: PatchingFixtures.models)
    func headAblationsMatchHandWrittenHooks(_ name: String) throws {
        let model = try PatchingFixtures.model(name)
        let pair = try PatchingFixtures.pair(name)
        let c = model.config
        let zero = try PatchingRun(model: model, pairs: [pair], mode: .ablate(.zero)).run(.attnHeadOutAllPos).values
        let mean = try PatchingRun(model: model, pairs: [pair], mode: .ablate(.mean)).run(.attnHeadOutAllPos).values
        let resample = try PatchingRun(model: model, pairs: [pair], mode: .ablate(.resample)).run(.attnHeadOutAllPos).values
        var failures: [String] = []
        for l in 0..<c.nLayers {
            let name = "blocks.\(l).attn.hook_z"
            let cleanZ = try model.runWithCache(TokenBatch(pair.clean), names: .names([name])).cache.require(name)
            let corruptZ = try model.runWithCache(TokenBatch(pair.corrupt), names: .names([name])).cache.require(name)
            let meanZ = Tensor(shape: cleanZ.shape, data: zip(cleanZ.data, corruptZ.data).map { ($0 + $1) / 2 })
            for h in 0..<c.nHeads {
                let expected: [(String, Float, Float)] = [
                    ("zero", zero[l, h], try Self.logitDiff(model, pair, hooks: [Self.headHook(l, h, nil)])),
                    ("mean", mean[l, h], try Self.logitDiff(model, pair, hooks: [Self.headHook(l, h, meanZ)])),
                    ("resample", resample[l, h], try Self.logitDiff(model, pair, hooks: [Self.headHook(l, h, corruptZ)])),
                ]
                for (what, ours, hand) in expected where abs(ours - hand) > 1e-4 * max(1, abs(hand)) {
                    failures.append("\(what) L\(l)H\(h): \(ours) vs \(hand)")
                }
            }
        }
        #expect(failures.isEmpty, "\(name): \(failures)")
        #expect(Set(zero.data).count > 1)
    }

    /// Resample-ablating the clean run from the corrupted prompt is activation patching with the
    /// roles of the two prompts swapped.
    @Test func resampleIsPatchingInTheOtherDirection() throws {
        let model = try PatchingFixtures.model("llama-tiny")
        let p = try PatchingFixtures.pair("llama-tiny")
        let resample = try PatchingRun(model: model, pairs: [p], mode: .ablate(.resample))
        let swapped = try PatchingRun(model: model, pairs: [PatchingPair(clean: p.corrupt, corrupt: p.clean, answer: p.answer, wrong: p.wrong)])
        for kind in [ActPatchKind.residPre, .attnHeadKByPos, .mlpNeuron] {
            #expect(patchingMismatch(kind.rawValue, try resample.run(kind).values, try swapped.run(kind).values) == nil)
        }
    }

    /// Mean ablation over an explicit prompt set equals the standalone mean hook on a plain forward.
    @Test func meanOverChosenPrompts() throws {
        let model = try PatchingFixtures.model("pythia-tiny")
        let pair = try PatchingFixtures.pair("pythia-tiny")
        let prompts = [pair.clean.reversed(), pair.corrupt, Array(repeating: 7, count: pair.clean.count)]
        let run = try PatchingRun(model: model, pairs: [pair], mode: .ablate(.mean))
        run.meanPrompts = prompts
        let grid = try run.run(.attnHeadOutAllPos).values
        for (l, h) in [(0, 1), (1, 3)] {
            let hook = try Ablation.mean("blocks.\(l).attn.hook_z", .head(h), model: model, prompts: prompts)
            let expected = try Self.logitDiff(model, pair, hooks: [hook])
            #expect(abs(grid[l, h] - expected) < 1e-4 * max(1, abs(expected)))
        }
        run.meanPrompts = [[1, 2]]
        #expect(throws: MechanicError.self) { try run.run(.residPre) }
    }

    /// The standalone hooks: a zero-ablated neuron, a mean over prompts, a resampled layer output.
    @Test func standaloneHooks() throws {
        let model = try PatchingFixtures.model("gpt2-tiny")
        let pair = try PatchingFixtures.pair("gpt2-tiny")
        let post = "blocks.1.mlp.hook_post"
        let zeroed = try model.runWithCache(TokenBatch(pair.clean), names: .names([post]), hooks: [Ablation.zero(post, .neuron(7))]).cache.require(post)
        let plain = try model.runWithCache(TokenBatch(pair.clean), names: .names([post])).cache.require(post)
        for p in 0..<pair.clean.count {
            #expect(zeroed[0, p, 7] == 0)
            #expect(zeroed[0, p, 8] == plain[0, p, 8])
        }
        let attnOut = "blocks.0.hook_attn_out"
        let prompts = [pair.clean, pair.corrupt, pair.clean.reversed()]
        let meanHook = try Ablation.mean(attnOut, .position(2), model: model, prompts: prompts)
        let ablated = try model.runWithCache(TokenBatch(pair.clean), names: .names([attnOut]), hooks: [meanHook]).cache.require(attnOut)
        let each = try prompts.map { try model.runWithCache(TokenBatch($0), names: .names([attnOut])).cache.require(attnOut) }
        for m in 0..<model.config.dModel {
            let expected = (each[0][0, 2, m] + each[1][0, 2, m] + each[2][0, 2, m]) / 3
            #expect(abs(ablated[0, 2, m] - expected) < 1e-5)
            #expect(ablated[0, 3, m] == each[0][0, 3, m])
        }
        let resampled = try model.runWithCache(TokenBatch(pair.clean), names: .names([attnOut]),
                                               hooks: [try Ablation.resample(attnOut, model: model, from: pair.corrupt)]).cache.require(attnOut)
        #expect(resampled == each[1])
        #expect(throws: MechanicError.self) { try Ablation.mean(attnOut, model: model, prompts: [[1, 2], [1, 2, 3]]) }
        #expect(throws: MechanicError.self) {
            try model.runWithHooks(TokenBatch([1, 2, 3]), hooks: [try Ablation.resample(attnOut, model: model, from: pair.corrupt)])
        }
    }
}
