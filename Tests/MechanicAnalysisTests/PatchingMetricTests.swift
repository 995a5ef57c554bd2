import Foundation
import Testing
import Mechanic
@testable import MechanicAnalysis

/// Metrics on ground truth: full patches restore the clean run, no-op patches keep the
/// corrupted one, and every metric agrees with a direct computation from the logits.
@Suite struct PatchingMetricTests {
    static func finalLogits(_ model: HookedTransformer, _ ids: [Int], hooks: [Hook] = []) throws -> [Double] {
        let logits = try model.runWithHooks(TokenBatch(ids), hooks: hooks)   // [1, pos, d_vocab]
        let V = model.config.dVocab
        return logits.data[(logits.count - V)...].map { Double($0) }
    }

    static func logProbs(_ row: [Double]) -> [Double] {
        let m = row.max() ?? 0
        let lse = m + log(row.reduce(0) { $0 + exp($1 - m) })
        return row.map { $0 - lse }
    }

    @Test(arguments: PatchingFixtures.models)
    func fullPatchesAreOneAndNoOpPatchesAreZero(_ name: String) throws {
        let model = try PatchingFixtures.model(name)
        let pair = try PatchingFixtures.pair(name)
        let run = try PatchingRun(model: model, pairs: [pair], metric: .normalizedLogitDiff)
        let L = model.config.nLayers
        // The whole resid_pre of layer 0 (or resid_post of the last layer) is the clean run.
        #expect(abs(try run.evaluate(together: [PatchSite("resid_pre", layer: 0, .all)]) - 1) < 1e-5)
        #expect(abs(try run.evaluate(together: [PatchSite("resid_post", layer: L - 1, .all)]) - 1) < 1e-5)
        #expect(abs(try run.evaluate(together: (0..<pair.clean.count).map { PatchSite("resid_pre", layer: 0, .position($0)) }) - 1) < 1e-5)
        #expect(try run.evaluate(together: []) == 0)
        // Per position: where clean and corrupted tokens agree, patching resid_pre at layer 0 changes nothing.
        let grid = try run.run(.residPre).values
        for p in 0..<pair.clean.count where pair.clean[p] == pair.corrupt[p] {
            #expect(abs(grid[0, p]) < 1e-5, "\(name) resid_pre[0, \(p)] = \(grid[0, p])")
        }
        // Patching the final residual stream at the final position is the clean run.
        let post = try run.run(.residPost).values
        #expect(abs(post[L - 1, pair.clean.count - 1] - 1) < 1e-5)
    }

    /// The normalised metric is the logit difference mapped through (m − corrupt)/(clean − corrupt),
    /// checked against TransformerLens's raw grid.
    @Test func normalisedLogitDiffOfTransformerLensGrid() throws {
        let name = "gpt2-tiny"
        let ref = try SafeTensorsFile(url: PatchingFixtures.reference(name, "analysis_patching.safetensors"))
        let run = try PatchingRun(model: try PatchingFixtures.model(name), pairs: [try PatchingFixtures.pair(name)], metric: .normalizedLogitDiff)
        let (clean, corrupt) = (try ref.tensor("clean_metric").data[0], try ref.tensor("corrupted_metric").data[0])
        for kind in [ActPatchKind.residPre, .attnHeadOutByPos, .blockEvery] {
            let raw = try ref.tensor(kind.rawValue)
            let expected = Tensor(shape: raw.shape, data: raw.data.map { ($0 - corrupt) / (clean - corrupt) })
            #expect(patchingMismatch(kind.rawValue, try run.run(kind).values, expected) == nil)
        }
        #expect(run.cleanMetric == 1 && run.corruptMetric == 0)
    }

    /// prob, loss and KL of the clean/corrupted runs from the logits directly; loss = −log prob per cell.
    @Test(arguments: PatchingFixtures.models)
    func probabilityLossAndKL(_ name: String) throws {
        let model = try PatchingFixtures.model(name)
        let pair = try PatchingFixtures.pair(name)
        let clean = Self.logProbs(try Self.finalLogits(model, pair.clean))
        let corrupt = Self.logProbs(try Self.finalLogits(model, pair.corrupt))
        let prob = try PatchingRun(model: model, pairs: [pair], metric: .prob)
        let loss = try PatchingRun(model: model, pairs: [pair], metric: .loss)
        let kl = try PatchingRun(model: model, pairs: [pair], metric: .kl)
        #expect(abs(prob.cleanMetric - exp(clean[pair.answer])) < 1e-6)
        #expect(abs(prob.corruptMetric - exp(corrupt[pair.answer])) < 1e-6)
        #expect(abs(loss.cleanMetric + clean[pair.answer]) < 1e-4)
        #expect(abs(loss.corruptMetric + corrupt[pair.answer]) < 1e-4)
        let klCorrupt = zip(clean, corrupt).reduce(0.0) { $0 + exp($1.0) * ($1.0 - $1.1) }
        #expect(kl.cleanMetric == 0)
        #expect(abs(kl.corruptMetric - klCorrupt) < 1e-4 * max(1, klCorrupt))
        #expect(klCorrupt > 0.01)
        // Full patch: KL back to 0.
        #expect(abs(try kl.evaluate(together: [PatchSite("resid_pre", layer: 0, .all)])) < 1e-5)
        let p = try prob.run(.attnHeadOutAllPos).values, l = try loss.run(.attnHeadOutAllPos).values
        for i in 0..<p.count { #expect(abs(Double(l.data[i]) + log(Double(p.data[i]))) < 1e-4) }
    }

    /// Several pairs: the logit difference is the mean over pairs, the normalised one is of the means.
    @Test func datasetMeansOverPairs() throws {
        let model = try PatchingFixtures.model("pythia-tiny")
        let a = try PatchingFixtures.pair("pythia-tiny")
        let b = PatchingPair(clean: a.corrupt, corrupt: a.clean, answer: a.wrong, wrong: a.answer)
        let both = try PatchingRun(model: model, pairs: [a, b]).run(.attnHeadOutByPos).values
        let ra = try PatchingRun(model: model, pairs: [a]), rb = try PatchingRun(model: model, pairs: [b])
        let one = try ra.run(.attnHeadOutByPos).values, two = try rb.run(.attnHeadOutByPos).values
        let mean = Tensor(shape: one.shape, data: zip(one.data, two.data).map { ($0 + $1) / 2 })
        #expect(patchingMismatch("mean", both, mean) == nil)
        let norm = try PatchingRun(model: model, pairs: [a, b], metric: .normalizedLogitDiff)
        let cleanMean = (ra.cleanMetric + rb.cleanMetric) / 2, corruptMean = (ra.corruptMetric + rb.corruptMetric) / 2
        let expected = Tensor(shape: mean.shape, data: mean.data.map { Float((Double($0) - corruptMean) / (cleanMean - corruptMean)) })
        #expect(patchingMismatch("normalised mean", try norm.run(.attnHeadOutByPos).values, expected) == nil)
    }

    @Test func unequalLengthsNameBothLengths() throws {
        let model = try PatchingFixtures.model("gpt2-tiny")
        do {
            _ = try PatchingRun(model: model, clean: [1, 2, 3, 4], corrupt: [1, 2, 3], answer: 5, wrong: 6)
            Issue.record("expected an error")
        } catch let e as MechanicError {
            #expect(e.description.contains("4 tokens") && e.description.contains("has 3"), "\(e)")
        }
        #expect(throws: MechanicError.self) { try PatchingRun(model: model, clean: [1, 2], corrupt: [1, 2], answer: 5, wrong: 6, metric: .normalizedLogitDiff) }
        #expect(throws: MechanicError.self) { try PatchingRun(model: model, clean: [1, 2], corrupt: [1, 3], answer: 5000, wrong: 6) }
    }
}
