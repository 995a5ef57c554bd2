import Foundation
import Mechanic

/// Which vector represents a token in embedding comparisons.
///
/// The "effective embedding" is the token's embedding after the first block, with the block
/// seeing the token alone: a one-token sequence with the positional embedding removed, so every
/// head attends to the token itself (pattern = 1) and its attention output is
/// `Σ_h (ln1(x)·W_V[h] + b_V[h])·W_O[h] + b_O` with `x = W_E[t]`. Then
///
/// - `.mlp0` = `blocks.0.hook_mlp_out` = `MLP0(ln2(x + attn_self(x)))` — the MLP path alone
///   (the usual "effective embedding" of e.g. the copy-suppression work);
/// - `.block0` = `blocks.0.hook_resid_post` = `x + attn_self(x) + MLP0(ln2(x + attn_self(x)))`.
///
/// Both go through the model's own forward pass (so LayerNorm folding and every other weight
/// processing is honoured). `.raw` is the row `W_E[t]`.
public enum EmbeddingKind: String, Sendable, CaseIterable {
    case raw
    case mlp0
    case block0

    public var title: String {
        switch self {
        case .raw: return "W_E"
        case .mlp0: return "effective (MLP0 out)"
        case .block0: return "after block 0 (resid_post)"
        }
    }
}

extension HookedTransformer {
    /// The vectors of `tokens` of the given kind: `[tokens.count, d_model]`.
    public func tokenEmbeddings(_ tokens: [Int], kind: EmbeddingKind, batchSize: Int = 512) throws -> Tensor {
        let D = config.dModel
        for t in tokens where t < 0 || t >= config.dVocab { throw MechanicError.tokenOutOfRange(id: t, dVocab: config.dVocab) }
        if kind == .raw {
            var out = [Float](repeating: 0, count: tokens.count * D)
            for (i, t) in tokens.enumerated() {
                for m in 0..<D { out[i * D + m] = weights.W_E.data[t * D + m] }
            }
            return Tensor(shape: [tokens.count, D], data: out)
        }
        if kind == .mlp0 && config.attnOnly {
            throw MechanicError.invalidArgument("the model is attention-only: there is no MLP0 for an effective embedding; use the raw or block0 embedding")
        }
        let hook = kind == .mlp0 ? "blocks.0.hook_mlp_out" : "blocks.0.hook_resid_post"
        var hooks: [Hook] = []
        if config.positionalEmbedding == .standard && weights.W_pos != nil {
            hooks.append(Hook("hook_pos_embed") { act, _ in act = Tensor(zeros: act.shape) })
        }
        let options = ForwardOptions(hooks: hooks, cache: .names([hook]), stopAtLayer: config.nLayers > 1 ? 1 : nil, logits: .none)
        var out: [Float] = []
        out.reserveCapacity(tokens.count * D)
        var start = 0
        while start < tokens.count {
            let part = tokens[start..<min(start + max(batchSize, 1), tokens.count)]
            let batch = try TokenBatch(ids: part.map { [$0] })  // one token per row: attends only to itself
            let act = try forward(batch, options: options).cache.require(hook)  // [n, 1, d_model]
            out.append(contentsOf: act.data)
            start += part.count
        }
        return Tensor(shape: [tokens.count, D], data: out)
    }
}

/// Deterministic sampling of token ids without replacement (SplitMix64), returned sorted.
public enum TokenSample {
    public static func draw(count: Int, from vocab: Int, seed: UInt64 = 0, excluding: Set<Int> = []) -> [Int] {
        let available = vocab - excluding.filter { $0 >= 0 && $0 < vocab }.count
        let n = min(max(count, 0), max(available, 0))
        if n == available { return (0..<vocab).filter { !excluding.contains($0) } }
        var rng = SplitMix64(seed: seed)
        var chosen = Set<Int>()
        while chosen.count < n {
            let t = Int(rng.next() % UInt64(vocab))
            if !excluding.contains(t) { chosen.insert(t) }
        }
        return chosen.sorted()
    }
}
