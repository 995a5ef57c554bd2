// MechanicAnalysis/Lens: residual-stream decompositions (accumulated, per layer, per head and
// neuron), apply_ln_to_stack, the logit lens and prediction tables.

import Mechanic

/// How a logit lens normalises each residual-stream entry before the unembedding.
public enum LensMode: String, Sendable, Codable, CaseIterable {
    /// Each entry through `ln_final` with statistics computed from that entry (a true logit lens;
    /// TransformerLens's `accumulated_resid(apply_ln=True)` at the unembed).
    case own
    /// Each entry centered (LayerNorm) and divided by the **cached** final-norm scale of the run
    /// (`apply_ln_to_stack` semantics, the scale under which decompositions add up), then the
    /// final-norm weight and bias when the model still has them.
    case final
}

/// The logit lens at one layer boundary.
public struct LogitLensRow: Codable, Sendable {
    /// TransformerLens's `accumulated_resid` label: `0_pre`, `0_mid`, …, `final_post`.
    public var label: String
    /// The hook the residual was read from.
    public var hook: String
    /// The most likely tokens, best first.
    public var top: [ScoredToken]
    /// The answer token's rank/logit/probability at this layer, when an answer was given.
    public var answer: ScoredToken?
}

/// A logit lens over every residual-stream boundary at one position of one prompt.
public struct LogitLensReport: Codable, Sendable {
    public var tokens: [Int]
    public var strTokens: [String]
    /// The position read (non-negative).
    public var position: Int
    public var mode: LensMode
    public var answerId: Int?
    public var rows: [LogitLensRow]
}

public enum LogitLens {
    /// The hooks a lens needs in the cache.
    public static func cacheNames(_ c: ModelConfig) -> [String] {
        var names: [String] = ["hook_embed"]
        for l in 0..<c.nLayers {
            names.append("blocks.\(l).hook_resid_pre")
            if !c.parallelAttnMLP && !c.attnOnly { names.append("blocks.\(l).hook_resid_mid") }
        }
        names.append("blocks.\(c.nLayers - 1).hook_resid_post")
        if c.normalization != .none { names.append("ln_final.hook_scale") }
        return names
    }

    /// Logits of each accumulated-residual entry (`0_pre`, `0_mid`, …, `final_post`) at `position`,
    /// `[entries, d_vocab]`, normalised as `mode` says. The `final_post` row equals the model's
    /// logits in both modes.
    public static func logits(model: HookedTransformer, cache: ActivationCache, position: Int, mode: LensMode,
                              batchIndex: Int = 0) throws -> (labels: [String], logits: Tensor) {
        let (labels, x) = try normalizedResiduals(model: model, cache: cache, position: position, mode: mode, batchIndex: batchIndex)
        return (labels, model.unembed(x))  // [entries, d_vocab]
    }

    /// The residual stream at every boundary at `position`, normalised as `mode` says — what
    /// `logits` unembeds (`[entries, d_model]`); callers that lens many positions stack these
    /// and unembed once.
    public static func normalizedResiduals(model: HookedTransformer, cache: ActivationCache, position: Int, mode: LensMode,
                                           batchIndex: Int = 0) throws -> (labels: [String], rows: Tensor) {
        let c = model.config
        var stack = try cache.accumulatedResid(model: model, inclMid: true, posSlice: .index(position))  // [entries, batch, d_model]
        if cache.hasBatchDim { stack.tensor = try PosSlice.index(batchIndex).apply(stack.tensor, axis: 1) }  // [entries, d_model]
        let x: Tensor
        switch mode {
        case .own:
            x = model.applyFinalNorm(stack.tensor)
        case .final:
            var s: Float = 1
            if c.normalization != .none {
                var scale = try PosSlice.index(position).apply(cache.require("ln_final.hook_scale"), axis: -2)  // [batch?, 1]
                if cache.hasBatchDim { scale = try PosSlice.index(batchIndex).apply(scale, axis: 0) }          // [1]
                s = scale.data.first ?? 1
            }
            var y = c.usesLayerNorm ? centerRows(stack.tensor) : stack.tensor
            y.scale(by: 1 / s)
            y = affine(y, weight: model.weights.lnFinalW, bias: c.normalization == .layerNorm ? model.weights.lnFinalB : nil)
            x = y
        }
        return (stack.labels, x)  // [entries, d_model]
    }

    /// Runs `tokens` and reports the lens at `position` (negative counts from the end).
    public static func run(model: HookedTransformer, tokens: [Int], position: Int = -1, mode: LensMode = .own,
                           top: Int = 5, answer: Int? = nil) throws -> LogitLensReport {
        guard !tokens.isEmpty else { throw MechanicError.emptyInput("the logit lens needs at least one token") }
        let pos = try PosSlice.index(position).positions(count: tokens.count)[0]
        if let answer, answer < 0 || answer >= model.config.dVocab {
            throw MechanicError.tokenOutOfRange(id: answer, dVocab: model.config.dVocab)
        }
        let (_, cache) = try model.runWithCache(TokenBatch(tokens), names: .names(cacheNames(model.config)))
        let (labels, logits) = try Self.logits(model: model, cache: cache, position: pos, mode: mode)
        let V = model.config.dVocab
        let hooks = hookNames(labels, nLayers: model.config.nLayers)
        let rows = labels.indices.map { i -> LogitLensRow in
            let row = LogitRow(Array(logits.data[(i * V)..<((i + 1) * V)]))
            return LogitLensRow(label: labels[i], hook: hooks[i], top: row.top(top, model: model),
                                answer: answer.map { row.score($0, model: model) })
        }
        return LogitLensReport(tokens: tokens, strTokens: model.pieceStrings(tokens), position: pos, mode: mode,
                               answerId: answer, rows: rows)
    }

    /// The hook each accumulated-residual label was read from.
    static func hookNames(_ labels: [String], nLayers: Int) -> [String] {
        labels.map { label in
            if label == "final_post" { return "blocks.\(nLayers - 1).hook_resid_post" }
            let parts = label.split(separator: "_")
            return "blocks.\(parts[0]).hook_resid_\(parts.count > 1 ? String(parts[1]) : "pre")"
        }
    }
}

/// `x * weight + bias` on the last axis (either may be absent).
func affine(_ x: Tensor, weight: Tensor?, bias: Tensor?) -> Tensor {
    guard weight != nil || bias != nil else { return x }
    let d = x.shape.last ?? 1
    var out = x
    out.data.withUnsafeMutableBufferPointer { o in
        for i in o.indices {
            if let weight { o[i] *= weight.data[i % d] }
            if let bias { o[i] += bias.data[i % d] }
        }
    }
    return out
}
