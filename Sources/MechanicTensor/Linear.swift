/// `out[rows, n] = x[rows, k] · W[k, n] (+ bias[n])` with explicit row strides, through sgemm
/// (through `FewRowProduct` for at most `FewRowProduct.maxRows` rows).
/// `x` rows are `lda` apart, `W` rows `ldw` apart, `out` rows `ldc` apart.
@inlinable
public func linear(rows: Int, k: Int, n: Int,
                   x: UnsafePointer<Float>, lda: Int,
                   w: UnsafePointer<Float>, ldw: Int,
                   bias: UnsafePointer<Float>?,
                   out: UnsafeMutablePointer<Float>, ldc: Int) {
    // An all-zero bias (GPT-2's b_U, Llama's zero biases) is skipped: the product then writes
    // `out` once instead of a bias pass followed by a read-modify-write (same values: x + 0 = x).
    let bias = bias.flatMap { b in (0..<n).contains(where: { b[$0] != 0 }) ? b : nil }
    // A few rows (a short prompt, one generated token): stream W once instead of packing it.
    if rows <= FewRowProduct.maxRows {
        FewRowProduct.multiply(rows: rows, k: k, n: n, x: x, lda: lda, w: w, ldw: ldw, bias: bias, out: out, ldc: ldc)
        return
    }
    if let bias {
        // The bias rows on all cores: `out` is usually fresh memory, and this pass is its first
        // touch (page faults), ahead of a product that runs on every core.
        let o = UncheckedPointer(out), b = ConstPointer(bias)
        Parallel.chunks(rows, grain: max(1, 65536 / max(n, 1))) { range in
            for r in range { (o.raw + r * ldc).update(from: b.raw, count: n) }   // row r of out [rows, ldc]
        }
    }
    sgemm(m: rows, n: n, k: k, a: x, lda: lda, b: w, ldb: ldw, beta: bias == nil ? 0 : 1, c: out, ldc: ldc)
}

extension Tensor {
    /// `self[..., k] · W[k, n] + bias[n]` → `[..., n]`.
    public func linear(_ w: Tensor, bias: Tensor? = nil) -> Tensor {
        let k = shape.last ?? 0
        let n = w.shape.last ?? 0
        let rows = k == 0 ? 0 : count / k
        // Every element is written by the product (beta 0) or the bias rows: no zero-fill pass.
        return Tensor(shape: Array(shape.dropLast()) + [n]) { op in
            guard rows > 0, n > 0 else { op.initialize(repeating: 0); return }
            data.withUnsafeBufferPointer { xp in
                w.data.withUnsafeBufferPointer { wp in
                    guard let x = xp.baseAddress, let wb = wp.baseAddress, let o = op.baseAddress else { return }
                    if k == 0 { op.initialize(repeating: 0) }   // an empty product is 0 (+ bias)
                    if let bias, bias.count == n {
                        bias.data.withUnsafeBufferPointer { bp in
                            MechanicTensor.linear(rows: rows, k: k, n: n, x: x, lda: k, w: wb, ldw: n, bias: bp.baseAddress, out: o, ldc: n)
                        }
                    } else {
                        MechanicTensor.linear(rows: rows, k: k, n: n, x: x, lda: k, w: wb, ldw: n, bias: nil, out: o, ldc: n)
                    }
                }
            }
        }
    }

    /// Element-wise `self + other` (same shape).
    public static func + (a: Tensor, b: Tensor) -> Tensor {
        precondition(a.count == b.count, "Tensor +: \(a.shape) and \(b.shape) differ in size")
        return Tensor(shape: a.shape) { o in   // one pass: no copy of `a` first
            a.data.withUnsafeBufferPointer { p in
                b.data.withUnsafeBufferPointer { q in for i in o.indices { o[i] = p[i] + q[i] } }
            }
        }
    }

    /// Element-wise `self - other` (same shape).
    public static func - (a: Tensor, b: Tensor) -> Tensor {
        var out = a
        out.data.withUnsafeMutableBufferPointer { o in
            b.data.withUnsafeBufferPointer { p in for i in o.indices { o[i] -= p[i] } }
        }
        return out
    }

    /// In-place `self += other` (same count).
    public mutating func add(_ other: Tensor) {
        data.withUnsafeMutableBufferPointer { o in
            other.data.withUnsafeBufferPointer { p in for i in o.indices { o[i] += p[i] } }
        }
    }

    /// In-place `self *= s`.
    public mutating func scale(by s: Float) {
        data.withUnsafeMutableBufferPointer { o in for i in o.indices { o[i] *= s } }
    }
}
