import Foundation
import Mechanic
import MechanicTensor

/// The fixed part of each receiver's edit, kept between ACDC's patched runs: for receiver r of
/// group g, `Σ (u_clean − u_corrupt)` over its removed upstream nodes u that the run does not
/// recompute (`input`, and nodes of layers before the run's first layer), `[batch·pos·d_model]`.
/// ACDC changes one receiver's removed set at a time, so most runs find every sum here.
final class ACDCEditCache {
    struct Entry { var start: Int; var nodes: [Int]; var sum: [Float] }
    var entries: [Int: [Int: Entry]] = [:]          // group → receiver → entry
}

/// Captured outputs of recomputed nodes (per layer), filled by hooks as the run reaches them.
private final class Recomputed {
    var results: [Int: Tensor] = [:]     // layer → [batch, pos, head, d_model]
    var mlp: [Int: Tensor] = [:]         // layer → [batch, pos, d_model]
}

extension CircuitRun {
    /// `patchedLogits(removed:)` for ACDC's runs, where `dead` flags the receivers whose node's
    /// outgoing edges are all removed (ACDC's dead receivers). Exact, up to float rounding:
    ///
    /// - a dead receiver's node is read by no one (each reader patches it to its corrupted
    ///   output), so its input may be anything; it gets the corrupted run's input, which makes
    ///   the node output its corrupted value again. A node all of whose receivers are dead (and
    ///   recomputed) therefore needs no correction downstream: `u_current − u_corrupt` is 0;
    /// - the rest of each live receiver's correction, `Σ (u_clean − u_corrupt)` over removed
    ///   nodes not recomputed, comes from `cache`; only live recomputed nodes are captured and
    ///   subtracted per run.
    func acdcPatchedLogits(removed: [Bool], dead: [Bool], cache: ACDCEditCache) throws -> [Float] {
        let g = graph
        guard removed.count == g.edges.count, dead.count == g.receivers.count else {
            throw MechanicError.invalidArgument("patched run: \(removed.count) edge flags for \(g.edges.count) edges")
        }
        let offsets = g.receiverOffsets
        var cut: [Int: [Int]] = [:]                                   // live receiver → removed upstream nodes
        for (r, rec) in g.receivers.enumerated() where !dead[r] {
            let us = (0..<rec.upstreamCount).filter { removed[offsets[r] + $0] }
            if !us.isEmpty { cut[r] = us }
        }
        let L = g.nLayers
        guard let start = cut.keys.map({ min(g.receivers[$0].layer, L - 1) }).min() else { return cleanLogits }
        // Recomputed nodes (layer ≥ start) all of whose receivers are dead output their corrupted value.
        var fed = [Bool](repeating: false, count: g.upstream.count)
        let own = ownReceivers()
        for u in g.upstream.indices where g.layer(of: g.upstream[u]) >= start {
            fed[u] = !own[u].isEmpty && own[u].allSatisfy { dead[$0] }
        }
        var out: [Float] = []
        for (gi, group) in groups.enumerated() {
            out += try acdcRun(group, index: gi, cut: cut, dead: dead, fed: fed, start: start, cache: cache)
        }
        return out
    }

    /// Each upstream node's own receivers (indices into `graph.receivers`): a head's q and its
    /// key/value head's k and v; an MLP's input.
    func ownReceivers() -> [[Int]] {
        let g = graph
        var own = [[Int]](repeating: [], count: g.upstream.count)
        for r in g.receivers.indices { for u in g.readers(of: r) { own[u].append(r) } }
        return own
    }

    private func acdcRun(_ group: Group, index gi: Int, cut: [Int: [Int]], dead: [Bool], fed: [Bool], start: Int,
                         cache: ACDCEditCache) throws -> [Float] {
        let g = graph
        let D = g.dModel
        let N = group.clean.batch * group.clean.length
        let box = Recomputed()
        func recomputed(_ u: Int) -> Bool { g.layer(of: g.upstream[u]) >= start }
        // A node's output as (tensor, slot, slots): [batch·pos, slots, d_model] read at `slot`.
        func source(_ u: Int, _ outs: NodeOutputs, current: Bool) -> (Tensor, Int, Int) {
            switch g.upstream[u] {
            case .input, .logits: return (outs.input, 0, 1)
            case let .head(l, h): return (current ? box.results[l] ?? outs.results[l] : outs.results[l], h, g.nHeads)
            case let .mlp(l): return (current ? box.mlp[l] ?? outs.mlp[l] : outs.mlp[l], 0, 1)
            }
        }
        // acc[t, :] += sign · (a − b)[t, :] for node u.
        func accumulate(_ acc: inout [Float], _ u: Int, current: Bool) {
            let (a, ai, an) = source(u, group.cleanOut, current: current)
            let (b, bi, bn) = source(u, group.corruptOut, current: false)
            acc.withUnsafeMutableBufferPointer { xp in a.data.withUnsafeBufferPointer { ap in b.data.withUnsafeBufferPointer { bp in
                for t in 0..<N {
                    let (xo, ao, bo) = (t * D, (t * an + ai) * D, (t * bn + bi) * D)
                    for m in 0..<D { xp[xo + m] += ap[ao + m] - bp[bo + m] }
                }
            }}}
        }
        // The fixed part of each live receiver's correction, from the cache or computed now.
        var fixed: [Int: [Float]] = [:]
        for (r, us) in cut {
            let nodes = us.filter { !recomputed($0) }
            guard !nodes.isEmpty else { continue }
            if let e = cache.entries[gi]?[r], e.start == start {
                if e.nodes == nodes { fixed[r] = e.sum; continue }
                let had = Set(e.nodes)
                if had.isSubset(of: nodes) {
                    var sum = e.sum
                    for u in nodes where !had.contains(u) { accumulate(&sum, u, current: false) }
                    fixed[r] = sum
                    cache.entries[gi, default: [:]][r] = ACDCEditCache.Entry(start: start, nodes: nodes, sum: sum)
                    continue
                }
            }
            var sum = [Float](repeating: 0, count: N * D)                        // [batch·pos, d_model]
            for u in nodes { accumulate(&sum, u, current: false) }
            fixed[r] = sum
            cache.entries[gi, default: [:]][r] = ACDCEditCache.Entry(start: start, nodes: nodes, sum: sum)
        }
        // Live recomputed nodes whose current output is subtracted: captured as the run reaches them.
        let live = Dictionary(uniqueKeysWithValues: cut.map { r, us in (r, us.filter { recomputed($0) && !fed[$0] }) })
        var hooks: [Hook] = []
        let needed = Set(live.values.joined())
        for l in start..<g.nLayers {
            if needed.contains(where: { if case let .head(hl, _) = g.upstream[$0] { return hl == l } else { return false } }) {
                hooks.append(Hook(HookKind.result.name(layer: l)) { x, _ in box.results[l] = x })
            }
            if needed.contains(where: { g.upstream[$0] == .mlp(layer: l) }) {
                hooks.append(Hook(HookKind.mlpOut.name(layer: l)) { x, _ in box.mlp[l] = x })
            }
        }
        // Receiver edits per hook point: dead ones get the corrupted input, live ones their correction.
        struct Edit { var slot: Int; var dead: Bool; var receiver: Int }
        var byPoint: [String: (slots: Int, edits: [Edit], corrupt: [Tensor])] = [:]
        for (r, rec) in g.receivers.enumerated() where rec.layer >= start && (dead[r] || cut[r] != nil) {
            let point: (String, Int, [Tensor])
            switch rec.port {
            case .q: point = (HookKind.qInput.name(layer: rec.layer), g.nHeads, group.corruptAttnIn)
            case .k: point = (HookKind.kInput.name(layer: rec.layer), g.nKeyValueHeads, group.corruptAttnIn)
            case .v: point = (HookKind.vInput.name(layer: rec.layer), g.nKeyValueHeads, group.corruptAttnIn)
            case .mlp: point = (HookKind.mlpIn.name(layer: rec.layer), 1, group.corruptMLPIn)
            case .logits: point = (HookKind.residPost.name(layer: g.nLayers - 1), 1, [])
            }
            byPoint[point.0, default: (point.1, [], point.2)].edits.append(Edit(slot: rec.head, dead: dead[r], receiver: r))
        }
        let fixedSums = fixed
        for (name, p) in byPoint.sorted(by: { $0.key < $1.key }) {
            hooks.append(Hook(name) { x, _ in
                for e in p.edits {
                    // x[t, slot, :] = the corrupted input (dead), or −= Σ (u_current − u_corrupt) (live)
                    let src: [Float]
                    if e.dead {
                        src = p.corrupt[g.receivers[e.receiver].layer].data              // [batch·pos, d_model]
                    } else {
                        var delta = fixedSums[e.receiver] ?? [Float](repeating: 0, count: N * D)
                        for u in live[e.receiver] ?? [] { accumulate(&delta, u, current: true) }
                        src = delta
                    }
                    x.data.withUnsafeMutableBufferPointer { xp in src.withUnsafeBufferPointer { sp in
                        for t in 0..<N {
                            let xo = (t * p.slots + e.slot) * D
                            if e.dead { for m in 0..<D { xp[xo + m] = sp[t * D + m] } } else { for m in 0..<D { xp[xo + m] -= sp[t * D + m] } }
                        }
                    }}
                }
            })
        }
        let r = try model.forward(group.clean, options: ForwardOptions(hooks: hooks, startAtLayer: start, logits: .last),
                                  residual: start > 0 ? group.residPre[start] : nil)
        guard let logits = r.logits else { throw MechanicError.invalidArgument("patched run returned no logits") }
        return logits.data
    }
}
