import Foundation
import Mechanic

/// Head scores the demo computes directly from cached patterns and weights (the toolkit's
/// `HeadDetector`/copy-score APIs give the TransformerLens-exact versions).
enum DemoScores {
    /// Mean attention to a target key for each head, over the queries where `target(q)` is defined,
    /// from patterns `[batch, head, q, k]` of every layer.
    static func attentionScore(_ patterns: [Tensor], name: String, target: (Int) -> Int?) -> DemoHeadScores {
        let values = patterns.map { pat -> [Float] in
            let (B, H, P) = (pat.shape[0], pat.shape[1], pat.shape[2])
            return (0..<H).map { h in
                var sum: Double = 0, n = 0
                for b in 0..<B {
                    for q in 0..<P {
                        guard let k = target(q), k >= 0, k <= q else { continue }
                        sum += Double(pat.data[((b * H + h) * P + q) * P + k])
                        n += 1
                    }
                }
                return n > 0 ? Float(sum / Double(n)) : .nan
            }
        }
        return DemoHeadScores(name: name, values: values)
    }

    /// Patterns of every layer on `rows` (equal-length token rows): `[batch, head, q, k]` each.
    static func patterns(_ model: HookedTransformer, rows: [[Int]]) throws -> [Tensor] {
        let names = (0..<model.config.nLayers).map { "blocks.\($0).attn.hook_pattern" }
        let cache = try model.forward(TokenBatch(ids: rows), options: ForwardOptions(cache: .names(names), logits: .none)).cache
        return try names.map { try cache.require($0) }
    }

    /// Previous-token, induction, duplicate-token and attend-to-BOS scores on `[BOS] + r + r`.
    static func repeatedTokenScores(_ patterns: [Tensor], seqLen n: Int, hasBOS: Bool)
        -> (previous: DemoHeadScores, induction: DemoHeadScores, duplicate: DemoHeadScores, bos: DemoHeadScores?) {
        let o = hasBOS ? 1 : 0
        let secondHalf = (o + n)..<(o + 2 * n)
        let previous = attentionScore(patterns, name: "previous-token score") { q in q >= o + 1 ? q - 1 : nil }
        let induction = attentionScore(patterns, name: "induction score") { q in secondHalf.contains(q) ? q - n + 1 : nil }
        let duplicate = attentionScore(patterns, name: "duplicate-token score") { q in secondHalf.contains(q) ? q - n : nil }
        let bos = hasBOS ? attentionScore(patterns, name: "attention to BOS") { q in q >= 1 ? 0 : nil } : nil
        return (previous, induction, duplicate, bos)
    }

    /// OV copy score of each head: the share of `tokens` t whose own logit is the strict maximum of
    /// row t of the full OV circuit `W_E[t] · W_V · W_O · W_U` (raw embeddings, no LayerNorm).
    static func copyScores(_ model: HookedTransformer, tokens: [Int]) -> DemoHeadScores {
        let c = model.config, w = model.weights
        let (D, V) = (c.dModel, c.dVocab)
        let X = Tensor(shape: [tokens.count, D], data: tokens.flatMap { Array(w.W_E.data[($0 * D)..<(($0 + 1) * D)]) })
        let values = (0..<c.nLayers).map { l -> [Float] in
            (0..<c.nHeads).map { h in
                let kv = h / c.groupSize
                let W_V = w.blocks[l].W_V.slice0(kv)                 // [d_model, d_head]
                let W_O = w.blocks[l].W_O.slice0(h)                  // [d_head, d_model]
                let logits = matmul(matmul(matmul(X, W_V), W_O), w.W_U)  // [tokens, d_vocab]
                var copies = 0
                for (i, t) in tokens.enumerated() {
                    let row = logits.data[(i * V)..<((i + 1) * V)]
                    let own = row[row.startIndex + t]
                    var strict = true
                    for (j, v) in row.enumerated() where j != t && v >= own { strict = false; break }
                    if strict { copies += 1 }
                }
                return tokens.isEmpty ? .nan : Float(copies) / Float(tokens.count)
            }
        }
        return DemoHeadScores(name: "OV copy score", values: values)
    }
}
