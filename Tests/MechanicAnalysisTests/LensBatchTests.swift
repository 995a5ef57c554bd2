import Foundation
import Testing
@testable import Mechanic
@testable import MechanicAnalysis

/// Decompositions and attributions of a two-prompt batch equal those of each prompt run alone,
/// and a cache without its batch axis gives the same numbers.
@Suite struct LensBatchTests {
    @Test(arguments: LensFixtures.models)
    func batchedEqualsSingle(name: String) throws {
        let m = try LensFixtures.load(name)
        let a = try LensFixtures.analysis(name)
        let (clean, corrupt) = (LensFixtures.ints(a["clean_tokens"]), LensFixtures.ints(a["corrupted_tokens"]))
        let (answer, wrong) = (LensFixtures.ints([a["answer_id"] as Any])[0], LensFixtures.ints([a["wrong_id"] as Any])[0])
        let batched = try m.runWithCache(TokenBatch(ids: [clean, corrupt]), names: .all).cache
        let full = try batched.getFullResidDecomposition(model: m, posSlice: .index(-1))      // [C, 2, d_model]
        #expect(full.tensor.shape == [full.count, 2, m.config.dModel])
        // Per-batch answer/wrong tokens: row b uses tokens[b].
        let attrs = try batched.logitAttrs(full, model: m, tokens: [answer, wrong], incorrectTokens: [wrong, answer], posSlice: .index(-1))
        for (b, seq) in [clean, corrupt].enumerated() {
            let single = try m.runWithCache(TokenBatch(seq), names: .all).cache
            let one = try single.getFullResidDecomposition(model: m, posSlice: .index(-1))  // [C, 1, d_model]
            let mine = Tensor(shape: [one.count], data: (0..<one.count).map { attrs.data[$0 * 2 + b] })
            let (t, w) = b == 0 ? (answer, wrong) : (wrong, answer)
            let expected = try single.logitAttrs(one, model: m, tokens: [t], incorrectTokens: [w], posSlice: .index(-1))
            lensExpectClose(mine, expected.reshaped([one.count]), "\(name) batch row \(b)")
            // Without the batch axis: [C, d_model] stacks and the same attributions.
            let flat = try single.removingBatchDim()
            let flatStack = try flat.getFullResidDecomposition(model: m, posSlice: .index(-1))
            #expect(flatStack.tensor.shape == [one.count, m.config.dModel])
            lensExpectClose(try flat.logitAttrs(flatStack, model: m, tokens: [t], incorrectTokens: [w], posSlice: .index(-1)),
                            expected.reshaped([one.count]), "\(name) no batch axis")
            let accFlat = try flat.accumulatedResid(model: m, applyLN: true, posSlice: .range(start: 1, stop: nil, step: 2))
            let accBatch = try single.accumulatedResid(model: m, applyLN: true, posSlice: .range(start: 1, stop: nil, step: 2))
            lensExpectClose(accFlat.tensor, accBatch.tensor.reshaped(accFlat.tensor.shape), "\(name) accumulated, stepped slice")
        }
        // Mismatched token counts are refused with a message.
        #expect(throws: MechanicError.self) { try batched.logitAttrs(full, model: m, tokens: [answer, wrong, answer], posSlice: .index(-1)) }
        #expect(throws: MechanicError.self) { try batched.applyLNToStack(full.tensor, model: m, posSlice: .all) }
    }
}
