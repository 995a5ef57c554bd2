import Foundation
import Mechanic
import MechanicAnalysis

/// The demo's head scores, from the toolkit's shared implementations: `TargetAttention` and
/// `inductionScores` on one set of cached patterns, and OV copying through `mappingScores`.
enum DemoScores {
    /// Previous-token, induction, duplicate-token and attend-to-BOS scores on `[BOS] + r + r` rows,
    /// from every layer's patterns `[batch, head, q, k]` on them.
    static func repeatedTokenScores(_ model: HookedTransformer, patterns: [Tensor], rows: [[Int]], seqLen n: Int, hasBOS: Bool)
        -> (previous: DemoHeadScores, induction: DemoHeadScores, duplicate: DemoHeadScores, bos: DemoHeadScores?) {
        let o = hasBOS ? 1 : 0
        let secondHalf = (o + n)..<(o + 2 * n)
        let previous = TargetAttention.scores(patterns) { q in q >= o + 1 ? q - 1 : nil }
        let induction = model.inductionScores(patterns: patterns, tokens: rows, seqLen: n).scores
        let duplicate = TargetAttention.scores(patterns) { q in secondHalf.contains(q) ? q - n : nil }
        let bos = hasBOS ? TargetAttention.scores(patterns) { q in q >= 1 ? 0 : nil } : nil
        return (DemoHeadScores(name: "previous-token score", tensor: previous), DemoHeadScores(name: "induction score", tensor: induction),
                DemoHeadScores(name: "duplicate-token score", tensor: duplicate), bos.map { DemoHeadScores(name: "attention to BOS", tensor: $0) })
    }

    /// OV copy score of each head: the share of `tokens` t that are the top logit of row t of the
    /// full OV circuit `W_E[t] · W_V · W_O · W_U` (the identity mapping's top-1 fraction; ties go to
    /// the smaller id, as argmax does).
    static func copyScores(_ model: HookedTransformer, tokens: [Int]) throws -> DemoHeadScores {
        let c = model.config
        let scores = try model.mappingScores(TokenMapping(pairs: tokens.map { ($0, $0) }), embedding: .direct, k: 1)
        var values = [[Float]](repeating: [Float](repeating: .nan, count: c.nHeads), count: c.nLayers)
        for h in scores.heads { values[h.layer][h.head] = Float(h.top1) }
        return DemoHeadScores(name: "OV copy score", values: values)
    }
}
