#if canImport(Accelerate)
import Accelerate
#else
import CBLAS
#endif

/// Single-precision matrix product through the platform BLAS (OpenBLAS on Linux, Accelerate on
/// Apple platforms): `C[m, n] = alpha · op(A)[m, k] · op(B)[k, n] + beta · C`, all row-major.
/// `lda`/`ldb`/`ldc` default to the packed row lengths.
@inlinable
public func sgemm(
    transA: Bool = false, transB: Bool = false,
    m: Int, n: Int, k: Int,
    alpha: Float = 1,
    a: UnsafePointer<Float>, lda: Int? = nil,
    b: UnsafePointer<Float>, ldb: Int? = nil,
    beta: Float = 0,
    c: UnsafeMutablePointer<Float>, ldc: Int? = nil
) {
    guard m > 0, n > 0 else { return }
    let la = lda ?? (transA ? m : k)
    let lb = ldb ?? (transB ? k : n)
    let lc = ldc ?? n
    cblas_sgemm(
        CblasRowMajor,
        transA ? CblasTrans : CblasNoTrans,
        transB ? CblasTrans : CblasNoTrans,
        Int32(m), Int32(n), Int32(k),
        alpha, a, Int32(la), b, Int32(lb), beta, c, Int32(lc))
}

/// `A[m, k] · B[k, n]` for 2-D tensors (or any tensors viewed as such).
public func matmul(_ a: Tensor, _ b: Tensor, transB: Bool = false) -> Tensor {
    let k = a.shape.last ?? 0
    let m = k == 0 ? 0 : a.count / k
    let n = transB ? b.shape[0] : (b.shape.last ?? 0)
    var out = Tensor(zeros: Array(a.shape.dropLast()) + [n])
    a.data.withUnsafeBufferPointer { pa in
        b.data.withUnsafeBufferPointer { pb in
            out.data.withUnsafeMutableBufferPointer { pc in
                guard let ap = pa.baseAddress, let bp = pb.baseAddress, let cp = pc.baseAddress else { return }
                sgemm(transB: transB, m: m, n: n, k: k, a: ap, b: bp, c: cp)
            }
        }
    }
    return out
}

/// Number of threads BLAS uses (OpenBLAS honours `OPENBLAS_NUM_THREADS`).
public func blasSetThreads(_ n: Int) {
    #if !canImport(Accelerate)
    openblas_set_num_threads(Int32(n))
    #endif
}
