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
    /// Eigenvalues of the row-major real `n × n` matrix `a` (`torch.linalg.eig(a).eigenvalues`):
    /// balancing, reduction to Hessenberg form by stabilised elimination, then the shifted QR
    /// algorithm (the classic EISPACK `balanc`/`elmhes`/`hqr` sequence), all in double precision.
    /// Sorted by decreasing magnitude, then decreasing real part, a conjugate pair with `+i` first
    /// (LAPACK's order is an implementation detail). Throws when QR does not converge.
    static func eigenvalues(_ a: [Double], n: Int) throws -> [Eigenvalue] {
        guard n > 0 else { return [] }
        // 1-based working copy: h[i][j], i, j in 1...n (index 0 unused) — the algorithms' own indexing.
        var h = [[Double]](repeating: [Double](repeating: 0, count: n + 1), count: n + 1)
        for i in 0..<n { for j in 0..<n { h[i + 1][j + 1] = a[i * n + j] } }
        balance(&h, n)
        hessenberg(&h, n)
        for i in 1...n { for j in 1...n where i > j + 1 { h[i][j] = 0 } }
        var wr = [Double](repeating: 0, count: n + 1), wi = wr
        try hqr(&h, n, &wr, &wi)
        let values = (1...n).map { Eigenvalue(real: wr[$0], imag: wi[$0]) }
        return values.sorted {
            if $0.magnitude != $1.magnitude { return $0.magnitude > $1.magnitude }
            if $0.real != $1.real { return $0.real > $1.real }
            return $0.imag > $1.imag
        }
    }

    /// Scales rows and columns by powers of two so their norms are comparable (`balanc`).
    private static func balance(_ a: inout [[Double]], _ n: Int) {
        let radix = 2.0, sqrdx = radix * radix
        var done = false
        while !done {
            done = true
            for i in 1...n {
                var r = 0.0, c = 0.0
                for j in 1...n where j != i {
                    c += abs(a[j][i])
                    r += abs(a[i][j])
                }
                guard c != 0, r != 0 else { continue }
                var g = r / radix, f = 1.0
                let s = c + r
                while c < g { f *= radix; c *= sqrdx }
                g = r * radix
                while c > g { f /= radix; c /= sqrdx }
                if (c + r) / f < 0.95 * s {
                    done = false
                    g = 1 / f
                    for j in 1...n { a[i][j] *= g }
                    for j in 1...n { a[j][i] *= f }
                }
            }
        }
    }

    /// Reduction to upper Hessenberg form by elimination with pivoting (`elmhes`).
    private static func hessenberg(_ a: inout [[Double]], _ n: Int) {
        guard n > 2 else { return }
        for m in 2..<n {
            var x = 0.0
            var i = m
            for j in m...n where abs(a[j][m - 1]) > abs(x) {
                x = a[j][m - 1]
                i = j
            }
            if i != m {
                for j in (m - 1)...n { let t = a[i][j]; a[i][j] = a[m][j]; a[m][j] = t }
                for j in 1...n { let t = a[j][i]; a[j][i] = a[j][m]; a[j][m] = t }
            }
            guard x != 0 else { continue }
            for i in (m + 1)...max(m + 1, n) where i <= n {
                var y = a[i][m - 1]
                guard y != 0 else { continue }
                y /= x
                a[i][m - 1] = y
                for j in m...n { a[i][j] -= y * a[m][j] }
                for j in 1...n { a[j][m] += y * a[j][i] }
            }
        }
    }

    /// Eigenvalues of an upper Hessenberg matrix by the Francis double-shift QR algorithm (`hqr`).
    private static func hqr(_ a: inout [[Double]], _ n: Int, _ wr: inout [Double], _ wi: inout [Double]) throws {
        var anorm = 0.0
        for i in 1...n { for j in max(i - 1, 1)...n { anorm += abs(a[i][j]) } }
        var nn = n
        var t = 0.0
        var p = 0.0, q = 0.0, r = 0.0, s = 0.0, w = 0.0, x = 0.0, y = 0.0, z = 0.0
        while nn >= 1 {
            var its = 0
            var l = 1
            repeat {
                // Look for a single small subdiagonal element.
                l = 1
                var ll = nn
                while ll >= 2 {
                    s = abs(a[ll - 1][ll - 1]) + abs(a[ll][ll])
                    if s == 0 { s = anorm }
                    if abs(a[ll][ll - 1]) + s == s {
                        a[ll][ll - 1] = 0
                        l = ll
                        break
                    }
                    ll -= 1
                }
                x = a[nn][nn]
                if l == nn {
                    // One root found.
                    wr[nn] = x + t
                    wi[nn] = 0
                    nn -= 1
                } else {
                    y = a[nn - 1][nn - 1]
                    w = a[nn][nn - 1] * a[nn - 1][nn]
                    if l == nn - 1 {
                        // Two roots found.
                        p = 0.5 * (y - x)
                        q = p * p + w
                        z = abs(q).squareRoot()
                        x += t
                        if q >= 0 {
                            z = p + (p >= 0 ? abs(z) : -abs(z))
                            wr[nn - 1] = x + z
                            wr[nn] = x + z
                            if z != 0 { wr[nn] = x - w / z }
                            wi[nn - 1] = 0
                            wi[nn] = 0
                        } else {
                            wr[nn - 1] = x + p
                            wr[nn] = x + p
                            wi[nn - 1] = -z
                            wi[nn] = z
                        }
                        nn -= 2
                    } else {
                        guard its < 60 else {
                            throw MechanicError.invalidArgument("eigenvalues: the QR iteration did not converge (\(n)×\(n) matrix; it may hold NaN or infinite values)")
                        }
                        if its == 10 || its == 20 || its == 40 {
                            // Exceptional shift.
                            t += x
                            for i in 1...nn { a[i][i] -= x }
                            s = abs(a[nn][nn - 1]) + abs(a[nn - 1][nn - 2])
                            x = 0.75 * s
                            y = x
                            w = -0.4375 * s * s
                        }
                        its += 1
                        // Form the shift and look for two consecutive small subdiagonal elements.
                        var m = nn - 2
                        while m >= l {
                            z = a[m][m]
                            r = x - z
                            s = y - z
                            p = (r * s - w) / a[m + 1][m] + a[m][m + 1]
                            q = a[m + 1][m + 1] - z - r - s
                            r = a[m + 2][m + 1]
                            s = abs(p) + abs(q) + abs(r)
                            p /= s
                            q /= s
                            r /= s
                            if m == l { break }
                            let u = abs(a[m][m - 1]) * (abs(q) + abs(r))
                            let v = abs(p) * (abs(a[m - 1][m - 1]) + abs(z) + abs(a[m + 1][m + 1]))
                            if u + v == v { break }
                            m -= 1
                        }
                        for i in (m + 2)...max(m + 2, nn) where i <= nn {
                            a[i][i - 2] = 0
                            if i != m + 2 { a[i][i - 3] = 0 }
                        }
                        // Double QR step on rows l...nn and columns m...nn.
                        var k = m
                        while k <= nn - 1 {
                            if k != m {
                                p = a[k][k - 1]
                                q = a[k + 1][k - 1]
                                r = 0
                                if k != nn - 1 { r = a[k + 2][k - 1] }
                                x = abs(p) + abs(q) + abs(r)
                                if x != 0 {
                                    p /= x
                                    q /= x
                                    r /= x
                                }
                            }
                            let root = (p * p + q * q + r * r).squareRoot()
                            s = p >= 0 ? root : -root
                            if s != 0 {
                                if k == m {
                                    if l != m { a[k][k - 1] = -a[k][k - 1] }
                                } else {
                                    a[k][k - 1] = -s * x
                                }
                                p += s
                                x = p / s
                                y = q / s
                                z = r / s
                                q /= p
                                r /= p
                                for j in k...nn {
                                    p = a[k][j] + q * a[k + 1][j]
                                    if k != nn - 1 {
                                        p += r * a[k + 2][j]
                                        a[k + 2][j] -= p * z
                                    }
                                    a[k + 1][j] -= p * y
                                    a[k][j] -= p * x
                                }
                                let mmin = nn < k + 3 ? nn : k + 3
                                for i in l...mmin {
                                    p = x * a[i][k] + y * a[i][k + 1]
                                    if k != nn - 1 {
                                        p += z * a[i][k + 2]
                                        a[i][k + 2] -= p * r
                                    }
                                    a[i][k + 1] -= p * q
                                    a[i][k] -= p
                                }
                            }
                            k += 1
                        }
                    }
                }
            } while nn >= 1 && l < nn - 1
        }
    }
}
