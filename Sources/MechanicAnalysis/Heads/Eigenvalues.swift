import Foundation
import Mechanic

/// A (possibly complex) eigenvalue `real + imag·i`.
public struct Eigenvalue: Sendable, Equatable, CustomStringConvertible {
    public var real: Double
    public var imag: Double
    public init(real: Double, imag: Double) {
        self.real = real
        self.imag = imag
    }
    /// `|λ|`.
    public var magnitude: Double { (real * real + imag * imag).squareRoot() }
    public var description: String { imag == 0 ? "\(real)" : "\(real)\(imag < 0 ? "-" : "+")\(abs(imag))i" }
}

extension HeadLinearAlgebra {
    /// Eigenvalues of the row-major real `n × n` matrix `a` (`torch.linalg.eig(a).eigenvalues`)
    /// through LAPACK's `dgeev` (balancing, Hessenberg reduction, shifted QR), in double precision.
    /// Sorted by decreasing magnitude, then decreasing real part, a conjugate pair with `+i` first
    /// (LAPACK's own order is an implementation detail). Throws when QR does not converge.
    static func eigenvalues(_ a: [Double], n: Int) throws -> [Eigenvalue] {
        guard n > 0 else { return [] }
        guard let (wr, wi) = geevEigenvalues(a, n: n) else {
            throw MechanicError.invalidArgument("eigenvalues: the QR iteration did not converge (\(n)×\(n) matrix; it may hold NaN or infinite values)")
        }
        let values = zip(wr, wi).map { Eigenvalue(real: $0, imag: $1) }
        return values.sorted {
            if $0.magnitude != $1.magnitude { return $0.magnitude > $1.magnitude }
            if $0.real != $1.real { return $0.real > $1.real }
            return $0.imag > $1.imag
        }
    }
}
