import MechanicTensor

/// The objective's gradient with respect to each *receiver's own input* — what TransformerLens
/// reports at `hook_q_input` / `hook_k_input` / `hook_v_input` (`use_split_qkv_input`),
/// `hook_mlp_in` (`use_hook_mlp_in`) and the final residual stream: the gradient of the input
/// of one head's query (key, value) or of one MLP, taken *before* its norm, with every other
/// reader of the residual stream held fixed. Edge attribution patching multiplies these by
/// upstream output differences.
public struct ReceiverGradients: Sendable {
    /// Per layer, `[batch, pos, head, d_model]`.
    public var q: [Tensor]
    /// Per layer, `[batch, pos, kv_head, d_model]` (key/value heads of grouped-query models).
    public var k: [Tensor]
    public var v: [Tensor]
    /// Per layer, `[batch, pos, d_model]`; empty for attention-only models.
    public var mlp: [Tensor]
    /// The final residual stream (the unembedding's input), `[batch, pos, d_model]`.
    public var logits: Tensor
}

extension HookedTransformer {
    /// Splits the shared norm input gradients of `g` (from `gradients(_:)`) per receiver: for head
    /// `h`'s query, `d x̂ = d q_h @ W_Q[h]ᵀ` through the norm's backward (the clean run's cached
    /// scale) — exactly the gradient at `hook_q_input[:, :, h]` — and likewise for keys, values
    /// (per key/value head) and the MLP input.
    public func receiverGradients(_ g: Gradients) throws -> ReceiverGradients {
        let c = config
        guard c.nLayers > 0 else { throw MechanicError.invalidArgument("receiver gradients need at least one layer") }
        let (H, K, E, D) = (c.nHeads, c.nKeyValueHeads, c.dHead, c.dModel)
        var out = ReceiverGradients(q: [], k: [], v: [], mlp: [], logits: try g.gradients.require(HookKind.residPost.name(layer: c.nLayers - 1)))
        for l in 0..<c.nLayers {
            let n = blockNames[l]
            let (w, f) = try blockForForward(l)
            let residPre = try g.activations.require(n.residPre)             // [batch, pos, d_model]
            let (B, P) = (residPre.shape[0], residPre.shape[1])
            let N = B * P
            var scratch: [String: Tensor] = [:]
            // One part (q, k or v): `heads` heads of `d q`-like gradients [batch, pos, heads, d_head]
            // whose columns start at `column` of the fused [d_model, width] matrix.
            func split(_ d: Tensor, heads: Int, column: Int) throws -> Tensor {
                var result = Tensor(zeros: [B, P, heads, D])
                for h in 0..<heads {
                    var dx = Tensor(zeros: [B, P, D])                          // d ln1(x) through head h only
                    d.data.withUnsafeBufferPointer { dp in
                        f.wQKV.withUnsafeBufferPointer { wp in
                            dx.data.withUnsafeMutableBufferPointer { xp in
                                guard let a = dp.baseAddress, let wq = wp.baseAddress, let x = xp.baseAddress else { return }
                                // dx[t, m] = Σ_e d[t, h, e] · W[m, column + h·E + e]
                                sgemm(transB: true, m: N, n: D, k: E, a: a + h * E, lda: heads * E,
                                      b: wq + column + h * E, ldb: f.width, c: x, ldc: D)
                            }
                        }
                    }
                    let dIn = try normBackward(x: residPre, dOut: dx, weight: w.ln1W, cache: g.activations,
                                               scale: n.ln1Scale, normalized: n.ln1Normalized, into: &scratch)
                    for t in 0..<N { for m in 0..<D { result.data[(t * heads + h) * D + m] = dIn.data[t * D + m] } }
                }
                return result
            }
            out.q.append(try split(try g.gradients.require(n.q), heads: H, column: 0))
            out.k.append(try split(try g.gradients.require(n.k), heads: K, column: H * E))
            out.v.append(try split(try g.gradients.require(n.v), heads: K, column: (H + K) * E))
            if c.attnOnly { continue }
            guard let W_in = w.W_in else { out.mlp.append(Tensor(zeros: [B, P, D])); continue }
            // The MLP's normalised input gradient, as the MLP backward forms it.
            let dPre = try g.gradients.require(n.pre)                         // [batch, pos, d_mlp]
            var dX2: Tensor
            if let W_gate = w.W_gate {
                dX2 = matmul(dPre, W_gate, transB: true)
                dX2.add(matmul(try g.gradients.require(n.preLinear), W_in, transB: true))
            } else {
                dX2 = matmul(dPre, W_in, transB: true)                         // [batch, pos, d_model]
            }
            let mlpInput = c.parallelAttnMLP ? residPre : try g.activations.require(n.residMid)
            out.mlp.append(try normBackward(x: mlpInput, dOut: dX2, weight: w.ln2W, cache: g.activations,
                                            scale: n.ln2Scale, normalized: n.ln2Normalized, into: &scratch))
        }
        return out
    }
}
