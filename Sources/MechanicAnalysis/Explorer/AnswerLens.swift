import Foundation
import Mechanic
import MechanicTensor

/// One answer token's logit, probability and rank under the unembedding of many residual rows,
/// without holding their `[rows, d_vocab]` logits: the vocabulary is unembedded in column blocks
/// (one sgemm each, `[rows, block]` reused), and each block is folded into every row's running
/// log-sum-exp and rank count while it is in cache, rows split over the cores.
///
/// The same numbers as `LogitRow` on the full logits (`prob`, `rank`: entries strictly larger than
/// the answer's logit) up to rounding: the exponentials are taken 8 at a time (`SIMDMath.exp`, within 2 ulp
/// of `expf`) and summed in float within groups of 64, the groups in double.
enum AnswerLens {
    struct Score: Equatable { var logit: Float; var prob: Float; var rank: Int }

    /// Columns per block: `[rows, 4096]` floats stay a few MB for the ~800 rows of a prompt's grid.
    static let blockColumns = 4096

    /// - x: `[rows, d_model]` (normalised residuals); W_U `[d_model, d_vocab]`; b_U `[d_vocab]` or empty.
    static func scores(_ x: Tensor, W_U: Tensor, b_U: Tensor, answer: Int, blockColumns: Int = blockColumns) -> [Score] {
        let (R, D, V) = (x.shape.first ?? 0, W_U.shape[0], W_U.shape[1])
        guard R > 0, V > 0, (0..<V).contains(answer) else { return [] }
        let B = max(1, min(blockColumns, V))
        var block = [Float](repeating: 0, count: R * B)      // [rows, B], row stride B
        var answerLogit = [Float](repeating: 0, count: R)
        var maxima = [Float](repeating: -.infinity, count: R)
        var sums = [Double](repeating: 0, count: R)           // Σ exp(logit − maxima[r])
        var above = [Int](repeating: 0, count: R)
        let hasBias = b_U.count == V && b_U.data.contains { $0 != 0 }
        // The answer's block first, so its logit is known before any row is ranked.
        let first = answer / B * B
        let starts = [first] + stride(from: 0, to: V, by: B).filter { $0 != first }
        x.data.withUnsafeBufferPointer { xp in
            W_U.data.withUnsafeBufferPointer { wp in
                b_U.data.withUnsafeBufferPointer { bp in
                    block.withUnsafeMutableBufferPointer { cp in
                        guard let xb = xp.baseAddress, let wb = wp.baseAddress, let c = cp.baseAddress else { return }
                        for (n, j0) in starts.enumerated() {
                            let width = min(B, V - j0)
                            // block[r, 0..<width] = x[r] · W_U[:, j0..<j0+width] (+ b_U): W_U offset j0, row stride V.
                            linear(rows: R, k: D, n: width, x: xb, lda: D, w: wb + j0, ldw: V,
                                   bias: hasBias ? bp.baseAddress.map { $0 + j0 } : nil, out: c, ldc: B)
                            if n == 0 { for r in 0..<R { answerLogit[r] = c[r * B + answer - j0] } }
                            fold(c, stride: B, width: width, answerLogit: answerLogit, maxima: &maxima, sums: &sums, above: &above)
                        }
                    }
                }
            }
        }
        return (0..<R).map { r in
            let lse = maxima[r] + Float(log(sums[r]))
            return Score(logit: answerLogit[r], prob: Float(exp(Double(answerLogit[r] - lse))), rank: above[r])
        }
    }

    /// Folds one block `[rows, width]` (row stride `stride`) into each row's running maximum,
    /// rescaled sum of exponentials and count of logits above the answer's.
    static func fold(_ c: UnsafeMutablePointer<Float>, stride: Int, width: Int, answerLogit: [Float],
                     maxima: inout [Float], sums: inout [Double], above: inout [Int]) {
        let rows = answerLogit.count
        maxima.withUnsafeMutableBufferPointer { mp in
            sums.withUnsafeMutableBufferPointer { sp in
                above.withUnsafeMutableBufferPointer { ap in
                    answerLogit.withUnsafeBufferPointer { lp in
                        guard let m = mp.baseAddress, let s = sp.baseAddress, let a = ap.baseAddress, let l = lp.baseAddress else { return }
                        let shared = Shared(block: c, maxima: m, sums: s, above: a, answer: l)
                        // Rows are independent: each worker owns a disjoint range of them.
                        Parallel.chunks(rows, grain: 8) { range in
                            for r in range { shared.foldRow(r, stride: stride, width: width) }
                        }
                    }
                }
            }
        }
    }

    /// The block and the per-row state, handed to the workers (each writes only its own rows).
    struct Shared: @unchecked Sendable {
        let block: UnsafeMutablePointer<Float>
        let maxima: UnsafeMutablePointer<Float>
        let sums: UnsafeMutablePointer<Double>
        let above: UnsafeMutablePointer<Int>
        let answer: UnsafePointer<Float>

        func foldRow(_ r: Int, stride: Int, width: Int) {
            let row = block + r * stride  // row r of [rows, stride]
            let n8 = width / 8 * 8
            var vmax = SIMD8<Float>(repeating: -.infinity)
            for j in Swift.stride(from: 0, to: n8, by: 8) { vmax = pointwiseMax(vmax, AnswerLens.load8(row + j)) }
            var bm = vmax.max()
            for j in n8..<width { bm = max(bm, row[j]) }
            var (rm, rs) = (maxima[r], sums[r])
            if bm > rm {
                rs = rm == -.infinity ? 0 : rs * exp(Double(rm - bm))
                rm = bm
            }
            let v = answer[r]
            // Σ exp(y − rm) in groups of 64 (8 lanes × 8 summed in float, each group added in double)
            // and the count of logits above the answer's.
            let (m8, v8) = (SIMD8<Float>(repeating: rm), SIMD8<Float>(repeating: v))
            var sum: Double = 0, above8 = SIMD8<Int32>(repeating: 0), j = 0
            while j + 64 <= width {
                var acc = SIMD8<Float>(repeating: 0)
                for t in 0..<8 {
                    let y = AnswerLens.load8(row + j + 8 * t)
                    acc += SIMDMath.exp(y - m8)
                    above8 &-= unsafeBitCast(y .> v8, to: SIMD8<Int32>.self)  // true lanes are −1
                }
                sum += Double(acc.sum())
                j += 64
            }
            var count = Int(above8.wrappedSum())
            while j < width {
                let y = row[j]
                sum += Double(SIMDMath.exp(y - rm))
                if y > v { count += 1 }
                j += 1
            }
            (maxima[r], sums[r]) = (rm, rs + sum)
            above[r] += count
        }
    }

    @inline(__always) static func load8(_ p: UnsafeMutablePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }
}
