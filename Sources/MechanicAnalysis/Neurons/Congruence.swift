import Foundation
import Mechanic

/// How two token vectors are compared.
public enum SimilarityMetric: String, Sendable, CaseIterable {
    case cosine
    case dot
}

public struct CongruenceOptions: Sendable {
    public var metric = SimilarityMetric.cosine
    public var bins = 50
    /// Histogram range (default: [-1, 1] for cosine, the observed min…max for dot products).
    public var range: ClosedRange<Double>?
    /// How many of the most similar pairs to list per embedding kind.
    public var topPairs = 15
    /// Pairs sampled (deterministically) for the raw-vs-effective scatter plot.
    public var scatterPairs = 1500
    /// Rows of the similarity matrix computed per matrix product.
    public var blockRows = 256
    public var seed: UInt64 = 0

    public init(metric: SimilarityMetric = .cosine, bins: Int = 50, range: ClosedRange<Double>? = nil, topPairs: Int = 15,
                scatterPairs: Int = 1500, blockRows: Int = 256, seed: UInt64 = 0) {
        self.metric = metric
        self.bins = bins
        self.range = range
        self.topPairs = topPairs
        self.scatterPairs = scatterPairs
        self.blockRows = blockRows
        self.seed = seed
    }
}

/// A pair of tokens (as indices into the result's `tokens`, `a < b`) and their similarity.
public struct TokenPair: Sendable, Equatable {
    public var a: Int
    public var b: Int
    public var value: Float
}

/// Similarities of all unordered token pairs under one embedding kind.
public struct CongruenceSeries: Sendable {
    public var kind: EmbeddingKind
    /// Each unordered pair {i, j}, i ≠ j, counted once.
    public var histogram: Histogram
    public var pairCount: Int
    public var stats: RunningStats
    /// The most similar pairs, best first.
    public var mostSimilar: [TokenPair]
    /// The full matrix (diagonal included) when there are at most 48 tokens, for a heatmap.
    public var matrix: [[Float]]?
}

/// Congruence of a set of tokens: how similar their embeddings are, raw and after block 0.
public struct CongruenceResult: Sendable {
    public var tokens: [Int]
    public var strings: [String]
    public var metric: SimilarityMetric
    public var series: [CongruenceSeries]
    /// Sampled pairs with their similarity under each kind (in `series` order), for a scatter.
    public var sampledPairs: [(a: Int, b: Int, values: [Float])]
}

extension HookedTransformer {
    /// Pairwise similarities of `tokens` (duplicates removed, order kept) under each embedding
    /// kind; histograms count each unordered pair once and never a token with itself.
    public func congruence(tokens: [Int], kinds: [EmbeddingKind] = [.raw, .mlp0],
                           options: CongruenceOptions = CongruenceOptions()) throws -> CongruenceResult {
        var seen = Set<Int>()
        let unique = tokens.filter { seen.insert($0).inserted }
        guard unique.count >= 2 else {
            throw MechanicError.invalidArgument("congruence needs at least two distinct tokens (got \(unique.count))")
        }
        guard !kinds.isEmpty else { throw MechanicError.invalidArgument("congruence needs at least one embedding kind") }
        let n = unique.count
        let vectors = try kinds.map { kind -> Tensor in
            var e = try tokenEmbeddings(unique, kind: kind)  // [n, d_model]
            if options.metric == .cosine { Self.unitRows(&e) }
            return e
        }
        let series = kinds.indices.map { Self.pairSeries(vectors[$0], kind: kinds[$0], options: options) }

        // A deterministic sample of pairs, for comparing kinds point by point.
        let total = n * (n - 1) / 2
        var rng = SplitMix64(seed: options.seed)
        var pairs: [(Int, Int)] = []
        if total <= options.scatterPairs {
            for i in 0..<n { for j in (i + 1)..<n { pairs.append((i, j)) } }
        } else {
            var chosen = Set<Int>()
            while chosen.count < options.scatterPairs {
                let i = Int(rng.next() % UInt64(n)), j = Int(rng.next() % UInt64(n))
                if i != j, chosen.insert(min(i, j) * n + max(i, j)).inserted { pairs.append((min(i, j), max(i, j))) }
            }
        }
        let D = config.dModel
        let sampled = pairs.map { i, j in
            (a: i, b: j, values: vectors.map { v in (0..<D).reduce(Float(0)) { $0 + v.data[i * D + $1] * v.data[j * D + $1] } })
        }
        return CongruenceResult(tokens: unique, strings: ReportTokens.labels(unique, model: self), metric: options.metric,
                                series: series, sampledPairs: sampled)
    }

    /// Scales each row of `[n, d]` to unit length (zero rows stay zero).
    static func unitRows(_ t: inout Tensor) {
        let d = t.shape.last ?? 1
        t.data.withUnsafeMutableBufferPointer { p in
            for r in 0..<(p.count / max(d, 1)) {
                var ss: Float = 0
                for j in 0..<d { ss += p[r * d + j] * p[r * d + j] }
                let inv: Float = ss > 0 ? 1 / ss.squareRoot() : 0
                for j in 0..<d { p[r * d + j] *= inv }
            }
        }
    }

    /// Histogram, stats and top pairs over the strict upper triangle of `E Eᵀ`, computed a block
    /// of rows at a time (memory: `blockRows × n` floats). Two passes for dot products without a
    /// given range: one for the range, one for the counts.
    static func pairSeries(_ e: Tensor, kind: EmbeddingKind, options: CongruenceOptions) -> CongruenceSeries {
        let n = e.shape[0], d = e.shape[1]
        let rowsPerBlock = max(1, options.blockRows)
        func forEachBlock(_ body: (_ start: Int, _ rows: Int, _ gram: UnsafeBufferPointer<Float>) -> Void) {
            var gram = [Float](repeating: 0, count: rowsPerBlock * n)
            var start = 0
            while start < n {
                let rows = min(rowsPerBlock, n - start)
                e.data.withUnsafeBufferPointer { ep in
                    gram.withUnsafeMutableBufferPointer { gp in
                        guard let eb = ep.baseAddress, let gb = gp.baseAddress else { return }
                        sgemm(transB: true, m: rows, n: n, k: d, a: eb + start * d, b: eb, c: gb)  // [rows, n]
                    }
                }
                gram.withUnsafeBufferPointer { body(start, rows, $0) }
                start += rows
            }
        }
        var range = options.range ?? (options.metric == .cosine ? -1...1 : nil)
        if range == nil {
            var lo = Float.infinity, hi = -Float.infinity
            forEachBlock { start, rows, g in
                for r in 0..<rows { for j in (start + r + 1)..<n where g[r * n + j].isFinite { lo = min(lo, g[r * n + j]); hi = max(hi, g[r * n + j]) } }
            }
            range = lo <= hi ? Double(lo)...Double(hi) : 0...1
        }
        var histogram = Histogram(lower: range?.lowerBound ?? -1, upper: range?.upperBound ?? 1, bins: options.bins)
        var stats = RunningStats()
        var top = TopK<TokenPair>(options.topPairs) { x, y in
            x.value != y.value ? x.value > y.value : (x.a, x.b) < (y.a, y.b)
        }
        var matrix: [[Float]]? = n <= 48 ? [[Float]](repeating: [Float](repeating: 0, count: n), count: n) : nil
        var pairCount = 0
        forEachBlock { start, rows, g in
            for r in 0..<rows {
                let i = start + r
                if matrix != nil { for j in 0..<n { matrix?[i][j] = g[r * n + j] } }
                for j in (i + 1)..<n {
                    var v = g[r * n + j]
                    if options.metric == .cosine { v = min(max(v, -1), 1) }  // rounding may step past ±1
                    histogram.add(Double(v))
                    stats.add(Double(v))
                    pairCount += 1
                    let pair = TokenPair(a: i, b: j, value: v)
                    if v.isFinite, top.admits(pair) { top.insert(pair) }
                }
            }
        }
        return CongruenceSeries(kind: kind, histogram: histogram, pairCount: pairCount, stats: stats,
                                mostSimilar: top.sorted, matrix: matrix)
    }
}
