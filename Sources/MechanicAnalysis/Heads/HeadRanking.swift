import Mechanic

/// Rankings of head results, strongest first: what the command line, reports and server list.
public enum HeadRanking {
    /// The `count` largest finite entries of a `[n_layers, n_heads]` score table.
    public static func top(_ t: Tensor, count: Int) -> [(head: HeadIndex, score: Float)] {
        let H = t.shape[1]
        return t.data.indices.filter { t.data[$0].isFinite }.sorted { t.data[$0] > t.data[$1] }.prefix(count)
            .map { (HeadIndex(layer: $0 / H, head: $0 % H), t.data[$0]) }
    }

    /// Every (earlier head → later head) composition score of `allCompositionScores`'s
    /// `[L, H, L, H]`, strongest first.
    public static func compositions(_ s: Tensor, limit: Int = .max) -> [(sender: HeadIndex, receiver: HeadIndex, score: Float)] {
        let (L, H) = (s.shape[0], s.shape[1])
        var entries: [(sender: HeadIndex, receiver: HeadIndex, score: Float)] = []
        for a in 0..<L { for b in 0..<H { for c in (a + 1)..<max(a + 1, L) { for d in 0..<H {
            entries.append((HeadIndex(layer: a, head: b), HeadIndex(layer: c, head: d), s[a, b, c, d]))
        } } } }
        return Array(entries.sorted { $0.score > $1.score }.prefix(limit))
    }
}

extension NameMoverScatter {
    /// The points by direct effect, largest first.
    public var pointsByDirectEffect: [NameMoverPoint] { points.sorted { $0.directEffect > $1.directEffect } }
}

extension TokenMappingScores {
    /// The heads by mean rank, best (lowest) first.
    public var headsByMeanRank: [HeadMappingScore] { heads.sorted { $0.meanRank < $1.meanRank } }
}
