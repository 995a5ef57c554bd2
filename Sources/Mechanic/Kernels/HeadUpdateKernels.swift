import MechanicTensor

extension Kernels {
    /// `out[t] += x[t, h] @ W_O[h]` for the rows `t` in `rows`: one head's share of `attn_out`,
    /// added in place (the packed patching engine adds `(z − z_target) · W_O` for the runs of
    /// tokens where a patch changed head h; `headResults` is the same product, written out).
    ///
    /// - x:   `[tokens, heads, d_head]` (row t, head h at `(t·heads + h)·d_head`)
    /// - W_O: `[heads, d_head, d_model]`
    /// - out: `[tokens, d_model]`
    public static func addHeadOutput(_ x: UnsafePointer<Float>, W_O: UnsafePointer<Float>, head h: Int, rows: Range<Int>,
                                     heads H: Int, dHead E: Int, dModel D: Int, into out: UnsafeMutablePointer<Float>) {
        guard !rows.isEmpty else { return }
        sgemm(m: rows.count, n: D, k: E,
              a: x + (rows.lowerBound * H + h) * E, lda: H * E,   // x[rows, h]   [run, d_head]
              b: W_O + h * E * D, ldb: D,                         // W_O[h]       [d_head, d_model]
              beta: 1, c: out + rows.lowerBound * D, ldc: D)      // out[rows]    [run, d_model]
    }
}
