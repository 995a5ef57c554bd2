import Foundation
import Mechanic

/// Everything the explorer's prompt page shows about one prompt, from one forward with a cache:
/// the tokens (BOS included), the top next tokens and the loss of the actual next token at every
/// position, a layer × position logit-lens grid for an answer token, and every head's attention
/// pattern. Direct logit attribution comes from `DirectLogitAttribution` (`POST /api/attribute`).
public struct PromptOverview: Codable, Sendable {
    /// What the model predicts after one position.
    public struct Position: Codable, Sendable {
        public var top: [ScoredToken]
        /// `-log p(next token)`, nil at the last position (no next token).
        public var loss: Float?
    }

    /// The logit lens of one answer token at every boundary (rows) and position (columns).
    public struct LensGrid: Codable, Sendable {
        /// `0_pre`, `0_mid`, …, `final_post`.
        public var labels: [String]
        public var mode: LensMode
        /// `[label][position]`.
        public var prob: [[Float]]
        public var logit: [[Float]]
        public var rank: [[Int]]
    }

    public var tokens: [Int]
    public var strTokens: [String]
    public var nLayers: Int
    public var nHeads: Int
    public var positions: [Position]
    public var answer: ScoredToken?
    public var lens: LensGrid?
    /// `[layer][head][query][key]`, present when asked for.
    public var patterns: [[[[Float]]]]?

    /// The largest number of tokens one overview covers (its lens grid and patterns grow with it).
    public static let maxTokens = 512

    /// Runs `tokens` once and reads the overview. `answer`: the token the lens grid follows
    /// (default: the model's own top prediction at the last position).
    public static func run(model: HookedTransformer, tokens: [Int], top: Int = 5, answer: Int? = nil,
                           mode: LensMode = .own, patterns: Bool = true) throws -> PromptOverview {
        let c = model.config, V = c.dVocab, n = tokens.count
        guard n > 0 else { throw MechanicError.emptyInput("the prompt has no tokens") }
        guard n <= maxTokens else { throw MechanicError.invalidArgument("the prompt has \(n) tokens; the explorer shows at most \(maxTokens)") }
        guard top >= 1 && top <= 100 else { throw MechanicError.invalidArgument("top \(top): give 1 to 100") }
        for t in tokens + (answer.map { [$0] } ?? []) where t < 0 || t >= V { throw MechanicError.tokenOutOfRange(id: t, dVocab: V) }
        let patternNames = patterns ? (0..<c.nLayers).map { "blocks.\($0).attn.hook_pattern" } : []
        let batch = TokenBatch(tokens)
        let (logits, cache) = try model.runWithCache(batch, names: .names(LogitLens.cacheNames(c) + patternNames))  // logits [1, n, V]
        let loss = Loss.perToken(logits: logits, batch: batch).data  // [n - 1]
        let logitRows = (0..<n).map { p in LogitRow(Array(logits.data[(p * V)..<((p + 1) * V)])) }  // row p of [1, n, V]
        let rows = logitRows.enumerated().map { p, row in Position(top: row.top(top, model: model), loss: p < n - 1 ? loss[p] : nil) }
        let lastRow = logitRows[n - 1]
        let answerId = answer ?? lastRow.top(1, model: model)[0].id
        // Every position's normalised residuals stacked, `[n · E, d_model]` (position-major), and the
        // answer scored on all of them at once without holding their logits. The `final_post` row is
        // the model's own logits (ln_final in either mode), read from the forward instead.
        var stacked: [Float] = []
        var labels: [String] = []
        for p in 0..<n {
            let (l, rows) = try LogitLens.normalizedResiduals(model: model, cache: cache, position: p, mode: mode)  // [entries, d_model]
            labels = l
            let kept = l.last == "final_post" ? l.count - 1 : l.count
            stacked += rows.data.prefix(kept * c.dModel)
        }
        let fromForward = labels.last == "final_post"
        let E = labels.count - (fromForward ? 1 : 0)  // rows unembedded per position
        let scores = AnswerLens.scores(Tensor(shape: [n * E, c.dModel], data: stacked), W_U: model.weights.W_U, b_U: model.weights.b_U,
                                       answer: answerId)  // row p·E + i: position p, boundary i
        var grid = LensGrid(labels: labels, mode: mode, prob: [], logit: [], rank: [])
        for i in 0..<E {
            let cells = (0..<n).map { scores[$0 * E + i] }
            grid.prob.append(cells.map(\.prob)); grid.logit.append(cells.map(\.logit)); grid.rank.append(cells.map(\.rank))
        }
        if fromForward {
            let cells = logitRows.map { $0.score(answerId, model: model) }
            grid.prob.append(cells.map(\.prob)); grid.logit.append(cells.map(\.logit)); grid.rank.append(cells.map(\.rank))
        }
        var heads: [[[[Float]]]]?
        if patterns {
            heads = try patternNames.map { name in
                let t = try cache.require(name)  // [1, head, q, k]
                let H = t.shape[t.shape.count - 3]
                return (0..<H).map { h in
                    (0..<n).map { q in Array(t.data[((h * n + q) * n)..<((h * n + q + 1) * n)]) }  // offset ((h·n + q)·n) in [1, H, n, n]
                }
            }
        }
        return PromptOverview(tokens: tokens, strTokens: model.pieceStrings(tokens), nLayers: c.nLayers, nHeads: c.nHeads,
                              positions: rows, answer: lastRow.score(answerId, model: model), lens: grid, patterns: heads)
    }
}
