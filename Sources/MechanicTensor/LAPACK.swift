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
