import Foundation

/// Row-wise kernels over the last axis, written as plain loops over unsafe buffers.
public enum Rows {
    /// Softmax of each row of `x[rows, n]` in place. Rows that are all `-inf` become zeros
    /// (TransformerLens replaces the NaN such rows produce with 0).
    public static func softmax(_ x: UnsafeMutablePointer<Float>, rows: Int, n: Int) {
        let p = UncheckedPointer(x)
        Parallel.chunks(rows, grain: max(1, 8192 / max(n, 1))) { range in
            for r in range { softmaxRow(p.raw + r * n, n: n) }
        }
    }

    /// One row's softmax, 8 keys at a time: key j always sits in lane j % 8 (the row's tail is
    /// padded with −∞, whose exp is exactly 0), so a row's values do not depend on how many
    /// masked keys follow it (a cached generation step equals the full forward's row).
    static func softmaxRow(_ row: UnsafeMutablePointer<Float>, n: Int) {
        let n8 = n / 8 * 8, tail = n - n8
        var m8 = SIMD8<Float>(repeating: -.infinity)
        for j in stride(from: 0, to: n8, by: 8) { m8 = pointwiseMax(m8, SIMDMath.load8(row + j)) }
        if tail > 0 { m8 = pointwiseMax(m8, SIMDMath.load(row + n8, count: tail, fill: -.infinity)) }
        let m = m8.max()
        if m == -Float.infinity {
            for j in 0..<n { row[j] = 0 }
            return
        }
        let mv = SIMD8<Float>(repeating: m)
        var s8 = SIMD8<Float>(repeating: 0)
        for j in stride(from: 0, to: n8, by: 8) {
            let e = SIMDMath.exp(SIMDMath.load8(row + j) - mv)
            SIMDMath.store8(e, row + j)
            s8 += e
        }
        if tail > 0 {
            let e = SIMDMath.exp(SIMDMath.load(row + n8, count: tail, fill: -.infinity) - mv)
            SIMDMath.store(e, row + n8, count: tail)
            s8 += e
        }
        let inv = SIMD8<Float>(repeating: 1 / s8.sum())
        for j in stride(from: 0, to: n8, by: 8) { SIMDMath.store8(SIMDMath.load8(row + j) * inv, row + j) }
        if tail > 0 { SIMDMath.store(SIMDMath.load(row + n8, count: tail, fill: 0) * inv, row + n8, count: tail) }
    }

    /// Log-softmax of one row into `out`.
    public static func logSoftmax(_ row: UnsafePointer<Float>, n: Int, into out: UnsafeMutablePointer<Float>) {
        var m = -Float.infinity
        for j in 0..<n { m = max(m, row[j]) }
        var s: Double = 0
        for j in 0..<n { s += Double(expf(row[j] - m)) }
        let lse = m + Float(log(s))
        for j in 0..<n { out[j] = row[j] - lse }
    }

    /// log(sum(exp(row))) computed stably in double precision.
    public static func logSumExp(_ row: UnsafePointer<Float>, n: Int) -> Float {
        var m = -Float.infinity
        for j in 0..<n { m = max(m, row[j]) }
        var s: Double = 0
        for j in 0..<n { s += Double(expf(row[j] - m)) }
        return m + Float(log(s))
    }
}
