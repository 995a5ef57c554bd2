/// Character classes used by the pre-tokenizer scanners, matching Oniguruma's (and Rust's)
/// Unicode definitions: `\p{L}`, `\p{N}`, `\s` (White_Space), `\w`, punctuation.
struct CharClass: OptionSet, Sendable {
    let rawValue: UInt8
    static let letter = CharClass(rawValue: 1)        // \p{L}: Lu Ll Lt Lm Lo
    static let number = CharClass(rawValue: 2)        // \p{N}: Nd Nl No
    static let whitespace = CharClass(rawValue: 4)    // \s: White_Space
    static let word = CharClass(rawValue: 8)          // \w: Alphabetic, M*, Nd, Pc, Join_Control
    static let punctuation = CharClass(rawValue: 16)  // P* or ASCII punctuation (Rust's is_ascii_punctuation)
    static let alphanumeric = CharClass(rawValue: 32) // Rust's char::is_alphanumeric: Alphabetic or N*
    static let digit = CharClass(rawValue: 64)        // ASCII 0-9

    static let ascii: [CharClass] = (0..<128).map { compute(UnicodeScalar(UInt8($0))) }

    @inline(__always)
    static func of(_ value: UInt32) -> CharClass {
        if value < 128 { return ascii[Int(value)] }
        guard let scalar = UnicodeScalar(value) else { return [] }
        return compute(scalar)
    }

    static func compute(_ scalar: UnicodeScalar) -> CharClass {
        let p = scalar.properties
        var c: CharClass = []
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            c.insert(.letter)
        case .decimalNumber:
            c.insert(.number); c.insert(.word)
        case .letterNumber, .otherNumber:
            c.insert(.number)
        case .nonspacingMark, .spacingMark, .enclosingMark:
            c.insert(.word)
        case .connectorPunctuation:
            c.insert(.word); c.insert(.punctuation)
        case .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation, .finalPunctuation,
             .otherPunctuation:
            c.insert(.punctuation)
        default:
            break
        }
        if p.isWhitespace { c.insert(.whitespace) }
        if p.isAlphabetic || p.isJoinControl { c.insert(.word) }
        if p.isAlphabetic || c.contains(.number) { c.insert(.alphanumeric) }
        if scalar.value < 128 {
            let v = scalar.value
            if (0x21...0x2F).contains(v) || (0x3A...0x40).contains(v) || (0x5B...0x60).contains(v) || (0x7B...0x7E).contains(v) {
                c.insert(.punctuation)
            }
            if (0x30...0x39).contains(v) { c.insert(.digit) }
        }
        return c
    }
}

/// Decodes the scalar starting at `i` of valid UTF-8, returning its value and byte length.
@inline(__always)
func decodeScalar(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> (value: UInt32, length: Int) {
    let b0 = UInt32(p[i])
    if b0 < 0x80 { return (b0, 1) }
    if b0 < 0xE0 {
        guard i + 1 < p.count else { return (0xFFFD, 1) }
        return ((b0 & 0x1F) << 6 | UInt32(p[i + 1] & 0x3F), 2)
    }
    if b0 < 0xF0 {
        guard i + 2 < p.count else { return (0xFFFD, 1) }
        return ((b0 & 0x0F) << 12 | UInt32(p[i + 1] & 0x3F) << 6 | UInt32(p[i + 2] & 0x3F), 3)
    }
    guard i + 3 < p.count else { return (0xFFFD, 1) }
    return ((b0 & 0x07) << 18 | UInt32(p[i + 1] & 0x3F) << 12 | UInt32(p[i + 2] & 0x3F) << 6 | UInt32(p[i + 3] & 0x3F), 4)
}

/// The byte length of the UTF-8 sequence that starts with `b0`.
@inline(__always)
func utf8Length(_ b0: UInt8) -> Int {
    b0 < 0x80 ? 1 : b0 < 0xE0 ? 2 : b0 < 0xF0 ? 3 : 4
}

/// The start of the scalar that ends just before `end`.
@inline(__always)
func previousScalarStart(_ p: UnsafeBufferPointer<UInt8>, _ end: Int) -> Int {
    var i = end - 1
    while i > 0, p[i] & 0xC0 == 0x80 { i -= 1 }
    return i
}
