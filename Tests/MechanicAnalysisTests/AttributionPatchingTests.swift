import Foundation
import FixtureSupport
import Testing
import ReportTestSupport
import Mechanic
@testable import MechanicAnalysis

/// Attribution patching (AtP and AtP*) against estimates computed from torch autograd through
/// TransformerLens 2.18 (`scripts/reference/gradient_fixtures.py`), and its exact check against
/// TransformerLens's `get_act_patch_*`.
@Suite struct AttributionPatchingTests {
    static let runs: [(String, Bool)] = [("gpt2-tiny", true), ("gpt2-tiny", false), ("pythia-tiny", true),
                                        ("llama-tiny", true), ("llama-tiny", false)]
    static let linearKinds: [ActPatchKind] = [.residPre, .attnOut, .mlpOut, .attnHeadOutAllPos, .attnHeadQAllPos, .attnHeadKAllPos,
                                             .attnHeadVAllPos, .attnHeadPatternAllPos, .attnHeadQByPos, .attnHeadKByPos]
    static let qkKinds: [ActPatchKind] = [.attnHeadQAllPos, .attnHeadKAllPos, .attnHeadQByPos, .attnHeadKByPos]

    /// The fixture's run: the pair and its mirror image (target = the corrupted batch).
    static func run(_ name: String, processed: Bool, metric: PatchingMetric = .logitDiff) throws -> PatchingRun {
        let p = try PatchingFixtures.pair(name)
        let mirror = PatchingPair(clean: p.corrupt, corrupt: p.clean, answer: p.wrong, wrong: p.answer)
        return try PatchingRun(model: try PatchingFixtures.model(name, processed: processed), pairs: [p, mirror], metric: metric)
    }

    @Test("AtP, AtP* and their exact checks equal the TransformerLens/autograd references", arguments: runs)
    func matchesReference(_ name: String, _ processed: Bool) throws {
        let ref = try SafeTensorsFile(url: PatchingFixtures.reference(name, "gradients_\(processed ? "processed" : "unprocessed").safetensors"))
        let run = try Self.run(name, processed: processed)
        let grads = try run.metricGradients()
        var failures: [String] = []
        var exactChecked = 0
        for kind in Self.linearKinds {
            let atp = try run.attribution(kind, method: .atp, topK: 3, gradients: grads)
            if let bad = patchingMismatch("atp \(kind.rawValue)", atp.estimates, try ref.tensor("atp." + kind.rawValue)) { failures.append(bad) }
            // The top components re-run exactly = TransformerLens's grid at those indices.
            let exact = try ref.tensor("exact." + kind.rawValue)
            for check in atp.checks {
                let flat = check.index.enumerated().reduce(0) { $0 * exact.shape[$1.offset] + $1.element }
                let want = Double(exact.data[flat])
                if abs(check.exact + atp.targetMetric - want) > 1e-4 * max(1, abs(want)) {
                    failures.append("exact \(kind.rawValue)\(check.index): \(check.exact + atp.targetMetric) vs \(want)")
                }
                exactChecked += 1
            }
            #expect(atp.checks.count == 3)
            #expect(zip(atp.checks, atp.checks.dropFirst()).allSatisfy { abs($0.estimate) >= abs($1.estimate) })
        }
        for kind in Self.qkKinds {
            let star = try run.attribution(kind, method: .atpStar, topK: 0, gradients: grads)
            if let bad = patchingMismatch("atp* \(kind.rawValue)", star.estimates, try ref.tensor("atpstar." + kind.rawValue)) { failures.append(bad) }
        }
        #expect(failures.isEmpty, "\(name): \(failures.joined(separator: "; "))")
        #expect(exactChecked == 3 * Self.linearKinds.count)
        #expect(abs(run.targetMetric - Double(try ref.tensor("metric").data[0])) < 1e-4)
    }

    /// For kinds other than q/k the two methods agree; `_every` kinds stack their parts.
    @Test func everyKindsStackTheirParts() throws {
        let run = try Self.run("llama-tiny", processed: true)
        let grads = try run.metricGradients()
        let every = try run.attribution(.attnHeadAllPosEvery, method: .atpStar, topK: 4, gradients: grads)
        let c = run.model.config
        #expect(every.estimates.shape == [5, c.nLayers, c.nHeads])
        let k = try run.attribution(.attnHeadKAllPos, method: .atpStar, topK: 0, gradients: grads).estimates  // [L, kv_heads]
        for l in 0..<c.nLayers {
            for h in 0..<c.nHeads {
                let want: Float = h < c.nKeyValueHeads ? k.data[l * c.nKeyValueHeads + h] : 0
                #expect(every.estimates.data[(2 * c.nLayers + l) * c.nHeads + h] == want)
            }
        }
        let out = try run.attribution(.attnHeadOutAllPos, method: .atp, topK: 0, gradients: grads).estimates
        let outStar = try run.attribution(.attnHeadOutAllPos, method: .atpStar, topK: 0, gradients: grads).estimates
        #expect(out.data == outStar.data)   // AtP* changes only q/k estimates: the same code computes both
        #expect(Array(every.estimates.data[0..<out.count]) == out.data)
        #expect(every.checks.count == 4)
    }

    /// `d metric / d logits` of each metric against central differences of the metric itself.
    @Test(arguments: PatchingMetric.allCases)
    func metricGradientMatchesFiniteDifferences(_ metric: PatchingMetric) throws {
        let run = try Self.run("gpt2-tiny", processed: true, metric: metric)
        let logits = try #require(try run.model.forward(run.target, options: ForwardOptions(logits: .last)).logits)
        let V = run.model.config.dVocab
        let rows = logits.reshaped([2, V])
        let g = try run.context.gradient(rows)
        var rng = SplitMix64(seed: 3)
        let u = (0..<rows.count).map { _ in Float(Double(rng.next() % 2001) / 1000 - 1) }
        let eps: Float = 1e-2
        func value(_ sign: Float) -> Double {
            var x = rows
            for i in 0..<x.count { x.data[i] += sign * eps * u[i] }
            return run.context.mean(x.data, dVocab: V)
        }
        let numeric = (value(1) - value(-1)) / Double(2 * eps)
        let analytic = zip(g.data, u).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        #expect(abs(numeric - analytic) <= 1e-2 * max(abs(analytic), 1e-3) + 1e-5, "\(metric): \(numeric) vs \(analytic)")
    }

    /// Ablation: the estimate of zero-ablating a component is −activation · gradient (here checked
    /// on a whole layer's attention output, which is exact to first order).
    @Test func zeroAblationEstimateIsMinusActivationTimesGradient() throws {
        let p = try PatchingFixtures.pair("gpt2-tiny")
        let run = try PatchingRun(model: try PatchingFixtures.model("gpt2-tiny"), pairs: [p], mode: .ablate(.zero))
        let grads = try run.metricGradients()
        let est = try run.attribution(.attnOut, method: .atp, topK: 1, gradients: grads)
        let act = try grads.activations.require(actName("attn_out", layer: 1))
        let g = try grads.gradients.require(actName("attn_out", layer: 1))
        let D = run.model.config.dModel
        let P = run.positions
        for pos in 0..<P {
            let want = -(0..<D).reduce(0.0) { $0 + Double(act.data[pos * D + $1]) * Double(g.data[pos * D + $1]) }
            #expect(abs(Double(est.estimates.data[P + pos]) - want) <= 1e-5 + 1e-4 * abs(want))
        }
        #expect(est.targetMetric == run.cleanMetric)
        let top = try #require(est.checks.first)
        let patched = try run.evaluate([top.site])[0]
        #expect(abs(top.exact - (patched - run.cleanMetric)) < 1e-9)
    }

    /// The report: well-formed, the estimated metrics in the grid's hover titles, the checks'
    /// numbers in the table; the JSON carries the same numbers.
    @Test func reportAndJSONCarryTheNumbers() throws {
        let run = try Self.run("gpt2-tiny", processed: true)
        let r = try run.attribution(.attnHeadOutAllPos, topK: 3)
        var report = Report(title: "AtP")
        AttributionPatchingReport(result: r, cleanTokens: nil, pairs: 2).html(into: &report)
        let html = report.html
        #expect(HTMLCheck.xmlError(HTMLCheck.withoutDoctype(html)) == nil)
        let cells = HTMLCheck.cells(html)
        for c in r.checks {
            #expect(cells.contains(HTMLText.format(c.estimate)) && cells.contains(HTMLText.format(c.exact)))
        }
        let titles = HTMLCheck.titles(html).joined(separator: "\n")
        let first = HTMLText.format(r.estimates.data[0] + Float(r.targetMetric))
        #expect(titles.contains(first), "the grid shows target + estimate (\(first))")
        let json = try r.jsonObject()
        let checks = try #require(json["checks"] as? [[String: Any]])
        #expect(checks.count == 3)
        #expect((checks[0]["estimate"] as? Double) == r.checks[0].estimate)
        #expect((checks[0]["index"] as? [Int]) == r.checks[0].index)
        #expect((json["method"] as? String) == "atp*")
        let rows = try #require(json["estimates"] as? [[Double]])
        #expect(rows.count == run.model.config.nLayers && rows[0][0] == Double(r.estimates.data[0]))
    }

    /// Streamed in batches of pairs, attribution gives the all-pairs estimates and checks.
    /// (KL under ablation is below: its estimates are all 0 up to rounding, so their top-k order
    /// is rounding noise that differently shaped products need not share.)
    @Test(arguments: [(PatchingMetric.logitDiff, PatchingMode.denoise), (.normalizedLogitDiff, .denoise),
                      (.logitDiff, .ablate(.mean)), (.kl, .denoise)])
    func streamedEqualsAllPairs(_ metric: PatchingMetric, _ mode: PatchingMode) throws {
        let model = try PatchingFixtures.model("llama-tiny")
        var rng = SplitMix64(seed: 9)
        let pairs = PatchingRandomCellsTests.randomPairs(&rng, count: 7, length: 6, vocab: 60)
        let all = try PatchingRun(model: model, pairs: pairs, metric: metric, mode: mode)
        let sweep = try PatchingSweep(model: model, pairs: pairs, metric: metric, mode: mode, pairBatchSize: 3)
        #expect(sweep.batchCount == 3)
        for kind in [ActPatchKind.residPre, .attnHeadKByPos, .attnHeadAllPosEvery] {
            let a = try all.attribution(kind, method: .atpStar, topK: 4)
            let b = try sweep.attribution(kind, method: .atpStar, topK: 4)
            if let bad = patchingMismatch("\(metric) \(mode) \(kind.rawValue)", b.estimates, a.estimates) { Issue.record("\(bad)") }
            #expect(abs(a.targetMetric - b.targetMetric) < 1e-5)
            #expect(a.checks.map(\.site) == b.checks.map(\.site))
            for (x, y) in zip(a.checks, b.checks) { #expect(abs(x.exact - y.exact) <= 1e-4 * max(1, abs(x.exact))) }
        }
    }

    /// `KL(p_target ‖ p_patched)` has zero gradient at the target run itself, so under ablation (the
    /// target is the clean run) every attribution estimate is 0 up to float32 rounding, streamed or not,
    /// while the exact checks see real effects.
    @Test func klEstimatesVanishUnderAblation() throws {
        let model = try PatchingFixtures.model("llama-tiny")
        var rng = SplitMix64(seed: 9)
        let pairs = PatchingRandomCellsTests.randomPairs(&rng, count: 7, length: 6, vocab: 60)
        let all = try PatchingRun(model: model, pairs: pairs, metric: .kl, mode: .ablate(.resample))
        let sweep = try PatchingSweep(model: model, pairs: pairs, metric: .kl, mode: .ablate(.resample), pairBatchSize: 3)
        for kind in [ActPatchKind.residPre, .attnHeadKByPos, .attnHeadAllPosEvery] {
            let a = try all.attribution(kind, method: .atpStar, topK: 4)
            let b = try sweep.attribution(kind, method: .atpStar, topK: 4)
            for r in [a, b] {
                let largest = r.estimates.data.map { Double(abs($0)) }.max() ?? .infinity
                #expect(largest <= Float32Rounding.bound(scale: 1), "\(kind.rawValue): largest |estimate| \(largest)")
                #expect(abs(r.targetMetric) <= Float32Rounding.bound(scale: 1))
                #expect(r.checks.contains { $0.exact > 1e-3 }, "\(kind.rawValue): ablating the top sites changes KL")
            }
        }
    }
}
