import Foundation
import FixtureSupport
import Testing
import Mechanic
@testable import MechanicAnalysis

/// EAP and EAP-IG edge scores against torch autograd through TransformerLens 2.18 hooks
/// (`scripts/reference/circuit_fixtures.py`: use_attn_result, use_split_qkv_input,
/// use_hook_mlp_in) on the tiny fixture model of every family.
@Suite struct CircuitReferenceTests {
    static let runs: [(String, Bool)] = [("gpt2-tiny", true), ("gpt2-tiny", false), ("pythia-tiny", true),
                                        ("pythia-tiny-sequential", true), ("llama-tiny", true), ("llama-tiny", false),
                                        ("qwen2-tiny", true)]

    /// The fixture's pair and its mirror image, and the reference object.
    static func fixture(_ name: String, processed: Bool) throws -> (HookedTransformer, [PatchingPair], [String: Any]) {
        let ref = try TestFixtures.json(TestFixtures.reference(name, "circuit_\(processed ? "processed" : "unprocessed").json"))
        let c = TestFixtures.ints(ref["clean"]), k = TestFixtures.ints(ref["corrupt"])
        let a = (ref["answer"] as? NSNumber)?.intValue ?? -1, w = (ref["wrong"] as? NSNumber)?.intValue ?? -1
        let pairs = [PatchingPair(clean: c, corrupt: k, answer: a, wrong: w), PatchingPair(clean: k, corrupt: c, answer: w, wrong: a)]
        return (try TestFixtures.load(name, processed: processed), pairs, ref)
    }

    static func floats(_ any: Any?) -> [Float] { (any as? [Any] ?? []).compactMap { ($0 as? NSNumber)?.floatValue } }

    /// `|a − b| ≤ 1e-5 + 1e-4 · max|b|` over all edges; returns the failures.
    static func mismatches(_ what: String, _ got: [Float], _ want: [Float], names: [String]) -> [String] {
        guard got.count == want.count else { return ["\(what): \(got.count) scores vs \(want.count)"] }
        let allowed = 1e-5 + 1e-4 * (want.map(abs).max() ?? 0)
        return got.indices.filter { abs(got[$0] - want[$0]) > allowed }.prefix(5)
            .map { "\(what) \(names[$0]): \(got[$0]) vs \(want[$0]) (allowed \(allowed))" }
    }

    @Test("EAP and EAP-IG equal TransformerLens hooks + autograd", arguments: runs)
    func matchesReference(_ name: String, _ processed: Bool) throws {
        let (model, pairs, ref) = try Self.fixture(name, processed: processed)
        let run = try CircuitRun(model: model, pairs: pairs)
        let names = run.graph.edges.map(run.graph.name)
        #expect(names == (ref["edges"] as? [String] ?? []))
        let eap = try run.edgeAttribution()
        let ig = try run.edgeAttribution(igSteps: (ref["ig_steps"] as? NSNumber)?.intValue ?? 5)
        let failures = Self.mismatches("eap", eap, Self.floats(ref["eap"]), names: names)
            + Self.mismatches("eap-ig", ig, Self.floats(ref["eap_ig"]), names: names)
        #expect(failures.isEmpty, "\(name): \(failures.joined(separator: "; "))")
        // The scores are not trivially zero: the largest is a sizeable fraction of the metric.
        #expect((eap.map(abs).max() ?? 0) > 1e-3)
    }

    @Test func graphMatchesMIBCounts() throws {
        // GPT-2 small's shape: 32,491 edges (MIB).
        let c = ModelConfig(modelType: "gpt2", dModel: 768, nLayers: 12, nHeads: 12, dHead: 64, dMLP: 3072, dVocab: 50257, nCtx: 1024)
        let g = CircuitGraph(c)
        #expect(g.edges.count == 32_491)
        #expect(g.name(g.edges[0]) == "input->a0.h0<q>")
        #expect(g.edges.last.map(g.name) == "m11->logits")
        #expect(g.edges.map(g.name).contains("a0.h1->a3.h4<q>"))
        #expect(g.edges.map(g.name).contains("m2->a5.h0<v>"))
        #expect(g.edges.map(g.name).contains("input->m0"))
        #expect(g.edges.map(g.name).contains("a11.h9->logits"))
        #expect(g.groupedQueryNote == nil)
    }

    @Test func parallelAndGroupedQueryGraphs() throws {
        let pythia = try TestFixtures.load("pythia-tiny")
        let g = CircuitGraph(pythia.config)
        let names = Set(g.edges.map(g.name))
        #expect(!names.contains("a0.h0->m0"))          // parallel: the MLP does not read its own layer's heads
        #expect(names.contains("a0.h0->m1") && names.contains("input->m0"))
        let seq = CircuitGraph(try TestFixtures.load("pythia-tiny-sequential").config)
        #expect(Set(seq.edges.map(seq.name)).contains("a0.h0->m0"))
        let llama = try TestFixtures.load("llama-tiny")
        let q = CircuitGraph(llama.config)
        let qn = Set(q.edges.map(q.name))
        #expect(qn.contains("a0.h5->a1.h5<q>") && qn.contains("a0.h5->a1.h1<k>") && !qn.contains("a0.h5->a1.h2<k>"))
        #expect(q.groupedQueryNote?.contains("key/value head") == true)
    }
}
