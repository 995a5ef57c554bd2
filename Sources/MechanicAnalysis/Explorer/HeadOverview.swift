import Foundation
import Mechanic

/// Everything the explorer's head page shows about one attention head: its OV circuit (for
/// source tokens, the output tokens it boosts and suppresses most over the whole vocabulary),
/// its QK circuit (for query tokens, the keys it prefers), its copy scores, and, on a prompt, its
/// attention, its direct logit attribution per position and what zero-ablating it does.
public struct HeadOverview: Codable, Sendable {
    public struct TokenValue: Codable, Sendable, Equatable {
        public var id: Int
        public var token: String
        public var value: Float
    }

    /// One source (OV) or query (QK) token and the tokens it maps to most strongly either way.
    public struct CircuitRow: Codable, Sendable {
        public var id: Int
        public var token: String
        public var top: [TokenValue]
        public var bottom: [TokenValue]
    }

    /// The head on one prompt.
    public struct OnPrompt: Codable, Sendable {
        public var tokens: [Int]
        public var strTokens: [String]
        /// `[query][key]`.
        public var pattern: [[Float]]
        /// The head's direct logit attribution to the actual next token at each position
        /// (the model's own top prediction at the last one).
        public var dla: [Float]
        public var dlaTargets: [Int]
        /// `-log p(next token)` at each position but the last, without and with the head zeroed.
        public var lossBefore: [Float]
        public var lossAfter: [Float]
        /// The top next tokens after the last position, without and with the head zeroed.
        public var topBefore: [ScoredToken]
        public var topAfter: [ScoredToken]
        /// The same with the head mean-ablated: its `z` set at every position to its mean over
        /// `meanOver` (`prompt`: this prompt's positions; `corpus`: every token of the corpus's
        /// first documents), `meanPositions` positions in all.
        public var meanLossAfter: [Float]
        public var meanTopAfter: [ScoredToken]
        public var meanOver: String
        public var meanPositions: Int
        /// The logit lens at the last position just before the head's layer (`{layer}_pre`).
        public var lensBefore: [ScoredToken]
    }

    public var layer: Int
    public var head: Int
    /// Fraction of tokens whose own id is the top output of their OV circuit (`embedding direct`).
    public var copyScore: Float
    /// `Re(Σλ)/Σ|λ|` of the full OV circuit.
    public var eigenScore: Float
    public var ov: [CircuitRow]
    public var qk: [CircuitRow]
    public var prompt: OnPrompt?
    /// The user's mapping scored on this head's full OV circuit, when given.
    public var mapping: MappingScore?

    /// A user mapping (e.g. antonyms) on the head's full OV circuit `W_E[source] · W_V W_O · W_U`
    /// (the copy score's circuit): per pair the target's rank among all tokens (1 = top output)
    /// and logit; the fraction of pairs whose target is within the top `k`, and the mean rank.
    public struct MappingScore: Codable, Sendable {
        public struct Pair: Codable, Sendable {
            public var source: Int
            public var sourceToken: String
            public var target: Int
            public var targetToken: String
            /// `W_E[source] · W_V W_O · W_U[:, target]`, and the target's rank (1 = top output).
            public var logit: Float
            public var rank: Int
            /// The source token's own rank (1 for a copying head).
            public var sourceRank: Int
        }
        public var k: Int
        public var pairs: [Pair]
        public var topKFraction: Double
        public var meanRank: Double
    }

    /// Documents of a corpus read for a mean ablation (each cut at `n_ctx`).
    public static let maxMeanDocuments = 64

    /// The longest prompt a head page runs (its DLA is one attribution per position).
    public static let maxTokens = 128

    /// - Parameters: `sources`: OV source and QK query tokens (default: the prompt's distinct
    ///   tokens, at most 8); `k`: tokens listed each way.
    ///   `mapping`: pairs scored on the OV circuit (top `mappingK`); `meanCorpus`: prompts whose
    ///   positions the mean ablation averages over (default: the prompt's own).
    public static func run(model: HookedTransformer, layer: Int, head: Int, tokens: [Int]?, sources: [Int]?, k: Int = 8,
                           mapping: TokenMapping? = nil, mappingK: Int = 5, meanCorpus: [[Int]]? = nil) throws -> HeadOverview {
        let c = model.config, V = c.dVocab, D = c.dModel
        let ov = try model.OV(layer: layer, head: head), qk = try model.QK(layer: layer, head: head)  // also checks the head exists
        if let tokens, tokens.count > maxTokens { throw MechanicError.invalidArgument("the prompt has \(tokens.count) tokens; the head page runs at most \(maxTokens)") }
        guard (1...100).contains(k) else { throw MechanicError.invalidArgument("k \(k): give 1 to 100") }
        var chosen: [Int] = []
        for t in sources ?? tokens ?? [0] where !chosen.contains(t) && chosen.count < 8 { chosen.append(t) }
        for t in chosen + (tokens ?? []) where t < 0 || t >= V { throw MechanicError.tokenOutOfRange(id: t, dVocab: V) }
        let W_E = model.weights.W_E  // [V, D]
        func row(_ id: Int) -> [Float] { Array(W_E.data[(id * D)..<((id + 1) * D)]) }
        func extremes(_ id: Int, _ values: [Float]) -> CircuitRow {
            let order = values.indices.sorted { values[$0] != values[$1] ? values[$0] > values[$1] : $0 < $1 }
            let entry = { (i: Int) in TokenValue(id: i, token: model.pieceString(i), value: values[i]) }
            return CircuitRow(id: id, token: model.pieceString(id), top: order.prefix(k).map(entry), bottom: order.suffix(k).reversed().map(entry))
        }
        // OV: W_E[s] · W_V W_O · W_U → [V]; QK: W_E[q] · W_Q W_Kᵀ · W_Eᵀ → [V].
        let ovRows = try chosen.map { s in
            extremes(s, matmul(Tensor(shape: [1, D], data: try ov.applyLeft(row(s))), model.weights.W_U).data)
        }
        let qkRows = try chosen.map { q in
            extremes(q, matmul(Tensor(shape: [1, D], data: try qk.applyLeft(row(q))), W_E, transB: true).data)
        }
        let copy = try model.copyScores(CopyScoreOptions(embedding: .direct, topK: 1, heads: [(layer, head)]))
        return HeadOverview(layer: layer, head: head, copyScore: copy.topKFraction[layer, head], eigenScore: copy.eigenScore[layer, head],
                            ov: ovRows, qk: qkRows,
                            prompt: try tokens.map { try onPrompt(model: model, layer: layer, head: head, tokens: $0, meanCorpus: meanCorpus) },
                            mapping: try mapping.map { try mappingScore(model: model, layer: layer, head: head, mapping: $0, k: mappingK) })
    }

    /// A corpus's first `maxMeanDocuments` documents as runs for the mean ablation: BOS first when
    /// the model prepends it (as the browse page runs them), cut at n_ctx.
    public static func meanRuns(corpus: inout some DocumentSource, model: HookedTransformer) throws -> [[Int]] {
        let bos = model.config.defaultPrependBOS ? model.bosTokenId : nil
        var runs: [[Int]] = []
        while runs.count < maxMeanDocuments, let doc = try corpus.next() {
            let ids = (bos.map { [$0] } ?? []) + (try doc.tokens ?? model.toTokens(doc.text ?? "", prependBOS: false))
            runs.append(Array(ids.prefix(model.config.nCtx)))
        }
        return runs
    }

    static func mappingScore(model: HookedTransformer, layer: Int, head: Int, mapping: TokenMapping, k: Int) throws -> MappingScore {
        guard (1...1000).contains(k) else { throw MechanicError.invalidArgument("mapping k \(k): give 1 to 1000") }
        guard let s = try model.mappingScores(mapping, embedding: .direct, k: k, heads: [(layer, head)]).heads.first else {
            throw MechanicError.invalidArgument("no mapping score for L\(layer)H\(head)")
        }
        let pairs = mapping.pairs.enumerated().map { i, p in
            MappingScore.Pair(source: p.source, sourceToken: model.pieceString(p.source), target: p.target, targetToken: model.pieceString(p.target),
                              logit: s.logits[i], rank: s.ranks[i], sourceRank: s.sourceRanks[i])
        }
        return MappingScore(k: k, pairs: pairs, topKFraction: s.topK, meanRank: s.meanRank)
    }

    static func onPrompt(model: HookedTransformer, layer: Int, head: Int, tokens: [Int], meanCorpus: [[Int]]?) throws -> OnPrompt {
        guard !tokens.isEmpty else { throw MechanicError.emptyInput("the prompt has no tokens") }
        let n = tokens.count, V = model.config.dVocab
        let batch = TokenBatch(tokens)
        let pattern = try model.attentionPattern(tokens: tokens, layer: layer, head: head)  // [q, k]
        let before = try model.forward(batch).logits ?? Tensor(zeros: [1, n, V])              // [1, n, V]
        let hook = "blocks.\(layer).attn.hook_z"
        let after = try model.runWithHooks(batch, hooks: [Ablation.zero(hook, .head(head))])
        let mean = try Ablation.positionMean(hook, .head(head), model: model, prompts: meanCorpus ?? [tokens])
        let meanAfter = try model.runWithHooks(batch, hooks: [mean.hook])
        let last = { (t: Tensor) in LogitRow(Array(t.data[((n - 1) * V)..<(n * V)])) }
        let targets = (0..<n).map { p in p + 1 < n ? tokens[p + 1] : last(before).top(1, model: model)[0].id }
        let label = "L\(layer)H\(head)"
        let dla = try (0..<n).map { p -> Float in
            let r = try DirectLogitAttribution.run(model: model, tokens: tokens, answer: targets[p], position: p, by: .head)
            return r.entries.first { $0.label == label }?.value ?? 0
        }
        let lens = try LogitLens.run(model: model, tokens: tokens, position: -1, top: k5).rows.first { $0.label == "\(layer)_pre" }
        return OnPrompt(tokens: tokens, strTokens: model.pieceStrings(tokens),
                        pattern: (0..<n).map { q in (0..<n).map { pattern[q, $0] } }, dla: dla, dlaTargets: targets,
                        lossBefore: Loss.perToken(logits: before, batch: batch).data, lossAfter: Loss.perToken(logits: after, batch: batch).data,
                        topBefore: last(before).top(k5, model: model), topAfter: last(after).top(k5, model: model),
                        meanLossAfter: Loss.perToken(logits: meanAfter, batch: batch).data, meanTopAfter: last(meanAfter).top(k5, model: model),
                        meanOver: meanCorpus == nil ? "prompt" : "corpus", meanPositions: mean.positions,
                        lensBefore: lens?.top ?? [])
    }

    static let k5 = 5
}
