import Foundation
import Mechanic

/// Which residual vector stands for a token at the input of a later head's OV circuit.
public enum CopyEmbedding: String, Sendable, CaseIterable {
    /// The token embedding `W_E[t]` (the standard full OV circuit `W_E · OV · W_U`).
    case direct
    /// The IOI paper's "effective embedding" `W_E[t] + MLP₀(ln2₀(W_E[t]))`: later heads read tokens
    /// after the first MLP, which in GPT-2 acts as an extended embedding (ARENA's copying scores).
    case effective
    /// The token alone through the whole first block — a one-token sequence without positional
    /// embedding, so every head attends to the token itself: `x = W_E[t]`,
    /// `a = Σ_h (ln1(x) W_V[h] + b_V[h]) W_O[h] + b_O`, then `x + a + MLP₀(ln2(x + a))`
    /// (`blocks.0.hook_resid_post`; parallel-attention models: `x + a + MLP₀(ln2(x))`).
    case block0
}

extension HookedTransformer {
    /// Residual vectors `[d_vocab, d_model]` standing for every token at a head's input.
    public func ovInputEmbeddings(_ kind: CopyEmbedding) throws -> Tensor {
        try ovInputEmbeddings(kind, rows: weights.W_E)
    }

    /// `kind` applied to embedding rows `x [n, d_model]` (rows of `W_E`).
    public func ovInputEmbeddings(_ kind: CopyEmbedding, rows x: Tensor) throws -> Tensor {
        switch kind {
        case .direct: return x
        case .effective: return try effectiveEmbedding(x)
        case .block0: return try blockZeroEmbedding(x)
        }
    }

    /// `x + MLP₀(ln2₀(x))` for rows `x [n, d_model]` (the first block's MLP applied to the embedding).
    public func effectiveEmbedding(_ x: Tensor, blockRows: Int = 1024) throws -> Tensor {
        let b = try block(0)   // once (a streamed model reads it from the checkpoint)
        guard !config.attnOnly, b.W_in != nil else {
            throw MechanicError.invalidArgument("the effective embedding needs an MLP in block 0; this model is attention-only (use block0)")
        }
        return chunked(x, blockRows) { chunk in chunk + firstMLP(normalized(chunk, b.ln2W, b.ln2B), b) }
    }

    /// Rows `x [n, d_model]` through block 0 on their own (see `CopyEmbedding.block0`).
    public func blockZeroEmbedding(_ x: Tensor, blockRows: Int = 1024) throws -> Tensor {
        let b = try block(0)   // once (a streamed model reads it from the checkpoint)
        let fused = b.fused
        return chunked(x, blockRows) { chunk in
            // Self-attention of a lone token: pattern 1 on itself, so z = v.
            let x1 = normalized(chunk, b.ln1W, b.ln1B)
            let v = Kernels.project(x1, fused, .v)                                // [rows, kv_head, d_head]
            let z = Tensor(shape: [v.shape[0], config.nHeads, config.dHead]) { out in   // [rows, head, d_head]: z = v of the head's group
                for r in 0..<v.shape[0] {
                    for h in 0..<config.nHeads {
                        let (src, dst) = ((r * config.nKeyValueHeads + circuitKVHead(h)) * config.dHead, (r * config.nHeads + h) * config.dHead)
                        for e in 0..<config.dHead { out[dst + e] = v.data[src + e] }
                    }
                }
            }
            let attn = Kernels.attentionOut(z: z, W_O: b.W_O, b_O: b.b_O)         // [rows, d_model]
            let mid = chunk + attn
            if config.attnOnly || b.W_in == nil { return mid }
            let mlpIn = config.parallelAttnMLP ? chunk : mid
            return mid + firstMLP(normalized(mlpIn, b.ln2W, b.ln2B), b)
        }
    }

    /// `f` over blocks of rows, concatenated.
    private func chunked(_ x: Tensor, _ blockRows: Int, _ f: (Tensor) -> Tensor) -> Tensor {
        let D = config.dModel
        let n = x.count / D
        var out = [Float]()
        out.reserveCapacity(x.count)
        var start = 0
        while start < n {
            let rows = min(max(blockRows, 1), n - start)
            out += f(Tensor(shape: [rows, D], data: Array(x.data[(start * D)..<((start + rows) * D)]))).data  // [rows, d_model]
            start += rows
        }
        return Tensor(shape: [n, D], data: out)
    }

    private func normalized(_ x: Tensor, _ w: Tensor?, _ b: Tensor?) -> Tensor {
        Kernels.norm(x, config, weight: w, bias: b)   // [rows, d_model]
    }

    /// Block 0's MLP (weights `b`) on normalised rows `[rows, d_model]`, as the forward pass computes it.
    private func firstMLP(_ x: Tensor, _ b: BlockWeights) -> Tensor {
        Kernels.mlp(x, b, Kernels.activation(config))   // [rows, d_model]
    }
}
