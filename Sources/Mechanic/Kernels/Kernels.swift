// Mechanic/Kernels: THE block kernels, one implementation each (norm, q/k/v projection, attention
// scores/softmax/mix, head results, MLP, unembed, rotary), used by the forward, the packed patching
// engine, the backward pass and the head analyses. No hooks here.

import MechanicTensor

/// The block kernels: one implementation of each piece of a transformer block, used by the
/// forward pass (`Forward.swift`, `Attention.swift`), the packed patching engine, the backward
/// pass and the head analyses. Each kernel works on rows of activations — `[rows, ...]` where a
/// row is one token — so a caller can run it on any subset of tokens (a row range, a suffix of a
/// sequence, the final token only). Argument shapes are in the comments, llm.c style.
///
/// Kernels take weights as arguments (from `HookedTransformer.block(l)`); they run no hooks.
public enum Kernels {}

/// The head counts of a block's attention: `heads` query heads share `kvHeads` key/value heads
/// in groups of `heads / kvHeads` (grouped-query attention; 1 for multi-head attention).
public struct AttentionShape: Sendable {
    public let heads: Int
    public let kvHeads: Int
    public let dHead: Int

    public init(heads: Int, kvHeads: Int, dHead: Int) {
        self.heads = heads
        self.kvHeads = kvHeads
        self.dHead = dHead
    }

    public init(_ c: ModelConfig) { self.init(heads: c.nHeads, kvHeads: c.nKeyValueHeads, dHead: c.dHead) }

    /// Query heads per key/value head.
    public var group: Int { heads / max(kvHeads, 1) }
    /// The key/value head query head `h` reads.
    public func kvHead(_ h: Int) -> Int { h / group }
}

extension ModelConfig {
    /// The divisor of attention scores in block `layer`: `√d_head`, times `layer + 1` with
    /// `scale_attn_by_inverse_layer_idx` (TransformerLens's `attn_scale`).
    public func attnScale(layer: Int) -> Float {
        var scale = Float(dHead).squareRoot()
        if scaleAttnByInverseLayerIdx { scale *= Float(layer + 1) }
        return scale
    }
}

extension Kernels {
    /// The model's norm (LN / LNPre / RMS / RMSPre, as `config.normalization`) over the last axis
    /// of `x [rows, d_model]`, statistics from `x` itself, no hooks (the forward's norm).
    public static func norm(_ x: Tensor, _ c: ModelConfig, weight: Tensor?, bias: Tensor?) -> Tensor {
        normalize(x, c.normalization, weight: weight, bias: bias, eps: c.eps)
    }

    /// The model's MLP activation function.
    public static func activation(_ c: ModelConfig) -> Activation { Activation(rawValue: c.actFn) ?? .geluNew }
}
