import Foundation
import Testing
import FixtureSupport
import Mechanic
@testable import MechanicAnalysis

/// Path patching on ground truth.
@Suite struct PatchingPathTests {
    /// A sender cannot reach a receiver in its own or an earlier layer: the result is the clean run.
    @Test(arguments: PatchingFixtures.models)
    func unreachableReceiversHaveNoEffect(_ name: String) throws {
        let model = try PatchingFixtures.model(name)
        let run = try PatchingRun(model: model, pairs: [try PatchingFixtures.pair(name)])
        let receivers: [PathReceiver] = [.head(HeadIndex(layer: 0, head: 1), .q), .head(HeadIndex(layer: 0, head: 0), .k),
                                         .head(HeadIndex(layer: 1, head: 1), .v), .head(HeadIndex(layer: 1, head: 2), .q)]
        let value = try run.pathPatch(senders: [HeadIndex(layer: 1, head: 0), HeadIndex(layer: 1, head: 3)], receivers: receivers)
        #expect(value == run.cleanMetric, "\(name): \(value) vs clean \(run.cleanMetric)")
        // …while the same senders do change the logits, and layer-0 senders do reach layer-1 receivers.
        #expect(abs(try run.pathPatch(senders: [HeadIndex(layer: 1, head: 0)], receivers: [.logits]) - run.cleanMetric) > 1e-3)
        let reach = try run.pathPatchEachHead(receivers: [.head(HeadIndex(layer: 1, head: 1), .q), .head(HeadIndex(layer: 1, head: 0), .v)])
        #expect((0..<model.config.nHeads).contains { abs(Double(reach.values[0, $0]) - run.cleanMetric) > 1e-3 })
        // Each head's run is a batched forward, the clean metric a one-pair run: equal up to rounding.
        for h in 0..<model.config.nHeads { #expect(Float32Rounding.agree(Double(reach.values[1, h]), run.cleanMetric)) }
    }

    /// With MLPs frozen, the path from a sender to the logits is its direct effect: the clean
    /// final residual stream plus (corrupted − clean) head output, through ln_final and W_U.
    @Test(arguments: PatchingFixtures.models)
    func pathToLogitsIsTheDirectEffect(_ name: String) throws {
        let model = try PatchingFixtures.model(name)
        let pair = try PatchingFixtures.pair(name)
        let c = model.config
        let run = try PatchingRun(model: model, pairs: [pair])
        let grid = try run.pathPatchEachHead(receivers: [.logits], freezeMLPs: true)
        let last = "blocks.\(c.nLayers - 1).hook_resid_post"
        var failures: [String] = []
        for l in 0..<c.nLayers {
            let z = "blocks.\(l).attn.hook_z"
            let clean = try model.runWithCache(TokenBatch(pair.clean), names: .names([z, last])).cache
            let corruptZ = try model.runWithCache(TokenBatch(pair.corrupt), names: .names([z])).cache.require(z)
            let cleanZ = try clean.require(z)
            for h in 0..<c.nHeads {
                // delta[p] = (z_corrupt − z_clean)[p, h] · W_O[h]
                var resid = try clean.require(last)
                let W_O = try model.block(l).W_O
                for p in 0..<pair.clean.count { for m in 0..<c.dModel {
                    var d: Float = 0
                    for e in 0..<c.dHead { d += (corruptZ[0, p, h, e] - cleanZ[0, p, h, e]) * W_O[h, e, m] }
                    resid[0, p, m] += d
                } }
                let logits = try model.forward(TokenBatch(pair.clean), options: ForwardOptions(startAtLayer: c.nLayers, logits: .last),
                                               residual: resid).logits ?? Tensor(zeros: [0])
                let direct = logits.data[pair.answer] - logits.data[pair.wrong]
                if abs(grid.values[l, h] - direct) > 1e-4 * max(1, abs(direct)) { failures.append("L\(l)H\(h): \(grid.values[l, h]) vs \(direct)") }
            }
        }
        #expect(failures.isEmpty, "\(name): \(failures)")
    }

    /// A last-layer sender reaches the logits only directly, so its path effect is the effect of
    /// patching its corrupted output into the clean run; one call per sender equals the batched grid.
    @Test func lastLayerSenderEqualsResampledHead() throws {
        let model = try PatchingFixtures.model("pythia-tiny")
        let pair = try PatchingFixtures.pair("pythia-tiny")
        let run = try PatchingRun(model: model, pairs: [pair])
        let grid = try run.pathPatchEachHead(receivers: [.logits])
        let resample = try PatchingRun(model: model, pairs: [pair], mode: .ablate(.resample)).run(.attnHeadOutAllPos).values
        for h in 0..<4 {
            #expect(abs(grid.values[1, h] - resample[1, h]) < 1e-4)
            for l in 0..<2 {
                let single = try run.pathPatch(senders: [HeadIndex(layer: l, head: h)], receivers: [.logits])
                #expect(abs(Float(single) - grid.values[l, h]) < 1e-4)
            }
        }
    }

    /// Keys and values of grouped-query models are addressed by key/value head.
    @Test func groupedQueryReceivers() throws {
        let model = try PatchingFixtures.model("llama-tiny")
        let run = try PatchingRun(model: model, pairs: [try PatchingFixtures.pair("llama-tiny")])
        let ok = try run.pathPatch(senders: [HeadIndex(layer: 0, head: 5)], receivers: [.head(HeadIndex(layer: 1, head: 1), .k)])
        #expect(ok.isFinite && abs(ok - run.cleanMetric) > 1e-5)
        #expect(throws: MechanicError.self) { try run.pathPatch(senders: [HeadIndex(layer: 0, head: 0)], receivers: [.head(HeadIndex(layer: 1, head: 2), .k)]) }
        #expect(throws: MechanicError.self) { try run.pathPatch(senders: [HeadIndex(layer: 0, head: 6)], receivers: [.logits]) }
        #expect(throws: MechanicError.self) { try run.pathPatch(senders: [], receivers: [.logits]) }
    }
}
