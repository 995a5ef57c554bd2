import Foundation
import Testing
@testable import MechanicTensor

/// The shared vector `exp` and what is built on it (GELU, SiLU, the softmax): its error against
/// libm, its limits, and that a value does not depend on how it was batched.
@Suite struct SIMDMathTests {
    @Test func expIsWithinTwoUlpOfLibm() {
        var worst: Double = 0
        var x: Float = -87.3
        while x < 88 {
            let v = SIMD8<Float>((0..<8).map { x + Float($0) * 0.0013 })
            let e = SIMDMath.exp(v)
            for i in 0..<8 {
                let exact = Foundation.exp(Double(v[i]))
                worst = max(worst, abs(Double(e[i]) - exact) / exact)
                #expect(SIMDMath.exp(v[i]) == e[i], "scalar and lane differ at \(v[i])")
            }
            x += 0.0917
        }
        #expect(worst < 2.5e-7, "largest relative error \(worst)")
        #expect(SIMDMath.exp(Float(0)) == 1)
        #expect(SIMDMath.exp(-Float.infinity) == 0)
        #expect(SIMDMath.exp(Float(-100)) == 0)
        #expect(SIMDMath.exp(Float(100)).isFinite)
    }

    @Test func softmaxMatchesTheDoubleFormulaAndIgnoresTrailingMaskedKeys() {
        let n = 13
        let logits = (0..<n).map { Float(($0 * 37) % 19) / 3 - 2.5 }
        var row = logits
        Rows.softmax(&row, rows: 1, n: n)
        let m = Double(logits.max() ?? 0)
        let denom = logits.reduce(0) { $0 + Foundation.exp(Double($1) - m) }
        for j in 0..<n { #expect(abs(Double(row[j]) - Foundation.exp(Double(logits[j]) - m) / denom) < 1e-7) }
        // The same keys followed by masked ones (a full forward's row against a cached step's).
        for padded in [16, 21, 40] {
            var long = logits + [Float](repeating: -.infinity, count: padded - n)
            Rows.softmax(&long, rows: 1, n: padded)
            #expect(Array(long.prefix(n)) == row, "padded to \(padded)")
            #expect(long.suffix(padded - n).allSatisfy { $0 == 0 })
        }
        var masked = [Float](repeating: -.infinity, count: 11)
        Rows.softmax(&masked, rows: 1, n: 11)
        #expect(masked.allSatisfy { $0 == 0 })
    }

    @Test func activationsMatchTheirFormulas() {
        let xs = (0..<1001).map { Float($0 - 500) / 50 }   // −10 … 10
        var buf = xs
        buf.withUnsafeMutableBufferPointer { Activation.geluNew.apply($0) }
        var silu = xs
        silu.withUnsafeMutableBufferPointer { Activation.silu.apply($0) }
        for (i, x) in xs.enumerated() {
            let d = Double(x)
            let gelu = 0.5 * d * (1 + tanh(0.7978845608028654 * (d + 0.044715 * d * d * d)))
            #expect(abs(Double(buf[i]) - gelu) <= 1e-6 * max(1, abs(d)), "gelu_new(\(x))")
            #expect(abs(Double(silu[i]) - d / (1 + Foundation.exp(-d))) <= 1e-6 * max(1, abs(d)), "silu(\(x))")
            #expect(buf[i] == Activation.geluNew.apply(x))   // the buffer's lanes and its 1001 % 8 tail alike
            #expect(silu[i] == Activation.silu.apply(x))
        }
    }
}
