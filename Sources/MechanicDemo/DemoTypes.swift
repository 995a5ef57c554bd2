import Foundation
import Mechanic
import MechanicAnalysis

/// A score per attention head, `[layer][head]`, with TransformerLens-style names (`L1H0`).
public struct DemoHeadScores: Sendable, Equatable {
    /// What the score measures, for titles and JSON keys.
    public var name: String
    public var values: [[Float]]

    public init(name: String, values: [[Float]]) {
        self.name = name
        self.values = values
    }

    /// From a `[n_layers, n_heads]` tensor.
    public init(name: String, tensor: Tensor) {
        let (L, H) = (tensor.shape[0], tensor.shape[1])
        self.init(name: name, values: (0..<L).map { l in Array(tensor.data[(l * H)..<((l + 1) * H)]) })
    }

    public static func label(layer: Int, head: Int) -> String { "L\(layer)H\(head)" }

    /// Every head with its score, highest first (ties: lower layer, then lower head).
    public var ranked: [(head: String, score: Float)] {
        var all: [(Int, Int, Float)] = []
        for (l, row) in values.enumerated() { for (h, v) in row.enumerated() where v.isFinite { all.append((l, h, v)) } }
        return all.sorted { $0.2 != $1.2 ? $0.2 > $1.2 : ($0.0, $0.1) < ($1.0, $1.1) }
            .map { (Self.label(layer: $0.0, head: $0.1), $0.2) }
    }

    /// Heads scoring at least `threshold`, best first.
    public func heads(above threshold: Float) -> [String] {
        ranked.filter { $0.score >= threshold }.map(\.head)
    }
}

/// Two prompts of equal length that differ in a few tokens, and the answer the clean prompt
/// should produce (the metric is `logit(answer) − logit(wrongAnswer)`, or `logit(answer)`).
public struct DemoPromptPair: Sendable {
    public var clean: [Int]
    public var corrupted: [Int]
    public var answer: Int
    public var wrongAnswer: Int?
    /// A sentence saying what the pair tests.
    public var description: String

    public init(clean: [Int], corrupted: [Int], answer: Int, wrongAnswer: Int? = nil, description: String) {
        self.clean = clean
        self.corrupted = corrupted
        self.answer = answer
        self.wrongAnswer = wrongAnswer
        self.description = description
    }
}

/// What the demo runs on: a model, how to show its tokens, and (for the planted model) the
/// heads that are known to be there.
public struct DemoSubject {
    public var model: HookedTransformer
    public var name: String
    public var bos: Int?
    public var tokenLabel: (Int) -> String
    public var pair: DemoPromptPair?
    /// Ground truth, when known: role → heads (`["previous_token": ["L0H0"], "induction": ["L1H0"]]`).
    public var plantedHeads: [String: [String]]
    /// Why the prompt pair is missing, when it is.
    public var notes: [String]

    public init(model: HookedTransformer, name: String, bos: Int?, tokenLabel: @escaping (Int) -> String,
                pair: DemoPromptPair?, plantedHeads: [String: [String]] = [:], notes: [String] = []) {
        self.model = model
        self.name = name
        self.bos = bos
        self.tokenLabel = tokenLabel
        self.pair = pair
        self.plantedHeads = plantedHeads
        self.notes = notes
    }
}

public struct DemoOptions: Sendable {
    /// Random tokens per half of the repeated sequence.
    public var seqLen = 20
    public var batch = 8
    public var seed: UInt64 = 0
    /// Tokens sampled for OV copy scores when the vocabulary is larger than this.
    public var copyTokens = 512
    /// A head joins a role's list when its score reaches this.
    public var threshold: Float = 0.4
    /// Patching recovery needed to list a head as causally important.
    public var patchingThreshold: Float = 0.2
    /// Heads shown in the attention-pattern grid (the highest-scoring ones on big models).
    public var maxPatternHeads = 8

    public init(seqLen: Int = 20, batch: Int = 8, seed: UInt64 = 0, copyTokens: Int = 512, threshold: Float = 0.4,
                patchingThreshold: Float = 0.2, maxPatternHeads: Int = 8) {
        self.seqLen = seqLen
        self.batch = batch
        self.seed = seed
        self.copyTokens = copyTokens
        self.threshold = threshold
        self.patchingThreshold = patchingThreshold
        self.maxPatternHeads = maxPatternHeads
    }
}

/// Everything the demo measured.
public struct DemoResult: Sendable {
    public var subjectName: String
    public var nLayers: Int
    public var nHeads: Int
    /// A short repeated random sequence (up to 10 tokens, twice), with labels, and every head's pattern on it.
    public var repeatedTokens: [Int]
    public var repeatedLabels: [String]
    public var patterns: [[[[Float]]]]  // [layer][head][query][key]
    public var seqLen: Int

    public var previousToken: DemoHeadScores
    public var induction: DemoHeadScores
    public var duplicateToken: DemoHeadScores
    public var bos: DemoHeadScores?
    public var copying: DemoHeadScores

    public var pair: DemoPairResult?
    public var plantedHeads: [String: [String]]
    public var notes: [String]
    public var options: DemoOptions
}

/// The prompt-pair analyses: metric, patching, logit lens, activation differences.
public struct DemoPairResult: Sendable {
    public var cleanLabels: [String]
    public var corruptedLabels: [String]
    public var answerLabel: String
    public var wrongAnswerLabel: String?
    public var description: String
    public var cleanMetric: Float
    public var corruptedMetric: Float
    /// `(patched − corrupted) / (clean − corrupted)` after patching each head's `hook_z` (all positions).
    public var headPatching: DemoHeadScores
    /// The same for `hook_resid_pre` at each (layer, position): `[layer][position]`.
    public var residPatching: [[Float]]
    /// The clean prompt's final position through the unembedding after each layer (`LogitLens`,
    /// own normalisation; TransformerLens's labels `0_pre` … `final_post`; ranks from 0).
    public var logitLens: [LensTableRow]
    /// Every component compared between the clean and corrupted runs at the last position
    /// (`ActivationDiff`, ranked by ‖clean − corrupted‖).
    public var diff: ActivationDiffReport
}
