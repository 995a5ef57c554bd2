import Foundation
import Mechanic

/// One vocabulary entry of a next-token distribution: id, text piece, logit, probability and
/// rank (0 = the most likely token, TransformerLens's `test_prompt` convention).
public struct ScoredToken: Codable, Sendable, Equatable {
    public var id: Int
    public var token: String
    public var logit: Float
    public var prob: Float
    public var rank: Int

    public init(id: Int, token: String, logit: Float, prob: Float, rank: Int) {
        self.id = id; self.token = token; self.logit = logit; self.prob = prob; self.rank = rank
    }
}

extension HookedTransformer {
    /// One token as every report and text output shows it (`Tokenizer.displayToken`: Llama's
    /// "▁short" keeps its "▁", so it differs from "short"), or `#id` when the model has no usable
    /// tokenizer.
    public func pieceString(_ id: Int) -> String {
        guard let tok = tokenizer, tok.vocabSize > 0 else { return "#\(id)" }
        return tok.displayToken(id)
    }

    /// `pieceString` for each id.
    public func pieceStrings(_ ids: [Int]) -> [String] { ids.map(pieceString) }
}

/// Ranking of one row of logits `[d_vocab]`.
public struct LogitRow: Sendable {
    public let logits: [Float]
    /// `log Σ exp(logits)`.
    public let logSumExp: Float

    public init(_ logits: [Float]) {
        self.logits = logits
        logSumExp = logits.withUnsafeBufferPointer { p in p.baseAddress.map { Rows.logSumExp($0, n: p.count) } ?? 0 }
    }

    public func prob(_ id: Int) -> Float { Float(exp(Double(logits[id] - logSumExp))) }

    /// Number of tokens with a strictly larger logit (0 = top).
    public func rank(of id: Int) -> Int {
        let v = logits[id]
        var n = 0
        for x in logits where x > v { n += 1 }
        return n
    }

    /// The entry for `id`.
    public func score(_ id: Int, model: HookedTransformer) -> ScoredToken {
        ScoredToken(id: id, token: model.pieceString(id), logit: logits[id], prob: prob(id), rank: rank(of: id))
    }

    /// The `k` largest logits, best first (ties: lower id first).
    public func top(_ k: Int, model: HookedTransformer) -> [ScoredToken] {
        topIDs(k, largest: true).enumerated().map { i, id in
            ScoredToken(id: id, token: model.pieceString(id), logit: logits[id], prob: prob(id), rank: i)
        }
    }

    /// The `k` smallest logits, lowest first, with their ranks from the top.
    public func bottom(_ k: Int, model: HookedTransformer) -> [ScoredToken] {
        topIDs(k, largest: false).map { score($0, model: model) }
    }

    /// Ids of the `k` largest (or smallest) entries, by partial selection.
    public func topIDs(_ k: Int, largest: Bool) -> [Int] {
        let k = min(max(k, 0), logits.count)
        guard k > 0 else { return [] }
        func before(_ a: Int, _ b: Int) -> Bool {
            let (x, y) = (logits[a], logits[b])
            return x != y ? (largest ? x > y : x < y) : a < b
        }
        var heap: [Int] = []  // kept sorted, best first; k is small
        heap.reserveCapacity(k + 1)
        for i in logits.indices {
            if heap.count == k, let last = heap.last, !before(i, last) { continue }
            let at = heap.firstIndex { before(i, $0) } ?? heap.count
            heap.insert(i, at: at)
            if heap.count > k { heap.removeLast() }
        }
        return heap
    }
}
