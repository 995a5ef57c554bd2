import MechanicAnalysis

/// What `mechanic demo --json` prints (`DemoResult.summary`, encoded by `ResultJSON`): one key per
/// identified role (`previous_token_heads`, `induction_heads`, … → heads ranked by evidence),
/// `scores` (score name → head → score), `model`, and when present `planted`, `prompt_pair` and `notes`.
public struct DemoSummary: Encodable, Sendable {
    public var identified: [String: [String]]
    public var scores: [String: [String: Double]]
    public var model: String
    public var planted: [String: [String]]?
    public var promptPair: PromptPair?
    public var notes: [String]?

    /// The prompt pair's metric on the clean and corrupted runs, and the prompts' token labels.
    public struct PromptPair: Encodable, Sendable {
        public var cleanMetric: Double
        public var corruptedMetric: Double
        public var answer: String
        public var clean: [String]
        public var corrupted: [String]

        enum CodingKeys: String, CodingKey {
            case cleanMetric = "clean_metric", corruptedMetric = "corrupted_metric", answer, clean, corrupted
        }
    }

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ s: String) { stringValue = s }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// The roles sit at the top level beside the other keys, as the command has always printed them.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        for (role, heads) in identified { try c.encode(heads, forKey: Key(role)) }
        try c.encode(scores, forKey: Key("scores"))
        try c.encode(model, forKey: Key("model"))
        try c.encodeIfPresent(planted, forKey: Key("planted"))
        try c.encodeIfPresent(promptPair, forKey: Key("prompt_pair"))
        try c.encodeIfPresent(notes, forKey: Key("notes"))
    }
}
