import Foundation
import Mechanic
import MechanicTensor

extension CircuitRun {
    /// Edge attribution patching (Syed et al. 2023) and, with `igSteps`, EAP-IG-inputs (Hanna et
    /// al. 2024): per edge (in `graph.edges` order)
    ///
    ///     score(u → v) = Σ_pairs Σ_pos (u_corrupt − u_clean) · ∂metric/∂(v's input)
    ///
    /// with metric = mean over pairs at the final position of `logits[answer] − logits[wrong]`
    /// (or `p(answer)`, `−log p(answer)`: `EAPMetric`).
    /// EAP takes the gradient on the clean run; EAP-IG averages it over `igSteps` runs whose input
    /// embeddings lie on the straight line from the corrupted to the clean ones,
    /// `corrupt + (k/N)·(clean − corrupt)` for `k = 0 ..< N` (as the EAP-IG code does).
    /// `totalPairs`: the pairs of the whole run when these are one shard's (the mean is over all).
    func edgeAttribution(igSteps: Int? = nil, metric: PatchingMetric = .logitDiff, totalPairs: Int? = nil,
                         progress: WorkProgress? = nil) throws -> [Float] {
        try EAPMetric.check(metric)
        let g = graph
        let offsets = g.receiverOffsets
        var scores = [Float](repeating: 0, count: g.edges.count)
        let total = totalPairs ?? order.count
        let steps = igSteps ?? 1
        guard steps >= 1 else { throw MechanicError.invalidArgument("--ig-steps must be at least 1 (got \(steps))") }
        for group in groups {
            let B = group.clean.batch
            let V = model.config.dVocab
            // d metric / d logits ([batch, d_vocab]), each pair's share of the mean over all pairs.
            let objective: (Tensor) throws -> Tensor = { logits in
                var d = Tensor(zeros: [B, V])
                logits.data.withUnsafeBufferPointer { lp in
                    guard let base = lp.baseAddress else { return }
                    for (b, i) in group.pairs.enumerated() {
                        let row = EAPMetric.gradient(metric, row: base + b * V, dVocab: V, answer: self.pairs[i].answer,
                                                     wrong: self.pairs[i].wrong, scale: 1 / Float(total))
                        for j in 0..<V { d.data[b * V + j] = row[j] }
                    }
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

    /// `scores[edge] += weight · Δ_u · g_v` for every edge: per block of receivers reading the
    /// same upstream nodes (a layer's q/k/v inputs; an MLP; the logits), one matrix product
    /// `[upstream, n] × [receivers, n]ᵀ` over n = batch·pos·d_model.
    private func accumulate(_ deltas: [Float], _ rg: ReceiverGradients, offsets: [Int], weight: Float, into scores: inout [Float]) {
        let g = graph
        let n = rg.logits.count                                          // batch·pos·d_model
        var r = 0
        while r < g.receivers.count {
            let count = g.receivers[r].upstreamCount
            var end = r
            while end < g.receivers.count, g.receivers[end].upstreamCount == count { end += 1 }
            var rows = [Float](repeating: 0, count: (end - r) * n)          // [receivers, batch·pos·d_model]
            for (i, rec) in g.receivers[r..<end].enumerated() {
                let t: Tensor
                switch rec.port {
                case .q: t = NodeOutputs.head(rg.q[rec.layer], rec.head)
                case .k: t = NodeOutputs.head(rg.k[rec.layer], rec.head)
                case .v: t = NodeOutputs.head(rg.v[rec.layer], rec.head)
                case .mlp: t = rg.mlp[rec.layer]
                case .logits: t = rg.logits
                }
                rows.withUnsafeMutableBufferPointer { rp in
                    t.data.withUnsafeBufferPointer { tp in
                        guard let dst = rp.baseAddress, let src = tp.baseAddress else { return }
                        (dst + i * n).update(from: src, count: n)
                    }
                }
            }
            let R = end - r
            var s = [Float](repeating: 0, count: count * R)                 // [upstream, receiver]
            deltas.withUnsafeBufferPointer { dp in rows.withUnsafeBufferPointer { rp in s.withUnsafeMutableBufferPointer { sp in
                guard let a = dp.baseAddress, let b = rp.baseAddress, let c = sp.baseAddress else { return }
                sgemm(transB: true, m: count, n: R, k: n, a: a, lda: n, b: b, ldb: n, c: c, ldc: R)
            }}}
            for j in 0..<R {
                for u in 0..<count { scores[offsets[r + j] + u] += weight * s[u * R + j] }
            }
            r = end
        }
    }
}
