import Foundation
import Mechanic

/// The per-token pieces of a transformer block, written for the packed engine with the same
/// formulas (and order of float operations) as the core forward pass (`Norm.swift`,
/// `Rotary.swift`, `Forward.swift`), which the engine tests compare against.
enum PackedMath {
    /// TransformerLens's LN / LNPre / RMS / RMSPre over the last axis of `x [tokens, d_model]`.
    static func norm(_ x: Tensor, _ c: ModelConfig, weight: Tensor?, bias: Tensor?) -> Tensor {
        let kind = c.normalization
        if kind == .none { return x }
        let d = x.shape.last ?? 1
        let rows = x.count / max(d, 1)
        let center = kind == .layerNorm || kind == .layerNormPre
        var out = x
        out.data.withUnsafeMutableBufferPointer { o in
            for r in 0..<rows {
                let row = r * d
                if center {
                    var mean: Float = 0
                    for j in 0..<d { mean += o[row + j] }
                    mean /= Float(d)
                    for j in 0..<d { o[row + j] -= mean }
                }
                var ss: Float = 0
                for j in 0..<d { ss += o[row + j] * o[row + j] }
                let inv = 1 / (ss / Float(d) + c.eps).squareRoot()
                for j in 0..<d { o[row + j] *= inv }
                if kind == .layerNorm, let weight, let bias {
                    for j in 0..<d { o[row + j] = o[row + j] * weight.data[j] + bias.data[j] }
                } else if kind == .rmsNorm, let weight {
                    for j in 0..<d { o[row + j] *= weight.data[j] }
                }
            }
        }
        return out
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

/// Rotary sin/cos tables, as the core's `RotaryTables` (TransformerLens's
/// `calculate_sin_cos_rotary`, half-split pairs, Llama-3 frequency scaling).
struct PackedRotary {
    let rotaryDim: Int
    let sin: [Float]  // [n_ctx, rotary_dim]
    let cos: [Float]

    init?(_ c: ModelConfig) {
        guard c.positionalEmbedding == .rotary, c.rotaryDim > 0 else { return nil }
        rotaryDim = c.rotaryDim
        let half = c.rotaryDim / 2
        var invFreq = (0..<half).map { 1 / pow(c.rotaryBase, Double(2 * $0) / Double(c.rotaryDim)) }
        if let s = c.ropeScaling {
            let lowWavelen = s.originalMaxPositionEmbeddings / s.lowFreqFactor
            let highWavelen = s.originalMaxPositionEmbeddings / s.highFreqFactor
            invFreq = invFreq.map { f in
                let wavelen = 2 * Double.pi / f
                if wavelen < highWavelen { return f }
                if wavelen > lowWavelen { return f / s.factor }
                let smooth = (s.originalMaxPositionEmbeddings / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor)
                return (1 - smooth) * f / s.factor + smooth * f
            }
        }
        var sinT = [Float](repeating: 0, count: c.nCtx * c.rotaryDim)
        var cosT = sinT
        for p in 0..<c.nCtx {
            for i in 0..<c.rotaryDim {
                let angle = Double(p) * invFreq[i % max(half, 1)]
                sinT[p * c.rotaryDim + i] = Float(Foundation.sin(angle))
                cosT[p * c.rotaryDim + i] = Float(Foundation.cos(angle))
            }
        }
        sin = sinT
        cos = cosT
    }

    /// Rotates `x [tokens, heads, d_head]` in place; `positions[t]` is token t's position.
    func apply(_ x: inout Tensor, positions: [Int]) {
        let (T, H, E) = (x.shape[0], x.shape[1], x.shape[2])
        let rd = rotaryDim, half = rotaryDim / 2
        var tmp = [Float](repeating: 0, count: rd)
        x.data.withUnsafeMutableBufferPointer { xs in
            for t in 0..<T {
                let row = positions[t] * rd
                for h in 0..<H {
                    let base = (t * H + h) * E
                    for i in 0..<rd { tmp[i] = xs[base + i] }
                    for i in 0..<rd {
                        let flip = i < half ? -tmp[i + half] : tmp[i - half]
                        xs[base + i] = tmp[i] * cos[row + i] + flip * sin[row + i]
                    }
                }
            }
        }
    }
}
