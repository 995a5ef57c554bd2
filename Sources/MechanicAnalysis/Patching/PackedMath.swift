import Foundation
import Mechanic

/// The per-token pieces of a transformer block, written for the packed engine with the same
/// formulas (and order of float operations) as the core forward pass (`Norm.swift`,
/// `Rotary.swift`, `Forward.swift`), which the engine tests compare against.
enum PackedMath {
    /// TransformerLens's LN / LNPre / RMS / RMSPre over the last axis of `x [tokens, d_model]`
    /// (the core's own norm).
    static func norm(_ x: Tensor, _ c: ModelConfig, weight: Tensor?, bias: Tensor?) -> Tensor {
        normalize(x, c.normalization, weight: weight, bias: bias, eps: c.eps)
    }

    /// `x @ W + b` for `x [tokens, k]`.
    static func linear(_ x: Tensor, _ w: Tensor, _ b: Tensor?) -> Tensor {
        x.linear(w, bias: b)
    }

    /// The MLP of block `l` on `x [tokens, d_model]` (already normalised): `post` through `hook`
    /// (which may patch it), then `post @ W_out + b_out`.
    static func mlp(_ x: Tensor, _ w: BlockWeights, _ c: ModelConfig, hook: (inout Tensor) -> Void) -> Tensor {
        guard let W_in = w.W_in, let W_out = w.W_out else { return Tensor(zeros: x.shape) }
        let act = Activation(rawValue: c.actFn) ?? .geluNew
        var post: Tensor
        if let W_gate = w.W_gate {
            let pre = x.linear(W_gate)          // [tokens, d_mlp]
            let lin = x.linear(W_in)            // [tokens, d_mlp]
            post = pre
            let d = w.b_in?.count ?? 0
            post.data.withUnsafeMutableBufferPointer { p in
                for i in p.indices { p[i] = act.apply(p[i]) * lin.data[i] + (d > 0 ? (w.b_in?.data[i % d] ?? 0) : 0) }
            }
        } else {
            post = x.linear(W_in, bias: w.b_in) // [tokens, d_mlp]
            post.data.withUnsafeMutableBufferPointer { act.apply($0) }
        }
        hook(&post)
        return post.linear(W_out, bias: w.b_out)   // [tokens, d_model]
    }
}

/// Rotary embeddings on packed rows: the core's `RotaryTables` applied to `[tokens, heads, d_head]`.
struct PackedRotary {
    let tables: RotaryTables

    init?(_ c: ModelConfig) {
        guard c.positionalEmbedding == .rotary, c.rotaryDim > 0 else { return nil }
        tables = RotaryTables(c)
    }

    /// Rotates `x [tokens, heads, d_head]` in place; `positions[t]` is token t's position.
    func apply(_ x: inout Tensor, positions: [Int]) {
        let shape = x.shape
        var batched = x.reshaped([1] + shape)  // [tokens, heads, d_head] -> [1, tokens, heads, d_head]
        tables.apply(&batched, positions: [positions])
        x = batched.reshaped(shape)
    }
}
