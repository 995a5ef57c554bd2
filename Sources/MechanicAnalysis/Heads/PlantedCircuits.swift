import Foundation
import Mechanic

/// A two-layer attention-only transformer whose weights are written by hand so that its circuit is
/// known exactly: the ground truth for head detection, induction and composition scores, and the
/// project's demo model.
///
/// The residual stream is split into orthogonal subspaces (one-hot coordinates):
///
/// | dims                     | holds                                            | written by        |
/// |--------------------------|--------------------------------------------------|-------------------|
/// | `tok[t]`   0 ..< V       | the current token                                | `W_E`             |
/// | `pos[p]`   V ..< V+C     | the position                                     | `W_pos`           |
/// | `prev[t]`  V+C ..< 2V+C  | the *previous* token                             | L0H0 (OV)         |
/// | `out[t]`   2V+C ..< 3V+C | the predicted next token (read by `W_U`)         | L1H0 (OV)         |
/// | `junk`     3V+C ..< +4   | decoy heads' outputs; nothing reads it           | decoys            |
///
/// Heads (3 per layer):
/// - **L0H0 — previous-token head (planted).** QK matches `pos[i]` with `pos[i−1]`; OV copies
///   `tok` into `prev`.
/// - L0H1 — decoy: attends to the BOS token (query from every position, key = `tok[BOS]`).
/// - L0H2 — decoy: attends to the current position.
/// - **L1H0 — induction head (planted).** Query reads `tok[t]`, key reads `prev[t]` — K-composition
///   with L0H0 — so position `i` attends to the token after an earlier occurrence of its own
///   token; OV copies that token into `out`, and `W_U` turns it into the prediction.
/// - L1H1 — decoy: duplicate-token head (query and key both read `tok`).
/// - L1H2 — decoy: attends to the BOS token.
///
/// Decoys write (through a nonzero OV circuit) only to `junk`. So, exactly: the K-composition
/// score L0H0 → L1H0 is `1/√V` (the largest an identity-like rank-V map can have) and every other
/// composition score is 0; the full OV circuit of L1H0 is `logitScale ·` identity (copy score 1);
/// L0H0's previous-token score and L1H0's induction score approach 1 as `sharpness` grows.
/// Normalization is `.none` and every bias is zero.
public struct PlantedInductionModel: Sendable {
    public let model: HookedTransformer
    /// The BOS token id (`V − 1`); random tokens for the induction test should avoid it.
    public let bos: Int
    public let vocabSize: Int

    public static let previousTokenHead = (layer: 0, head: 0)
    public static let inductionHead = (layer: 1, head: 0)
    public static let decoys: [(layer: Int, head: Int, role: String)] = [
        (0, 1, "attends to BOS"), (0, 2, "attends to the current token"),
        (1, 1, "duplicate-token head"), (1, 2, "attends to BOS"),
    ]

    /// Builds the model. `sharpness` is the attention score (after the `1/√d_head` scale) of a
    /// matching query/key pair — non-matching pairs score 0 — and `logitScale` the logit of the
    /// copied token. `vocabSize` includes the BOS token.
    public static func build(vocabSize V: Int = 48, nCtx C: Int = 64, sharpness: Float = 16,
                             logitScale: Float = 10) throws -> PlantedInductionModel {
        guard V >= 3, C >= 3, sharpness > 0 else {
            throw MechanicError.invalidArgument("planted model: vocabSize ≥ 3, nCtx ≥ 3 and sharpness > 0 are required (got \(V), \(C), \(sharpness))")
        }
        let J = 4
        let (tok, pos, prev, out, junk) = (0, V, V + C, 2 * V + C, 3 * V + C)
        let D = 3 * V + C + J
        let E = max(V, C)
        let H = 3
        let bos = V - 1
        let s = (sharpness * Float(E).squareRoot()).squareRoot()  // q·k = s² → score s²/√d_head = sharpness
        let config = ModelConfig(modelType: "planted-induction", dModel: D, nLayers: 2, nHeads: H, dHead: E, dMLP: 0,
                                 dVocab: V, nCtx: C, normalization: .none, attnOnly: true, defaultPrependBOS: true)

        var W_E = Tensor(zeros: [V, D])
        for t in 0..<V { W_E[t, tok + t] = 1 }
        var W_pos = Tensor(zeros: [C, D])
        for p in 0..<C { W_pos[p, pos + p] = 1 }
        var W_U = Tensor(zeros: [D, V])
        for t in 0..<V { W_U[out + t, t] = logitScale }

        // Per-head matrices [d_model, d_head] / [d_head, d_model], filled by small closures.
        func qk(_ fill: (inout Tensor) -> Void) -> Tensor { var m = Tensor(zeros: [D, E]); fill(&m); return m }
        func ov(_ fill: (inout Tensor) -> Void) -> Tensor { var m = Tensor(zeros: [E, D]); fill(&m); return m }
        let readTokens = qk { m in for t in 0..<V { m[tok + t, t] = 1 } }               // W_V: tok[t] -> e_t
        let toJunk = ov { m in for t in 0..<V { m[t, junk + t % J] = 1 } }              // decoy W_O
        let bosQuery = qk { m in for p in 0..<C { m[pos + p, 0] = s } }                 // every position -> e_0
        let bosKey = qk { m in m[tok + bos, 0] = s }                                     // BOS token -> e_0
        let zeroHeadBias = Tensor(zeros: [H, E])

        func stack(_ parts: [Tensor]) -> Tensor { Tensor.stack(parts) }  // [head, ...]
        // Layer 0: previous-token head, BOS decoy, current-token decoy.
        let l0 = BlockWeights(
            ln1W: nil, ln1B: nil,
            W_Q: stack([qk { m in for p in 0..<C { m[pos + p, p] = s } }, bosQuery, qk { m in for p in 0..<C { m[pos + p, p] = s } }]),
            W_K: stack([qk { m in for p in 0..<C where p + 1 < E { m[pos + p, p + 1] = s } }, bosKey,
                        qk { m in for p in 0..<C { m[pos + p, p] = s } }]),
            W_V: stack([readTokens, readTokens, readTokens]),
            b_Q: zeroHeadBias, b_K: zeroHeadBias, b_V: zeroHeadBias,
            W_O: stack([ov { m in for t in 0..<V { m[t, prev + t] = 1 } }, toJunk, toJunk]),
            b_O: Tensor(zeros: [D]), ln2W: nil, ln2B: nil, W_in: nil, W_gate: nil, b_in: nil, W_out: nil, b_out: nil)
        // Layer 1: induction head (K-composition with L0H0), duplicate-token decoy, BOS decoy.
        let l1 = BlockWeights(
            ln1W: nil, ln1B: nil,
            W_Q: stack([qk { m in for t in 0..<V { m[tok + t, t] = s } }, qk { m in for t in 0..<V { m[tok + t, t] = s } }, bosQuery]),
            W_K: stack([qk { m in for t in 0..<V { m[prev + t, t] = s } }, qk { m in for t in 0..<V { m[tok + t, t] = s } }, bosKey]),
            W_V: stack([readTokens, readTokens, readTokens]),
            b_Q: zeroHeadBias, b_K: zeroHeadBias, b_V: zeroHeadBias,
            W_O: stack([ov { m in for t in 0..<V { m[t, out + t] = 1 } }, toJunk, toJunk]),
            b_O: Tensor(zeros: [D]), ln2W: nil, ln2B: nil, W_in: nil, W_gate: nil, b_in: nil, W_out: nil, b_out: nil)
        let weights = ModelWeights(W_E: W_E, W_pos: W_pos, blocks: [l0, l1], lnFinalW: nil, lnFinalB: nil,
                                   W_U: W_U, b_U: Tensor(zeros: [V]))
        let model = try HookedTransformer(config: config, weights: weights, processing: .none, source: "<planted induction model>")
        return PlantedInductionModel(model: model, bos: bos, vocabSize: V)
    }
}
