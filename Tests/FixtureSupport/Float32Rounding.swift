import Foundation

/// The one tolerance for two Mechanic computations of the same quantity along differently shaped
/// paths — pairs streamed in batches vs one run, the unembedding of the last row only vs every
/// row, a packed patch row vs a full forward. Float32 addition is not associative, so such
/// results agree only to rounding, and how they round depends on the BLAS kernel the machine
/// picks (`OPENBLAS_CORETYPE=Haswell OPENBLAS_L2_SIZE=512` gives another kernel than the default
/// on an AVX-512 machine). Bound: `|a − b| ≤ 64·ε·max(1, scale)` with `ε = 2⁻²³` (≈ 7.6e-6 of the
/// larger of 1 and the reference's largest magnitude) — 13× tighter than the tolerance against
/// TransformerLens (`Comparison`). Tests keep `==` only where the code makes the result
/// bit-exact by construction (the same products of the same shapes), and say so.
public enum Float32Rounding {
    /// 64 units of float32 rounding, relative.
    public static let relative: Double = 64 * Double(Float.ulpOfOne)

    /// The largest difference allowed for values whose reference magnitude is `scale`.
    public static func bound(scale: Double) -> Double { relative * max(1, scale) }

    /// Whether two scalars agree to rounding (`scale` defaults to `|b|`).
    public static func agree(_ a: Double, _ b: Double, scale: Double? = nil) -> Bool {
        guard a.isFinite, b.isFinite else { return a == b }
        return abs(a - b) <= bound(scale: scale ?? abs(b))
    }

    /// nil when every element agrees to rounding at the scale of `b`'s largest magnitude; else
    /// a sentence naming the worst element.
    public static func mismatch(_ name: String, _ a: [Double], _ b: [Double]) -> String? {
        guard a.count == b.count else { return "\(name): \(a.count) values vs \(b.count)" }
        let scale = b.lazy.filter(\.isFinite).map(abs).max() ?? 0
        var worst = (index: -1, diff: 0.0)
        for i in a.indices {
            let d = a[i].isFinite && b[i].isFinite ? abs(a[i] - b[i]) : (a[i] == b[i] ? 0 : .infinity)
            if d > worst.diff { worst = (i, d) }
        }
        guard worst.diff > bound(scale: scale) else { return nil }
        return "\(name): element \(worst.index) differs by \(worst.diff) (\(a[worst.index]) vs \(b[worst.index])), "
            + "allowed \(bound(scale: scale))"
    }

    /// The same for float32 tensors' data.
    public static func mismatch(_ name: String, _ a: [Float], _ b: [Float]) -> String? {
        mismatch(name, a.map(Double.init), b.map(Double.init))
    }
}
