import Foundation
import Testing
import Mechanic
@testable import MechanicAnalysis

/// Circuit discovery on the planted induction model (`PlantedInductionModel`): repeated random
/// tokens against a corrupted copy. Every method must find the K-composition edge
/// `a0.h0->a1.h0<k>` and `a1.h0->logits`, and leave the decoy heads out.
///
/// The key the induction head needs (the token *after* the earlier occurrence, found through its
/// previous-token information) lies in the *first* half. With only the second half corrupted the
/// first half — and so every key the final position reads — is the same in both prompts: patching
/// `a0.h0->a1.h0<k>` then changes nothing, and exact ACDC rightly drops it (checked below), while
/// EAP still ranks it. With the first half corrupted (the query side identical) the edge is
/// necessary and every method keeps it.
@Suite struct CircuitPlantedTests {
    /// `[BOS] + s + s[0..<n-1]` (answer `s[n-1]`) vs `[BOS] + s + r[0..<n-1]` (second half
    /// corrupted) or `[BOS] + r + s[0..<n-1]` (first half corrupted).
    static func pairs(_ planted: PlantedInductionModel, count: Int = 3, n: Int = 8, firstHalf: Bool = true) -> [PatchingPair] {
        var rng = SplitMix64(seed: 11)
        let V = planted.vocabSize - 1                       // token ids below the BOS id
        return (0..<count).map { _ in
            var ids = Array(0..<V)
            for i in stride(from: ids.count - 1, to: 0, by: -1) { ids.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
            let s = Array(ids[0..<n]), r = Array(ids[n..<(2 * n)])
            let corrupt = firstHalf ? [planted.bos] + r + s.dropLast() : [planted.bos] + s + r.dropLast()
            return PatchingPair(clean: [planted.bos] + s + s.dropLast(), corrupt: corrupt,
                                answer: s[n - 1], wrong: ids[2 * n])
        }
    }

    static func decoyEdge(_ name: String) -> Bool {
        PlantedInductionModel.decoys.contains { name.contains("a\($0.layer).h\($0.head)") }
    }

    @Test("EAP, EAP-IG and ACDC find the induction circuit", arguments: [CircuitMethod.eap, .eapIG, .acdc])
    func findsInduction(_ method: CircuitMethod) throws {
        let planted = try PlantedInductionModel.build(sharpness: 4)
        let pairs = Self.pairs(planted)
        let options = CircuitOptions(method: method, topN: method == .acdc ? nil : 5, threshold: method == .acdc ? 0.05 : nil, evaluate: true)
        let result = try CircuitDiscovery.run(model: planted.model, pairs: pairs, options: options)
        let inGraph = Set(result.edges.filter { $0.value.inGraph }.map(\.key))
        #expect(inGraph.contains("a0.h0->a1.h0<k>"), "\(method): \(inGraph.sorted())")
        #expect(inGraph.contains("a1.h0->logits"), "\(method): \(inGraph.sorted())")
        #expect(!inGraph.contains(where: Self.decoyEdge), "\(method): \(inGraph.sorted())")
        for d in PlantedInductionModel.decoys { #expect(result.nodes["a\(d.layer).h\(d.head)"]?.inGraph == false) }
        // The circuit carries the behaviour: faithfulness close to 1.
        let f = result.evaluation?.faithfulness ?? 0
        #expect(f > 0.9, "\(method): faithfulness \(f)")
        if method != .acdc {
            // Decoys read nothing that matters and write where nothing reads: their edges score 0.
            let top = result.edges.values.map { abs($0.score) }.max() ?? 0
            #expect(result.edges.filter { Self.decoyEdge($0.key) }.allSatisfy { abs($0.value.score) <= 1e-6 * top })
        }
        #expect(result.cfg == CircuitResult.Config(nLayers: 2, nHeads: 3, parallelAttnMLP: false, dModel: planted.model.config.dModel))
    }

    @Test func secondHalfCorruption() throws {
        let planted = try PlantedInductionModel.build(sharpness: 4)
        let pairs = Self.pairs(planted, firstHalf: false)
        let eap = try CircuitDiscovery.run(model: planted.model, pairs: pairs, options: CircuitOptions(method: .eap, topN: 5))
        let eapIn = Set(eap.edges.filter { $0.value.inGraph }.map(\.key))
        #expect(eapIn.contains("a0.h0->a1.h0<k>") && eapIn.contains("a1.h0->logits") && !eapIn.contains(where: Self.decoyEdge))
        // Exact: only the query side differs, so the circuit is the query edge and the output.
        let acdc = try CircuitDiscovery.run(model: planted.model, pairs: pairs, options: CircuitOptions(method: .acdc, threshold: 0.05))
        let acdcIn = Set(acdc.edges.filter { $0.value.inGraph }.map(\.key))
        #expect(acdcIn == ["input->a1.h0<q>", "a1.h0->logits"])
    }

    @Test func jsonIsMIBFormat() throws {
        let planted = try PlantedInductionModel.build(sharpness: 4)
        let result = try CircuitDiscovery.run(model: planted.model, pairs: Self.pairs(planted, count: 1),
                                              options: CircuitOptions(method: .eap, topN: 3))
        let object = try JSONSerialization.jsonObject(with: try ResultJSON.data(result)) as? [String: Any] ?? [:]
        let cfg = object["cfg"] as? [String: Any] ?? [:]
        #expect((cfg["n_layers"] as? Int) == 2 && (cfg["n_heads"] as? Int) == 3 && (cfg["parallel_attn_mlp"] as? Bool) == false)
        let edges = object["edges"] as? [String: [String: Any]] ?? [:]
        #expect(edges.count == CircuitGraph(planted.model.config).edges.count)
        #expect(edges.values.filter { ($0["in_graph"] as? Bool) == true }.count == 3)
        #expect(edges["a1.h0->logits"]?["score"] is NSNumber)
        let nodes = object["nodes"] as? [String: [String: Any]] ?? [:]
        #expect(nodes["a1.h0"]?["in_graph"] as? Bool == true && nodes.count == 1 + 6 + 1)
        #expect(try JSONDecoder().decode(CircuitResult.self, from: try ResultJSON.data(result)) == result)
    }
}
