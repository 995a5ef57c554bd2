import Foundation
import Mechanic

/// Source → target token pairs for a custom copy score ("tall" → "short": does a head write the
/// antonym of the token it attends to?).
public struct TokenMapping: Sendable, Equatable {
    public var pairs: [(source: Int, target: Int)]
    /// Labels for reports (the pieces as written in the mapping file), parallel to `pairs`.
    public var labels: [(source: String, target: String)]

    public init(pairs: [(source: Int, target: Int)], labels: [(source: String, target: String)]? = nil) {
        self.pairs = pairs
        self.labels = labels ?? pairs.map { ("#\($0.source)", "#\($0.target)") }
    }

    public static func == (a: TokenMapping, b: TokenMapping) -> Bool {
        a.pairs.elementsEqual(b.pairs, by: { $0 == $1 }) && a.labels.elementsEqual(b.labels, by: { $0 == $1 })
    }

    /// Reads a mapping from JSON: an array of `[source, target]` pairs, `{"pairs": [...]}`, or an
    /// object `{"source": target, …}` (sorted by key: JSON objects carry no order). Entries are token
    /// ids or strings; strings must each be exactly one token (`" tall"` with its leading space in
    /// GPT-2's vocabulary) and are turned into ids by `resolve`.
    public static func parse(json data: Data, resolve: (String) throws -> Int) throws -> TokenMapping {
        let decoder = JSONDecoder()
        var raw: [(Entry, Entry)]
        if let list = try? decoder.decode([[Entry]].self, from: data) {
            raw = try list.enumerated().map { try pair($0.element, index: $0.offset) }
        } else if let wrapped = try? decoder.decode(Wrapped.self, from: data) {
            raw = try wrapped.pairs.enumerated().map { try pair($0.element, index: $0.offset) }
        } else if let dict = try? decoder.decode([String: Entry].self, from: data) {
            raw = dict.keys.sorted().compactMap { k in dict[k].map { (Entry.text(k), $0) } }
        } else {
            throw MechanicError.invalidArgument("the mapping must be JSON: an array of [source, target] pairs, {\"pairs\": [...]}, or an object {source: target}, with token strings or ids")
        }
        guard !raw.isEmpty else { throw MechanicError.emptyInput("the mapping holds no pairs") }
        var pairs: [(source: Int, target: Int)] = [], labels: [(source: String, target: String)] = []
        for (s, t) in raw {
            let (sid, sl) = try s.resolved(resolve)
            let (tid, tl) = try t.resolved(resolve)
            pairs.append((sid, tid))
            labels.append((sl, tl))
        }
        return TokenMapping(pairs: pairs, labels: labels)
    }

    /// A token id or a token string in a mapping file.
    enum Entry: Decodable {
        case id(Int), text(String)
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let i = try? c.decode(Int.self) { self = .id(i) } else { self = .text(try c.decode(String.self)) }
        }
        func resolved(_ resolve: (String) throws -> Int) throws -> (Int, String) {
            switch self {
            case .id(let i): return (i, "#\(i)")
            case .text(let s): return (try resolve(s), s)
            }
        }
    }

    private struct Wrapped: Decodable { var pairs: [[Entry]] }

    private static func pair(_ p: [Entry], index: Int) throws -> (Entry, Entry) {
        guard p.count == 2 else {
            throw MechanicError.invalidArgument("mapping pair \(index) must be a two-element array [source, target], got \(p.count) elements")
        }
        return (p[0], p[1])
    }
}

/// How one head's OV circuit treats each pair of a mapping.
public struct HeadMappingScore: Sendable {
    public var layer: Int
    public var head: Int
    /// Per pair: the rank of the target among all tokens (1 = the head's top output) when the head
    /// attends to the source, and the target's logit `embed(source) · OV · W_U[:, target]`.
    public var ranks: [Int]
    public var logits: [Float]
    /// Per pair: the source token's own rank (a copying head ranks the source first).
    public var sourceRanks: [Int]
    public var meanRank: Double
    /// Fraction of pairs whose target is the head's top output.
    public var top1: Double
    /// Fraction of pairs whose target is within the top `k`.
    public var topK: Double
}

public struct TokenMappingScores: Sendable {
    public var mapping: TokenMapping
    public var k: Int
    public var heads: [HeadMappingScore]
}

extension HookedTransformer {
    /// Scores a source → target mapping on each head's OV circuit (`embed(source) · W_V W_O · W_U`,
    /// no biases or norms: the head's direct contribution per unit of attention). Only the source
    /// rows of the circuit are computed.
    public func mappingScores(_ mapping: TokenMapping, embedding: CopyEmbedding = .direct, k: Int = 5,
                              heads: [(layer: Int, head: Int)]? = nil) throws -> TokenMappingScores {
        guard !mapping.pairs.isEmpty else { throw MechanicError.emptyInput("the mapping holds no pairs") }
        for (s, t) in mapping.pairs {
            for id in [s, t] where !(0..<config.dVocab).contains(id) { throw MechanicError.tokenOutOfRange(id: id, dVocab: config.dVocab) }
        }
        let selected = heads ?? (0..<config.nLayers).flatMap { l in (0..<config.nHeads).map { (layer: l, head: $0) } }
        for (l, h) in selected { try headsCheck(l, h) }
        let D = config.dModel, V = config.dVocab
        // Source rows only: [pairs, d_model].
        let sourceRows = Tensor(shape: [mapping.pairs.count, D],
                                data: mapping.pairs.flatMap { Array(weights.W_E.data[($0.source * D)..<(($0.source + 1) * D)]) })
        let rows = try ovInputEmbeddings(embedding, rows: sourceRows)
        var out: [HeadMappingScore] = []
        var layerBlock = LayerBlock(self)
        for (l, h) in selected {
            let ov = ov(try layerBlock(l), h)
            let logits = rows.linear(ov.A).linear(ov.B).linear(weights.W_U)  // [pairs, d_head] -> [pairs, d_model] -> [pairs, vocab]
            var ranks: [Int] = [], values: [Float] = [], sourceRanks: [Int] = []
            for (i, (s, t)) in mapping.pairs.enumerated() {
                let row = logits.data[(i * V)..<((i + 1) * V)]
                let r = HeadsCopyKernel.rank(of: t, in: row)
                ranks.append(r.rank)
                values.append(r.value)
                sourceRanks.append(HeadsCopyKernel.rank(of: s, in: row).rank)
            }
            let n = Double(ranks.count)
            out.append(HeadMappingScore(layer: l, head: h, ranks: ranks, logits: values, sourceRanks: sourceRanks,
                                        meanRank: Double(ranks.reduce(0, +)) / n,
                                        top1: Double(ranks.filter { $0 == 1 }.count) / n,
                                        topK: Double(ranks.filter { $0 <= k }.count) / n))
        }
        return TokenMappingScores(mapping: mapping, k: k, heads: out)
    }
}
