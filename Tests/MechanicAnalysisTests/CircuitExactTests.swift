import Foundation
import FixtureSupport
import Testing
import Mechanic
import MechanicTensor
@testable import MechanicAnalysis

/// A deliberately naive patched run for checking `CircuitRun.patchedLogits`: one full forward
/// from the embeddings per call, every receiver's input *replaced* by the corrupted run's
/// residual stream plus, for each edge kept, `u_current − u_corrupt` — the same quantity
/// written the other way round (kept edges, not removed ones; corrupted, not clean, stream).
struct NaiveCircuit {
    let model: HookedTransformer
    let graph: CircuitGraph
    let clean: TokenBatch
    let corruptCache: ActivationCache
    let answers: [Int], wrongs: [Int]

    init(model: HookedTransformer, pairs: [PatchingPair]) throws {
        self.model = model
        graph = CircuitGraph(model.config)
        clean = try TokenBatch(ids: pairs.map(\.clean))
        let names = [HookKind.embed.rawValue] + (model.config.hookNames().contains("hook_pos_embed") ? ["hook_pos_embed"] : [])
            + (0..<model.config.nLayers).flatMap { l in
                [HookKind.result.name(layer: l), HookKind.mlpOut.name(layer: l), HookKind.residPre.name(layer: l),
                 HookKind.residMid.name(layer: l), HookKind.residPost.name(layer: l)]
            }.filter { model.config.hookNames(HookOptions(attnResult: true)).contains($0) }
        corruptCache = try model.forward(try TokenBatch(ids: pairs.map(\.corrupt)), options: ForwardOptions(cache: .names(names))).cache
        answers = pairs.map(\.answer)
        wrongs = pairs.map(\.wrong)
    }

    func input(_ c: ActivationCache) throws -> Tensor {
        var x = try c.require("hook_embed")
        if let p = c["hook_pos_embed"] { x.add(p) }
        return x
    }

    /// Mean logit difference and final-position logits with only the edges in `kept`.
    func run(kept: [Bool]) throws -> (logitDiff: Double, logits: [Float]) {
        let g = graph, c = model.config
        final class Box { var outputs: [CircuitGraph.Node: Tensor] = [:] }
        let box = Box()
        let (B, P, D) = (clean.batch, clean.length, c.dModel)
        func corrupt(_ u: CircuitGraph.Node) throws -> Tensor {
            switch u {
            case .input: return try input(corruptCache)
            case let .head(l, h): return NodeOutputs.head(try corruptCache.require(HookKind.result.name(layer: l)), h)
            case let .mlp(l): return try corruptCache.require(HookKind.mlpOut.name(layer: l))
            case .logits: return Tensor(zeros: [0])
            }
        }
        let offsets = g.receiverOffsets
        // The replaced input of receiver r: corrupted residual + Σ_kept (current − corrupt).
        func replaced(_ r: Int, corruptResid: Tensor) throws -> Tensor {
            var x = corruptResid
            for u in 0..<g.receivers[r].upstreamCount where kept[offsets[r] + u] {
                let node = g.upstream[u]
                guard let cur = box.outputs[node] else { throw MechanicError.invalidArgument("naive: \(node.name) not seen yet") }
                let cor = try corrupt(node)
                for i in 0..<x.count { x.data[i] += cur.data[i] - cor.data[i] }
            }
            return x
        }
        var hooks: [Hook] = [Hook("hook_embed") { x, _ in box.outputs[.input] = x }]
        if c.hookNames().contains("hook_pos_embed") {
            hooks.append(Hook("hook_pos_embed") { x, _ in box.outputs[.input]?.add(x) })
        }
        for l in 0..<c.nLayers {
            for (port, kind, slots) in [(CircuitGraph.Port.q, HookKind.qInput, c.nHeads), (.k, .kInput, c.nKeyValueHeads), (.v, .vInput, c.nKeyValueHeads)] {
                hooks.append(Hook(kind.name(layer: l)) { x, _ in
                    let resid = try self.corruptCache.require(HookKind.residPre.name(layer: l))
                    for (r, rec) in g.receivers.enumerated() where rec.layer == l && rec.port == port {
                        let y = try replaced(r, corruptResid: resid)
                        for t in 0..<(B * P) { for m in 0..<D { x.data[(t * slots + rec.head) * D + m] = y.data[t * D + m] } }
                    }
                })
            }
            hooks.append(Hook(HookKind.result.name(layer: l)) { x, _ in
                for h in 0..<c.nHeads { box.outputs[.head(layer: l, head: h)] = NodeOutputs.head(x, h) }
            })
            if !c.attnOnly {
                hooks.append(Hook(HookKind.mlpIn.name(layer: l)) { x, _ in
                    let name = c.parallelAttnMLP ? HookKind.residPre.name(layer: l) : HookKind.residMid.name(layer: l)
                    guard let r = g.receivers.firstIndex(where: { $0.port == .mlp && $0.layer == l }) else { return }
                    x = try replaced(r, corruptResid: try self.corruptCache.require(name))
                })
                hooks.append(Hook(HookKind.mlpOut.name(layer: l)) { x, _ in box.outputs[.mlp(layer: l)] = x })
            }
        }
        let lastName = HookKind.residPost.name(layer: c.nLayers - 1)
        hooks.append(Hook(lastName) { x, _ in
            x = try replaced(g.receivers.count - 1, corruptResid: try self.corruptCache.require(lastName))
        })
        let logits = try model.forward(clean, options: ForwardOptions(hooks: hooks, logits: .last)).logits?.data ?? []
        let V = c.dVocab
        let ld = (0..<B).reduce(0.0) { $0 + Double(logits[$1 * V + answers[$1]] - logits[$1 * V + wrongs[$1]]) } / Double(B)
        return (ld, logits)
    }
}

@Suite struct CircuitExactTests {
    static func pairs(_ name: String) throws -> (HookedTransformer, [PatchingPair]) {
        let (m, p, _) = try CircuitReferenceTests.fixture(name, processed: true)
        return (m, p)
    }

    @Test("patched runs equal the naive replaced-input forward", arguments: ["gpt2-tiny", "pythia-tiny", "llama-tiny"])
    func patchedRunsMatchNaive(_ name: String) throws {
        let (model, pairs) = try Self.pairs(name)
        let run = try CircuitRun(model: model, pairs: pairs)
        let naive = try NaiveCircuit(model: model, pairs: pairs)
        let E = run.graph.edges.count
        var rng = SplitMix64(seed: 7)
        for trial in 0..<4 {
            let kept = (0..<E).map { _ in trial == 0 ? true : rng.next() % 3 != 0 }
            let got = try run.patchedLogits(removed: kept.map { !$0 })
            let want = try naive.run(kept: kept).logits
            let tol = 1e-5 + 1e-4 * (want.map(abs).max() ?? 0)
            #expect(zip(got, want).allSatisfy { abs($0 - $1) <= tol }, "\(name) trial \(trial)")
        }
        // No edge kept = the corrupted run.
        let none = try run.patchedLogits(removed: [Bool](repeating: true, count: E))
        let tol = 1e-5 + 1e-4 * (run.corruptLogits.map(abs).max() ?? 0)
        #expect(zip(none, run.corruptLogits).allSatisfy { abs($0 - $1) <= tol })
    }

    @Test("ACDC's patched runs (dead receivers fed corrupted inputs, cached corrections) equal the naive forward",
          arguments: ["gpt2-tiny", "pythia-tiny", "llama-tiny"])
    func acdcPatchedRunsMatchNaive(_ name: String) throws {
        let (model, pairs) = try Self.pairs(name)
        let run = try CircuitRun(model: model, pairs: pairs)
        let naive = try NaiveCircuit(model: model, pairs: pairs)
        let g = run.graph
        let own = run.ownReceivers()
        let cache = ACDCEditCache()
        var rng = SplitMix64(seed: 11)
        var removed: [Bool] = []
        for trial in 0..<6 {
            if trial < 3 {
                // Random removals, then every outgoing edge of a few random nodes removed (dead nodes).
                removed = g.edges.map { _ in rng.next() % 3 == 0 }
                let deadNodes = Set((0..<3).map { _ in 1 + Int(rng.next() % UInt64(g.upstream.count - 1)) })
                for (e, edge) in g.edges.enumerated() where deadNodes.contains(edge.upstream) { removed[e] = true }
            } else {
                // Trials 3…5: the previous removals plus one more edge of each receiver (the cache's incremental path).
                for r in g.receivers.indices { if let e = g.edges.indices.first(where: { g.edges[$0].receiver == r && !removed[$0] }) { removed[e] = true } }
            }
            var alive = [Int](repeating: 0, count: g.upstream.count)
            for (e, edge) in g.edges.enumerated() where !removed[e] { alive[edge.upstream] += 1 }
            var dead = [Bool](repeating: false, count: g.receivers.count)
            for (u, rs) in own.enumerated() where alive[u] == 0 { for r in rs where g.readers(of: r).allSatisfy({ alive[$0] == 0 }) { dead[r] = true } }
            #expect(dead.contains(true), "\(name) trial \(trial): no dead receiver")
            let got = try run.acdcPatchedLogits(removed: removed, dead: dead, cache: cache)
            let want = try naive.run(kept: removed.map { !$0 }).logits
            let tol = 1e-5 + 1e-4 * (want.map(abs).max() ?? 0)
            #expect(zip(got, want).allSatisfy { abs($0 - $1) <= tol }, "\(name) trial \(trial)")
        }
    }

    @Test("exact ACDC equals a naive ACDC (one full forward per edge test)", arguments: ["gpt2-tiny", "llama-tiny"])
    func acdcMatchesNaive(_ name: String) throws {
        let (model, pairs) = try Self.pairs(name)
        let run = try CircuitRun(model: model, pairs: pairs)
        let naive = try NaiveCircuit(model: model, pairs: pairs)
        let threshold = 0.05
        let out = try run.acdc(threshold: threshold, metric: .logitDiff)
        // Naive: the same visiting order, every test a full forward of the kept set.
        var kept = [Bool](repeating: true, count: run.graph.edges.count)
        var current = -(try naive.run(kept: kept).logitDiff)
        for e in run.acdcEdgeOrder() {
            kept[e] = false
            let value = -(try naive.run(kept: kept).logitDiff)
            if value - current < threshold { current = value } else { kept[e] = true }
        }
        #expect(out.kept == kept)
        let n = kept.filter { $0 }.count
        #expect(n > 0 && n < kept.count, "\(name): ACDC kept \(n) of \(kept.count) edges")
        #expect(out.tests == kept.count)
        // Dead receivers (a node none of whose outputs is read any more) were removed without a run.
        #expect(out.skipped > 0 && out.skipped < out.tests, "\(name): \(out.skipped) of \(out.tests) edges removed without a run")
    }

    @Test func faithfulnessEqualsHandPatching() throws {
        let (model, pairs) = try Self.pairs("gpt2-tiny")
        let run = try CircuitRun(model: model, pairs: pairs)
        let naive = try NaiveCircuit(model: model, pairs: pairs)
        let scores = try run.edgeAttribution()
        let circuit = CircuitRun.top(scores, count: 20)
        let ev = try run.evaluate(circuit: circuit, scores: scores)
        let full = try naive.run(kept: [Bool](repeating: true, count: circuit.count)).logitDiff
        let empty = try naive.run(kept: [Bool](repeating: false, count: circuit.count)).logitDiff
        let mC = try naive.run(kept: circuit).logitDiff
        let f = (mC - empty) / (full - empty)
        #expect(abs(ev.faithfulness - f) < 1e-4 * max(1, abs(f)))
        #expect(ev.circuitEdges == 20)
        #expect(ev.curve.count == 10 && ev.curve.last?.edges == circuit.count)
        #expect(abs((ev.curve.last?.faithfulness ?? 0) - 1) < 1e-4)    // every edge = the clean run
        let p10 = ev.curve[6]                                              // 10%
        let k = Int((0.1 * Double(circuit.count)).rounded())
        let hand = (try naive.run(kept: CircuitRun.top(scores, count: k)).logitDiff - empty) / (full - empty)
        #expect(p10.edges == k && abs(p10.faithfulness - hand) < 1e-4 * max(1, abs(hand)))
        // CPR by hand (trapezoids over the fraction of edges).
        var cpr = 0.0
        for (a, b) in zip(ev.curve, ev.curve.dropFirst()) { cpr += (b.percent - a.percent) / 100 * (a.faithfulness + b.faithfulness) / 2 }
        #expect(abs(ev.cpr - cpr) < 1e-12)
    }
}
