import Foundation
import Mechanic
import MechanicTensor

extension CircuitRun {
    /// Edge attribution patching (Syed et al. 2023) and, with `igSteps`, EAP-IG-inputs (Hanna et
    /// al. 2024): per edge (in `graph.edges` order)
    ///
    ///     score(u → v) = Σ_pairs Σ_pos (u_corrupt − u_clean) · ∂metric/∂(v's input)
    ///
    /// with metric = mean over pairs of `logits[answer] − logits[wrong]` at the final position.
    /// EAP takes the gradient on the clean run; EAP-IG averages it over `igSteps` runs whose input
    /// embeddings lie on the straight line from the corrupted to the clean ones,
    /// `corrupt + (k/N)·(clean − corrupt)` for `k = 0 ..< N` (as the EAP-IG code does).
    func edgeAttribution(igSteps: Int? = nil, progress: WorkProgress? = nil) throws -> [Float] {
        let g = graph
        let offsets = g.receiverOffsets
        var scores = [Float](repeating: 0, count: g.edges.count)
        let total = order.count
        let steps = igSteps ?? 1
        guard steps >= 1 else { throw MechanicError.invalidArgument("--ig-steps must be at least 1 (got \(steps))") }
        for group in groups {
            let B = group.clean.batch
            let V = model.config.dVocab
            // d metric / d logits: ±1/pairs on the answer / wrong columns.
            let objective: (Tensor) throws -> Tensor = { _ in
                var d = Tensor(zeros: [B, V])
                for (b, i) in group.pairs.enumerated() {
                    d.data[b * V + self.pairs[i].answer] += 1 / Float(total)
                    d.data[b * V + self.pairs[i].wrong] -= 1 / Float(total)
                }
                return d
            }
            let deltas = upstreamDeltas(group)                           // [upstream, batch·pos·d_model]
            for step in 0..<steps {
                var hooks: [Hook] = []
                if igSteps != nil {
                    let alpha = Float(step) / Float(steps)
                    let (clean, corrupt) = (group.cleanOut.embed, group.corruptOut.embed)
                    hooks.append(Hook(HookKind.embed.rawValue) { x, _ in
                        for i in 0..<x.count { x.data[i] = corrupt.data[i] + alpha * (clean.data[i] - corrupt.data[i]) }
                    })
                }
                let grads = try model.gradients(group.clean, hooks: hooks, objectiveGradient: objective)
                let rg = try model.receiverGradients(grads)
                accumulate(deltas, rg, offsets: offsets, weight: 1 / Float(steps), into: &scores)
                try progress?.advance(1)
            }
        }
        return scores
    }

    /// `u_corrupt − u_clean` of every upstream node, one row of `batch·pos·d_model` each.
    func upstreamDeltas(_ group: Group) -> [Float] {
        let n = group.clean.batch * group.clean.length * graph.dModel
        var d = [Float](repeating: 0, count: graph.upstream.count * n)
        for (u, node) in graph.upstream.enumerated() {
            let a = group.corruptOut.output(node), b = group.cleanOut.output(node)
            for i in 0..<n { d[u * n + i] = a.data[i] - b.data[i] }
        }
        return d
    }

    /// `scores[edge] += weight · Δ_u · g_v` for every edge, one matrix product per receiver block.
    private func accumulate(_ deltas: [Float], _ rg: ReceiverGradients, offsets: [Int], weight: Float, into scores: inout [Float]) {
        let g = graph
        let D = g.dModel
        // Receivers whose gradients share a tensor layout are gathered into rows of [batch·pos·d_model].
        var rows: [Float] = []
        var idx: [Int] = []
        for (r, rec) in g.receivers.enumerated() {
            switch rec.port {
            case .q: rows += NodeOutputs.head(rg.q[rec.layer], rec.head).data
            case .k: rows += NodeOutputs.head(rg.k[rec.layer], rec.head).data
            case .v: rows += NodeOutputs.head(rg.v[rec.layer], rec.head).data
            case .mlp: rows += rg.mlp[rec.layer].data
            case .logits: rows += rg.logits.data
            }
            idx.append(r)
        }
        let n = rg.logits.count                                          // batch·pos·d_model
        let (U, R) = (g.upstream.count, g.receivers.count)
        var s = [Float](repeating: 0, count: U * R)                      // [upstream, receiver]
        deltas.withUnsafeBufferPointer { dp in rows.withUnsafeBufferPointer { rp in s.withUnsafeMutableBufferPointer { sp in
            guard let a = dp.baseAddress, let b = rp.baseAddress, let c = sp.baseAddress else { return }
            sgemm(transB: true, m: U, n: R, k: n, a: a, lda: n, b: b, ldb: n, c: c, ldc: R)
        }}}
        _ = D
        for r in idx {
            for u in 0..<g.receivers[r].upstreamCount { scores[offsets[r] + u] += weight * s[u * R + r] }
        }
    }
}
