import Testing
@testable import MechanicTensor

/// `FewRowProduct` (every `linear` with at most 8 rows) against a double-precision product.
@Suite struct FewRowProductTests {
    /// Small integers: every partial sum is exact in float32, so the kernel's result must equal
    /// the exact product bit for bit — whatever order it adds in.
    @Test(arguments: [(1, 1, 1), (1, 768, 2304), (3, 5, 13), (5, 7, 1030), (8, 33, 9), (8, 3, 4097), (2, 4, 64)])
    func exactOnIntegers(_ shape: (Int, Int, Int)) {
        let (rows, k, n) = shape
        let x = (0..<(rows * k)).map { Float(($0 * 7 + 3) % 11) - 5 }
        let w = (0..<(k * n)).map { Float(($0 * 5 + 1) % 9) - 4 }
        let bias = (0..<n).map { Float($0 % 5) - 2 }
        for withBias in [false, true] {
            let got = Tensor(shape: [rows, k], data: x).linear(Tensor(shape: [k, n], data: w),
                                                               bias: withBias ? Tensor(shape: [n], data: bias) : nil)
            var want = [Float](repeating: 0, count: rows * n)
            for r in 0..<rows {
                for j in 0..<n {
                    var s = withBias ? Double(bias[j]) : 0
                    for i in 0..<k { s += Double(x[r * k + i]) * Double(w[i * n + j]) }
                    want[r * n + j] = Float(s)
                }
            }
            #expect(got.data == want, "rows \(rows) k \(k) n \(n) bias \(withBias)")
        }
    }

    /// Strided operands and output (a view into wider rows): only the addressed columns are
    /// written, and the values agree with sgemm's to float32 rounding.
    @Test func stridedOperandsMatchSgemm() {
        let (rows, k, n, lda, ldw, ldc) = (6, 50, 300, 64, 320, 310)
        var seed: UInt64 = 1
        func next() -> Float { seed = seed &* 6364136223846793005 &+ 1442695040888963407; return Float(Int(seed >> 40) % 2001 - 1000) / 1000 }
        let x = (0..<(rows * lda)).map { _ in next() }, w = (0..<(k * ldw)).map { _ in next() }
        var few = [Float](repeating: 99, count: rows * ldc), blas = few
        x.withUnsafeBufferPointer { xp in
            w.withUnsafeBufferPointer { wp in
                few.withUnsafeMutableBufferPointer { op in
                    FewRowProduct.multiply(rows: rows, k: k, n: n, x: xp.baseAddress!, lda: lda, w: wp.baseAddress!, ldw: ldw,
                                           bias: nil, out: op.baseAddress!, ldc: ldc)
                }
                blas.withUnsafeMutableBufferPointer { op in
                    sgemm(m: rows, n: n, k: k, a: xp.baseAddress!, lda: lda, b: wp.baseAddress!, ldb: ldw, c: op.baseAddress!, ldc: ldc)
                }
            }
        }
        for r in 0..<rows {
            for j in 0..<ldc {
                let (a, b) = (few[r * ldc + j], blas[r * ldc + j])
                if j >= n { #expect(a == 99, "column \(j) of row \(r) is outside the product") } else {
                    #expect(abs(a - b) <= 64 * Float.ulpOfOne * Float(k), "row \(r) column \(j): \(a) vs \(b)")
                }
            }
        }
    }
}
