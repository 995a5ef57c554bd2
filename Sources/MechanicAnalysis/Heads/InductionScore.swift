import Foundation
import Mechanic

/// Induction scores on repeated random tokens and the sequences they were measured on.
public struct InductionScores: Sendable {
    /// `[BOS] + r + r` rows (no BOS when none was prepended), `r` of length `seqLen`.
    public var tokens: [[Int]]
    public var seqLen: Int
    /// `[n_layers, n_heads]`: mean attention from each second-half token to the token after its first occurrence.
    public var scores: Tensor
}

extension HookedTransformer {
    /// `batch` rows of `[BOS] + r + r`, `r` uniform random tokens of length `seqLen` (never the BOS
    /// id; all different within a row when `distinct`). Seeded with SplitMix64: reproducible across
    /// platforms.
    public func repeatedRandomTokens(seqLen: Int, batch: Int, seed: UInt64, bos: Int?, distinct: Bool = false) throws -> [[Int]] {
        let V = config.dVocab
        let pool = V - (bos.map { (0..<V).contains($0) ? 1 : 0 } ?? 0)
        guard seqLen >= 1, batch >= 1, pool >= 1 else {
            throw MechanicError.invalidArgument("repeated random tokens need seq_len ≥ 1 and batch ≥ 1 and a vocabulary besides BOS (got \(seqLen), \(batch), \(pool) tokens)")
        }
        guard !distinct || seqLen <= pool else {
            throw MechanicError.invalidArgument("cannot draw \(seqLen) distinct tokens from a vocabulary of \(pool)")
        }
        var random = PortableRandom(seed: seed)
        func draw() -> Int {
            let t = random.below(pool)
            if let bos, t >= bos { return t + 1 }  // skip the BOS id
            return t
        }
        return (0..<batch).map { _ in
            var r: [Int] = []
            var used = Set<Int>()
            while r.count < seqLen {
                let t = draw()
                if distinct && !used.insert(t).inserted { continue }
                r.append(t)
            }
            return (bos.map { [$0] } ?? []) + r + r
        }
    }

    /// The standard induction score: run `[BOS] + r + r` and average, over the second copy of `r`,
    /// each head's attention from token `r[j]` to the position right after its first occurrence
    /// (`r[j + 1]`, or the first token of the second copy for the last `j`). An induction head scores
    /// close to 1; heads that do something else close to 0. `bos` defaults to `bosTokenId` (the
    /// tokenizer's BOS, else `config.json`'s `bos_token_id`).
    public func inductionScores(seqLen: Int? = nil, batch: Int = 4, seed: UInt64 = 0, bos: Int? = nil,
                                distinct: Bool = false) throws -> InductionScores {
        let prepend = bos ?? bosTokenId  // the tokenizer's, else config.json's bos_token_id
        let offset = prepend == nil ? 0 : 1
        let L = seqLen ?? min(50, (config.nCtx - offset) / 2)
        guard L >= 1, offset + 2 * L <= config.nCtx else {
            throw MechanicError.invalidArgument("seq_len \(L) does not fit: \(offset) + 2 × \(L) tokens must be at most n_ctx = \(config.nCtx)")
        }
        let rows = try repeatedRandomTokens(seqLen: L, batch: batch, seed: seed, bos: prepend, distinct: distinct)
        return try inductionScores(tokens: rows, seqLen: L)
    }

    /// Induction scores on given rows of `prefix + r + r` (`prefix` = the first `count − 2·seqLen` tokens).
    public func inductionScores(tokens rows: [[Int]], seqLen L: Int) throws -> InductionScores {
        let P = try TokenBatch(ids: rows).length
        let offset = P - 2 * L
        guard L >= 1, offset >= 0 else {
            throw MechanicError.invalidArgument("rows of \(P) tokens cannot hold two copies of \(L) tokens")
        }
        return inductionScores(patterns: try attentionPatterns(rows: rows), tokens: rows, seqLen: L)
    }

    /// Induction scores from patterns already computed on `rows` (`[batch, head, q, k]` per layer):
    /// each query in the second copy of `r` (`q = offset + L + j`) to the key after the first copy
    /// of its token (`offset + j + 1 = q − L + 1`).
    public func inductionScores(patterns: [Tensor], tokens rows: [[Int]], seqLen L: Int) -> InductionScores {
        let P = rows.first?.count ?? 0
        let secondCopy = (P - L)..<P
        let scores = TargetAttention.scores(patterns) { q in secondCopy.contains(q) ? q - L + 1 : nil }
        return InductionScores(tokens: rows, seqLen: L, scores: scores)
    }

    /// One head's attention pattern `[q, k]` on these tokens.
    public func attentionPattern(tokens: [Int], layer: Int, head: Int) throws -> Tensor {
        try headsCheck(layer, head)
        guard let p = try attentionPatterns(tokens: tokens, layers: [layer], cache: nil)[layer] else {
            throw MechanicError.invalidArgument("no attention pattern for layer \(layer)")
        }
        return p.slice0(head)
    }
}
