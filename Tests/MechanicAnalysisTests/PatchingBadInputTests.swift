import Testing
@testable import Mechanic
@testable import MechanicAnalysis

/// Issue 10 §4.6: a logit-difference metric with the answer as its own wrong token is always 0 —
/// refused where the metric is built, so every caller (CLI, server, library) gets the error.
@Suite struct PatchingBadInputTests {
    @Test func identicalAnswerAndWrongTokensAreRefusedForLogitDifferences() throws {
        let model = try PatchingFixtures.model("gpt2-tiny")
        var pair = try PatchingFixtures.pair("gpt2-tiny")
        pair.wrong = pair.answer
        for metric in [PatchingMetric.logitDiff, .normalizedLogitDiff] {
            #expect(throws: MechanicError.invalidArgument("the answer and the wrong token are the same token (id \(pair.answer)), so logit[answer] − logit[wrong] is always 0; give a different wrong token")) {
                _ = try PatchingRun(model: model, pairs: [pair], metric: metric)
            }
        }
        // Metrics that read only the answer do not care.
        let run = try PatchingRun(model: model, pairs: [pair], metric: .loss)
        #expect(run.cleanMetric > 0)
    }
}
