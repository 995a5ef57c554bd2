import Foundation
import Testing
import FixtureSupport
@testable import Mechanic

/// Hooks, caches, names filters and start/stop layers, checked against values the model itself
/// computes without hooks (ground truth), on the GPT-2 fixture model.
@Suite struct HookTests {
    let model: HookedTransformer
    let tokens = [499, 279, 410, 358, 289, 259, 403, 13]

    init() throws { model = try Fixtures.load("gpt2-tiny", processed: true) }

    @Test func zeroingOneHeadRemovesExactlyItsResult() throws {
        let batch = TokenBatch(tokens)
        let (_, clean) = try model.runWithCache(batch, names: .names(["blocks.0.attn.hook_result", "blocks.0.hook_attn_out"]))
        let zeroHead1 = Hook("blocks.0.attn.hook_z") { z, _ in
            let (B, P, H, E) = (z.shape[0], z.shape[1], z.shape[2], z.shape[3])
            for b in 0..<B { for p in 0..<P { for e in 0..<E { z[b, p, 1, e] = 0 } } }
            _ = H
        }
        let (_, ablated) = try model.runWithCache(batch, names: .names(["blocks.0.hook_attn_out"]), hooks: [zeroHead1])
        let result = try clean.require("blocks.0.attn.hook_result")  // [1, pos, head, d_model]
        var expected = try clean.require("blocks.0.hook_attn_out")
        let (P, H, D) = (result.shape[1], result.shape[2], result.shape[3])
        for p in 0..<P { for m in 0..<D { expected[0, p, m] -= result[0, p, 1, m] } }
        expectClose([("attn_out without head 1", try ablated.require("blocks.0.hook_attn_out"), expected)], context: "ablation")
        _ = H
    }

    @Test func hooksOnOnePointRunInOrderAndTheCacheSeesTheEdit() throws {
        let batch = TokenBatch(tokens)
        let name = "blocks.1.hook_resid_pre"
        let (_, clean) = try model.runWithCache(batch, names: .names([name]))
        var order: [String] = []
        let double = Hook(name) { x, point in order.append("double@\(point.layer ?? -1)"); x.scale(by: 2) }
        let addOne = Hook(name) { x, _ in order.append("addOne"); for i in x.data.indices { x.data[i] += 1 } }
        let (_, edited) = try model.runWithCache(batch, names: .names([name]), hooks: [double, addOne])
        #expect(order == ["double@1", "addOne"])
        let original = try clean.require(name)
        #expect(try edited.require(name).data == original.data.map { 2 * $0 + 1 })
    }

    @Test func hooksAreGoneAfterTheCall() throws {
        let batch = TokenBatch(tokens)
        let plain = try model.runWithHooks(batch, hooks: [])
        let hooked = try model.runWithHooks(batch, hooks: [Hook("hook_embed") { x, _ in x.scale(by: 0) }])
        let again = try model.runWithHooks(batch, hooks: [])
        #expect(hooked.data != plain.data)
        #expect(again.data == plain.data)
    }

    @Test func unknownHookNamesAreErrorsWithASuggestion() throws {
        #expect(throws: MechanicError.unknownHook(name: "blocks.0.attn.hook_patern", suggestion: "blocks.0.attn.hook_pattern")) {
            _ = try model.runWithHooks(TokenBatch(tokens), hooks: [Hook("blocks.0.attn.hook_patern") { _, _ in }])
        }
        #expect(throws: MechanicError.self) {
            _ = try model.runWithCache(TokenBatch(tokens), names: .names(["blocks.7.hook_resid_pre"]))
        }
    }

    @Test func namesFilterKeepsOnlyWhatWasAskedFor() throws {
        let (_, cache) = try model.runWithCache(TokenBatch(tokens), names: .regex("hook_pattern$"))
        #expect(cache.names == ["blocks.0.attn.hook_pattern", "blocks.1.attn.hook_pattern"])
        let (_, none) = try model.runWithCache(TokenBatch(tokens), names: .none)
        #expect(none.activations.isEmpty)
        let (_, all) = try model.runWithCache(TokenBatch(tokens), names: .all)
        #expect(all["blocks.0.attn.hook_result"] == nil)  // optional points stay off unless asked for
        #expect(all.names.count == model.config.hookNames().count)
    }

    @Test func aHookThatChangesTheShapeIsAnError() throws {
        let bad = Hook("blocks.0.hook_resid_pre") { x, _ in x = Tensor(zeros: [1]) }
        #expect(throws: MechanicError.self) { _ = try model.runWithHooks(TokenBatch(tokens), hooks: [bad]) }
    }

    /// Stopping and resuming runs the same blocks on the same shapes: bit-exact by construction.
    @Test func stopAndStartAtLayerCompose() throws {
        let batch = TokenBatch(tokens)
        let (logits, cache) = try model.runWithCache(batch, names: .names(["blocks.1.hook_resid_pre"]))
        let stopped = try model.forward(batch, options: ForwardOptions(stopAtLayer: 1))
        #expect(stopped.logits == nil)
        #expect(stopped.residual?.data == cache["blocks.1.hook_resid_pre"]?.data)
        let resumed = try model.forward(batch, options: ForwardOptions(startAtLayer: 1), residual: stopped.residual)
        #expect(resumed.logits?.data == logits.data)
    }

    /// The last-row unembedding is a product of another shape than the full one: equal to rounding.
    @Test func lastPositionLogitsEqualTheFullLogitsRow() throws {
        let batch = try TokenBatch.padding([tokens, Array(tokens.prefix(5))], padId: 499, side: .right)
        let full = try #require(try model.forward(batch).logits)
        let last = try #require(try model.forward(batch, options: ForwardOptions(logits: .last)).logits)
        let V = model.config.dVocab, P = batch.length
        for (b, p) in batch.lastPositions.enumerated() {
            #expect(Float32Rounding.mismatch("row \(b)", Array(last.data[(b * V)..<((b + 1) * V)]),
                                             Array(full.data[((b * P + p) * V)..<((b * P + p + 1) * V)])) == nil)
        }
    }
}

/// Padding: a padded row must give the same numbers as the sequence run alone.
@Suite struct PaddingTests {
    @Test(arguments: ["gpt2-tiny", "pythia-tiny", "llama-tiny"], [TokenBatch.PaddingSide.left, .right])
    func paddedRowsMatchUnpaddedRuns(name: String, side: TokenBatch.PaddingSide) throws {
        let model = try Fixtures.load(name, processed: true)
        let seqs = [[1, 5, 9, 13, 17, 21, 25], [1, 7, 3], [1, 30, 31, 32, 33]]
        let batch = try TokenBatch.padding(seqs, padId: 0, side: side)
        let logits = try #require(try model.forward(batch).logits)
        let perToken = try model.lossPerToken(batch)
        let V = model.config.dVocab, P = batch.length
        for (b, seq) in seqs.enumerated() {
            let alone = try #require(try model.forward(TokenBatch(seq)).logits)
            let offset = side == .left ? P - seq.count : 0
            let rows = Tensor(shape: [seq.count, V], data: Array(logits.data[((b * P + offset) * V)..<((b * P + offset + seq.count) * V)]))
            expectClose([("\(name) row \(b) \(side)", rows, alone.reshaped([seq.count, V]))], context: "padding")
            let lossAlone = try model.lossPerToken(TokenBatch(seq))
            let ours = Tensor(shape: [seq.count - 1], data: Array(perToken.data[(b * (P - 1) + offset)..<(b * (P - 1) + offset + seq.count - 1)]))
            expectClose([("loss row \(b)", ours, lossAlone.reshaped([seq.count - 1]))], context: "padding loss")
        }
        // Pad positions are not counted: the batch mean equals the token-weighted mean of the rows.
        var total = 0.0, count = 0
        for seq in seqs { total += Double(try model.loss(TokenBatch(seq))) * Double(seq.count - 1); count += seq.count - 1 }
        #expect(abs(Double(try model.loss(batch)) - total / Double(count)) < 1e-4)
    }

    @Test func batchedGenerationWithPaddingMatchesSingleRuns() throws {
        let model = try Fixtures.load("gpt2-tiny", processed: true)
        let seqs = [[499, 279, 410, 358], [499, 47, 276]]
        let batch = try TokenBatch.padding(seqs, padId: 499, side: .left)
        let together = try model.generate(batch, maxNewTokens: 5, sampling: SamplingOptions(temperature: 0, stopAtEOS: false))
        for (b, seq) in seqs.enumerated() {
            let alone = try model.generate(TokenBatch(seq), maxNewTokens: 5, sampling: SamplingOptions(temperature: 0, stopAtEOS: false))
            #expect(together[b] == alone[0])
        }
    }

    @Test func seededSamplingIsReproducibleAndRespectsTopK() throws {
        let model = try Fixtures.load("gpt2-tiny", processed: true)
        let s = SamplingOptions(temperature: 1, topK: 1, seed: 3, stopAtEOS: false)
        let greedy = try model.generate(TokenBatch([499, 279]), maxNewTokens: 6, sampling: .init(temperature: 0, stopAtEOS: false))
        #expect(try model.generate(TokenBatch([499, 279]), maxNewTokens: 6, sampling: s) == greedy)  // top-1 = argmax
        let a = try model.generate(TokenBatch([499, 279]), maxNewTokens: 6, sampling: .init(temperature: 1.5, topP: 0.9, seed: 42))
        let b = try model.generate(TokenBatch([499, 279]), maxNewTokens: 6, sampling: .init(temperature: 1.5, topP: 0.9, seed: 42))
        #expect(a == b)
    }
}
