import Foundation
import Testing
import FixtureSupport
import Mechanic
@testable import MechanicAnalysis

/// Patching on a streamed model: the packed engine (which reads each block's weights once per
/// pass), path patching, ablation, attribution patching and the gradients behind it give the
/// resident model's numbers.
@Suite struct StreamingPatchingTests {
    /// The fixture's pair and its mirror image, so that the packed engine runs rows of two pairs.
    static func pairs(_ name: String) throws -> [PatchingPair] {
        let p = try PatchingFixtures.pair(name)
        return [p, PatchingPair(clean: p.corrupt, corrupt: p.clean, answer: p.wrong, wrong: p.answer)]
    }

    static func kinds(_ c: ModelConfig) -> [ActPatchKind] {
        ActPatchKind.allCases.filter { (try? $0.checkSupported(c)) != nil }
    }

    @Test(arguments: Streamed.models)
    func everyActPatchKindMatchesResident(_ name: String) throws {
        let (r, s) = try Streamed.load(name)
        let pairs = try Self.pairs(name)
        var same = SameNumbers("\(name) patch")
        // A small token budget splits each sweep into several passes over the layers, each of
        // which reads the streamed blocks again.
        for budget in [4096, 12] {
            let (rs, rr) = (try PatchingRun(model: s, pairs: pairs), try PatchingRun(model: r, pairs: pairs))
            rs.maxBatchTokens = budget
            rr.maxBatchTokens = budget
            same.values("clean and corrupted metrics", [rs.cleanMetric, rs.corruptMetric], [rr.cleanMetric, rr.corruptMetric])
            for kind in Self.kinds(r.config) {
                same.tensor("\(kind.rawValue) budget \(budget)", try rs.run(kind).values, try rr.run(kind).values)
            }
            same.tensor("mlp_neuron final", try rs.run(.mlpNeuron, neuronPositions: .final).values,
                        try rr.run(.mlpNeuron, neuronPositions: .final).values)
        }
        // The other engines read the weights through the forward pass; one kind each.
        for engine in [PatchEngine.batched, .naive] {
            let (rs, rr) = (try PatchingRun(model: s, pairs: pairs), try PatchingRun(model: r, pairs: pairs))
            same.tensor("attn_head_out_all_pos \(engine)", try rs.run(.attnHeadOutAllPos, engine: engine).values,
                        try rr.run(.attnHeadOutAllPos, engine: engine).values)
        }
        same.check()
        #expect(Self.kinds(r.config).count >= 17)
    }

    @Test(arguments: Streamed.models)
    func pathPatchingAblationAndSweepsMatchResident(_ name: String) throws {
        let (r, s) = try Streamed.load(name)
        let pairs = try Self.pairs(name)
        var same = SameNumbers("\(name) path/ablate/sweep")
        let (rs, rr) = (try PatchingRun(model: s, pairs: pairs), try PatchingRun(model: r, pairs: pairs))
        let receivers: [PathReceiver] = [.head(HeadIndex(layer: 1, head: 0), .q), .head(HeadIndex(layer: 1, head: 1), .k),
                                         .head(HeadIndex(layer: 1, head: 0), .v)]
        for freeze in [false, true] {
            same.tensor("path each head freeze \(freeze)", try rs.pathPatchEachHead(receivers: receivers, freezeMLPs: freeze).values,
                        try rr.pathPatchEachHead(receivers: receivers, freezeMLPs: freeze).values)
            same.tensor("path to logits freeze \(freeze)", try rs.pathPatchEachHead(receivers: [.logits], freezeMLPs: freeze).values,
                        try rr.pathPatchEachHead(receivers: [.logits], freezeMLPs: freeze).values)
        }
        same.values("path sender sets", try rs.pathPatch(senderSets: [[HeadIndex(layer: 0, head: 0)], [HeadIndex(layer: 0, head: 1), HeadIndex(layer: 1, head: 2)]], receivers: [.logits]),
                    try rr.pathPatch(senderSets: [[HeadIndex(layer: 0, head: 0)], [HeadIndex(layer: 0, head: 1), HeadIndex(layer: 1, head: 2)]], receivers: [.logits]))
        for mode in AblationMode.allCases {
            let (a, b) = (try PatchingRun(model: s, pairs: pairs, mode: .ablate(mode)), try PatchingRun(model: r, pairs: pairs, mode: .ablate(mode)))
            for kind in [ActPatchKind.residPre, .attnHeadOutAllPos, .mlpOut] {
                same.tensor("\(mode)-ablate \(kind.rawValue)", try a.run(kind).values, try b.run(kind).values)
            }
        }
        // Pairs streamed through in batches of one (normalised metric: the sweep's own normalisation).
        let (ws, wr) = (try PatchingSweep(model: s, pairs: pairs, metric: .normalizedLogitDiff, pairBatchSize: 1),
                        try PatchingSweep(model: r, pairs: pairs, metric: .normalizedLogitDiff, pairBatchSize: 1))
        for kind in [ActPatchKind.residPre, .attnHeadOutByPos, .blockEvery] {
            same.tensor("sweep \(kind.rawValue)", try ws.run(kind).values, try wr.run(kind).values)
        }
        same.tensor("sweep atp* attn_head_out_all_pos", try ws.attribution(.attnHeadOutAllPos, topK: 2).estimates,
                    try wr.attribution(.attnHeadOutAllPos, topK: 2).estimates)
        same.check()
    }

    @Test(arguments: Streamed.models)
    func attributionPatchingAndGradientsMatchResident(_ name: String) throws {
        let (r, s) = try Streamed.load(name)
        let pairs = try Self.pairs(name)
        var same = SameNumbers("\(name) attribution patching")
        let (rs, rr) = (try PatchingRun(model: s, pairs: pairs), try PatchingRun(model: r, pairs: pairs))
        let (gs, gr) = (try rs.metricGradients(), try rr.metricGradients())
        same.tensor("gradient logits", gs.logits, gr.logits)
        #expect(gs.gradients.names.sorted() == gr.gradients.names.sorted())
        for key in gr.gradients.names.sorted() { same.tensor("d/d \(key)", try gs.gradients.require(key), try gr.gradients.require(key)) }
        for kind in Self.kinds(r.config) {
            for method in AttributionMethod.allCases {
                let (a, b) = (try rs.attribution(kind, method: method, topK: 2, gradients: gs),
                              try rr.attribution(kind, method: method, topK: 2, gradients: gr))
                same.tensor("\(method) \(kind.rawValue)", a.estimates, b.estimates)
                same.values("\(method) \(kind.rawValue) exact checks", a.checks.map(\.exact), b.checks.map(\.exact))
                same.values("\(method) \(kind.rawValue) metrics", [a.targetMetric, a.cleanMetric, a.corruptMetric],
                            [b.targetMetric, b.cleanMetric, b.corruptMetric])
            }
        }
        same.check()
    }
}
