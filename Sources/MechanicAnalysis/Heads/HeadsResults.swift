import Mechanic

// The results of `mechanic heads …` as Codable values: `--json` prints exactly these (through
// `ResultJSON`), with the keys documented in docs/cli/heads.md. Non-finite scores are `null`.

/// `heads detect`: `{"scores": [[score]]}` by layer and head.
public struct HeadScoresResult: Codable, Sendable {
    public var scores: [[Double?]]
    public init(_ scores: Tensor) { self.scores = ResultJSON.layerHead(scores) }
}

/// `heads induction`.
public struct InductionScoresResult: Codable, Sendable {
    public var seqLen: Int
    public var batch: Int
    public var seed: UInt64
    /// The BOS id prepended to every row, or nil when none was.
    public var bos: Int?
    public var tokens: [[Int]]
    public var scores: [[Double?]]

    public init(_ r: InductionScores, batch: Int, seed: UInt64) {
        let usedBOS = r.tokens.first.map { $0.count > 2 * r.seqLen } ?? false
        (seqLen, self.batch, self.seed, bos, tokens, scores) = (r.seqLen, batch, seed, usedBOS ? r.tokens[0][0] : nil, r.tokens, ResultJSON.layerHead(r.scores))
    }

    enum CodingKeys: String, CodingKey { case seqLen = "seq_len", batch, seed, bos, tokens, scores }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(seqLen, forKey: .seqLen); try c.encode(batch, forKey: .batch); try c.encode(seed, forKey: .seed)
        try c.encode(bos, forKey: .bos); try c.encode(tokens, forKey: .tokens); try c.encode(scores, forKey: .scores)
    }
}

/// `heads pattern`: one head's attention pattern `[query][key]`.
public struct AttentionPatternResult: Codable, Sendable {
    public var layer: Int
    public var head: Int
    public var tokens: [Int]
    public var strTokens: [String]
    public var pattern: [[Double?]]

    public init(head: HeadIndex, tokens: [Int], strTokens: [String], pattern p: Tensor) {
        (layer, self.head, self.tokens, self.strTokens) = (head.layer, head.head, tokens, strTokens)
        let n = tokens.count
        pattern = (0..<n).map { i in (0..<n).map { ResultJSON.number(p[i, $0]) } }
    }
    enum CodingKeys: String, CodingKey { case layer, head, tokens, strTokens = "str_tokens", pattern }
}

/// `heads copy-scores`.
public struct CopyScoresResult: Codable, Sendable {
    public var embedding: String
    public var topK: Int
    public var copyFraction: [[Double?]]
    public var eigenScore: [[Double?]]
    public var positiveEigenFraction: [[Double?]]

    public init(_ s: VocabularyCopyScores, embedding: CopyEmbedding, topK: Int) {
        self.embedding = embedding.rawValue
        self.topK = topK
        copyFraction = ResultJSON.layerHead(s.topKFraction)
        eigenScore = ResultJSON.layerHead(s.eigenScore)
        positiveEigenFraction = ResultJSON.layerHead(s.positiveEigenFraction)
    }
    enum CodingKeys: String, CodingKey {
        case embedding, topK = "top_k", copyFraction = "copy_fraction", eigenScore = "eigen_score", positiveEigenFraction = "positive_eigen_fraction"
    }
}

/// `heads mapping` (`--copy-scores --mapping FILE`).
public struct MappingScoresResult: Codable, Sendable {
    public struct Pair: Codable, Sendable {
        public var source: Int, target: Int, sourceStr: String, targetStr: String
        enum CodingKeys: String, CodingKey { case source, target, sourceStr = "source_str", targetStr = "target_str" }
    }
    public struct Head: Codable, Sendable {
        public var layer: Int, head: Int, ranks: [Int], logits: [Double?], sourceRanks: [Int], meanRank: Double, top1: Double, topk: Double
        enum CodingKeys: String, CodingKey {
            case layer, head, ranks, logits, sourceRanks = "source_ranks", meanRank = "mean_rank", top1, topk
        }
        public func encode(to encoder: Encoder) throws {  // `logits` keeps its nulls
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(layer, forKey: .layer); try c.encode(head, forKey: .head); try c.encode(ranks, forKey: .ranks)
            try c.encode(logits, forKey: .logits); try c.encode(sourceRanks, forKey: .sourceRanks)
            try c.encode(meanRank, forKey: .meanRank); try c.encode(top1, forKey: .top1); try c.encode(topk, forKey: .topk)
        }
    }
    public var embedding: String
    public var k: Int
    public var pairs: [Pair]
    public var heads: [Head]

    public init(_ r: TokenMappingScores, mapping: TokenMapping, embedding: CopyEmbedding) {
        self.embedding = embedding.rawValue
        k = r.k
        pairs = zip(mapping.pairs, mapping.labels).map { Pair(source: $0.source, target: $0.target, sourceStr: $1.source, targetStr: $1.target) }
        heads = r.heads.map {
            Head(layer: $0.layer, head: $0.head, ranks: $0.ranks, logits: $0.logits.map(ResultJSON.number), sourceRanks: $0.sourceRanks,
                 meanRank: $0.meanRank, top1: $0.top1, topk: $0.topK)
        }
    }
}

/// `heads composition`: `scores[l1][h1][l2][h2]`.
public struct CompositionScoresResult: Codable, Sendable {
    public var mode: String
    public var scores: [[[[Double?]]]]

    public init(mode: CompositionMode, scores s: Tensor) {
        self.mode = mode.rawValue
        let (L, H) = (s.shape[0], s.shape[1])
        scores = (0..<L).map { a in (0..<H).map { b in (0..<L).map { c in (0..<H).map { ResultJSON.number(s[a, b, c, $0]) } } } }
    }
}

/// `heads name-movers`.
public struct NameMoverResult: Codable, Sendable {
    public struct Head: Codable, Sendable {
        public var layer: Int, head: Int, directEffect: Double?, attnToAnswer: Double?, attnToWrong: Double?
        enum CodingKeys: String, CodingKey { case layer, head, directEffect = "direct_effect", attnToAnswer = "attn_to_answer", attnToWrong = "attn_to_wrong" }
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(layer, forKey: .layer); try c.encode(head, forKey: .head); try c.encode(directEffect, forKey: .directEffect)
            try c.encode(attnToAnswer, forKey: .attnToAnswer); try c.encode(attnToWrong, forKey: .attnToWrong)
        }
    }
    public var tokens: [Int]
    public var answerId: Int, wrongId: Int
    public var answerPos: Int, wrongPos: Int?, finalPos: Int
    public var heads: [Head]

    public init(_ s: NameMoverScatter) {
        (tokens, answerId, wrongId, answerPos, wrongPos, finalPos) = (s.tokens, s.answer, s.wrong, s.answerPosition, s.wrongPosition, s.finalPosition)
        heads = s.points.map {
            Head(layer: $0.layer, head: $0.head, directEffect: ResultJSON.number($0.directEffect), attnToAnswer: ResultJSON.number($0.attnToAnswer),
                 attnToWrong: $0.attnToWrong.flatMap(ResultJSON.number))
        }
    }
    enum CodingKeys: String, CodingKey {
        case tokens, answerId = "answer_id", wrongId = "wrong_id", answerPos = "answer_pos", wrongPos = "wrong_pos", finalPos = "final_pos", heads
    }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(tokens, forKey: .tokens); try c.encode(answerId, forKey: .answerId); try c.encode(wrongId, forKey: .wrongId)
        try c.encode(answerPos, forKey: .answerPos); try c.encode(wrongPos, forKey: .wrongPos); try c.encode(finalPos, forKey: .finalPos)
        try c.encode(heads, forKey: .heads)
    }
}
