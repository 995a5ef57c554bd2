import Foundation

/// A parsed JSON value. Objects keep their keys in file order (the vocabulary is read in order and
/// error messages can point at the first offending entry).
enum JSONValue {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)
    /// An array of exactly two strings (a BPE merge), stored without an array allocation.
    case pair(String, String)

    var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
    var boolValue: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    var arrayValue: [JSONValue]? {
        switch self {
        case .array(let a): return a
        case .pair(let a, let b): return [.string(a), .string(b)]
        default: return nil
        }
    }
    var objectValue: JSONObject? { if case .object(let o) = self { return o } else { return nil } }
    var isNull: Bool { if case .null = self { return true } else { return false } }

    /// An integer that the number represents exactly, or nil.
    var intValue: Int? {
        guard case .number(let d) = self, d.rounded() == d, abs(d) < 9.0e15 else { return nil }
        return Int(d)
    }

    /// A short rendering for error messages.
    var brief: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .number(let d): return d.rounded() == d && abs(d) < 1e15 ? String(Int(d)) : String(d)
        case .string(let s): return TokenizerError.quoted(s.count > 60 ? String(s.prefix(60)) + "…" : s)
        case .array(let a): return "an array of \(a.count) elements"
        case .pair(let a, let b): return "[\(TokenizerError.quoted(a)), \(TokenizerError.quoted(b))]"
        case .object(let o): return "an object with keys [\(o.keys.prefix(8).joined(separator: ", "))]"
        }
    }
}

/// A key compared by its UTF-8 bytes: `String ==` uses canonical equivalence, under which two
/// distinct vocabulary entries (U+1F77 and U+03AF, say) are "equal", and both must be kept.
struct ExactKey: Hashable {
    let text: String
    init(_ text: String) { self.text = text }
    static func == (a: ExactKey, b: ExactKey) -> Bool { a.text.utf8.elementsEqual(b.text.utf8) }
    func hash(into hasher: inout Hasher) {
        var t = text
        t.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }
}

/// A JSON object as parallel arrays of keys and values, in file order.
struct JSONObject {
    var keys: [String] = []
    var values: [JSONValue] = []

    subscript(key: String) -> JSONValue? {
        // Objects other than the vocabulary are small; keys are unique (the parser refuses repeats).
        var i = keys.count - 1
        while i >= 0 {
            if keys[i] == key { return values[i] }
            i -= 1
        }
        return nil
    }
}

/// A small, fast JSON parser over UTF-8 bytes (`tokenizer.json` holds tens of thousands of
/// vocabulary entries and merges; this parses Llama-2's 1.6 MB file in a few milliseconds).
struct JSONParser {
    private let bytes: UnsafeBufferPointer<UInt8>
    private var pos = 0
    private let file: String
    private var depth = 0

    /// Parses a whole document; `file` names the source in error messages.
    static func parse(_ data: Data, file: String) throws -> JSONValue {
        try data.withUnsafeBytes { raw -> JSONValue in
            let buffer = raw.bindMemory(to: UInt8.self)
            var parser = JSONParser(bytes: buffer, file: file)
            parser.skipWhitespace()
            // A UTF-8 byte order mark is tolerated.
            if buffer.count >= 3, buffer[0] == 0xEF, buffer[1] == 0xBB, buffer[2] == 0xBF { parser.pos = 3 }
            parser.skipWhitespace()
            let value = try parser.parseValue()
            parser.skipWhitespace()
            if parser.pos != buffer.count { throw parser.error("unexpected data after the top-level value") }
            return value
        }
    }

    /// Reads and parses a file, with typed errors for missing and unreadable files.
    static func parse(contentsOf url: URL) throws -> JSONValue {
        try parse(readFile(url), file: url.path)
    }

    private init(bytes: UnsafeBufferPointer<UInt8>, file: String) {
        self.bytes = bytes
        self.file = file
    }

    private func error(_ reason: String) -> TokenizerError {
        var line = 1, column = 1, i = 0
        let end = min(pos, bytes.count)
        while i < end {
            if bytes[i] == 0x0A { line += 1; column = 1 } else if bytes[i] & 0xC0 != 0x80 { column += 1 }
            i += 1
        }
        return .malformedJSON(file: file, line: line, column: column, reason: reason)
    }

    private mutating func skipWhitespace() {
        while pos < bytes.count {
            let b = bytes[pos]
            if b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { pos += 1 } else { return }
        }
    }

    private mutating func parseValue() throws -> JSONValue {
        guard pos < bytes.count else { throw error("unexpected end of file") }
        switch bytes[pos] {
        case UInt8(ascii: "{"): return .object(try parseObject())
        case UInt8(ascii: "["): return try parsePairOrArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        default: throw error("unexpected character \(TokenizerError.quoted(String(UnicodeScalar(bytes[pos]))))")
        }
    }

    private mutating func expectLiteral(_ literal: StaticString) throws {
        let n = literal.utf8CodeUnitCount
        guard pos + n <= bytes.count else { throw error("unexpected end of file") }
        let p = literal.utf8Start
        for i in 0..<n where bytes[pos + i] != p[i] { throw error("invalid literal, expected \(literal)") }
        pos += n
    }

    private mutating func enter() throws {
        depth += 1
        if depth > 512 { throw error("nesting deeper than 512 levels") }
    }

    private mutating func parseObject() throws -> JSONObject {
        try enter()
        defer { depth -= 1 }
        pos += 1
        var object = JSONObject()
        var seen = Set<ExactKey>()
        skipWhitespace()
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "}") { pos += 1; return object }
        while true {
            skipWhitespace()
            guard pos < bytes.count, bytes[pos] == UInt8(ascii: "\"") else { throw error("expected a string key") }
            let keyStart = pos
            let key = try parseString()
            // A repeated key is refused (Python and serde_json keep the last one silently).
            guard seen.insert(ExactKey(key)).inserted else {
                pos = keyStart
                throw error("the key \(TokenizerError.quoted(key, limit: 60)) appears twice in one object")
            }
            skipWhitespace()
            guard pos < bytes.count, bytes[pos] == UInt8(ascii: ":") else { throw error("expected ':' after key") }
            pos += 1
            skipWhitespace()
            let value = try parseValue()
            object.keys.append(key)
            object.values.append(value)
            skipWhitespace()
            guard pos < bytes.count else { throw error("unexpected end of file inside an object") }
            if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
            if bytes[pos] == UInt8(ascii: "}") { pos += 1; return object }
            throw error("expected ',' or '}' in an object")
        }
    }

    /// `["a", "b"]` becomes `.pair`; anything else `.array`.
    private mutating func parsePairOrArray() throws -> JSONValue {
        let start = pos
        pos += 1
        skipWhitespace()
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "\"") {
            let a = try parseString()
            skipWhitespace()
            if pos < bytes.count, bytes[pos] == UInt8(ascii: ",") {
                pos += 1
                skipWhitespace()
                if pos < bytes.count, bytes[pos] == UInt8(ascii: "\"") {
                    let b = try parseString()
                    skipWhitespace()
                    if pos < bytes.count, bytes[pos] == UInt8(ascii: "]") {
                        pos += 1
                        return .pair(a, b)
                    }
                }
            }
        }
        pos = start
        return .array(try parseArray())
    }

    private mutating func parseArray() throws -> [JSONValue] {
        try enter()
        defer { depth -= 1 }
        pos += 1
        var array: [JSONValue] = []
        skipWhitespace()
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "]") { pos += 1; return array }
        while true {
            skipWhitespace()
            array.append(try parseValue())
            skipWhitespace()
            guard pos < bytes.count else { throw error("unexpected end of file inside an array") }
            if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
            if bytes[pos] == UInt8(ascii: "]") { pos += 1; return array }
            throw error("expected ',' or ']' in an array")
        }
    }

    private mutating func parseNumber() throws -> Double {
        let start = pos
        if bytes[pos] == UInt8(ascii: "-") { pos += 1 }
        var isInteger = true
        var integer: Int64 = 0
        var digits = 0
        while pos < bytes.count, bytes[pos] >= 0x30, bytes[pos] <= 0x39 {
            if digits < 18 { integer = integer * 10 + Int64(bytes[pos] - 0x30) } else { isInteger = false }
            digits += 1
            pos += 1
        }
        if digits == 0 { throw error("invalid number") }
        while pos < bytes.count {
            let b = bytes[pos]
            if b == UInt8(ascii: ".") || b == UInt8(ascii: "e") || b == UInt8(ascii: "E") || b == UInt8(ascii: "+")
                || b == UInt8(ascii: "-") || (b >= 0x30 && b <= 0x39) {
                isInteger = false
                pos += 1
            } else { break }
        }
        if isInteger { return Double(bytes[start] == UInt8(ascii: "-") ? -integer : integer) }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<pos]), as: UTF8.self)
        guard let value = Double(text) else { throw error("invalid number \(text)") }
        return value
    }

    private mutating func parseString() throws -> String {
        pos += 1
        let start = pos
        // Fast path: no escapes.
        while pos < bytes.count {
            let b = bytes[pos]
            if b == UInt8(ascii: "\"") {
                let s = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<pos]), as: UTF8.self)
                pos += 1
                return s
            }
            if b == UInt8(ascii: "\\") { break }
            if b < 0x20 { throw error("control character in a string") }
            pos += 1
        }
        var out = [UInt8](UnsafeBufferPointer(rebasing: bytes[start..<pos]))
        while pos < bytes.count {
            let b = bytes[pos]
            if b == UInt8(ascii: "\"") {
                pos += 1
                return String(decoding: out, as: UTF8.self)
            }
            if b < 0x20 { throw error("control character in a string") }
            if b != UInt8(ascii: "\\") { out.append(b); pos += 1; continue }
            pos += 1
            guard pos < bytes.count else { break }
            let e = bytes[pos]
            pos += 1
            switch e {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var code = try parseHex4()
                if code >= 0xD800, code < 0xDC00 {
                    // A high surrogate must be followed by an escaped low surrogate.
                    if pos + 1 < bytes.count, bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u") {
                        let save = pos
                        pos += 2
                        let low = try parseHex4()
                        if low >= 0xDC00, low < 0xE000 {
                            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        } else {
                            pos = save
                            code = 0xFFFD
                        }
                    } else {
                        code = 0xFFFD
                    }
                } else if code >= 0xDC00, code < 0xE000 {
                    code = 0xFFFD
                }
                appendUTF8(UnicodeScalar(code) ?? "\u{FFFD}", to: &out)
            default:
                throw error("invalid escape \\\(String(UnicodeScalar(e)))")
            }
        }
        throw error("unterminated string")
    }

    private mutating func parseHex4() throws -> UInt32 {
        guard pos + 4 <= bytes.count else { throw error("truncated \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[pos]
            let digit: UInt32
            switch b {
            case 0x30...0x39: digit = UInt32(b - 0x30)
            case 0x41...0x46: digit = UInt32(b - 0x41 + 10)
            case 0x61...0x66: digit = UInt32(b - 0x61 + 10)
            default: throw error("invalid hex digit in \\u escape")
            }
            value = value << 4 | digit
            pos += 1
        }
        return value
    }
}

/// Appends the UTF-8 encoding of `scalar`.
@inline(__always)
func appendUTF8(_ scalar: UnicodeScalar, to out: inout [UInt8]) {
    let v = scalar.value
    if v < 0x80 {
        out.append(UInt8(v))
    } else if v < 0x800 {
        out.append(UInt8(0xC0 | (v >> 6)))
        out.append(UInt8(0x80 | (v & 0x3F)))
    } else if v < 0x10000 {
        out.append(UInt8(0xE0 | (v >> 12)))
        out.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
        out.append(UInt8(0x80 | (v & 0x3F)))
    } else {
        out.append(UInt8(0xF0 | (v >> 18)))
        out.append(UInt8(0x80 | ((v >> 12) & 0x3F)))
        out.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
        out.append(UInt8(0x80 | (v & 0x3F)))
    }
}
