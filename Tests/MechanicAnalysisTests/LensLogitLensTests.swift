import Foundation
import Testing
@testable import Mechanic
@testable import MechanicAnalysis

/// Ground truth for the logit lens: reading the residual stream after layer l through the final
/// norm and unembedding equals running the model with every later layer's output zeroed (own
/// statistics), and additionally freezing `ln_final.hook_scale` to the clean run's (final mode).
@Suite struct LensLogitLensTests {
    static let cases: [(String, Bool)] = LensFixtures.models.flatMap { [($0, true), ($0, false)] }

    /// Hooks that zero every layer output from `layer` on (keeping `layer`'s attention when `keepAttn`).
    func truncation(_ m: HookedTransformer, from layer: Int, keepAttn: Bool) -> [Hook] {
        var hooks: [Hook] = []
        for l in layer..<m.config.nLayers {
            if !(keepAttn && l == layer) {
                hooks.append(Hook("blocks.\(l).hook_attn_out") { t, _ in t = Tensor(zeros: t.shape) })
            }
            hooks.append(Hook("blocks.\(l).hook_mlp_out") { t, _ in t = Tensor(zeros: t.shape) })
        }
        return hooks
    }

    @Test(arguments: cases)
    func lensRowsEqualTruncatedRuns(name: String, processed: Bool) throws {
        let m = try LensFixtures.load(name, processed: processed)
        let tokens = LensFixtures.ints(try LensFixtures.analysis(name)["clean_tokens"])
        let batch = TokenBatch(tokens)
        let (fullLogits, cache) = try m.runWithCache(batch, names: .all)
        let V = m.config.dVocab, P = tokens.count
        let frozenScale = try cache.require("ln_final.hook_scale")
        for pos in [P - 1, 2] {
            for mode in LensMode.allCases {
                let (labels, logits) = try LogitLens.logits(model: m, cache: cache, position: pos, mode: mode)
                let expectedLabels = (0..<m.config.nLayers).flatMap { l in m.config.parallelAttnMLP ? ["\(l)_pre"] : ["\(l)_pre", "\(l)_mid"] } + ["final_post"]
                #expect(labels == expectedLabels)
                for (i, label) in labels.enumerated() {
                    var hooks: [Hook] = []
                    if label != "final_post" {
                        let parts = label.split(separator: "_")
                        hooks = truncation(m, from: Int(parts[0]) ?? 0, keepAttn: parts[1] == "mid")
                    }
                    if mode == .final { hooks.append(Hook("ln_final.hook_scale") { t, _ in t = frozenScale }) }
                    let truth = label == "final_post" ? fullLogits : try m.runWithHooks(batch, hooks: hooks)
                    let expected = Tensor(shape: [V], data: Array(truth.data[(pos * V)..<((pos + 1) * V)]))
                    let ours = Tensor(shape: [V], data: Array(logits.data[(i * V)..<((i + 1) * V)]))
                    lensExpectClose(ours, expected, "\(name) \(processed ? "processed" : "unprocessed") \(mode) \(label) @\(pos)")
                }
            }
        }
    }

    /// The report's ranks, probabilities and top lists agree with a full sort of the lens logits.
    @Test(arguments: LensFixtures.models)
    func reportRanksAndProbabilities(name: String) throws {
        let m = try LensFixtures.load(name)
        let a = try LensFixtures.analysis(name)
        let tokens = LensFixtures.ints(a["clean_tokens"])
        let answer = LensFixtures.ints([a["answer_id"] as Any])[0]
        let report = try LogitLens.run(model: m, tokens: tokens, position: -1, mode: .own, top: 5, answer: answer)
        let (_, cache) = try m.runWithCache(TokenBatch(tokens), names: .all)
        let (labels, logits) = try LogitLens.logits(model: m, cache: cache, position: tokens.count - 1, mode: .own)
        #expect(report.rows.map(\.label) == labels)
        #expect(report.position == tokens.count - 1)
        let V = m.config.dVocab
        for (i, row) in report.rows.enumerated() {
            let l = Array(logits.data[(i * V)..<((i + 1) * V)]).map(Double.init)
            let order = l.indices.sorted { l[$0] != l[$1] ? l[$0] > l[$1] : $0 < $1 }
            let z = l.map { exp($0 - (l.max() ?? 0)) }.reduce(0, +)
            #expect(row.top.map(\.id) == Array(order.prefix(5)), "\(name) \(row.label) top ids")
            #expect(row.top.map(\.rank) == [0, 1, 2, 3, 4])
            for t in row.top { lensExpectClose(t.prob, Float(exp(l[t.id] - (l.max() ?? 0)) / z), scale: 1, "\(name) \(row.label) prob") }
            let ans = try #require(row.answer)
            #expect(ans.rank == order.firstIndex(of: answer), "\(name) \(row.label) answer rank")
            lensExpectClose(ans.prob, Float(exp(l[answer] - (l.max() ?? 0)) / z), scale: 1, "\(name) \(row.label) answer prob")
        }
        // At final_post the lens is the model: its top token is the model's prediction (the fixture's answer).
        #expect(report.rows.last?.top.first?.id == answer)
    }
}
