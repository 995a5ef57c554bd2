import Foundation
import Mechanic
import MechanicTensor

/// Outputs of nodes recomputed by a patched run, captured by hooks as the run reaches them.
private final class CapturedOutputs {
    var results: [Int: Tensor] = [:]     // layer → [batch, pos, head, d_model]
    var mlp: [Int: Tensor] = [:]         // layer → [batch, pos, d_model]
}

extension CircuitRun {
    /// Final-position logits (`[pairs · d_vocab]` in `order`) of the clean run with every edge
    /// marked in `removed` (indexed like `graph.edges`) carrying its upstream node's *corrupted*
    /// output instead: each receiver reads
    ///
    ///     its input − Σ_{removed u → v} (u_current − u_corrupt)
    ///
    /// where `u_current` is u's output in this run (itself changed by removed edges upstream).
    /// Exact. The run starts at the first layer holding a receiver with a removed edge, from the
    /// clean residual stream (nothing before it changes).
    /// (ACDC's runs: `acdcPatchedLogits`.)
    func patchedLogits(removed: [Bool]) throws -> [Float] {
        let g = graph
        guard removed.count == g.edges.count else {
            throw MechanicError.invalidArgument("patched run: \(removed.count) edge flags for \(g.edges.count) edges")
        }
        let offsets = g.receiverOffsets
        // Removed upstream nodes per receiver.
        var cut: [Int: [Int]] = [:]
        for (r, rec) in g.receivers.enumerated() {
            let us = (0..<rec.upstreamCount).filter { removed[offsets[r] + $0] }
            if !us.isEmpty { cut[r] = us }
        }
        let L = g.nLayers
        guard let start = cut.keys.map({ min(g.receivers[$0].layer, L - 1) }).min() else { return cleanLogits }
        var out: [Float] = []
        for group in groups {
            out += try patchedLogits(group, cut: cut, start: start)
        }
        return out
    }

    private func patchedLogits(_ group: Group, cut: [Int: [Int]], start: Int) throws -> [Float] {
        let g = graph
        let box = CapturedOutputs()
        let D = g.dModel
        let N = group.clean.batch * group.clean.length
        // A node's output as (tensor, slot, slots): [batch·pos, slots, d_model] read at `slot`.
        func source(_ u: Int, current: Bool) -> (Tensor, Int, Int) {
            let outs = current ? group.cleanOut : group.corruptOut
            switch g.upstream[u] {
            case .input, .logits: return (outs.input, 0, 1)
            case let .head(l, h):
                if current, l >= start, let t = box.results[l] { return (t, h, g.nHeads) }
                return (outs.results[l], h, g.nHeads)
            case let .mlp(l):
                if current, l >= start, let t = box.mlp[l] { return (t, 0, 1) }
                return (outs.mlp[l], 0, 1)
            }
        }
        // x[t, slot, :] −= Σ_u (u_current − u_corrupt)[t, :]
        func subtract(_ x: inout Tensor, slot: Int, slots: Int, _ us: [Int]) {
            for u in us {
                let (a, ai, an) = source(u, current: true)
                let (b, bi, bn) = source(u, current: false)
                x.data.withUnsafeMutableBufferPointer { xp in a.data.withUnsafeBufferPointer { ap in b.data.withUnsafeBufferPointer { bp in
                    for t in 0..<N {
                        let (xo, ao, bo) = ((t * slots + slot) * D, (t * an + ai) * D, (t * bn + bi) * D)
                        for m in 0..<D { xp[xo + m] -= ap[ao + m] - bp[bo + m] }
                    }
                }}}
            }
        }
        var hooks: [Hook] = []
        var capture = Set<CircuitGraph.Node>()
        for us in cut.values { for u in us { capture.insert(g.upstream[u]) } }
        for l in start..<g.nLayers {
            if capture.contains(where: { if case let .head(hl, _) = $0 { return hl == l } else { return false } }) {
                hooks.append(Hook(HookKind.result.name(layer: l)) { x, _ in box.results[l] = x })
            }
            if capture.contains(.mlp(layer: l)) {
                hooks.append(Hook(HookKind.mlpOut.name(layer: l)) { x, _ in box.mlp[l] = x })
            }
        }
        // Receiver edits, one hook per (layer, port).
        var byPoint: [String: [(slot: Int, us: [Int])]] = [:]
        var slotsOf: [String: Int] = [:]
        for (r, us) in cut {
            let rec = g.receivers[r]
            let name: String, slots: Int
            switch rec.port {
            case .q: (name, slots) = (HookKind.qInput.name(layer: rec.layer), g.nHeads)
            case .k: (name, slots) = (HookKind.kInput.name(layer: rec.layer), g.nKeyValueHeads)
            case .v: (name, slots) = (HookKind.vInput.name(layer: rec.layer), g.nKeyValueHeads)
            case .mlp: (name, slots) = (HookKind.mlpIn.name(layer: rec.layer), 1)
            case .logits: (name, slots) = (HookKind.residPost.name(layer: g.nLayers - 1), 1)
            }
            byPoint[name, default: []].append((rec.head, us))
            slotsOf[name] = slots
        }
        for (name, edits) in byPoint.sorted(by: { $0.key < $1.key }) {
            let slots = slotsOf[name] ?? 1
            hooks.append(Hook(name) { x, _ in for e in edits { subtract(&x, slot: e.slot, slots: slots, e.us) } })
        }
        let r = try model.forward(group.clean, options: ForwardOptions(hooks: hooks, startAtLayer: start, logits: .last),
                                  residual: start > 0 ? group.residPre[start] : nil)
        guard let logits = r.logits else { throw MechanicError.invalidArgument("patched run returned no logits") }
        return logits.data
    }
}
