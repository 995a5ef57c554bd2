import Foundation
import Mechanic

/// AtP*'s fix for attention saturation (Kramár et al. 2024): a query or key patch changes the
/// attention pattern through a softmax that a linear estimate gets badly wrong when it saturates,
/// so the patched head's pattern is recomputed exactly — `softmax(q' k'ᵀ / scale)` with the
/// source's queries/keys at the patched elements — and only the rest of the model is linearised:
/// `effect ≈ Σ_pairs Σ_{i,j} (pattern' − pattern)[i, j] · d metric / d pattern[i, j]`.
///
/// Rotary models patch `hook_q`/`hook_k` before the rotation; a patch replaces whole head vectors
/// at positions that are the same in both runs, so the rotated source values (`hook_rot_q/k`)
/// are used directly.
struct AttentionRecompute {
    let layer: Int
    let pairs: Int
    let (P, H, K, E): (Int, Int, Int, Int)
    let group: Int
    let scale: Float
    let targetQ: Tensor, targetK: Tensor          // [pairs, pos, head | kv_head, d_head], as scored
    let sourceQ: Tensor?, sourceK: Tensor?        // [pairs | 1, ...] or nil (zeros)
    let pattern: Tensor, dPattern: Tensor         // [pairs, head, q_pos, k_pos]

    init(run: PatchingRun, layer l: Int, gradients g: Gradients) throws {
        let c = run.model.config
        let rotary = c.positionalEmbedding == .rotary
        let (qName, kName) = (actName(rotary ? "rot_q" : "q", layer: l), actName(rotary ? "rot_k" : "k", layer: l))
        layer = l
        pairs = run.pairs.count
        (P, H, K, E) = (run.positions, c.nHeads, c.nKeyValueHeads, c.dHead)
        group = c.groupSize
        scale = c.attnScale(layer: l)
        targetQ = try run.targetActivation(qName)
        targetK = try run.targetActivation(kName)
        sourceQ = try run.sourceActivation(qName)
        sourceK = try run.sourceActivation(kName)
        pattern = try run.targetActivation(actName("pattern", layer: l))
        dPattern = try g.gradients.require(actName("pattern", layer: l))
    }

    /// The estimated metric change of one `hook_q` / `hook_k` site of this layer.
    func effect(of site: PatchSite, keys: Bool) throws -> Double {
        let heads = keys ? K : H
        let rowShape = [P, heads, E]
        let ranges = try site.selection.ranges(shape: rowShape)
        // Query heads whose scores the patch can change.
        var touched = Set<Int>()
        var rows = Set<Int>()   // query positions whose scores change (every row for a key patch)
        for r in ranges where !r.isEmpty {
            for flat in stride(from: r.lowerBound, to: r.upperBound, by: E) {
                let head = (flat / E) % heads
                rows.insert(flat / (heads * E))
                if keys { for h in (head * group)..<((head + 1) * group) { touched.insert(h) } } else { touched.insert(head) }
            }
        }
        let per = P * heads * E
        var total = 0.0
        for n in 0..<pairs {
            // The patched queries or keys of pair n.
            let base = keys ? targetK : targetQ
            var patched = Array(base.data[(n * per)..<((n + 1) * per)])
            let source = keys ? sourceK : sourceQ
            let s = (source?.shape[0] ?? 1) == 1 ? 0 : n * per
            for r in ranges { for e in r { patched[e] = source?.data[s + e] ?? 0 } }
            for h in touched.sorted() {
                total += headEffect(pair: n, head: h, rows: keys ? Array(0..<P) : rows.sorted(),
                                    queries: keys ? nil : patched, keys: keys ? patched : nil)
            }
        }
        return total
    }

    /// `Σ_{i,j} (pattern' − pattern) · d pattern` of one head of one pair.
    private func headEffect(pair n: Int, head h: Int, rows: [Int], queries: [Float]?, keys: [Float]?) -> Double {
        let shape = AttentionShape(heads: H, kvHeads: K, dHead: E)
        let pBase = (n * H + h) * P * P
        // The pair's q [pos, head, d_head] and k [pos, kv_head, d_head]: patched, or the target's.
        let (qAll, qBase) = queries.map { ($0, 0) } ?? (targetQ.data, n * P * H * E)
        let (kAll, kBase) = keys.map { ($0, 0) } ?? (targetK.data, n * P * K * E)
        var row = [Float](repeating: 0, count: H * P)   // pattern'[head, 1, k_pos] of one query; only head h is written
        var sum = 0.0
        qAll.withUnsafeBufferPointer { qp in
            kAll.withUnsafeBufferPointer { kp in
                row.withUnsafeMutableBufferPointer { sp in
                    guard let qb = qp.baseAddress, let kb = kp.baseAddress, let sb = sp.baseAddress else { return }
                    for i in rows {
                        // pattern'[h, i, :] = softmax(q[i, h] · k[:, h / group] / scale), causal.
                        Kernels.attentionScores(shape, q: qb + qBase + i * H * E, k: kb + kBase,
                                                queries: 1, keys: P, firstQuery: i, scale: scale, softmax: true,
                                                include: { $0 == h }, scores: sb)
                        for j in 0..<P {
                            let o = pBase + i * P + j
                            sum += Double(sb[h * P + j] - pattern.data[o]) * Double(dPattern.data[o])
                        }
                    }
                }
            }
        }
        return sum
    }
}
