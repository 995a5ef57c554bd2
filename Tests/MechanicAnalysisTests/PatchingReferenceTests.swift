import Foundation
import FixtureSupport
import Testing
import Mechanic
@testable import MechanicAnalysis

/// The committed fixtures (`Tests/Fixtures`; `MECHANIC_FIXTURES` overrides), loaded once per process.
enum PatchingFixtures {
    static var root: URL { TestFixtures.root }
    static let models = ["gpt2-tiny", "pythia-tiny", "llama-tiny"]

    static func reference(_ name: String, _ file: String) -> URL { root.appendingPathComponent("reference/\(name)/\(file)") }

    /// This area's own references (`scripts/reference/patching_fixtures.py`): under the fixtures
    /// root, or beside this test target when the root is elsewhere.
    static func patchingReference(_ name: String) -> URL {
        let url = reference(name, "patching_extra.safetensors")
        if FileManager.default.fileExists(atPath: url.path) { return url }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/reference/\(name)/patching_extra.safetensors")
    }

    static func model(_ name: String, processed: Bool = true) throws -> HookedTransformer {
        try TestFixtures.load(name, processed: processed)
    }

    /// The analysis prompts of a model: clean/corrupted token ids, answer and wrong ids.
    static func pair(_ name: String) throws -> PatchingPair {
        let data = try Data(contentsOf: reference(name, "analysis.json"))
        let j = try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
        func ints(_ k: String) -> [Int] { (j[k] as? [Any] ?? []).compactMap { ($0 as? NSNumber)?.intValue } }
        return PatchingPair(clean: ints("clean_tokens"), corrupt: ints("corrupted_tokens"),
                            answer: (j["answer_id"] as? NSNumber)?.intValue ?? -1, wrong: (j["wrong_id"] as? NSNumber)?.intValue ?? -1)
    }
}

/// `|a − b| ≤ 1e-5 + 1e-4 · max|b|` per tensor; returns a description of the failure or nil.
func patchingMismatch(_ name: String, _ a: Tensor, _ b: Tensor) -> String? {
    let c = Comparison(name, a, b)
    return c.ok ? nil : c.description
}

/// Every `transformer_lens.patching.get_act_patch_*` result against TransformerLens 2.18 on the
/// three tiny models (processed weights, the analysis prompts of `make_analysis_fixtures.py`).
@Suite struct PatchingReferenceTests {
    @Test(arguments: PatchingFixtures.models)
    func everyFunctionMatchesTransformerLens(_ name: String) throws {
        let model = try PatchingFixtures.model(name)
        let ref = try SafeTensorsFile(url: PatchingFixtures.reference(name, "analysis_patching.safetensors"))
        let run = try PatchingRun(model: model, pairs: [try PatchingFixtures.pair(name)])
        #expect(abs(run.cleanMetric - Double(try ref.tensor("clean_metric").data[0])) < 1e-4)
        #expect(abs(run.corruptMetric - Double(try ref.tensor("corrupted_metric").data[0])) < 1e-4)
        var compared: [String] = []
        var failures: [String] = []
        for kind in ActPatchKind.allCases where ref.names.contains(kind.rawValue) {
            let ours = try run.run(kind).values
            if let bad = patchingMismatch("\(name) \(kind.rawValue)", ours, try ref.tensor(kind.rawValue)) { failures.append(bad) }
            compared.append(kind.rawValue)
        }
        #expect(failures.isEmpty, "\(failures.joined(separator: "; "))")
        // Every TransformerLens function was generated and compared (resid_mid is absent for parallel-attention Pythia).
        #expect(compared.count == (name == "pythia-tiny" ? 17 : 18), "compared \(compared)")
    }

    /// Mechanic's extra kinds against TransformerLens's `generic_activation_patch` with the same
    /// setters, two pairs as one TransformerLens batch, and path patching against an
    /// independent Python implementation of the same procedure.
    @Test(arguments: PatchingFixtures.models)
    func extraKindsMatchTransformerLens(_ name: String) throws {
        let model = try PatchingFixtures.model(name)
        let ref = try SafeTensorsFile(url: PatchingFixtures.patchingReference(name))
        let pair = try PatchingFixtures.pair(name)
        let run = try PatchingRun(model: model, pairs: [pair])
        var checks: [(String, Tensor)] = [
            ("resid_post", try run.run(.residPost).values),
            ("mlp_neuron_all", try run.run(.mlpNeuron, neuronPositions: .all).values),
            ("mlp_neuron_final", try run.run(.mlpNeuron, neuronPositions: .final).values),
            ("attn_head_result", try run.run(.attnHeadResult).values),
            ("attn_head_result_by_pos", try run.run(.attnHeadResultByPos).values),
            ("path_qk_grid", try run.pathPatchEachHead(receivers: [.head(HeadIndex(layer: 1, head: 0), .q), .head(HeadIndex(layer: 1, head: 1), .k)]).values),
            ("path_logits_grid", try run.pathPatchEachHead(receivers: [.logits]).values),
            ("path_logits_frozen_grid", try run.pathPatchEachHead(receivers: [.logits], freezeMLPs: true).values),
        ]
        let mirrored = PatchingPair(clean: pair.corrupt, corrupt: pair.clean, answer: pair.wrong, wrong: pair.answer)
        let two = try PatchingRun(model: model, pairs: [pair, mirrored])
        checks.append(("pairs2_resid_pre", try two.run(.residPre).values))
        checks.append(("pairs2_attn_head_out_all_pos", try two.run(.attnHeadOutAllPos).values))
        let failures = try checks.compactMap { key, ours in patchingMismatch("\(name) \(key)", ours, try ref.tensor(key)) }
        #expect(failures.isEmpty, "\(failures.joined(separator: "; "))")
        #expect(Set(ref.names).subtracting(checks.map(\.0)).isEmpty, "unchecked references: \(Set(ref.names).subtracting(checks.map(\.0)))")
    }

    @Test func residMidOfParallelModelIsAClearError() throws {
        let model = try PatchingFixtures.model("pythia-tiny")
        let run = try PatchingRun(model: model, pairs: [try PatchingFixtures.pair("pythia-tiny")])
        #expect(throws: MechanicError.self) { try run.run(.residMid) }
    }
}
