import Foundation
import MechanicTensor

/// Small dense linear algebra in double precision for the factored-matrix code (the matrices
/// here are at most `d_model × d_head`, or `d_head × d_head`): the SVD and eigenvalues come from
/// LAPACK (`gesddSVD`, `geevEigenvalues` in MechanicTensor); double precision keeps singular
/// values and eigenvalues well inside the float32 tolerance.
enum HeadLinearAlgebra {
    /// Thin singular value decomposition of the row-major `rows × cols` matrix `a`:
    /// `a = U · diag(S) · Vᵀ` with `U [rows, k]`, `S [k]` descending, `V [cols, k]`, `k = min(rows, cols)`
    /// (the shapes of `torch.svd(a, some=True)`), through LAPACK's `dgesdd`. A matrix that is not
    /// finite (or that LAPACK cannot decompose) gives NaN factors, as a NaN weight would in torch.
    static func svd(_ a: [Double], rows m: Int, cols n: Int) -> (u: [Double], s: [Double], v: [Double]) {
        if let d = gesddSVD(a, rows: m, cols: n) { return d }
        let k = min(m, n)
        return ([Double](repeating: .nan, count: m * k), [Double](repeating: .nan, count: k), [Double](repeating: .nan, count: n * k))
    }

    /// Row-major transpose of a `rows × cols` matrix.
    static func transpose(_ a: [Double], rows: Int, cols: Int) -> [Double] {
        var t = [Double](repeating: 0, count: a.count)
        for i in 0..<rows { for j in 0..<cols { t[j * rows + i] = a[i * cols + j] } }
        return t
    }

    /// Row-major `a [m, k] · b [k, n]`.
    static func matmul(_ a: [Double], _ b: [Double], m: Int, k: Int, n: Int) -> [Double] {
        var c = [Double](repeating: 0, count: m * n)
        for i in 0..<m {
            for p in 0..<k {
                let x = a[i * k + p]
                if x == 0 { continue }
                for j in 0..<n { c[i * n + j] += x * b[p * n + j] }
            }
        }
        return c
    }
}
