import Foundation
import Mechanic

/// What exact ACDC found: the edges it kept and, per edge, how much removing it changed the
/// loss (`KL`, or `−logit difference`) when it was tested.
struct ACDCOutcome {
    var kept: [Bool]
    var effects: [Float]
    var tests: Int
    /// The metric (KL or logit difference) of the final circuit.
    var finalMetric: Double
}

extension CircuitRun {
    /// Exact ACDC (Conmy et al. 2023): receivers in reverse topological order (`logits` first,
    /// then per layer from the last: the MLP input, then heads from the last, each head's v, k, q),
    /// each receiver's incoming edges from the latest upstream node to `input`. Each edge is
    /// patched to its corrupted value on top of the edges already removed; it is removed for good
    /// when the loss — `KL(clean ‖ patched)` for `.kl`, `−logit difference` for `.logitDiff` —
    /// grows by less than `threshold` (ACDC's signed rule: edges whose removal helps are removed).
    func acdc(threshold: Double, metric: PatchingMetric, progress: WorkProgress? = nil) throws -> ACDCOutcome {
        guard metric == .kl || metric == .logitDiff else {
            throw MechanicError.invalidArgument("ACDC's metric must be kl or logit_diff (got \(metric.rawValue))")
        }
        guard threshold.isFinite else { throw MechanicError.invalidArgument("the ACDC threshold must be a finite number (got \(threshold))") }
        let ctx = try context(metric)
        let V = model.config.dVocab
        func loss(_ logits: [Float]) -> Double {
            let m = ctx.mean(logits, dVocab: V)
            return metric == .kl ? m : -m
        }
        let order = acdcEdgeOrder()
        var removed = [Bool](repeating: false, count: graph.edges.count)
        var effects = [Float](repeating: 0, count: graph.edges.count)
        var current = loss(cleanLogits)
        func sweep() throws {
            for e in order {
                removed[e] = true
                let value = loss(try patchedLogits(removed: removed))
                effects[e] = Float(value - current)
                if value - current < threshold { current = value } else { removed[e] = false }
                try progress?.advance(1)
            }
        }
        if let progress { try progress.run(total: order.count) { try sweep() } } else { try sweep() }
        return ACDCOutcome(kept: removed.map { !$0 }, effects: effects, tests: order.count,
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
