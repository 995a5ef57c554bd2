import Foundation
import MechanicTensor

/// Rotary position embeddings as TransformerLens computes them (`calculate_sin_cos_rotary`,
/// half-split pairs `rotate_every_two` with `rotary_adjacent_pairs = False`), on the first
/// `rotaryDim` dimensions of each head; Llama-3 frequency scaling when configured.
public struct RotaryTables: Sendable {
    public let rotaryDim: Int
    public let sin: [Float]  // [n_ctx, rotary_dim]
    public let cos: [Float]  // [n_ctx, rotary_dim]

    public init(_ c: ModelConfig) {
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
                let angle = Double(p) * invFreq[i % max(half, 1)]  // frequencies repeated "(2 d)"
                sinT[p * c.rotaryDim + i] = Float(Foundation.sin(angle))
                cosT[p * c.rotaryDim + i] = Float(Foundation.cos(angle))
            }
        }
        sin = sinT
        cos = cosT
    }

    /// Rotates `x [batch, pos, heads, d_head]` in place; `positions[b][p]` is each token's position.
    /// `transposed` rotates back (the rotation's transpose, its gradient): the sine changes sign,
    /// since the frequencies repeat across the two halves.
    public func apply(_ x: inout Tensor, positions: [[Int]], transposed: Bool = false) {
        let (B, P, H, E) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let rd = rotaryDim, half = rotaryDim / 2
        guard rd > 0 else { return }
        var tmp = [Float](repeating: 0, count: rd)
        let direction: Float = transposed ? -1 : 1
        x.data.withUnsafeMutableBufferPointer { xs in
            for b in 0..<B {
                for p in 0..<P {
                    let pos = positions[b][p]
                    let sinRow = pos * rd, cosRow = pos * rd
                    for h in 0..<H {
                        let base = ((b * P + p) * H + h) * E
                        for i in 0..<rd { tmp[i] = xs[base + i] }
                        for i in 0..<rd {
                            let flip = i < half ? -tmp[i + half] : tmp[i - half]
                            xs[base + i] = tmp[i] * cos[cosRow + i] + direction * flip * sin[sinRow + i]
                        }
                    }
                }
            }
        }
    }
}
