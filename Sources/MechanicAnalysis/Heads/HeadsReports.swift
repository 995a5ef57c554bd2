import Foundation
import Mechanic

/// `detect_head` scores with what they were measured on, for a report.
public struct HeadDetectionReport: Sendable {
    public var kind: HeadKind
    public var tokens: [Int]
    public var strTokens: [String]
    public var options: HeadDetectionOptions
    public var result: HeadDetectionResult
    /// Attention patterns shown beside the detection pattern (the best-scoring heads, say).
    public var examples: [AttentionPanel]

    public init(kind: HeadKind, tokens: [Int], strTokens: [String], options: HeadDetectionOptions, result: HeadDetectionResult,
                examples: [AttentionPanel] = []) {
        self.kind = kind
        self.tokens = tokens
        self.strTokens = strTokens
        self.options = options
        self.result = result
        self.examples = examples
    }

    /// The `count` best-scoring heads, best first.
    public func topHeads(_ count: Int) -> [(layer: Int, head: Int, score: Float)] {
        let t = result.scores, H = t.shape[1]
        return t.data.indices.filter { t.data[$0].isFinite && shownScores[$0 / H][$0 % H].isFinite }
            .sorted { t.data[$0] != t.data[$1] ? t.data[$0] > t.data[$1] : $0 < $1 }.prefix(count)
            .map { ($0 / H, $0 % H, t.data[$0]) }
    }

    /// The scores with heads left out by `options.heads` as NaN (TransformerLens marks them −1).
    public var shownScores: [[Float]] {
        let t = result.scores
        let (L, H) = (t.shape[0], t.shape[1])
        let selected = options.heads.map { Set($0.map { $0.layer * H + $0.head }) }
        return (0..<L).map { l in (0..<H).map { h in selected.map { $0.contains(l * H + h) } ?? true ? t[l, h] : .nan } }
    }
}

/// One head's attention pattern on a prompt.
public struct AttentionPatternReport: Sendable {
    public var layer: Int
    public var head: Int
    public var tokens: [Int]
    public var strTokens: [String]
    /// `pattern[query][key]`.
    public var pattern: [[Float]]
    /// Why this head is shown (e.g. "the best previous-token head").
    public var note: String?

    public init(layer: Int, head: Int, tokens: [Int], strTokens: [String], pattern: Tensor, note: String? = nil) {
        self.layer = layer
        self.head = head
        self.tokens = tokens
        self.strTokens = strTokens
        self.pattern = Self.rows(pattern)
        self.note = note
    }

    /// A `[q, k]` tensor as rows.
    public static func rows(_ pattern: Tensor) -> [[Float]] {
        let n = pattern.shape.first ?? 0, k = pattern.shape.last ?? 0
        return (0..<n).map { q in Array(pattern.data[(q * k)..<((q + 1) * k)]) }
    }
}

/// `all_composition_scores(mode)` `[layer₁, head₁, layer₂, head₂]`, for a report.
public struct CompositionReport: Sendable {
    public var mode: CompositionMode
    public var scores: Tensor

    public init(mode: CompositionMode, scores: Tensor) {
        self.mode = mode
        self.scores = scores
    }

    /// Every earlier → later head pair with its score, strongest first.
    public var ranked: [(label: String, value: Float)] {
        let (L, H) = (scores.shape[0], scores.shape[1])
        var out: [(String, Float)] = []
        for a in 0..<L { for b in 0..<H { for c in (a + 1)..<max(a + 1, L) { for d in 0..<H {
            out.append(("L\(a)H\(b) → L\(c)H\(d)", scores[a, b, c, d]))
        } } } }
        return out.sorted { $0.1 > $1.1 }
    }
}

/// The name-mover scatter with the prompt and the answer and wrong tokens as text.
public struct NameMoverReport: Sendable {
    public var scatter: NameMoverScatter
    public var strTokens: [String]
    public var answerToken: String
    public var wrongToken: String

    public init(scatter: NameMoverScatter, strTokens: [String], answerToken: String, wrongToken: String) {
        self.scatter = scatter
        self.strTokens = strTokens
        self.answerToken = answerToken
        self.wrongToken = wrongToken
    }
}
