import MechanicTensor

/// The query/key/value weights of one block side by side (from TransformerLens's
/// `W_Q [heads, d_model, d_head]`, `W_K`/`W_V [kv_heads, d_model, d_head]`), so that
/// `x @ wQKV + bQKV` gives q | k | v and each of q, k, v is one product with strided output.
public struct FusedAttention: Sendable {
    public let wQKV: [Float]  // [d_model, (heads + 2·kv_heads)·d_head]
    public let bQKV: [Float]  // [(heads + 2·kv_heads)·d_head]
    public let width: Int
    public let shape: AttentionShape

    /// Which projection: its first column in `wQKV` and its head count.
    public enum Part: Sendable { case q, k, v }

    public func heads(_ part: Part) -> Int { part == .q ? shape.heads : shape.kvHeads }

    public func column(_ part: Part) -> Int {
        switch part {
        case .q: return 0
        case .k: return shape.heads * shape.dHead
        case .v: return (shape.heads + shape.kvHeads) * shape.dHead
        }
    }
}

extension Kernels {
    /// q, k or v of normalised rows: `x @ W_{Q|K|V} + b_{Q|K|V}`, one product for all heads.
    ///
    /// - x: `[rows, d_model]` (any leading shape), shared by every head, or `[rows, n, d_model]`
    ///   with `perHead` (split-qkv / attn_in inputs; head h reads input `min(h, n − 1)`)
    /// - returns `[rows, heads, d_head]` (heads = n_heads for q, n_kv_heads for k and v)
    public static func project(_ x: Tensor, _ f: FusedAttention, _ part: FusedAttention.Part, perHead: Bool = false) -> Tensor {
        let (heads, E) = (f.heads(part), f.shape.dHead)
        let lead = Array(x.shape.dropLast(perHead ? 2 : 1))
        let D = x.shape.last ?? 0
        let N = lead.reduce(1, *)
        guard N > 0, D > 0, heads * E > 0 else { return Tensor(zeros: lead + [heads, E]) }   // an empty product: zeros
        // Every element is written by the products (each head's columns of every row): no zero fill.
        return Tensor(shape: lead + [heads, E]) { project(x, f, part, perHead: perHead, into: $0) }
    }

    /// `project` into a caller's buffer `out` (`[rows, heads, d_head]`, every element written),
    /// e.g. one reused across layers.
    public static func project(_ x: Tensor, _ f: FusedAttention, _ part: FusedAttention.Part, perHead: Bool = false,
                               into op: UnsafeMutableBufferPointer<Float>) {
        let (heads, E, column) = (f.heads(part), f.shape.dHead, f.column(part))
        let lead = Array(x.shape.dropLast(perHead ? 2 : 1))
        let D = x.shape.last ?? 0
        let N = lead.reduce(1, *)
        precondition(op.count == N * heads * E, "Kernels.project: output holds \(op.count) values, not \(N * heads * E)")
        guard N > 0, D > 0, heads * E > 0 else { op.initialize(repeating: 0); return }   // an empty product: zeros
        x.data.withUnsafeBufferPointer { xp in
        f.wQKV.withUnsafeBufferPointer { wp in
        f.bQKV.withUnsafeBufferPointer { bp in
            guard let xb = xp.baseAddress, let wb = wp.baseAddress, let bb = bp.baseAddress, let ob = op.baseAddress else {
                op.initialize(repeating: 0)
                return
            }
            if perHead {
                let xHeads = x.shape[x.rank - 2]
                for h in 0..<heads {
                    linear(rows: N, k: D, n: E, x: xb + min(h, xHeads - 1) * D, lda: xHeads * D,   // x[:, h]  [rows, d_model]
                           w: wb + column + h * E, ldw: f.width, bias: bb + column + h * E,        // W[h]     [d_model, d_head]
                           out: ob + h * E, ldc: heads * E)                                        // out[:, h] [rows, d_head]
                }
            } else {
                linear(rows: N, k: D, n: heads * E, x: xb, lda: D,                                 // x        [rows, d_model]
                       w: wb + column, ldw: f.width, bias: bb + column,                            // W        [d_model, heads·d_head]
                       out: ob, ldc: heads * E)                                                    // out      [rows, heads·d_head]
            }
        }}}
    }
}
