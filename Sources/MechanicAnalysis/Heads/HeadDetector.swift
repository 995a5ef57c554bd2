// MechanicAnalysis/Heads: head analyses — detect_head scores, FactoredMatrix (OV/QK circuits, SVD,
// eigenvalues), composition, copy and mapping scores, name movers, the planted induction model.

import Foundation
import Mechanic

/// The head types `head_detector` knows by name.
public enum HeadKind: String, Sendable, CaseIterable {
    case previousToken = "previous_token_head"
    case duplicateToken = "duplicate_token_head"
    case induction = "induction_head"

    /// Accepts TransformerLens's names and the short forms `previous_token`, `duplicate_token`, `induction`.
    public init?(name: String) {
        let n = name.hasSuffix("_head") ? name : name + "_head"
        self.init(rawValue: n)
    }
}

/// How an attention pattern is compared with a detection pattern (`error_measure`).
public enum ErrorMeasure: String, Sendable, CaseIterable {
    /// `Σ(attention ⊙ detection) / Σ attention`: the fraction of attention on the detected pairs.
    case mul
    /// `1 − round(Σ|attention − detection| / seq_len, 3)`: 1 = perfect match, −1 = perfect mismatch.
    case abs
}

/// What to look for: a named head type or an explicit lower-triangular `[seq, seq]` pattern.
public enum DetectionPattern: Sendable {
    case head(HeadKind)
    case custom(Tensor)
}

/// Options of `detect_head` besides the pattern.
public struct HeadDetectionOptions: Sendable {
    /// Only these heads are scored; the others get −1 (TransformerLens's `heads`). nil = all heads.
    public var heads: [(layer: Int, head: Int)]?
    public var excludeBOS: Bool
    public var excludeCurrentToken: Bool
    public var errorMeasure: ErrorMeasure

    public init(heads: [(layer: Int, head: Int)]? = nil, excludeBOS: Bool = false, excludeCurrentToken: Bool = false,
                errorMeasure: ErrorMeasure = .mul) {
        self.heads = heads
        self.excludeBOS = excludeBOS
        self.excludeCurrentToken = excludeCurrentToken
        self.errorMeasure = errorMeasure
    }
}

/// Scores `[n_layers, n_heads]` and the warnings TransformerLens would log.
public struct HeadDetectionResult: Sendable {
    public var scores: Tensor  // [n_layers, n_heads]
    public var warnings: [String]
}

/// TransformerLens's `head_detector`, number for number.
public enum HeadDetector {
    /// `get_{kind}_detection_pattern(tokens)`: `[seq, seq]` of zeros and ones, lower triangular.
    /// previous token: ones on the first subdiagonal. duplicate token: `[i, j] = 1` when
    /// `tokens[i] == tokens[j]` and `j < i`. induction: the duplicate pattern shifted one key to the
    /// right (`[i, j + 1] = 1` for each earlier duplicate `j`), the first column zero.
    public static func detectionPattern(_ kind: HeadKind, tokens: [Int]) -> Tensor {
        let n = tokens.count
        var out = Tensor(zeros: [n, n])
        for i in 0..<n {
            for j in 0..<i {
                switch kind {
                case .previousToken:
                    if j == i - 1 { out[i, j] = 1 }
                case .duplicateToken:
                    if tokens[i] == tokens[j] { out[i, j] = 1 }
                case .induction:
                    // duplicate[i, j'] rolled right by one: column j comes from j' = j − 1 (j ≥ 1);
                    // lower-triangular afterwards, so j ≤ i.
                    if j >= 1, tokens[i] == tokens[j - 1], j - 1 < i { out[i, j] = 1 }
                }
            }
            if kind == .induction, i >= 1, tokens[i] == tokens[i - 1] { out[i, i] = 1 }  // j = i (diagonal kept by tril)
        }
        return out
    }

    /// `compute_head_attention_similarity_score` for one head's `[q, k]` pattern.
    /// `mul`: with `excludeBOS` column 0 and with `excludeCurrentToken` the diagonal of the
    /// *attention* is zeroed first (numerator and denominator). `abs`: they are zeroed in the
    /// absolute difference, and the score is `1 − round(mean(|diff|) · seq, 3)`.
    public static func similarity(attention: Tensor, detection: Tensor, excludeBOS: Bool, excludeCurrentToken: Bool,
                                  measure: ErrorMeasure) -> Float {
        let n = attention.shape[0]
        switch measure {
        case .mul:
            var num = 0.0, den = 0.0
            for i in 0..<n {
                for j in 0..<n {
                    if excludeBOS && j == 0 { continue }
                    if excludeCurrentToken && i == j { continue }
                    let a = Double(attention.data[i * n + j])
                    num += a * Double(detection.data[i * n + j])
                    den += a
                }
            }
            return Float(num) / Float(den)
        case .abs:
            return Float(1 - pythonRound(absErrorUnrounded(attention: attention, detection: detection,
                                                           excludeBOS: excludeBOS, excludeCurrentToken: excludeCurrentToken), 3))
        }
    }

    /// `(abs_diff.mean() * size).item()` before rounding, as float32 arithmetic gives it.
    public static func absErrorUnrounded(attention: Tensor, detection: Tensor, excludeBOS: Bool, excludeCurrentToken: Bool) -> Double {
        let n = attention.shape[0]
        var sum = 0.0
        for i in 0..<n {
            for j in 0..<n {
                if excludeBOS && j == 0 { continue }
                if excludeCurrentToken && i == j { continue }
                sum += Swift.abs(Double(attention.data[i * n + j]) - Double(detection.data[i * n + j]))
            }
        }
        let mean = Float(sum / Double(n * n))
        return Double(mean * Float(n))
    }

    /// Python's `round(x, digits)`: round half to even on the exact binary value (as printf does).
    static func pythonRound(_ x: Double, _ digits: Int) -> Double {
        Double(String(format: "%.\(digits)f", x)) ?? x
    }

    /// Whether a matrix is square and zero above the diagonal (`utils.is_lower_triangular`).
    static func isLowerTriangular(_ t: Tensor) -> Bool {
        guard t.rank == 2, t.shape[0] == t.shape[1] else { return false }
        let n = t.shape[0]
        for i in 0..<n { for j in (i + 1)..<max(i + 1, n) where t.data[i * n + j] != 0 { return false } }
        return true
    }
}

extension HookedTransformer {
    /// `detect_head(model, seq, detection_pattern, heads, cache, exclude_bos=, exclude_current_token=,
    /// error_measure=)` on exactly these token ids (TransformerLens tokenizes a string and prepends
    /// BOS; use `detectHead(prompt:…)` for that). `cache` may hold `blocks.{l}.attn.hook_pattern` of a
    /// batch-of-one run on these tokens; otherwise the model is run. The cache is never modified
    /// (TransformerLens zeroes the BOS column of the cached pattern in place with `exclude_bos`).
    ///
    /// Refused as in TransformerLens: a sequence of length < 2 or ≥ n_ctx, a custom pattern that is
    /// not lower triangular `[seq, seq]`. Warned as in TransformerLens: `mul` with a pattern holding
    /// values other than 0 and 1.
    public func detectHead(tokens: [Int], pattern: DetectionPattern, options: HeadDetectionOptions = HeadDetectionOptions(),
                           cache: ActivationCache? = nil) throws -> HeadDetectionResult {
        let n = tokens.count
        let detection: Tensor
        switch pattern {
        case .head(let kind): detection = HeadDetector.detectionPattern(kind, tokens: tokens)
        case .custom(let t): detection = t
        }
        var warnings: [String] = []
        if options.errorMeasure == .mul, detection.data.contains(where: { $0 != 0 && $0 != 1 }) {
            warnings.append("Using detection pattern with values other than 0 or 1 with error_measure 'mul'")
        }
        guard n > 1, n < config.nCtx else {
            throw MechanicError.invalidArgument("detect_head: the sequence has \(n) tokens; it must have more than 1 and fewer than n_ctx = \(config.nCtx) (as in TransformerLens)")
        }
        guard HeadDetector.isLowerTriangular(detection), detection.shape[0] == n else {
            throw MechanicError.invalidArgument("detect_head: the detection pattern must be a lower triangular matrix of shape [\(n), \(n)] (sequence_length = \(n)); got shape \(detection.shape)")
        }
        let selected: [(layer: Int, head: Int)] = options.heads
            ?? (0..<config.nLayers).flatMap { l in (0..<config.nHeads).map { (layer: l, head: $0) } }
        for (l, h) in selected { try headsCheck(l, h) }
        let patterns = try attentionPatterns(tokens: tokens, layers: Set(selected.map(\.layer)), cache: cache)
        var scores = Tensor(shape: [config.nLayers, config.nHeads], data: [Float](repeating: -1, count: config.nLayers * config.nHeads))
        for (l, h) in selected {
            guard let layerPattern = patterns[l] else { continue }
            scores[l, h] = HeadDetector.similarity(attention: layerPattern.slice0(h), detection: detection,
                                                   excludeBOS: options.excludeBOS, excludeCurrentToken: options.excludeCurrentToken,
                                                   measure: options.errorMeasure)
        }
        return HeadDetectionResult(scores: scores, warnings: warnings)
    }

    /// `detect_head` on a text: tokenized with BOS as `model.to_tokens` does.
    public func detectHead(prompt: String, pattern: DetectionPattern, options: HeadDetectionOptions = HeadDetectionOptions()) throws -> HeadDetectionResult {
        try detectHead(tokens: toTokens(prompt), pattern: pattern, options: options)
    }

    /// `detect_head` on several sequences: the mean of the per-sequence scores.
    /// TransformerLens's list path silently drops `heads`, `exclude_bos`, `exclude_current_token` and
    /// `error_measure` (it recurses with the defaults); here they are honoured. With the default
    /// options both agree.
    public func detectHead(sequences: [[Int]], kind: HeadKind, options: HeadDetectionOptions = HeadDetectionOptions()) throws -> HeadDetectionResult {
        guard !sequences.isEmpty else { throw MechanicError.emptyInput("detect_head needs at least one sequence") }
        var sum = [Double](repeating: 0, count: config.nLayers * config.nHeads)
        var warnings: [String] = []
        for seq in sequences {
            let r = try detectHead(tokens: seq, pattern: .head(kind), options: options)
            for i in sum.indices { sum[i] += Double(r.scores.data[i]) }
            warnings += r.warnings
        }
        let mean = sum.map { Float($0 / Double(sequences.count)) }
        return HeadDetectionResult(scores: Tensor(shape: [config.nLayers, config.nHeads], data: mean), warnings: warnings)
    }

    /// The attention patterns `[head, q, k]` of the given layers for one unpadded sequence, from
    /// `cache` when it has them (with or without a batch axis of 1), else from a forward pass that
    /// caches only the patterns.
    func attentionPatterns(tokens: [Int], layers: Set<Int>, cache: ActivationCache?) throws -> [Int: Tensor] {
        let names = layers.sorted().map { "blocks.\($0).attn.hook_pattern" }
        var source = cache
        if source == nil || names.contains(where: { source?[$0] == nil }) {
            source = try forward(TokenBatch(tokens), options: ForwardOptions(cache: .names(names), logits: .none)).cache
        }
        var out: [Int: Tensor] = [:]
        let n = tokens.count
        for l in layers {
            guard let p = source?["blocks.\(l).attn.hook_pattern"] else { continue }
            let expected = [config.nHeads, n, n]
            let t = p.rank == 4 ? p.reshaped(Array(p.shape.dropFirst())) : p  // [1, head, q, k] -> [head, q, k]
            guard t.shape == expected, p.rank == 3 || p.shape[0] == 1 else {
                throw MechanicError.invalidArgument("blocks.\(l).attn.hook_pattern has shape \(p.shape); expected \(expected) for a single \(n)-token sequence")
            }
            out[l] = t
        }
        return out
    }
}
