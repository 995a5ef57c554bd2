import Foundation
import Testing
import FixtureSupport
import Mechanic
import MechanicAnalysis
@testable import MechanicDemo

/// The demo on a streamed model gives the resident model's numbers.
@Suite struct DemoStreamingTests {
    @Test(arguments: Streamed.models)
    func demoMatchesResident(_ name: String) throws {
        let (r, s) = try Streamed.load(name)
        var same = SameNumbers("\(name) demo")
        let options = DemoOptions(seqLen: 6, batch: 2, seed: 1, copyTokens: 40)
        let (a, b) = (try Demo.run(Demo.modelSubject(s, name: name), options: options),
                      try Demo.run(Demo.modelSubject(r, name: name), options: options))
        // The prompt-pair analyses (patching, diff) run where the IOI prompts tokenize to equal
        // lengths: GPT-2's and Pythia's tokenizers, not the Llama fixture's.
        #expect(b.pair != nil || name == "llama-tiny", "the IOI prompt pair runs on \(name)")
        #expect((a.pair == nil) == (b.pair == nil))
        same.tree("demo", try roundTrip(a.summary), try roundTrip(b.summary))
        same.check()
    }

    /// The `--json` summary as JSONSerialization reads it back (numbers as NSNumber).
    func roundTrip(_ summary: DemoSummary) throws -> Any {
        try JSONSerialization.jsonObject(with: ResultJSON.data(summary))
    }
}
