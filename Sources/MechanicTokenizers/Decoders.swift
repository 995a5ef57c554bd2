/// Turns token strings back into text (`decoder` in `tokenizer.json`). Like Hugging Face
/// `tokenizers`' `decode_chain`, each decoder maps a list of strings to a list of strings; the
/// final text is their concatenation.
protocol Decoder: AnyObject {
    func decodeChain(_ tokens: [String]) -> [String]
}

/// `ByteLevel`: byte-level characters back to bytes, then UTF-8 with replacement characters for
/// invalid sequences. A token with a character outside the alphabet contributes its own UTF-8.
final class ByteLevelDecoder: Decoder {
    func decodeChain(_ tokens: [String]) -> [String] {
        var bytes: [UInt8] = []
        for token in tokens {
            if let b = ByteLevel.bytes(ofToken: token) { bytes.append(contentsOf: b) } else { bytes.append(contentsOf: token.utf8) }
        }
        return [String(decoding: bytes, as: UTF8.self)]
    }
}

/// `Replace`: a string or regex pattern replaced in every token.
final class ReplaceDecoder: Decoder {
    let replace: ReplaceNormalizer
    init(pattern: SplitPattern, content: String) { replace = ReplaceNormalizer(pattern: pattern, content: content) }

    func decodeChain(_ tokens: [String]) -> [String] {
        tokens.map { token in
            var t = token
            return t.withUTF8 { p in replace.normalize(p).map { String(decoding: $0, as: UTF8.self) } ?? token }
        }
    }
}

/// `ByteFallback`: runs of `<0xXX>` tokens become the text of their bytes, or one U+FFFD per byte
/// when those bytes are not valid UTF-8.
final class ByteFallbackDecoder: Decoder {
    func decodeChain(_ tokens: [String]) -> [String] {
        var out: [String] = []
        var pending: [UInt8] = []
        func flush() {
            guard !pending.isEmpty else { return }
            if let s = validUTF8String(pending) {
                out.append(s)
            } else {
                out.append(contentsOf: repeatElement("\u{FFFD}", count: pending.count))
            }
            pending.removeAll()
        }
        for token in tokens {
            if let byte = ByteFallbackDecoder.byteValue(token) {
                pending.append(byte)
            } else {
                flush()
                out.append(token)
            }
        }
        flush()
        return out
    }

    /// The byte of a `<0xXX>` token.
    static func byteValue(_ token: String) -> UInt8? {
        let u = Array(token.utf8)
        guard u.count == 6, u[0] == 0x3C, u[1] == 0x30, u[2] == 0x78, u[5] == 0x3E else { return nil }
        return UInt8(String(decoding: u[3..<5], as: UTF8.self), radix: 16)
    }
}

/// `Fuse`: all tokens into one string.
final class FuseDecoder: Decoder {
    func decodeChain(_ tokens: [String]) -> [String] { [tokens.joined()] }
}

/// `Strip`: removes up to `start` leading and `stop` trailing copies of a character per token.
final class StripDecoder: Decoder {
    let content: Character
    let start: Int
    let stop: Int
    init(content: Character, start: Int, stop: Int) { self.content = content; self.start = start; self.stop = stop }

    func decodeChain(_ tokens: [String]) -> [String] {
        tokens.map { token in
            let chars = Array(token.unicodeScalars)
            let c = content.unicodeScalars.first
            var startCut = 0
            for i in 0..<min(start, chars.count) {
                if chars[i] == c { startCut = i + 1 } else { break }
            }
            var stopCut = chars.count
            for i in 0..<min(stop, chars.count) {
                let index = chars.count - i - 1
                if chars[index] == c { stopCut = index } else { break }
            }
            guard startCut < stopCut else { return "" }
            var s = String.UnicodeScalarView()
            s.append(contentsOf: chars[startCut..<stopCut])
            return String(s)
        }
    }
}

/// `Metaspace`: "▁" back to spaces; in the first token it is dropped unless the prepend scheme is
/// `never`.
final class MetaspaceDecoder: Decoder {
    let replacement: UnicodeScalar
    let prependScheme: MetaspacePreTokenizer.PrependScheme
    init(replacement: UnicodeScalar, prependScheme: MetaspacePreTokenizer.PrependScheme) {
        self.replacement = replacement
        self.prependScheme = prependScheme
    }

    func decodeChain(_ tokens: [String]) -> [String] {
        tokens.enumerated().map { i, token in
            var s = String.UnicodeScalarView()
            for c in token.unicodeScalars {
                if c == replacement {
                    if i == 0 && prependScheme != .never { continue }
                    s.append(" ")
                } else {
                    s.append(c)
                }
            }
            return String(s)
        }
    }
}

/// `BPEDecoder`: the end-of-word suffix becomes a space (none after the last token).
final class BPESuffixDecoder: Decoder {
    let suffix: String
    init(suffix: String) { self.suffix = suffix }

    func decodeChain(_ tokens: [String]) -> [String] {
        tokens.enumerated().map { i, token in token.replacingAll(suffix, with: i == tokens.count - 1 ? "" : " ") }
    }
}

/// `Sequence`: decoders applied in order.
final class SequenceDecoder: Decoder {
    let steps: [Decoder]
    init(steps: [Decoder]) { self.steps = steps }

    func decodeChain(_ tokens: [String]) -> [String] {
        steps.reduce(tokens) { $1.decodeChain($0) }
    }
}

/// The string for `bytes` when they are valid UTF-8, else nil.
func validUTF8String(_ bytes: [UInt8]) -> String? {
    var iterator = bytes.makeIterator()
    var decoder = UTF8()
    while true {
        switch decoder.decode(&iterator) {
        case .scalarValue: continue
        case .emptyInput: return String(decoding: bytes, as: UTF8.self)
        case .error: return nil
        }
    }
}

extension String {
    /// Replaces every non-overlapping occurrence of `pattern` (compared by UTF-8 bytes, like Rust).
    func replacingAll(_ pattern: String, with replacement: String) -> String {
        var copy = self
        let replace = ReplaceNormalizer(pattern: .literal(Array(pattern.utf8)), content: replacement)
        return copy.withUTF8 { p in replace.normalize(p).map { String(decoding: $0, as: UTF8.self) } ?? self }
    }
}
