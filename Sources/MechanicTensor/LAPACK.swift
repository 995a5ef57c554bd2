#if canImport(Accelerate)
import Accelerate
#else
import CBLAS
#endif

/// Eigenvalues of the row-major real `n × n` matrix `a` through LAPACK's `dgeev` (OpenBLAS's
/// LAPACK on Linux, Accelerate on Apple platforms), in double precision, no eigenvectors.
/// LAPACK reads the buffer column-major, i.e. `aᵀ`, which has the same eigenvalues.
/// Returns the real and imaginary parts in LAPACK's order (a conjugate pair is adjacent, `+i`
/// first), or nil when the QR algorithm did not converge (`info > 0`) or `a` is not finite.
public func geevEigenvalues(_ a: [Double], n: Int) -> (real: [Double], imag: [Double])? {
    guard n > 0 else { return ([], []) }
    guard a.count == n * n, a.allSatisfy(\.isFinite) else { return nil }
    var m = a
    var wr = [Double](repeating: 0, count: n), wi = wr
    var info: Int32 = 0
    // Workspace query (lwork = -1), then the call itself.
    var query = 0.0
    dgeevValues(n: n, a: &m, wr: &wr, wi: &wi, work: &query, lwork: -1, info: &info)
    guard info == 0 else { return nil }
    var work = [Double](repeating: 0, count: max(Int(query), 3 * n, 1))
    dgeevValues(n: n, a: &m, wr: &wr, wi: &wi, work: &work, lwork: work.count, info: &info)
    return info == 0 ? (wr, wi) : nil
}

/// `dgeev('N', 'N', n, a, n, wr, wi, …, work, lwork, info)` with the platform's spelling.
private func dgeevValues(n: Int, a: UnsafeMutablePointer<Double>, wr: UnsafeMutablePointer<Double>,
                         wi: UnsafeMutablePointer<Double>, work: UnsafeMutablePointer<Double>,
                         lwork: Int, info: UnsafeMutablePointer<Int32>) {
    var jobvl = CChar(UInt8(ascii: "N")), jobvr = jobvl
    var n32 = Int32(n), lda = Int32(n), ldvl: Int32 = 1, ldvr: Int32 = 1, lw = Int32(lwork)
    var vl = 0.0, vr = 0.0   // not referenced for jobvl = jobvr = 'N'
    #if canImport(Accelerate)
    _ = dgeev_(&jobvl, &jobvr, &n32, a, &lda, wr, wi, &vl, &ldvl, &vr, &ldvr, work, &lw, info)
    #else
    dgeev_(&jobvl, &jobvr, &n32, a, &lda, wr, wi, &vl, &ldvl, &vr, &ldvr, work, &lw, info, 1, 1)
    #endif
}

/// Thin singular value decomposition of the row-major `m × n` matrix `a` through LAPACK's
/// `dgesdd` (divide and conquer), in double precision: `a = U · diag(S) · Vᵀ` with `U [m, k]`,
/// `S [k]` descending, `V [n, k]` (row-major), `k = min(m, n)` — the shapes of
/// `torch.svd(a, some=True)`. LAPACK reads the buffer column-major, i.e. `aᵀ [n, m]`; from
/// `aᵀ = U' S V'ᵀ` follows `a = V' S U'ᵀ`, so `U` is `V'ᵀ` as LAPACK stores it (column-major
/// `[k, m]` = row-major `[m, k]`) and `V` is `U'` transposed. Returns nil when `a` is not finite
/// or the decomposition did not converge (`info ≠ 0`).
public func gesddSVD(_ a: [Double], rows m: Int, cols n: Int) -> (u: [Double], s: [Double], v: [Double])? {
    let k = min(m, n)
    guard k > 0 else { return ([], [], []) }
    guard a.count == m * n, a.allSatisfy(\.isFinite) else { return nil }
    var at = a                                                   // column-major aᵀ: [n rows, m cols], lda = n
    var s = [Double](repeating: 0, count: k)
    var uPrime = [Double](repeating: 0, count: n * k)            // U' column-major [n, k], ldu = n
    var vtPrime = [Double](repeating: 0, count: k * m)           // V'ᵀ column-major [k, m], ldvt = k
    var iwork = [Int32](repeating: 0, count: 8 * k)
    var info: Int32 = 0
    var query = 0.0
    dgesddThin(m: n, n: m, a: &at, s: &s, u: &uPrime, vt: &vtPrime, work: &query, lwork: -1, iwork: &iwork, info: &info)
    guard info == 0 else { return nil }
    var work = [Double](repeating: 0, count: max(Int(query), 1))
    dgesddThin(m: n, n: m, a: &at, s: &s, u: &uPrime, vt: &vtPrime, work: &work, lwork: work.count, iwork: &iwork, info: &info)
    guard info == 0 else { return nil }
    var v = [Double](repeating: 0, count: n * k)                 // row-major [n, k]
    for j in 0..<n { for c in 0..<k { v[j * k + c] = uPrime[j + c * n] } }
    return (vtPrime, s, v)
}

/// `dgesdd('S', m, n, a, m, s, u, m, vt, min(m, n), work, lwork, iwork, info)` (column-major
/// `a [m, n]`) with the platform's spelling.
private func dgesddThin(m: Int, n: Int, a: UnsafeMutablePointer<Double>, s: UnsafeMutablePointer<Double>,
                        u: UnsafeMutablePointer<Double>, vt: UnsafeMutablePointer<Double>, work: UnsafeMutablePointer<Double>,
                        lwork: Int, iwork: UnsafeMutablePointer<Int32>, info: UnsafeMutablePointer<Int32>) {
    var jobz = CChar(UInt8(ascii: "S"))
    var m32 = Int32(m), n32 = Int32(n), lda = Int32(m), ldu = Int32(m), ldvt = Int32(min(m, n)), lw = Int32(lwork)
    #if canImport(Accelerate)
    _ = dgesdd_(&jobz, &m32, &n32, a, &lda, s, u, &ldu, vt, &ldvt, work, &lw, iwork, info)
    #else
    dgesdd_(&jobz, &m32, &n32, a, &lda, s, u, &ldu, vt, &ldvt, work, &lw, iwork, info, 1)
    #endif
}
