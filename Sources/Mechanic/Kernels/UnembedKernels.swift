import MechanicTensor

extension Kernels {
    /// Logits of chosen rows at chosen vocabulary columns: `x @ W_U[:, columns] + b_U[columns]`
    /// (all columns when `columns` is nil). `x` is the normalised final residual.
    ///
    /// - x:   `[rows, d_model]` (any leading shape)
    /// - W_U: `[d_model, d_vocab]`, b_U: `[d_vocab]` (or empty)
    /// - returns `[rows, columns.count]` (or `[rows, d_vocab]`)
    public static func unembed(_ x: Tensor, W_U: Tensor, b_U: Tensor, columns: [Int]? = nil) -> Tensor {
        guard let columns else { return x.linear(W_U, bias: b_U) }   // [rows, d_vocab]
        let (D, V, n) = (W_U.shape[0], W_U.shape[1], columns.count)
        var W = [Float](repeating: 0, count: D * n)                    // W_U[:, columns]  [d_model, n]
        for m in 0..<D { for (j, id) in columns.enumerated() { W[m * n + j] = W_U.data[m * V + id] } }
        let bias = Tensor(shape: [n], data: columns.map { b_U.count == V ? b_U.data[$0] : 0 })
        return x.linear(Tensor(shape: [D, n], data: W), bias: bias)    // [rows, n]
    }

    /// Rows `rows` of `x`: `[n, ...inner]` → `[rows.count, ...inner]`.
    public static func gatherRows(_ x: Tensor, _ rows: [Int]) -> Tensor {
        let inner = Array(x.shape.dropFirst())
        let per = inner.reduce(1, *)
        var data = [Float]()
        data.reserveCapacity(rows.count * per)
        for r in rows { data += x.data[(r * per)..<((r + 1) * per)] }
        return Tensor(shape: [rows.count] + inner, data: data)
    }
}
