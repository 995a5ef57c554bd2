import Foundation
import Testing
import FixtureSupport
@testable import Mechanic
@testable import MechanicAnalysis

/// A model shipped without tokenizer files still gets its BOS from config.json's `bos_token_id`
/// wherever one is needed (before: induction scores, the demo and diff's BOS check ran without; the demo's check is in
/// MechanicDemoTests).
@Suite struct ConfigBOSTests {
    @Test func inductionAndDiffUseConfigBOSWithoutATokenizer() throws {
        let dir = try TestFixtures.bareModel("llama-tiny")
        defer { try? FileManager.default.removeItem(at: dir) }
        let m = try HookedTransformer.load(dir)
        #expect(m.tokenizer == nil)
        let induction = try m.inductionScores(seqLen: 5, batch: 2, seed: 3)
        #expect(induction.tokens.allSatisfy { $0.count == 11 && $0.first == 1 }, "\(induction.tokens)")
        let warnings = ActivationDiff.alignmentWarnings(model: m, a: [[1, 5, 6]], b: [[5, 6, 7]], position: .final)
        #expect(warnings.contains { $0.contains("BOS (1)") }, "\(warnings)")
    }
}
