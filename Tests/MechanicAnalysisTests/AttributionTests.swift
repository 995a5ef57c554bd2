import Foundation
import Testing
@testable import Mechanic
@testable import MechanicAnalysis

/// Direct logit attribution: entries add up to the model's own logit difference (ground truth),
/// and on processed models equal TransformerLens's `logit_attrs` of the matching decomposition.
@Suite struct AttributionTests {
    static let cases: [(String, Bool)] = LensFixtures.models.flatMap { [($0, true), ($0, false)] }

    func prompt(_ name: String) throws -> (tokens: [Int], answer: Int, wrong: Int) {
        let a = try LensFixtures.analysis(name)
        return (LensFixtures.ints(a["clean_tokens"]), LensFixtures.ints([a["answer_id"] as Any])[0], LensFixtures.ints([a["wrong_id"] as Any])[0])
    }

    @Test(arguments: cases)
    func entriesSumToTheLogitDifference(name: String, processed: Bool) throws {
        let m = try LensFixtures.load(name, processed: processed)
        let p = try prompt(name)
        let logits = try m.runWithHooks(TokenBatch(p.tokens), hooks: [])
        let V = m.config.dVocab
        for pos in [p.tokens.count - 1, 3] {
            let row = pos * V
            for wrong in [Optional(p.wrong), nil] {
                let truth = logits.data[row + p.answer] - (wrong.map { logits.data[row + $0] } ?? 0)
                for by in AttributionGrouping.allCases {
                    let r = try DirectLogitAttribution.run(model: m, tokens: p.tokens, answer: p.answer, wrong: wrong, position: pos, by: by)
                    let tag = "\(name) \(processed ? "processed" : "unprocessed") \(by) @\(pos) wrong=\(String(describing: wrong))"
                    lensExpectClose(r.logitDiff, truth, scale: logits.maxAbs, "\(tag) logitDiff")
                    lensExpectClose(r.total + r.constant, truth, scale: logits.maxAbs, "\(tag) total + constant")
                    #expect(r.entries.count == r.componentCount)
                    let values = r.entries.map { abs($0.value) }
                    #expect(values == values.sorted(by: >), "\(tag) ranked by |value|")
                }
            }
        }
    }

    @Test(arguments: LensFixtures.models)
    func groupingsMatchTransformerLensLogitAttrs(name: String) throws {
        let m = try LensFixtures.load(name)
        let p = try prompt(name)
        let ref = try SafeTensorsFile(url: LensFixtures.reference(name, "analysis_cache.safetensors"))
        let labels = ((try LensFixtures.analysis(name))["labels"] as? [String: Any] ?? [:]).mapValues { LensFixtures.strings($0) }
        func byLabel(_ r: AttributionReport) -> [String: Float] {
            Dictionary(uniqueKeysWithValues: r.entries.map { ($0.label, $0.value) })
        }
        func compare(_ r: AttributionReport, _ key: String, _ labelKey: String, only: ((String) -> Bool)? = nil) throws {
            let values = byLabel(r)
            let names = labels[labelKey] ?? []
            let expected = try ref.tensor(key)
            #expect(names.count == expected.count && !names.isEmpty)
            let keep = names.indices.filter { only?(names[$0]) ?? true }
            let ours = Tensor(shape: [keep.count], data: keep.map { values[names[$0]] ?? .nan })
            lensExpectClose(ours, Tensor(shape: [keep.count], data: keep.map { expected.data[$0] }), "\(name) \(r.by) vs \(key)")
        }
        let run = { (by: AttributionGrouping) in
            try DirectLogitAttribution.run(model: m, tokens: p.tokens, answer: p.answer, wrong: p.wrong, position: -1, by: by)
        }
        try compare(run(.component), "logit_attrs_decompose_resid", "decompose_resid_noln")
        try compare(run(.neuron), "logit_attrs_full_resid_decomposition", "full_resid_decomposition_ln")
        try compare(run(.head), "logit_attrs_stack_head_results", "stack_head_results_noln")
        // By layer: L{l} = {l}_attn_out + {l}_mlp_out.
        let comp = byLabel(try run(.component)), layer = byLabel(try run(.layer))
        for l in 0..<m.config.nLayers {
            lensExpectClose(layer["L\(l)"] ?? .nan, (comp["\(l)_attn_out"] ?? 0) + (comp["\(l)_mlp_out"] ?? 0), "\(name) L\(l)")
        }
    }

    @Test func labelsParseIntoKinds() {
        #expect(DirectLogitAttribution.entry("L3H2", 1) == AttributionEntry(label: "L3H2", kind: "head", layer: 3, head: 2, value: 1))
        #expect(DirectLogitAttribution.entry("L10N407", 2) == AttributionEntry(label: "L10N407", kind: "neuron", layer: 10, neuron: 407, value: 2))
        #expect(DirectLogitAttribution.entry("4_mlp_out", 3) == AttributionEntry(label: "4_mlp_out", kind: "mlp", layer: 4, value: 3))
        #expect(DirectLogitAttribution.entry("0_attn_out", 3).kind == "attn")
        #expect(DirectLogitAttribution.entry("pos_embed", 0).kind == "pos_embed")
    }

    @Test func logitDifferenceMetrics() throws {
        // [batch 2, pos 2, vocab 3]
        let logits = Tensor(shape: [2, 2, 3], data: [0, 1, 2, 5, 3, 1, 9, 9, 9, 2, 7, 4])
        let batch = try TokenBatch(ids: [[1, 2], [3, 0]], mask: [[1, 1], [1, 0]])
        #expect(try LogitDifference.perRow(logits: logits, answers: [0], wrong: [1], positions: [1, 0]) == [2, 0])
        #expect(try LogitDifference.mean(logits: logits, batch: batch, answers: [0, 1], wrong: [2, 2]) == (4 + 0) / 2)
        #expect(LogitDifference.normalized(1, clean: 3, corrupt: -1) == 0.5)
        #expect(LogitDifference.normalized(1, clean: 2, corrupt: 2) == nil)
        #expect(throws: MechanicError.self) { try LogitDifference.perRow(logits: logits, answers: [5], wrong: [1], positions: [1, 0]) }
    }
}
