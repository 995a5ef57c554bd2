import Foundation
import Mechanic
import MechanicTensor

/// A low-rank matrix kept as the product of its two factors, `M = A · B` with `A [ldim, mdim]` and
/// `B [mdim, rdim]` — TransformerLens's `FactoredMatrix`. The OV circuit of a head is
/// `W_V[h] · W_O[h]` (`d_model × d_head · d_head × d_model`) and its QK circuit `W_Q[h] · W_K[h]ᵀ`:
/// `d_model × d_model` matrices of rank `d_head`, whose SVD, eigenvalues and norm all come from
/// `mdim × mdim` work without forming the product.
///
/// Products follow TransformerLens's rules exactly (which factor absorbs the other operand), so the
/// factors' shapes match its `A`/`B`. Singular vectors are unique only up to sign.
public struct FactoredMatrix: Sendable, CustomStringConvertible {
    public let A: Tensor  // [ldim, mdim]
    public let B: Tensor  // [mdim, rdim]
    private let svdCache = SVDCache()

    /// The SVD of a factored matrix: `AB = U · diag(S) · Vhᵀ` (TransformerLens's convention: `Vh` is
    /// the right singular vectors as columns, *not* transposed).
    public struct SVD: Sendable {
        public let U: Tensor   // [ldim, k]
        public let S: Tensor   // [k], descending
        public let Vh: Tensor  // [rdim, k]
    }

    /// `A [ldim, mdim] · B [mdim, rdim]`; throws when the inner dimensions differ.
    public init(_ A: Tensor, _ B: Tensor) throws {
        guard A.rank == 2, B.rank == 2 else {
            throw MechanicError.invalidArgument("FactoredMatrix: A and B must be matrices, got shapes \(A.shape) and \(B.shape)")
        }
        guard A.shape[1] == B.shape[0] else {
            throw MechanicError.invalidArgument("FactoredMatrix: inner dimensions differ: A \(A.shape), B \(B.shape)")
        }
        self.A = A
        self.B = B
    }

    /// For factors whose shapes are known to agree.
    init(checked A: Tensor, _ B: Tensor) {
        self.A = A
        self.B = B
    }

    public var ldim: Int { A.shape[0] }
    public var mdim: Int { A.shape[1] }
    public var rdim: Int { B.shape[1] }
    public var shape: [Int] { [ldim, rdim] }
    public var pair: (A: Tensor, B: Tensor) { (A, B) }
    public var description: String { "FactoredMatrix: Shape(\(shape)), Hidden Dim(\(mdim))" }

    /// The product `A · B` `[ldim, rdim]` (`d_model²` floats for a circuit: compute it only when needed).
    public var AB: Tensor { MechanicTensor.matmul(A, B) }

    /// The reverse product `B · A` `[mdim, mdim]`; only defined for square matrices (`ldim == rdim`).
    public var BA: Tensor {
        get throws {
            guard ldim == rdim else {
                throw MechanicError.invalidArgument("FactoredMatrix.BA needs ldim == rdim, shape is \(shape)")
            }
            return MechanicTensor.matmul(B, A)
        }
    }

    /// The transpose, `Bᵀ · Aᵀ`.
    public var T: FactoredMatrix { FactoredMatrix(checked: B.permuted([1, 0]), A.permuted([1, 0])) }

    /// Scalar multiple (TransformerLens's `*`): the scalar goes into `A`.
    public static func * (m: FactoredMatrix, scalar: Float) -> FactoredMatrix {
        var a = m.A
        a.scale(by: scalar)
        return FactoredMatrix(checked: a, m.B)
    }

    public static func * (scalar: Float, m: FactoredMatrix) -> FactoredMatrix { m * scalar }

    /// `self @ other` for a matrix `other [rdim, n]` (TransformerLens's `__matmul__`): `other` is
    /// folded into `B` when `rdim > mdim`, otherwise the product becomes `FactoredMatrix(AB, other)`.
    public func matmul(_ other: Tensor) throws -> FactoredMatrix {
        guard other.rank == 2, other.shape[0] == rdim else {
            throw MechanicError.invalidArgument("FactoredMatrix \(shape) @ matrix \(other.shape): the inner dimensions differ")
        }
        if rdim > mdim { return FactoredMatrix(checked: A, MechanicTensor.matmul(B, other)) }
        return FactoredMatrix(checked: AB, other)
    }

    /// `self @ other` for another factored matrix: `(self @ other.A) @ other.B`.
    public func matmul(_ other: FactoredMatrix) throws -> FactoredMatrix {
        try matmul(other.A).matmul(other.B)
    }

    /// `other @ self` for a matrix `other [n, ldim]` (TransformerLens's `__rmatmul__`): folded into
    /// `A` when `ldim > mdim`, otherwise `FactoredMatrix(other, AB)`.
    public func leftMultiplied(by other: Tensor) throws -> FactoredMatrix {
        guard other.rank == 2, other.shape[1] == ldim else {
            throw MechanicError.invalidArgument("matrix \(other.shape) @ FactoredMatrix \(shape): the inner dimensions differ")
        }
        if ldim > mdim { return FactoredMatrix(checked: MechanicTensor.matmul(other, A), B) }
        return FactoredMatrix(checked: other, AB)
    }

    /// `self @ v` for a vector `v [rdim]` → `[ldim]`, without forming `AB`.
    public func apply(_ v: [Float]) throws -> [Float] {
        guard v.count == rdim else { throw MechanicError.invalidArgument("FactoredMatrix \(shape) @ vector of length \(v.count)") }
        let bv = MechanicTensor.matmul(B, Tensor(shape: [rdim, 1], data: v))   // [mdim, 1]
        return MechanicTensor.matmul(A, bv).data                               // [ldim]
    }

    /// `v @ self` for a vector `v [ldim]` → `[rdim]`.
    public func applyLeft(_ v: [Float]) throws -> [Float] {
        guard v.count == ldim else { throw MechanicError.invalidArgument("vector of length \(v.count) @ FactoredMatrix \(shape)") }
        let va = MechanicTensor.matmul(Tensor(shape: [1, ldim], data: v), A)    // [1, mdim]
        return MechanicTensor.matmul(va, B).data                               // [rdim]
    }

    /// TransformerLens's SVD: `svd(A) = Ua Sa Vaᵀ`, `svd(B) = Ub Sb Vbᵀ`, then the SVD of the small
    /// middle `diag(Sa) Vaᵀ Ub diag(Sb) = Um Sm Vmᵀ` gives `U = Ua Um`, `S = Sm`, `Vh = Vb Vm`.
    /// Computed once per value (TransformerLens caches it too).
    public func svd() -> SVD {
        if let cached = svdCache.value { return cached }
        let (l, m, r) = (ldim, mdim, rdim)
        let (ua, sa, va) = HeadLinearAlgebra.svd(A.data.map(Double.init), rows: l, cols: m)  // [l,ka] [ka] [m,ka]
        let (ub, sb, vb) = HeadLinearAlgebra.svd(B.data.map(Double.init), rows: m, cols: r)  // [m,kb] [kb] [r,kb]
        let ka = sa.count, kb = sb.count
        // middle[i, j] = Sa[i] · (Vaᵀ Ub)[i, j] · Sb[j]   [ka, kb]
        var middle = HeadLinearAlgebra.matmul(HeadLinearAlgebra.transpose(va, rows: m, cols: ka), ub, m: ka, k: m, n: kb)
        for i in 0..<ka { for j in 0..<kb { middle[i * kb + j] *= sa[i] * sb[j] } }
        let (um, sm, vm) = HeadLinearAlgebra.svd(middle, rows: ka, cols: kb)  // [ka,k] [k] [kb,k]
        let k = sm.count
        let u = HeadLinearAlgebra.matmul(ua, um, m: l, k: ka, n: k)   // [l, k]
        let vh = HeadLinearAlgebra.matmul(vb, vm, m: r, k: kb, n: k)  // [r, k]
        let out = SVD(U: Tensor(shape: [l, k], data: u.map(Float.init)),
                      S: Tensor(shape: [k], data: sm.map(Float.init)),
                      Vh: Tensor(shape: [r, k], data: vh.map(Float.init)))
        svdCache.value = out
        return out
    }

    public var U: Tensor { svd().U }
    public var S: Tensor { svd().S }
    public var Vh: Tensor { svd().Vh }

    /// Eigenvalues of `AB`, computed from the small `BA` (`[mdim, mdim]`): `BAv = λv ⇒ AB(Av) = λ(Av)`,
    /// so they agree apart from `AB`'s extra zeros. Sorted by decreasing magnitude.
    public var eigenvalues: [Eigenvalue] {
        get throws {
            let ba = try BA
            return try HeadLinearAlgebra.eigenvalues(ba.data.map(Double.init), n: mdim)
        }
    }

    /// The Frobenius norm, `sqrt(Σ S²)`.
    public func norm() -> Float {
        Float(S.data.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot())
    }

    /// The top-left `k × k` corner of `AB` (`get_corner`), from the first `k` rows of `A` and the first
    /// `k` columns of `B` only.
    public func getCorner(_ k: Int = 3) -> Tensor {
        let rows = min(max(k, 0), ldim), cols = min(max(k, 0), rdim)
        let a = Tensor(shape: [rows, mdim], data: Array(A.data.prefix(rows * mdim)))  // [k, mdim]
        var b = Tensor(zeros: [mdim, cols])                                             // [mdim, k]
        for i in 0..<mdim { for j in 0..<cols { b.data[i * cols + j] = B.data[i * rdim + j] } }
        return MechanicTensor.matmul(a, b)
    }

    /// `utils.get_corner(factored_matrix, k)` — the same as `getCorner`.
    public func corner(_ k: Int = 3) -> Tensor { getCorner(k) }

    /// `S[:, None] · Vhᵀ` `[k, rdim]`: the factorisation with the left orthogonal factor removed.
    public func collapseL() -> Tensor {
        let d = svd()
        let k = d.S.count
        var out = Tensor(zeros: [k, rdim])
        for i in 0..<k { for j in 0..<rdim { out.data[i * rdim + j] = d.S.data[i] * d.Vh.data[j * k + i] } }
        return out
    }

    /// `U · S` `[ldim, k]`.
    public func collapseR() -> Tensor {
        let d = svd()
        let k = d.S.count
        var out = d.U
        for i in 0..<ldim { for j in 0..<k { out.data[i * k + j] *= d.S.data[j] } }
        return out
    }

    /// The balanced factorisation `(U √S, √S Vhᵀ)` of the same matrix.
    public func makeEven() -> FactoredMatrix {
        let d = svd()
        let k = d.S.count
        var a = d.U, b = Tensor(zeros: [k, rdim])
        for i in 0..<ldim { for j in 0..<k { a.data[i * k + j] *= d.S.data[j].squareRoot() } }
        for i in 0..<k { for j in 0..<rdim { b.data[i * rdim + j] = d.S.data[i].squareRoot() * d.Vh.data[j * k + i] } }
        return FactoredMatrix(checked: a, b)
    }
}

/// Memoised SVD (a value type's lazily computed member needs a reference).
private final class SVDCache: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: FactoredMatrix.SVD?
    var value: FactoredMatrix.SVD? {
        get { lock.lock(); defer { lock.unlock() }; return stored }
        set { lock.lock(); stored = newValue; lock.unlock() }
    }
}
