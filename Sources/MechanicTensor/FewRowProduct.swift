/// `out[rows, n] = x[rows, k] · W[k, n] (+ bias[n])` for a handful of rows, reading `W` once.
///
/// Why by hand: sgemm packs both operands into its kernel's layout before multiplying. With a
/// few rows (a short prompt, one generated token, a patch's last rows) the product itself is tiny
/// and packing the weights dominates: a 5-token GPT-2-small forward spent more time in OpenBLAS's
/// `sgemm_itcopy` (copying every weight matrix) than in its kernel. Here each column block of `W`
/// is streamed once, row by row, straight from where it lies, and folded into the few output
/// rows while they stay in L1. No BLAS we may use provides this (OpenBLAS 0.3.21 has small-matrix
/// kernels only for AVX-512 targets).
///
/// Each `out[r, j]` is `bias[j]` (or 0) plus the products `x[r, i]·W[i, j]` added in order of
/// `i`, four at a time with fused multiply-adds: the same value as sgemm's up to float rounding.
public enum FewRowProduct {
    /// Products with at most this many rows take this path (`linear` sends them here).
    public static let maxRows = 8
    /// Output columns per block: `rows × 512` floats (≤ 16 KB) stay in L1 while `k` rows of `W` pass.
    static let blockColumns = 512

    public static func multiply(rows: Int, k: Int, n: Int,
                                x: UnsafePointer<Float>, lda: Int,
                                w: UnsafePointer<Float>, ldw: Int,
                                bias: UnsafePointer<Float>?,
                                out: UnsafeMutablePointer<Float>, ldc: Int) {
        guard rows > 0, n > 0 else { return }
        // Blocks of a multiple of 8 columns, at least one per core when there are enough columns.
        let perCore = (n + Parallel.cores - 1) / Parallel.cores
        let width = max(64, min(blockColumns, (perCore + 7) / 8 * 8))
        let blocks = (n + width - 1) / width
        let shared = Operands(x: x, lda: lda, w: w, ldw: ldw, bias: bias, out: out, ldc: ldc)
        // A block worth at least ~64K multiply-adds is worth a thread.
        Parallel.chunks(blocks, grain: max(1, 65536 / max(1, rows * k * width))) { range in
            for b in range {
                let j0 = b * width
                shared.block(rows: rows, k: k, columns: j0..<min(n, j0 + width))
            }
        }
    }

    /// The operands, handed to the workers (each writes only its own column blocks of `out`).
    struct Operands: @unchecked Sendable {
        let x: UnsafePointer<Float>, lda: Int
        let w: UnsafePointer<Float>, ldw: Int
        let bias: UnsafePointer<Float>?
        let out: UnsafeMutablePointer<Float>, ldc: Int

        /// `out[r, cols] = bias[cols] + Σ_i x[r, i] · W[i, cols]` for every row r.
        func block(rows: Int, k: Int, columns cols: Range<Int>) {
            let j0 = cols.lowerBound, nb = cols.count
            let n8 = nb / 8 * 8
            for r in 0..<rows {
                let o = out + r * ldc + j0   // row r of out, from column j0
                if let bias { o.update(from: bias + j0, count: nb) } else { o.initialize(repeating: 0, count: nb) }
            }
            var i = 0
            while i + 4 <= k {
                // Rows i..<i+4 of W, from column j0 (row stride ldw).
                let w0 = w + i * ldw + j0, w1 = w0 + ldw, w2 = w1 + ldw, w3 = w2 + ldw
                for r in 0..<rows {
                    let xr = x + r * lda + i   // x[r, i..<i+4]
                    let (a0, a1, a2, a3) = (SIMD8(repeating: xr[0]), SIMD8(repeating: xr[1]),
                                            SIMD8(repeating: xr[2]), SIMD8(repeating: xr[3]))
                    let o = out + r * ldc + j0
                    var j = 0
                    while j < n8 {
                        var c = load(o + j)
                        c += a0 * load(w0 + j)
                        c += a1 * load(w1 + j)
                        c += a2 * load(w2 + j)
                        c += a3 * load(w3 + j)
                        store(c, o + j)
                        j += 8
                    }
                    while j < nb {
                        var s = o[j]
                        s += xr[0] * w0[j]; s += xr[1] * w1[j]
                        s += xr[2] * w2[j]; s += xr[3] * w3[j]
                        o[j] = s
                        j += 1
                    }
                }
                i += 4
            }
            while i < k {
                let wi = w + i * ldw + j0   // row i of W, from column j0
                for r in 0..<rows {
                    let a = x[r * lda + i], a8 = SIMD8<Float>(repeating: a)
                    let o = out + r * ldc + j0
                    var j = 0
                    while j < n8 { store(load(o + j) + a8 * load(wi + j), o + j); j += 8 }
                    while j < nb { o[j] += a * wi[j]; j += 1 }
                }
                i += 1
            }
        }

        @inline(__always) func load(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
            UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
        }

        @inline(__always) func load(_ p: UnsafeMutablePointer<Float>) -> SIMD8<Float> {
            UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
        }

        @inline(__always) func store(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
            UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
        }
    }
}
