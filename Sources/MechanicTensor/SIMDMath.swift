/// The one vectorised `exp` of the package, used by the activations (GELU, SiLU), the softmax
/// and the explorer's answer lens: 8 floats at a time instead of a libm `expf` call per element.
///
/// Cephes's `expf`: `2^k · p(r)`, `k = round(x / ln 2)`, `r = x − k·ln 2` in two parts, a degree-6
/// polynomial; within 2 ulp of `exp` for inputs in [−87.3, 88]. Below −87.33654 (where `exp` leaves
/// float's normal range) the result is 0, so `exp(−∞) = 0` exactly, as the softmax's masked keys
/// need; above 88 it is `exp(88)` (finite).
///
/// The scalar form does the same operations on one lane, so a value does not depend on whether it
/// was computed 8 at a time or alone (`SIMDMathTests` checks this over the whole range).
public enum SIMDMath {
    @inlinable @inline(__always)
    public static func exp(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let lo = SIMD8<Float>(repeating: -87.33654), hi = SIMD8<Float>(repeating: 88)
        let tiny = x .< lo
        let xc = x.replacing(with: lo, where: tiny).replacing(with: hi, where: x .> hi)
        let magic = SIMD8<Float>(repeating: 12582912)  // 1.5 · 2^23: adding it rounds to an integer
        let kb = xc * SIMD8<Float>(repeating: 1.44269504088896341) + magic
        let k = kb - magic
        var r = xc - k * SIMD8<Float>(repeating: 0.693359375)
        r = r - k * SIMD8<Float>(repeating: -2.12194440e-4)
        var p = SIMD8<Float>(repeating: 1.9875691500e-4)
        p = p * r + SIMD8<Float>(repeating: 1.3981999507e-3)
        p = p * r + SIMD8<Float>(repeating: 8.3334519073e-3)
        p = p * r + SIMD8<Float>(repeating: 4.1665795894e-2)
        p = p * r + SIMD8<Float>(repeating: 1.6666665459e-1)
        p = p * r + SIMD8<Float>(repeating: 5.0000001201e-1)
        p = p * (r * r) + r + SIMD8<Float>(repeating: 1)
        // k sits in kb's low mantissa bits; 2^k is the float with exponent field k + 127.
        let ki = unsafeBitCast(kb, to: SIMD8<Int32>.self) &- unsafeBitCast(magic, to: SIMD8<Int32>.self)
        let e = p * unsafeBitCast((ki &+ SIMD8<Int32>(repeating: 127)) &<< SIMD8<Int32>(repeating: 23), to: SIMD8<Float>.self)
        return e.replacing(with: 0, where: tiny)
    }

    /// `exp(x)` of one float: the vector form's operations, in the same order, on one lane (so the
    /// same value, bit for bit: each is one IEEE single-precision operation), at a scalar's cost.
    @inlinable @inline(__always)
    public static func exp(_ x: Float) -> Float {
        if x < -87.33654 { return 0 }
        let xc: Float = x > 88 ? 88 : x
        let magic: Float = 12582912
        let kb = xc * 1.44269504088896341 + magic
        let k = kb - magic
        var r = xc - k * 0.693359375
        r = r - k * -2.12194440e-4
        var p: Float = 1.9875691500e-4
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        p = p * (r * r) + r + 1
        let ki = Int32(bitPattern: kb.bitPattern) &- Int32(bitPattern: magic.bitPattern)
        return p * Float(bitPattern: UInt32(bitPattern: (ki &+ 127) &<< 23))
    }

    /// 8 floats from `p` (any alignment).
    @inlinable @inline(__always)
    public static func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }

    /// Writes 8 floats to `p` (any alignment).
    @inlinable @inline(__always)
    public static func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
    }

    /// The first `n` (< 8) floats of `p`, the other lanes `fill`.
    @inlinable @inline(__always)
    public static func load(_ p: UnsafePointer<Float>, count n: Int, fill: Float) -> SIMD8<Float> {
        var v = SIMD8<Float>(repeating: fill)
        for i in 0..<n { v[i] = p[i] }
        return v
    }

    /// Writes the first `n` (< 8) lanes of `v` to `p`.
    @inlinable @inline(__always)
    public static func store(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>, count n: Int) {
        for i in 0..<n { p[i] = v[i] }
    }
}
