// The results of `mechanic neurons` and `mechanic congruence` as Codable values: `--json` prints
// exactly these (through `ResultJSON`), with the keys documented in docs/cli/neurons.md.

/// `mechanic neurons --json`.
public struct NeuronSearchJSON: Codable, Sendable {
    public struct Stats: Codable, Sendable {
        public var mean: Double, std: Double, min: Double, max: Double, fractionPositive: Double
        enum CodingKeys: String, CodingKey { case mean, std, min, max, fractionPositive = "fraction_positive" }
    }
    public struct Example: Codable, Sendable {
        public var value: Double, document: Int, position: Int, tokens: [Int], strings: [String], values: [Double], focus: Int
    }
    public var probe: String, hook: String, order: String
    public var documents: Int, tokens: Int, chunks: Int, chunkLength: Int
    public var stats: Stats
    public var examples: [Example]

    public init(_ r: NeuronSearchResult) {
        (probe, hook, order) = (r.probe.label, r.probe.hook, r.order.rawValue)
        (documents, tokens, chunks, chunkLength) = (r.documents, r.tokens, r.chunks, r.chunkLength)
        stats = Stats(mean: r.stats.mean, std: r.stats.standardDeviation, min: r.stats.minimum, max: r.stats.maximum,
                      fractionPositive: r.stats.fractionPositive)
        examples = r.examples.map {
            Example(value: Double($0.value), document: $0.document, position: $0.position, tokens: $0.tokens, strings: $0.strings,
                    values: $0.values.map(Double.init), focus: $0.focus)
        }
    }
    enum CodingKeys: String, CodingKey {
        case probe, hook, order, documents, tokens, chunks, chunkLength = "chunk_length", stats, examples
    }
}

/// `mechanic congruence --json`.
public struct CongruenceJSON: Codable, Sendable {
    public struct Histogram: Codable, Sendable { public var edges: [Double], counts: [Int], below: Int, above: Int }
    public struct Pair: Codable, Sendable { public var a: Int, b: Int, value: Double }
    public struct Series: Codable, Sendable {
        public var embedding: String, pairs: Int, mean: Double, std: Double, min: Double, max: Double
        public var histogram: Histogram
        public var mostSimilar: [Pair]
        enum CodingKeys: String, CodingKey { case embedding, pairs, mean, std, min, max, histogram, mostSimilar = "most_similar" }
    }
    public var metric: String
    public var tokens: [Int]
    public var series: [Series]

    public init(_ r: CongruenceResult) {
        metric = r.metric.rawValue
        tokens = r.tokens
        series = r.series.map { s in
            Series(embedding: s.kind.rawValue, pairs: s.pairCount, mean: s.stats.mean, std: s.stats.standardDeviation,
                   min: s.stats.minimum, max: s.stats.maximum,
                   histogram: Histogram(edges: s.histogram.edges, counts: s.histogram.counts, below: s.histogram.below, above: s.histogram.above),
                   mostSimilar: s.mostSimilar.map { Pair(a: r.tokens[$0.a], b: r.tokens[$0.b], value: Double($0.value)) })
        }
    }
}
