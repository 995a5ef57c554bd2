import Foundation
import Mechanic

/// Hand-built models for embedding comparisons.
public enum CongruenceModels {
    /// d_model 4, normalization none, W_E rows e0, e0+e1, −e0, e2, 2·e0 (+ one unused token).
    public static func geometric() throws -> HookedTransformer {
        let rows: [[Float]] = [[1, 0, 0, 0], [1, 1, 0, 0], [-1, 0, 0, 0], [0, 0, 1, 0], [2, 0, 0, 0], [0, 0, 0, 1]]
        return try random(seed: 1, normalization: .none, W_E: Tensor(shape: [6, 4], data: rows.flatMap { $0 }))
    }

    /// Small random weights (SplitMix64) of a 2-layer, 2-head model with a ReLU MLP.
    public static func random(seed: UInt64, normalization: ModelConfig.Normalization = .layerNormPre, attnOnly: Bool = false,
                       W_E given: Tensor? = nil) throws -> HookedTransformer {
        var rng = SplitMix64(seed: seed)
        func t(_ shape: [Int]) -> Tensor {
            Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in Float(Double(rng.next() % 2001) / 1000 - 1) * 0.5 })
        }
        let W_E = given ?? t([40, 8])
        let (V, D, H, E, M, C) = (W_E.shape[0], W_E.shape[1], 2, 3, 6, 8)
        let config = ModelConfig(modelType: "hand", dModel: D, nLayers: 2, nHeads: H, dHead: E, dMLP: M, dVocab: V, nCtx: C,
                                 actFn: "relu", normalization: normalization, attnOnly: attnOnly)
        let blocks = (0..<2).map { _ in
            BlockWeights(ln1W: nil, ln1B: nil, W_Q: t([H, D, E]), W_K: t([H, D, E]), W_V: t([H, D, E]), b_Q: t([H, E]),
                         b_K: t([H, E]), b_V: t([H, E]), W_O: t([H, E, D]), b_O: t([D]), ln2W: nil, ln2B: nil,
                         W_in: attnOnly ? nil : t([D, M]), W_gate: nil, b_in: attnOnly ? nil : t([M]),
                         W_out: attnOnly ? nil : t([M, D]), b_out: attnOnly ? nil : t([D]))
        }
        let weights = ModelWeights(W_E: W_E, W_pos: t([C, D]), blocks: blocks, lnFinalW: nil, lnFinalB: nil,
                                   W_U: t([D, V]), b_U: t([V]))
        return try HookedTransformer(config: config, weights: weights)
    }
}
