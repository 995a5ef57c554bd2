import Foundation
import Mechanic

/// What exact ACDC found: the edges it kept and, per edge, how much removing it changed the
/// loss (`KL`, or `−logit difference`) when it was tested.
public struct ACDCOutcome: Sendable {
    public var kept: [Bool]
    public var effects: [Float]
    /// Edges visited (every edge of the graph, unless cancelled).
    public var tests: Int
    /// Of those, edges removed without a patched run: their receiver's node no longer reached
    /// anything downstream (effect 0 by construction; see `CircuitRun.acdc`).
    public var skipped: Int
    /// The metric (KL or logit difference) of the final circuit.
    public var finalMetric: Double
}

extension CircuitRun {
    /// Exact ACDC (Conmy et al. 2023): receivers in reverse topological order (`logits` first,
    /// then per layer from the last: the MLP input, then heads from the last, each head's v, k, q),
    /// each receiver's incoming edges from the latest upstream node to `input`. Each edge is
    /// patched to its corrupted value on top of the edges already removed; it is removed for good
    /// when the loss — `KL(clean ‖ patched)` for `.kl`, `−logit difference` for `.logitDiff` —
    /// grows by less than `threshold` (ACDC's signed rule: edges whose removal helps are removed).
    ///
    /// Dead receivers: when every outgoing edge of the receiver's node has been removed, each
    /// reader of that node sees its corrupted output whatever its inputs are, so patching an
    /// incoming edge changes the loss by exactly 0 (up to float rounding). With `threshold > 0`
    /// ACDC's rule removes such edges; they are removed without a patched run (effect 0). Later
    /// runs feed dead receivers the corrupted input (see `acdcPatchedLogits`).
    func acdc(threshold: Double, metric: PatchingMetric, progress: WorkProgress? = nil) throws -> ACDCOutcome {
        guard metric == .kl || metric == .logitDiff else {
            throw MechanicError.invalidArgument("ACDC's metric must be kl or logit_diff (got \(metric.rawValue))")
        }
        guard threshold.isFinite else { throw MechanicError.invalidArgument("the ACDC threshold must be a finite number (got \(threshold))") }
        let ctx = try context(metric)
        let V = model.config.dVocab
        let g = graph
        func loss(_ logits: [Float]) -> Double {
            let m = ctx.mean(logits, dVocab: V)
            return metric == .kl ? m : -m
        }
        let order = acdcEdgeOrder()
        var removed = [Bool](repeating: false, count: g.edges.count)
        var effects = [Float](repeating: 0, count: g.edges.count)
        var current = loss(cleanLogits)
        // Outgoing edges still present, per upstream node.
        var alive = [Int](repeating: 0, count: g.upstream.count)
        for e in g.edges { alive[e.upstream] += 1 }
        var dead = [Bool](repeating: false, count: g.receivers.count)
        var skipped = 0
        let cache = ACDCEditCache()
        let readers = g.receivers.indices.map { g.readers(of: $0) }
        func isDead(_ r: Int) -> Bool { threshold > 0 && !readers[r].isEmpty && readers[r].allSatisfy { alive[$0] == 0 } }
        func sweep() throws {
            for e in order {
                let r = g.edges[e].receiver
                removed[e] = true
                if dead[r] || isDead(r) {
                    dead[r] = true
                    effects[e] = 0
                    skipped += 1
                } else {
                    let value = loss(try acdcPatchedLogits(removed: removed, dead: dead, cache: cache))
                    effects[e] = Float(value - current)
                    if value - current < threshold { current = value } else { removed[e] = false }
                }
                if removed[e] { alive[g.edges[e].upstream] -= 1 }
                try progress?.advance(1)
            }
        }
        if let progress { try progress.run(total: order.count) { try sweep() } } else { try sweep() }
        return ACDCOutcome(kept: removed.map { !$0 }, effects: effects, tests: order.count, skipped: skipped,
                           finalMetric: metric == .kl ? current : -current)
    }

    /// The order ACDC tests edges in (indices into `graph.edges`): receivers in reverse
    /// topological order (within a layer: MLP, then heads from the last, each v, k, q), each
    /// receiver's upstream nodes from the latest to `input`.
    func acdcEdgeOrder() -> [Int] {
        let g = graph
        let offsets = g.receiverOffsets
        let rank: (CircuitGraph.Receiver) -> (Int, Int, Int, Int) = { r in
            switch r.port {
            case .logits: return (g.nLayers + 1, 0, 0, 0)
            case .mlp: return (r.layer, 1, 0, 0)
            case .v: return (r.layer, 0, r.head * (g.nHeads / max(g.nKeyValueHeads, 1)), 2)
            case .k: return (r.layer, 0, r.head * (g.nHeads / max(g.nKeyValueHeads, 1)), 1)
            case .q: return (r.layer, 0, r.head, 0)
            }
        }
        let receivers = g.receivers.indices.sorted { rank(g.receivers[$0]) > rank(g.receivers[$1]) }
        return receivers.flatMap { r in (0..<g.receivers[r].upstreamCount).reversed().map { offsets[r] + $0 } }
    }
}

extension CircuitGraph {
    /// The upstream nodes (indices into `upstream`) whose output receiver `r` feeds: its head, or
    /// for a key/value head every query head reading it; its MLP; none for `logits`.
    func readers(of r: Int) -> [Int] {
        let rec = receivers[r]
        let G = nHeads / max(nKeyValueHeads, 1)
        let heads: [Int]
        switch rec.port {
        case .logits: return []
        case .mlp: return upstream.indices.filter { upstream[$0] == .mlp(layer: rec.layer) }
        case .q: heads = [rec.head]
        case .k, .v: heads = Array(rec.head * G ..< (rec.head + 1) * G)
        }
        return upstream.indices.filter { if case let .head(l, h) = upstream[$0] { return l == rec.layer && heads.contains(h) } else { return false } }
    }
}
