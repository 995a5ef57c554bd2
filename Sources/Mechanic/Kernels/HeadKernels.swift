import MechanicTensor

extension Kernels {
    /// `attn_out = z @ W_O + b_O`, all heads in one product.
    ///
    /// - z:   `[rows, heads, d_head]` (any leading shape; viewed as `[rows, heads · d_head]`)
    /// - W_O: `[heads, d_head, d_model]` (viewed as `[heads · d_head, d_model]`)
    /// - returns `[rows, d_model]` (z's leading shape)
    public static func attentionOut(z: Tensor, W_O: Tensor, b_O: Tensor?) -> Tensor {
        let D = W_O.shape.last ?? 0, HE = W_O.count / max(D, 1)
        let rows = z.count / max(HE, 1)
        let lead = Array(z.shape.prefix(z.rank - (z.rank >= 3 ? 2 : 1)))
        return z.reshaped([rows, HE]).linear(W_O.reshaped([HE, D]), bias: b_O).reshaped(lead + [D])   // [rows, d_model]
    }

    /// Each head's contribution to the residual stream (`hook_result`, without b_O):
    /// `result[t, h] = z[t, h] @ W_O[h]`.
    ///
    /// - z:   `[rows, heads, d_head]` (any leading shape)
    /// - W_O: `[heads, d_head, d_model]`
    /// - returns `[rows, heads, d_model]` (z's leading shape)
    public static func headResults(z: Tensor, W_O: Tensor) -> Tensor {
        let (H, E, D) = (W_O.shape[0], W_O.shape[1], W_O.shape[2])
        let N = z.count / max(H * E, 1)
        var result = Tensor(zeros: Array(z.shape.dropLast(2)) + [H, D])
        z.data.withUnsafeBufferPointer { zp in
            W_O.data.withUnsafeBufferPointer { op in
                result.data.withUnsafeMutableBufferPointer { rp in
                    guard let zb = zp.baseAddress, let ob = op.baseAddress, let rb = rp.baseAddress else { return }
                    for h in 0..<H {
                        linear(rows: N, k: E, n: D, x: zb + h * E, lda: H * E,     // z[:, h]      [rows, d_head]
                               w: ob + h * E * D, ldw: D, bias: nil,              // W_O[h]       [d_head, d_model]
                               out: rb + h * D, ldc: H * D)                       // result[:, h] [rows, d_model]
                    }
                }
            }
        }
        return result
    }

    /// `attn_out[t] = b_O + Σ_h result[t, h]`: the output of per-head results.
    ///
    /// - result: `[rows, heads, d_model]` (any leading shape)
    /// - b_O:    `[d_model]`
    /// - returns `[rows, d_model]` (result's leading shape)
    public static func sumHeadResults(_ result: Tensor, b_O: Tensor) -> Tensor {
        let (H, D) = (result.shape[result.rank - 2], result.shape[result.rank - 1])
        let N = result.count / max(H * D, 1)
        var out = Tensor(zeros: Array(result.shape.dropLast(2)) + [D])
        out.data.withUnsafeMutableBufferPointer { o in
            result.data.withUnsafeBufferPointer { r in
                b_O.data.withUnsafeBufferPointer { b in
                    for t in 0..<N {
                        for m in 0..<D { o[t * D + m] = b[m] }
                        for h in 0..<H { for m in 0..<D { o[t * D + m] += r[(t * H + h) * D + m] } }
                    }
                }
            }
        }
        return out
    }
}
