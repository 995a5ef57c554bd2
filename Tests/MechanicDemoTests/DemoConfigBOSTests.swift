import Foundation
import Testing
import FixtureSupport
import Mechanic
@testable import MechanicDemo

/// A model shipped without tokenizer files still gets its BOS from config.json's `bos_token_id`
/// in the demo (as induction scores and diff do: MechanicAnalysisTests' ConfigBOSTests).
@Suite struct DemoConfigBOSTests {
    @Test func demoUsesConfigBOSWithoutATokenizer() throws {
        let dir = try TestFixtures.bareModel("llama-tiny")
        defer { try? FileManager.default.removeItem(at: dir) }
        let m = try HookedTransformer.load(dir)
        #expect(m.tokenizer == nil)
        #expect(Demo.modelSubject(m, name: "bare").bos == 1)
    }
}
