import Mechanic
import MechanicAnalysis

/// The multiply-adds a patching sweep cannot avoid once every reuse the packed engine relies on
/// is taken: what `mechanic bench patch` divides by the measured sgemm rate to say how close the
/// engine is to the arithmetic it still must do.
///
/// Per (patch, pair) row, with the patch at layer l and p the first position where it changes a
/// value (`starts`, from the run's activations; the selection's first position when not given —
/// a row whose patch changes nothing costs only its unembedding):
/// - the entry layer l: only the work downstream of the patched hook point, at the positions
///   whose value the patch changes there, and for head patches (q, k, v, pattern, z, result)
///   only the touched heads' attention and their rank-`d_head` share of the output projection;
/// - every later layer but the last: every position ≥ p — q, k, v, causal scores and mixing
///   against the prefix (query i reads i + 1 keys), the output projection, the MLP;
/// - the last layer: keys and values at positions ≥ p, everything else at the final position;
/// - the unembedding at the final position: the answer and wrong columns for logit-difference
///   metrics, the whole vocabulary for the others.
/// Norms, activations, softmax and copies are not counted (they are not multiply-adds).
public enum PatchFloor {
    /// Multiply-adds of the sweep `kind` over `pairs` prompt pairs of `positions` tokens.
    /// `starts(site)` gives, per pair, the first position the patch changes (nil: none).
    public static func multiplyAdds(_ kind: ActPatchKind, _ c: ModelConfig, positions P: Int, pairs N: Int,
                                    metric: PatchingMetric, starts: ((PatchSite) -> [Int?])? = nil) -> Double {
        if let parts = kind.components {
            return parts.reduce(0) { $0 + multiplyAdds($1, c, positions: P, pairs: N, metric: metric, starts: starts) }
        }
        let unembed = Double(c.dModel) * Double(metric == .logitDiff || metric == .normalizedLogitDiff ? 2 : c.dVocab)
        return kind.sites(c, positions: P).reduce(0) { sum, s in
            let first = starts?(s.site) ?? [Int?](repeating: s.site.selection.suffixStart, count: N)
            return sum + first.reduce(0) { $0 + unembed + ($1.map { row(s.site, kind: kind, c, positions: P, start: $0) } ?? 0) }
        }
    }

    /// One row's multiply-adds through the blocks.
    static func row(_ site: PatchSite, kind: ActPatchKind, _ c: ModelConfig, positions P: Int, start: Int? = nil) -> Double {
        let L = c.nLayers, l = site.layer
        let start = start ?? site.selection.suffixStart
        var total = entry(site, kind: kind, c, positions: P, start: start)
        if l < L - 1 {
            for _ in (l + 1)..<(L - 1) { total += fullLayer(c, positions: P, from: start) }
            total += lastLayer(c, positions: P, from: start)
        }
        return total
    }

    /// Per-token weights of one layer: (q, k+v, o, mlp) multiply-adds per token.
    static func perToken(_ c: ModelConfig) -> (q: Double, kv: Double, o: Double, mlp: Double) {
        let (D, E) = (Double(c.dModel), Double(c.dHead))
        let q = D * Double(c.nHeads) * E, kv = 2 * D * Double(c.nKeyValueHeads) * E, o = Double(c.nHeads) * E * D
        let mlp = c.attnOnly ? 0 : D * Double(c.dMLP) * (c.gatedMLP ? 3 : 2)
        return (q, kv, o, mlp)
    }

    /// Keys read by the queries at `positions` (causal: query i reads i + 1 keys).
    static func keysRead(_ positions: [Int]) -> Double { Double(positions.reduce(0) { $0 + $1 + 1 }) }

    static func fullLayer(_ c: ModelConfig, positions P: Int, from p: Int) -> Double {
        let w = perToken(c), len = Double(P - p)
        let attention = 2 * keysRead(Array(p..<P)) * Double(c.nHeads * c.dHead)   // scores + mixing
        return len * (w.q + w.kv + w.o + w.mlp) + attention
    }

    static func lastLayer(_ c: ModelConfig, positions P: Int, from p: Int) -> Double {
        let w = perToken(c)
        return Double(P - p) * w.kv + w.q + 2 * Double(P * c.nHeads * c.dHead) + w.o + w.mlp
    }

    /// The entry layer, from the patched hook point on.
    static func entry(_ site: PatchSite, kind: ActPatchKind, _ c: ModelConfig, positions P: Int, start: Int) -> Double {
        let w = perToken(c), E = Double(c.dHead)
        let last = site.layer == c.nLayers - 1
        // Positions whose value at this layer the patch changes (before the MLP).
        var changed = site.selection.positionsTouched(P, start: start).filter { $0 >= start }
        let stage = kind.hookKind.flatMap { PackedStage(hookKind: $0) } ?? .residPre
        if stage == .residPre || ((kind.act == "k" || kind.act == "v") && stage == .qkv) {
            changed = Array(start..<P)   // attention carries a changed key or input to every later query
        }
        if last { changed = changed.filter { $0 == P - 1 } }
        let n = Double(changed.count)
        let heads = Double(site.selection.headsTouched(kind: kind.act, c) ?? c.nHeads)
        switch stage {
        case .residPre:
            if last { return lastLayer(c, positions: P, from: start) }
            return fullLayer(c, positions: P, from: start)
        case .qkv, .pattern:
            let reads = keysRead(changed) * heads * E
            return (stage == .qkv ? 2 * reads : reads) + n * (heads * E * Double(c.dModel) + w.mlp)
        case .z:
            return n * (heads * E * Double(c.dModel) + w.mlp)
        case .result, .attnOut, .residMid:
            return n * w.mlp
        case .post:
            return n * Double(c.dMLP) * Double(c.dModel)
        case .mlpOut, .residPost:
            return 0
        }
    }
}

extension PatchSelection {
    /// Positions (≥ `start`) the selection writes at its hook point; every position from
    /// `start` on when it spans them all (heads, neurons, whole patterns).
    func positionsTouched(_ P: Int, start: Int) -> [Int] {
        switch self {
        case let .position(p), let .positionHead(p, _), let .positionNeuron(p, _): return [p]
        case let .patternDest(_, d), let .patternDestSrc(_, d, _): return [d]
        case let .union(parts): return Array(Set(parts.flatMap { $0.positionsTouched(P, start: start) })).sorted()
        default: return Array(start..<P)
        }
    }

    /// Query heads whose attention the selection changes (a key/value head touches its group);
    /// nil when not confined to heads.
    func headsTouched(kind: String, _ c: ModelConfig) -> Int? {
        let group = kind == "k" || kind == "v" ? c.groupSize : 1
        switch self {
        case .head, .positionHead, .patternHead, .patternDest, .patternDestSrc: return group
        case let .union(parts):
            let counts = parts.map { $0.headsTouched(kind: kind, c) }
            if counts.contains(where: { $0 == nil }) { return nil }
            return min(counts.compactMap { $0 }.reduce(0, +), c.nHeads)
        default: return nil
        }
    }
}
