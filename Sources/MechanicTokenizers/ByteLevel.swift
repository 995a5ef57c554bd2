/// GPT-2's reversible byte ↔ character map (`bytes_to_unicode`): printable Latin-1 bytes map to
/// themselves, the other 68 bytes to U+0100…U+0143, so every byte sequence becomes printable text.
/// Byte-level vocabularies store tokens in this alphabet; the encoder works on the raw bytes and
/// translates the vocabulary once at load time instead.
enum ByteLevel {
    /// `byteToScalar[b]` is the character that stands for byte `b`.
    static let byteToScalar: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        var n: UInt32 = 0
        for b in 0..<256 {
            if (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b) {
                table[b] = UInt32(b)
            } else {
                table[b] = 256 + n
                n += 1
            }
        }
        return table
    }()

    /// `scalarToByte[c]` for c < 0x144 is the byte that character `c` stands for, or -1.
    static let scalarToByte: [Int16] = {
        var table = [Int16](repeating: -1, count: 0x144)
        for b in 0..<256 { table[Int(byteToScalar[b])] = Int16(b) }
        return table
    }()

    /// The raw bytes a byte-level token string stands for, or nil when a character is outside the
    /// byte-level alphabet (such a token cannot be produced by byte-level encoding).
    static func bytes(ofToken token: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(token.utf8.count)
        for scalar in token.unicodeScalars {
            let v = Int(scalar.value)
            guard v < scalarToByte.count, scalarToByte[v] >= 0 else { return nil }
            out.append(UInt8(scalarToByte[v]))
        }
        return out
    }

    /// The byte-level string for raw bytes (e.g. " the" → "Ġthe").
    static func token(ofBytes bytes: some Sequence<UInt8>) -> String {
        var s = String.UnicodeScalarView()
        for b in bytes { s.append(UnicodeScalar(byteToScalar[Int(b)]) ?? "\u{FFFD}") }
        return String(s)
    }
}
