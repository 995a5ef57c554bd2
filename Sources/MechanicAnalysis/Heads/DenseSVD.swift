import Foundation

/// Small dense linear algebra in double precision for the factored-matrix code: the matrices here
/// are at most `d_model × d_head` (or `d_head × d_head`), so plain loops are fast enough and
/// double precision keeps singular values and eigenvalues well inside the float32 tolerance.
enum HeadLinearAlgebra {
    /// Thin singular value decomposition of the row-major `rows × cols` matrix `a`:
    /// `a = U · diag(S) · Vᵀ` with `U [rows, k]`, `S [k]` descending, `V [cols, k]`, `k = min(rows, cols)`
    /// (the shapes of `torch.svd(a, some=True)`). One-sided Jacobi (Hestenes): columns are
    /// orthogonalised by plane rotations until every pair is orthogonal to machine precision.
    /// Columns of `U` whose singular value is zero are left zero.
    static func svd(_ a: [Double], rows m: Int, cols n: Int) -> (u: [Double], s: [Double], v: [Double]) {
        if m < n {
            // aᵀ = U' S V'ᵀ  ⇒  a = V' S U'ᵀ
            let t = transpose(a, rows: m, cols: n)
            let (u, s, v) = svd(t, rows: n, cols: m)
            return (v, s, u)
        }
        // Work on columns: w[j] is column j of a (length m); vc[j] is column j of V (length n).
        var w = (0..<n).map { j in (0..<m).map { i in a[i * n + j] } }
        var vc = (0..<n).map { j in (0..<n).map { i in i == j ? 1.0 : 0.0 } }
        let eps = 1e-15
        for _ in 0..<80 {
            var rotated = false
            for p in 0..<n {
                for q in (p + 1)..<max(p + 1, n) {
                    var alpha = 0.0, beta = 0.0, gamma = 0.0
                    for i in 0..<m {
                        alpha += w[p][i] * w[p][i]
                        beta += w[q][i] * w[q][i]
                        gamma += w[p][i] * w[q][i]
                    }
                    guard abs(gamma) > eps * (alpha * beta).squareRoot(), gamma != 0 else { continue }
                    rotated = true
                    let zeta = (beta - alpha) / (2 * gamma)
                    let t = (zeta >= 0 ? 1.0 : -1.0) / (abs(zeta) + (1 + zeta * zeta).squareRoot())
                    let c = 1 / (1 + t * t).squareRoot()
                    let s = c * t
                    for i in 0..<m {
                        let x = w[p][i], y = w[q][i]
                        w[p][i] = c * x - s * y
                        w[q][i] = s * x + c * y
                    }
                    for i in 0..<n {
                        let x = vc[p][i], y = vc[q][i]
                        vc[p][i] = c * x - s * y
                        vc[q][i] = s * x + c * y
                    }
                }
            }
            if !rotated { break }
        }
        let norms = w.map { col in col.reduce(0) { $0 + $1 * $1 }.squareRoot() }
        let order = (0..<n).sorted { norms[$0] > norms[$1] }
        var u = [Double](repeating: 0, count: m * n)
        var v = [Double](repeating: 0, count: n * n)
        var s = [Double](repeating: 0, count: n)
        for (k, j) in order.enumerated() {
            s[k] = norms[j]
            if norms[j] > 0 { for i in 0..<m { u[i * n + k] = w[j][i] / norms[j] } }
            for i in 0..<n { v[i * n + k] = vc[j][i] }
        }
        return (u, s, v)
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
