/// `mechanic tokenize --json`: `{"ids": [...], "tokens": [...]}` (pieces as the tokenizer shows them).
public struct TokenizationResult: Codable, Sendable, Equatable {
    public var ids: [Int]
    public var tokens: [String]
    public init(ids: [Int], tokens: [String]) { (self.ids, self.tokens) = (ids, tokens) }
}

/// `mechanic predict --json`: the prompt's ids and the next-token distribution's top entries,
/// rank 1 first.
public struct NextTokenResult: Codable, Sendable {
    public struct Entry: Codable, Sendable {
        public var rank: Int, id: Int, logit: Double, prob: Double, token: String
    }
    public var tokens: [Int]
    public var top: [Entry]

    /// `entries` from `LogitRow.top` (0-based ranks; printed 1-based).
    public init(tokens: [Int], entries: [ScoredToken]) {
        self.tokens = tokens
        top = entries.map { Entry(rank: $0.rank + 1, id: $0.id, logit: Double($0.logit), prob: Double($0.prob), token: $0.token) }
    }
}
