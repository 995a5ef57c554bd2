/// Character classes used by the pre-tokenizer scanners, matching Oniguruma's (and Rust's)
/// Unicode definitions: `\p{L}`, `\p{N}`, `\s` (White_Space), punctuation. All of them follow from
/// the general category, so the Basic Multilingual Plane is one 64 KB table (built on first use,
/// a few milliseconds); other scalars ask the standard library. `\w` and Rust's `is_alphanumeric`
/// need the Alphabetic property and are separate functions.
struct CharClass: OptionSet, Sendable {
    let rawValue: UInt8
    static let letter = CharClass(rawValue: 1)        // \p{L}: Lu Ll Lt Lm Lo
    static let number = CharClass(rawValue: 2)        // \p{N}: Nd Nl No
    static let whitespace = CharClass(rawValue: 4)    // \s: White_Space
    static let punctuation = CharClass(rawValue: 8)   // P* or ASCII punctuation (Rust's is_ascii_punctuation)
    static let digit = CharClass(rawValue: 16)        // ASCII 0-9
    static let decimal = CharClass(rawValue: 32)      // Nd
    static let mark = CharClass(rawValue: 64)         // M*

    /// One entry per BMP scalar, built on first use.
    nonisolated(unsafe) static let bmp: UnsafePointer<CharClass> = {
        let table = UnsafeMutablePointer<CharClass>.allocate(capacity: 0x10000)
        for v in 0..<0x10000 { table[v] = compute(UInt32(v)) }
        return UnsafePointer(table)
    }()

    @inline(__always)
    static func of(_ value: UInt32) -> CharClass {
        if value < 0x10000 { return bmp[Int(value)] }
        return compute(value)
    }

    static func compute(_ value: UInt32) -> CharClass {
        guard let scalar = UnicodeScalar(value) else { return [] }
        var c: CharClass = []
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            c.insert(.letter)
        case .decimalNumber:
            c.formUnion([.number, .decimal])
        case .letterNumber, .otherNumber:
            c.insert(.number)
        case .nonspacingMark, .spacingMark, .enclosingMark:
            c.insert(.mark)
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
             .finalPunctuation, .otherPunctuation:
            c.insert(.punctuation)
        case .spaceSeparator, .lineSeparator, .paragraphSeparator:
            c.insert(.whitespace)
        default:
            break
        }
        // White_Space also holds these controls: \t \n \v \f \r and NEL.
        if (0x09...0x0D).contains(value) || value == 0x85 { c.insert(.whitespace) }
        if (0x21...0x2F).contains(value) || (0x3A...0x40).contains(value) || (0x5B...0x60).contains(value) || (0x7B...0x7E).contains(value) {
            c.insert(.punctuation)
        }
        if (0x30...0x39).contains(value) { c.insert(.digit) }
        return c
    }

    /// `\w` of Oniguruma and Rust's regex: Alphabetic, marks, decimal numbers, connector
    /// punctuation (`_`), Join_Control.
    static func isWord(_ value: UInt32) -> Bool {
        if value < 128 {
            return (0x30...0x39).contains(value) || (0x41...0x5A).contains(value) || (0x61...0x7A).contains(value) || value == 0x5F
        }
        guard let scalar = UnicodeScalar(value) else { return false }
        let p = scalar.properties
        if p.isAlphabetic || p.isJoinControl { return true }
        switch p.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
        default: return false
        }
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
