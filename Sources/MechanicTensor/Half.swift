/// Storage precisions a checkpoint may hold; computation is always float32.
public enum DType: String, Sendable, CaseIterable {
    case f32 = "F32"
    case f16 = "F16"
    case bf16 = "BF16"

    public var byteSize: Int { self == .f32 ? 4 : 2 }
}

/// IEEE half (binary16) bits to float32.
@inlinable public func floatFromF16(_ h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let exp = UInt32(h & 0x7C00) >> 10
    let mant = UInt32(h & 0x03FF)
    if exp == 0 {
        if mant == 0 { return Float(bitPattern: sign) }
        // subnormal: value = mant · 2^-24
        let v = Float(mant) * Float(bitPattern: 0x3380_0000)  // 2^-24
        return sign != 0 ? -v : v
    }
    if exp == 0x1F { return Float(bitPattern: sign | 0x7F80_0000 | (mant << 13)) }
    return Float(bitPattern: sign | ((exp + 112) << 23) | (mant << 13))
}

/// bfloat16 bits to float32 (the high half of a float32).
@inlinable public func floatFromBF16(_ h: UInt16) -> Float {
    Float(bitPattern: UInt32(h) << 16)
}

/// float32 to bfloat16 bits, rounding to nearest even.
@inlinable public func bf16FromFloat(_ f: Float) -> UInt16 {
    let bits = f.bitPattern
    if f.isNaN { return 0x7FC0 }
    let rounding = UInt32(0x7FFF) + ((bits >> 16) & 1)
    return UInt16(truncatingIfNeeded: (bits &+ rounding) >> 16)
}

/// float32 to IEEE half bits, rounding to nearest even.
@inlinable public func f16FromFloat(_ f: Float) -> UInt16 {
    #if arch(arm64)
    return Float16(f).bitPattern
    #else
    let bits = f.bitPattern
    let sign = UInt16((bits >> 16) & 0x8000)
    let exp = Int((bits >> 23) & 0xFF) - 127 + 15
    var mant = bits & 0x7F_FFFF
    if (bits & 0x7FFF_FFFF) > 0x7F80_0000 { return sign | 0x7E00 }  // NaN
    if exp >= 0x1F { return sign | 0x7C00 }  // overflow → inf
    if exp <= 0 {
        if exp < -10 { return sign }
        mant |= 0x80_0000
        let shift = UInt32(14 - exp)
        var h = mant >> shift
        let rem = mant & ((1 << shift) - 1)
        let half = UInt32(1) << (shift - 1)
        if rem > half || (rem == half && (h & 1) == 1) { h += 1 }
        return sign | UInt16(h)
    }
    var h = UInt32(exp) << 10 | (mant >> 13)
    let rem = mant & 0x1FFF
    if rem > 0x1000 || (rem == 0x1000 && (h & 1) == 1) { h += 1 }
    return sign | UInt16(truncatingIfNeeded: h)
    #endif
}

/// Widens `count` stored elements at `src` (raw bytes of `dtype`, little-endian) into `dst`,
/// on all cores for large tensors (a streamed block widens ~200M values per layer).
@inlinable public func widen(_ dtype: DType, _ src: UnsafeRawPointer, into dst: UnsafeMutablePointer<Float>, count: Int) {
    guard count >= 1 << 20 else { return widenRange(dtype, src, into: dst, 0..<count) }
    let (s, d) = (ConstRawPointer(src), UncheckedPointer(dst))
    Parallel.chunks(count, grain: 1 << 18) { r in widenRange(dtype, s.raw, into: d.raw, r) }
}

/// `widen` of the elements in `range`.
@inlinable public func widenRange(_ dtype: DType, _ src: UnsafeRawPointer, into dst: UnsafeMutablePointer<Float>, _ range: Range<Int>) {
    switch dtype {
    case .f32:
        (dst + range.lowerBound).update(from: (src + 4 * range.lowerBound).assumingMemoryBound(to: Float.self), count: range.count)
    case .f16:
        for i in range { dst[i] = floatFromF16(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
    case .bf16:
        for i in range { dst[i] = floatFromBF16(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
    }
}

/// A read-only raw pointer handed to parallel workers.
public struct ConstRawPointer: @unchecked Sendable {
    public let raw: UnsafeRawPointer
    public init(_ raw: UnsafeRawPointer) { self.raw = raw }
}
