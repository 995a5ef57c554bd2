import Foundation
import FixtureSupport
import Testing
import Mechanic
import MechanicTensor
@testable import MechanicAnalysis

/// EAP's metrics beyond the logit difference: the scores of the edges into `logits` sum to
/// `Δresid_final · ∂metric/∂resid_final`, which a central finite difference of the metric along
/// the corrupted−clean direction of the final residual stream measures independently.
@Suite struct CircuitMetricTests {
    @Test("EAP scores into logits equal the metric's finite difference", arguments: [PatchingMetric.logitDiff, .prob, .loss])
    func logitsEdgesMatchFiniteDifferences(_ metric: PatchingMetric) throws {
        let (model, pairs) = try CircuitExactTests.pairs("gpt2-tiny")
        let run = try CircuitRun(model: model, pairs: pairs)
        let scores = try run.edgeAttribution(metric: metric)
        let g = run.graph, offsets = g.receiverOffsets, r = g.receivers.count - 1
        let sum = (0..<g.receivers[r].upstreamCount).reduce(0.0) { $0 + Double(scores[offsets[r] + $1]) }

        let L = model.config.nLayers, V = model.config.dVocab
        let name = HookKind.residPost.name(layer: L - 1)
        let clean = try TokenBatch(ids: pairs.map(\.clean)), corrupt = try TokenBatch(ids: pairs.map(\.corrupt))
        let cr = try model.forward(clean, options: ForwardOptions(cache: .names([name]), logits: .none)).cache.require(name)
        let kr = try model.forward(corrupt, options: ForwardOptions(cache: .names([name]), logits: .none)).cache.require(name)
        let ctx = try MetricContext(metric: metric, answers: pairs.map(\.answer), wrongs: pairs.map(\.wrong),
                                    clean: run.cleanLogits, corrupt: run.corruptLogits, dVocab: V)
        // The metric with the final residual stream at clean + ε·(corrupt − clean).
        func m(_ eps: Float) throws -> Double {
            var x = cr
            for i in x.data.indices { x.data[i] += eps * (kr.data[i] - cr.data[i]) }
            let logits = try model.forward(clean, options: ForwardOptions(startAtLayer: L, logits: .last), residual: x).logits
            return ctx.mean(logits?.data ?? [], dVocab: V)
        }
        let eps: Float = 0.01
        let fd = (try m(eps) - m(-eps)) / Double(2 * eps)
        #expect(abs(fd) > 1e-6, "\(metric): the finite difference is \(fd)")
        #expect(abs(sum - fd) <= 1e-2 * abs(fd) + 1e-5, "\(metric): EAP \(sum) vs finite difference \(fd)")
    }

    @Test func klAndNormalizedAreRefusedWithTheReason() throws {
        let (model, pairs) = try CircuitExactTests.pairs("gpt2-tiny")
        for (metric, needle) in [(PatchingMetric.kl, "every score would be 0"), (.normalizedLogitDiff, "same ranking")] {
            do {
                _ = try CircuitDiscovery.run(model: model, pairs: pairs, options: CircuitOptions(method: .eap, eapMetric: metric))
                Issue.record("\(metric) was accepted")
            } catch let MechanicError.invalidArgument(message) {
                #expect(message.contains(needle), "\(message)")
            }
        }
    }
}
