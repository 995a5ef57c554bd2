import Foundation
import Mechanic

/// Head scores of the form "mean attention from each query to one key chosen by the query's
/// position" — the induction score (key after the earlier copy), a previous-token score (key
/// q − 1), a duplicate-token score (the earlier copy), attention to BOS (key 0).
///
/// Unlike `detect_head` (the share of *all* attention that lands on the pattern), only the
/// queries with a target count, so a head that does its job wherever it can scores 1.
public enum TargetAttention {
    /// `[n_layers, n_heads]`: the mean over rows and over the queries `q` with `target(q)` in
    /// `0...q` of `pattern[b, head, q, target(q)]`, from every layer's patterns `[batch, head, q, k]`.
    /// NaN for a layer where no query has a target.
    public static func scores(_ patterns: [Tensor], target: (Int) -> Int?) -> Tensor {
        let H = patterns.first?.shape[1] ?? 0
        var out = Tensor(zeros: [patterns.count, H])
        for (l, pat) in patterns.enumerated() {
            let (B, P) = (pat.shape[0], pat.shape[2])
            for h in 0..<H {
                var sum = 0.0, n = 0
                for b in 0..<B {
                    for q in 0..<P {
                        guard let k = target(q), k >= 0, k <= q else { continue }
                        sum += Double(pat.data[((b * H + h) * P + q) * P + k])
                        n += 1
                    }
                }
                out[l, h] = n > 0 ? Float(sum / Double(n)) : .nan
            }
        }
        return out
    }
}

extension HookedTransformer {
    /// Every layer's attention pattern `[batch, head, q, k]` on equal-length token rows (one forward
    /// that caches only the patterns and computes no logits).
    public func attentionPatterns(rows: [[Int]]) throws -> [Tensor] {
        let names = (0..<config.nLayers).map { "blocks.\($0).attn.hook_pattern" }
        let cache = try forward(TokenBatch(ids: rows), options: ForwardOptions(cache: .names(names), logits: .none)).cache
        return try names.map { try cache.require($0) }
    }
}
