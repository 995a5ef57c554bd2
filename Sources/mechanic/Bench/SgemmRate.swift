import Foundation
import Mechanic

/// The machine's single-precision matrix-product rate, FLOP/s (2 per multiply-add): the best of
/// `trials` products `[m, k] · [k, n]` through the same BLAS the model uses.
func measuredSgemmRate(m: Int = 512, k: Int = 768, n: Int = 3072, trials: Int = 16) -> Double {
    let a = [Float](repeating: 0.5, count: m * k), b = [Float](repeating: 0.25, count: k * n)
    var c = [Float](repeating: 0, count: m * n)
    var best = Double.infinity
    for _ in 0..<trials {
        let t = Date()
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                c.withUnsafeMutableBufferPointer { cp in
                    if let x = ap.baseAddress, let y = bp.baseAddress, let z = cp.baseAddress {
                        sgemm(m: m, n: n, k: k, a: x, b: y, c: z)
                    }
                }
            }
        }
        best = min(best, Date().timeIntervalSince(t))
    }
    return 2 * Double(m * n * k) / best
}
