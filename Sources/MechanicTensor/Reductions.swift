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

    static func softmaxRow(_ row: UnsafeMutablePointer<Float>, n: Int) {
            var m = -Float.infinity
            for j in 0..<n { m = max(m, row[j]) }
            if m == -Float.infinity {
                for j in 0..<n { row[j] = 0 }
                return
            }
            var s: Float = 0
            for j in 0..<n {
                let e = expf(row[j] - m)
                row[j] = e
                s += e
            }
            let inv = 1 / s
            for j in 0..<n { row[j] *= inv }
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
