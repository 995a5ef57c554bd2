// MechanicAnalysis/Attribution: direct logit attribution (residual components · the answer's
// unembedding direction) and logit attributions of any stack, with their HTML.

import Mechanic

/// How direct logit attribution groups the residual stream.
public enum AttributionGrouping: String, Sendable, Codable, CaseIterable {
    /// `embed`, `pos_embed`, then one entry per layer (attention + MLP output).
    case layer
    /// `embed`, `pos_embed`, `{l}_attn_out`, `{l}_mlp_out` (TransformerLens's `decompose_resid`).
    case component
    /// Every head (`L0H0`…), each `{l}_mlp_out`, `embed`, `pos_embed` and the attention output
    /// biases (`bias`) — `get_full_resid_decomposition(expand_neurons=False)`.
    case head
    /// Every head, every neuron (`L0N0`…), `embed`, `pos_embed` and all output biases (`bias`) —
    /// `get_full_resid_decomposition(expand_neurons=True)`.
    case neuron
}

/// One component's direct contribution to the answer logit (or logit difference).
public struct AttributionEntry: Codable, Sendable, Equatable {
    public var label: String
    /// `embed`, `pos_embed`, `layer`, `attn`, `mlp`, `head`, `neuron` or `bias`.
    public var kind: String
    public var layer: Int?
    public var head: Int?
    public var neuron: Int?
    public var value: Float
}

/// Direct logit attribution at one position of one prompt.
///
/// `total` (the sum of every entry, listed or not) plus `constant` equals `logitDiff`, the
/// model's own `logit[answer] (− logit[wrong])` at that position, up to float rounding.
public struct AttributionReport: Codable, Sendable {
    public var tokens: [Int]
    public var strTokens: [String]
    public var position: Int
    public var answerId: Int
    public var answerToken: String
    public var wrongId: Int?
    public var wrongToken: String?
    public var by: AttributionGrouping
    /// Entries ranked by |value|, largest first (the `top` kept; all when `top` is nil).
    public var entries: [AttributionEntry]
    /// How many entries there are in all.
    public var componentCount: Int
    /// Sum over all entries.
    public var total: Float
    /// What no component writes: the final norm's bias · direction + the `b_U` difference.
    public var constant: Float
    /// The model's logit (difference) at the position.
    public var logitDiff: Float
}

public enum DirectLogitAttribution {
    /// Runs `tokens` and attributes `logit[answer] − logit[wrong]` (or `logit[answer]`) at
    /// `position` to the residual-stream components grouped as `by`.
    ///
    /// The direction is the unembedding difference with the final norm's weight folded in, each
    /// component is centered (LayerNorm) and divided by the run's cached final scale
    /// (TransformerLens's `apply_ln` semantics), so the entries add up exactly. On a processed
    /// model this equals `cache.logitAttrs` of the matching decomposition.
    public static func run(model: HookedTransformer, tokens: [Int], answer: Int, wrong: Int? = nil, position: Int = -1,
                           by: AttributionGrouping = .head, top: Int? = nil) throws -> AttributionReport {
        let c = model.config, D = c.dModel, V = c.dVocab
        guard !tokens.isEmpty else { throw MechanicError.emptyInput("attribution needs at least one token") }
        for t in [answer] + (wrong.map { [$0] } ?? []) where t < 0 || t >= V { throw MechanicError.tokenOutOfRange(id: t, dVocab: V) }
        let pos = try PosSlice.index(position).positions(count: tokens.count)[0]
        // Logits are read at `pos` only: the last position's alone when that is `pos` (no full unembedding).
        let last = pos == tokens.count - 1
        let forward = try model.forward(TokenBatch(tokens), options: ForwardOptions(cache: .all, logits: last ? .last : .all))
        let (logits, cache) = (forward.logits ?? Tensor(zeros: [0]), forward.cache)  // [1, last ? 1 : n, V]
        let flat = try cache.removingBatchDim()
        let at = PosSlice.index(pos)

        // Direction in the residual stream: w_ln ⊙ (W_U[:, answer] − W_U[:, wrong]), centered for LayerNorm.
        let raw = try model.tokensToResidualDirections([answer]).data
        let neg = try wrong.map { try model.tokensToResidualDirections([$0]).data } ?? [Float](repeating: 0, count: D)
        let dir = (0..<D).map { raw[$0] - neg[$0] }
        var u = (0..<D).map { dir[$0] * (model.weights.lnFinalW?.data[$0] ?? 1) }
        if c.usesLayerNorm { let m = u.reduce(0, +) / Float(D); u = u.map { $0 - m } }
        let scale = c.normalization == .none ? 1 : try at.apply(flat.require("ln_final.hook_scale"), axis: -2).data[0]
        var constant = model.weights.b_U.data[answer] - (wrong.map { model.weights.b_U.data[$0] } ?? 0)
        if c.normalization == .layerNorm, let b = model.weights.lnFinalB { for j in 0..<D { constant += b.data[j] * dir[j] } }
        func attr(_ v: ArraySlice<Float>) -> Float {
            var acc: Float = 0
            for (j, x) in v.enumerated() { acc += x * u[j] }
            return acc / scale
        }
        func attrs(_ stack: ResidualStack) -> [Float] {  // stack [C, d_model]
            (0..<stack.count).map { attr(stack.tensor.data[($0 * D)..<(($0 + 1) * D)]) }
        }

        var entries: [AttributionEntry] = []
        switch by {
        case .component, .layer:
            let stack = try flat.decomposeResid(model: model, posSlice: at)
            let values = attrs(stack)
            if by == .component {
                entries = zip(stack.labels, values).map { entry($0, $1) }
            } else {
                var perLayer = [Float](repeating: 0, count: c.nLayers)
                for (label, v) in zip(stack.labels, values) {
                    let e = entry(label, v)
                    if let l = e.layer { perLayer[l] += v } else { entries.append(e) }
                }
                entries += perLayer.enumerated().map { AttributionEntry(label: "L\($0)", kind: "layer", layer: $0, value: $1) }
            }
        case .head:
            let stack = try flat.getFullResidDecomposition(model: model, expandNeurons: false, posSlice: at)
            entries = zip(stack.labels, attrs(stack)).map { entry($0, $1) }
        case .neuron:
            let heads = try flat.stackHeadResults(model: model, posSlice: at)
            entries = zip(heads.labels, attrs(heads)).map { entry($0, $1) }
            if !c.attnOnly {
                for l in 0..<c.nLayers {
                    guard let W_out = try model.block(l).W_out else { continue }
                    let post = try at.apply(flat.require("blocks.\(l).mlp.hook_post"), axis: -2).data  // [d_mlp]
                    let proj = W_out.linear(Tensor(shape: [D, 1], data: u)).data                    // W_out · u, [d_mlp]
                    for n in 0..<c.dMLP {
                        entries.append(AttributionEntry(label: "L\(l)N\(n)", kind: "neuron", layer: l, neuron: n,
                                                        value: post[n] * proj[n] / scale))
                    }
                }
            }
            let embeds = try flat.decomposeResid(model: model, layer: 0, posSlice: at)
            entries += zip(embeds.labels, attrs(embeds)).map { entry($0, $1) }
            let bias = try model.accumulatedBias(layer: c.nLayers)
            entries.append(AttributionEntry(label: "bias", kind: "bias", value: attr(bias.data[...])))
        }
        let total = entries.reduce(Float(0)) { $0 + $1.value }
        let ranked = entries.enumerated().sorted { a, b in
            abs(a.element.value) != abs(b.element.value) ? abs(a.element.value) > abs(b.element.value) : a.offset < b.offset
        }.map(\.element)
        let row = (last ? 0 : pos) * V
        let logitDiff = logits.data[row + answer] - (wrong.map { logits.data[row + $0] } ?? 0)
        return AttributionReport(tokens: tokens, strTokens: model.pieceStrings(tokens), position: pos, answerId: answer,
                                 answerToken: model.pieceString(answer), wrongId: wrong, wrongToken: wrong.map(model.pieceString),
                                 by: by, entries: top.map { Array(ranked.prefix($0)) } ?? ranked, componentCount: entries.count,
                                 total: total, constant: constant, logitDiff: logitDiff)
    }

    /// Parses a TransformerLens label into an entry (`L3H2`, `L1N40`, `2_attn_out`, `embed`, …).
    static func entry(_ label: String, _ value: Float) -> AttributionEntry {
        if label == "embed" || label == "pos_embed" || label == "bias" {
            return AttributionEntry(label: label, kind: label, value: value)
        }
        if label.hasPrefix("L"), let sep = label.firstIndex(where: { $0 == "H" || $0 == "N" }),
           let l = Int(label[label.index(after: label.startIndex)..<sep]), let k = Int(label[label.index(after: sep)...]) {
            let isHead = label[sep] == "H"
            return AttributionEntry(label: label, kind: isHead ? "head" : "neuron", layer: l,
                                    head: isHead ? k : nil, neuron: isHead ? nil : k, value: value)
        }
        let parts = label.split(separator: "_")
        if let l = parts.first.flatMap({ Int($0) }), parts.count >= 2 {
            return AttributionEntry(label: label, kind: String(parts[1]), layer: l, value: value)
        }
        return AttributionEntry(label: label, kind: "other", value: value)
    }
}
