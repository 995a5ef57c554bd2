import Mechanic

/// Where the two runs are compared.
public enum DiffPosition: Sendable, Codable, Equatable {
    /// Each prompt's final real token (the default; aligns prompts of different lengths).
    case final
    /// The same index in every prompt (negative counts from each prompt's end).
    case index(Int)
}

/// What the ranking sorts by (largest first).
public enum DiffRanking: String, Sendable, Codable, CaseIterable {
    /// `‖a − b‖ / ‖a‖`: comparable across components of different scale (the default).
    case relativeNorm = "relative"
    /// `‖a − b‖`.
    case norm
    /// `1 − cos(a, b)`: direction change regardless of size.
    case angle
}

/// A token and how much a direction raises (or lowers) its logit.
public struct DiffToken: Codable, Sendable, Equatable {
    public var id: Int
    public var token: String
    public var value: Float

    public init(id: Int, token: String, value: Float) {
        self.id = id
        self.token = token
        self.value = value
    }
}

/// One cached component compared between the two runs at the aligned position.
public struct DiffComponent: Codable, Sendable {
    /// TransformerLens hook name (for a head: the `attn.hook_result` it is part of).
    public var hook: String
    /// The hook name, or `L{l}H{h}` for one head's output.
    public var label: String
    /// The hook kind (`resid_pre`, `attn_out`, `result`, `pattern`, `scale`, …).
    public var kind: String
    public var layer: Int?
    public var head: Int?
    /// `‖a − b‖`, `‖a‖`, `‖b‖`, `‖a − b‖ / ‖a‖` (nil when `a` is zero) and `cos(a, b)` (nil when either is zero).
    public var norm: Float
    public var normA: Float
    public var normB: Float
    public var relativeNorm: Float?
    public var cosine: Float?
    /// For residual-stream and output components (`d_model` wide): the tokens whose logits
    /// `a − b` raises most (`up`) and lowers most (`down`) through the final norm and `W_U`.
    /// Empty when `noDifference` (a zero difference raises and lowers nothing).
    public var up: [DiffToken]?
    public var down: [DiffToken]?
    /// True when `a == b` exactly at the compared position: there is no difference to rank or unembed.
    public var noDifference: Bool = false
}

/// The result of patching one component from run A into run B.
public struct DiffPatchResult: Codable, Sendable {
    public var label: String
    public var hook: String
    /// The logit difference of the patched B run (mean over pairs).
    public var patchedMetric: Float
    /// `(patched − B) / (A − B)`: 1 = the patch restores A's logit difference, 0 = no effect
    /// (nil when A and B have the same metric).
    public var fractionRestored: Float?
}

/// `--verify`: patching the top-ranked components, A's activation into B's run at the aligned position.
public struct DiffVerification: Codable, Sendable {
    public var answerId: Int
    public var answerToken: String
    public var wrongId: Int
    public var wrongToken: String
    /// `logit[answer] − logit[wrong]` at the aligned position in runs A and B (means over pairs).
    public var metricA: Float
    public var metricB: Float
    public var results: [DiffPatchResult]
}

/// One side of the comparison: its prompts, tokens and the positions read.
public struct DiffSide: Codable, Sendable {
    public var texts: [String]?
    public var tokens: [[Int]]
    public var strTokens: [[String]]
    public var positions: [Int]
}

/// `mechanic diff`: every cached component compared between two prompts (or the means of two
/// prompt sets) at an aligned position, ranked, with the output-space view of each difference.
public struct ActivationDiffReport: Codable, Sendable {
    public var a: DiffSide
    public var b: DiffSide
    public var rankBy: DiffRanking
    public var warnings: [String]
    /// Every compared component, ranked (largest first).
    public var components: [DiffComponent]
    /// The residual stream and layer outputs (`resid_pre/mid/post`, `attn_out`, `mlp_out`) in layer order.
    public var byLayer: [DiffComponent]
    /// Hooks left out (e.g. attention patterns of prompts with different lengths), with the reason.
    public var skipped: [String]
    /// A few plain sentences: where the difference lives and what it unembeds to.
    public var summary: [String]
    public var verification: DiffVerification?
}
