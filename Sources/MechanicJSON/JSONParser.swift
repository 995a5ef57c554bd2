import Foundation

/// Where and why a document is not JSON: "line 3, column 14: expected ',' or '}' in an object".
public struct JSONParseError: Error, CustomStringConvertible, Equatable {
    public let reason: String
    /// From 1; the column counts characters (UTF-8 lead bytes), not bytes.
    public let line: Int
    public let column: Int

    public var description: String { "line \(line), column \(column): \(reason)" }
}

/// A strict, linear-time JSON parser over UTF-8 bytes for `JSONValue`: RFC 8259 syntax (a
/// leading byte order mark is tolerated), strings valid UTF-8 with paired surrogates, nesting at
/// most 512 deep, and an object that repeats a key is an error naming the key (Python keeps the
/// last one silently; a safetensors header, config.json or tokenizer.json that says two things is
/// refused). Strings without escapes and integers take a fast path (a tokenizer.json holds
/// tens of thousands of vocabulary entries and merges).
struct JSONByteParser {
    private let bytes: UnsafeBufferPointer<UInt8>
    private var pos = 0
    private var depth = 0

    static let maxDepth = 512

    static func parse(_ data: some ContiguousBytes) throws -> JSONValue {
        try data.withUnsafeBytes { raw in
            var p = JSONByteParser(bytes: raw.bindMemory(to: UInt8.self))
            if p.bytes.count >= 3, p.bytes[0] == 0xEF, p.bytes[1] == 0xBB, p.bytes[2] == 0xBF { p.pos = 3 }
            p.skipWhitespace()
            let value = try p.parseValue()
            p.skipWhitespace()
            guard p.pos == p.bytes.count else { throw p.error("unexpected data after the top-level value") }
            return value
        }
    }

    private init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    /// An error at the current position (line and column counted in characters, from 1).
    private func error(_ reason: String) -> JSONParseError {
        var line = 1, column = 1
        var i = 0
        let end = min(pos, bytes.count)
        while i < end {
            let b = bytes[i]
            if b == 0x0A { line += 1; column = 1 } else if b & 0xC0 != 0x80 { column += 1 }
            i += 1
        }
        return JSONParseError(reason: reason, line: line, column: column)
    }

    private func at(_ c: Unicode.Scalar) -> Bool { pos < bytes.count && bytes[pos] == UInt8(ascii: c) }

    private mutating func skipWhitespace() {
        while pos < bytes.count, bytes[pos] == 0x20 || bytes[pos] == 0x0A || bytes[pos] == 0x0D || bytes[pos] == 0x09 { pos += 1 }
    }

    private mutating func parseValue() throws -> JSONValue {
        guard pos < bytes.count else { throw error("unexpected end of the document") }
        switch bytes[pos] {
        case UInt8(ascii: "{"): return .object(try parseObject())
        case UInt8(ascii: "["): return try parsePairOrArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw error("unexpected character \(Self.show(bytes[pos]))")
        }
    }

    private static func show(_ b: UInt8) -> String {
        if b >= 0x20 && b < 0x7F { return "'\(String(UnicodeScalar(b)))'" }
        let hex = String(b, radix: 16, uppercase: true)
        return "byte 0x" + (hex.count < 2 ? "0" : "") + hex
    }

    private mutating func literal(_ word: String) throws {
        let start = pos
        for expected in word.utf8 {
            guard pos < bytes.count, bytes[pos] == expected else {
                pos = start
                throw error("invalid literal (expected \(word))")
            }
            pos += 1
        }
    }

    private mutating func enter() throws {
        depth += 1
        if depth > Self.maxDepth { throw error("nesting deeper than \(Self.maxDepth) levels") }
    }

    private mutating func parseObject() throws -> JSONObject {
        try enter()
        defer { depth -= 1 }
        pos += 1
        var object = JSONObject()
        var seen = Set<ExactKey>()
        skipWhitespace()
        if at("}") { pos += 1; return object }
        while true {
            skipWhitespace()
            guard at("\"") else { throw error("expected a string key in an object") }
            let keyStart = pos
            let key = try parseString()
            guard seen.insert(ExactKey(key)).inserted else {
                pos = keyStart
                throw error("the key \(ErrorText.quoted(key)) appears twice in one object")
            }
            skipWhitespace()
            guard at(":") else { throw error("expected ':' after a key") }
            pos += 1
            skipWhitespace()
            object.append(key, try parseValue())
            skipWhitespace()
            guard pos < bytes.count else { throw error("unexpected end of the document inside an object") }
            if at(",") { pos += 1; continue }
            if at("}") { pos += 1; return object }
            throw error("expected ',' or '}' in an object")
        }
    }

    /// `["a", "b"]` becomes `.pair`; anything else `.array`.
    private mutating func parsePairOrArray() throws -> JSONValue {
        let start = pos
        pos += 1
        skipWhitespace()
        if at("\"") {
            let a = try parseString()
            skipWhitespace()
            if at(",") {
                pos += 1
                skipWhitespace()
                if at("\"") {
                    let b = try parseString()
                    skipWhitespace()
                    if at("]") { pos += 1; return .pair(a, b) }
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
        if at("]") { pos += 1; return array }
        while true {
            skipWhitespace()
            array.append(try parseValue())
            skipWhitespace()
            guard pos < bytes.count else { throw error("unexpected end of the document inside an array") }
            if at(",") { pos += 1; continue }
            if at("]") { pos += 1; return array }
            throw error("expected ',' or ']' in an array")
        }
    }

    private func isDigit(_ i: Int) -> Bool { i < bytes.count && bytes[i] >= 0x30 && bytes[i] <= 0x39 }

    /// RFC 8259 numbers; an integer literal that fits `Int` stays `.int`, anything else `.double`.
    private mutating func parseNumber() throws -> JSONValue {
        let start = pos
        let negative = bytes[pos] == UInt8(ascii: "-")
        if negative { pos += 1 }
        guard isDigit(pos) else { throw error("invalid number") }
        if bytes[pos] == UInt8(ascii: "0"), isDigit(pos + 1) { throw error("invalid number (leading zero)") }
        // The digits of the integer and fraction parts as one integer (while they fit in 18 digits).
        var mantissa = 0, digits = 0, fractionDigits = 0
        func digit() {
            if digits < 18 { mantissa = mantissa * 10 + Int(bytes[pos] - 0x30) }
            digits += 1
            pos += 1
        }
        while isDigit(pos) { digit() }
        var integral = true
        if at(".") {
            integral = false
            pos += 1
            guard isDigit(pos) else { throw error("invalid number (no digits after '.')") }
            while isDigit(pos) { digit(); fractionDigits += 1 }
        }
        var exponent = 0, exponentDigits = 0
        if at("e") || at("E") {
            integral = false
            pos += 1
            let negativeExponent = at("-")
            if at("+") || at("-") { pos += 1 }
            guard isDigit(pos) else { throw error("invalid number (no digits in the exponent)") }
            while isDigit(pos) {
                if exponentDigits < 6 { exponent = exponent * 10 + Int(bytes[pos] - 0x30) }
                exponentDigits += 1
                pos += 1
            }
            if negativeExponent { exponent = -exponent }
        }
        // Up to 18 digits cannot overflow `Int`: the common case needs no text.
        if integral, digits <= 18 { return .int(negative ? -mantissa : mantissa) }
        // Clinger's fast path: at most 15 digits and a power of ten up to 10^22 are exact doubles,
        // so one multiplication or division rounds exactly as parsing the text would.
        let scale = exponent - fractionDigits
        if !integral, digits <= 15, exponentDigits <= 6, abs(scale) <= 22 {
            let m = Double(mantissa), p = Self.powersOfTen[abs(scale)]
            let v = scale < 0 ? m / p : m * p
            return .double(negative ? -v : v)
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<pos]), as: UTF8.self)
        if integral, let i = Int(text) { return .int(i) }
        guard let d = Double(text) else { pos = start; throw error("invalid number \(text)") }
        return .double(d)
    }

    /// 10^0 … 10^22, each exact in a `Double`.
    private static let powersOfTen: [Double] = (0...22).map { k in (0..<k).reduce(1.0) { acc, _ in acc * 10 } }

    private mutating func parseString() throws -> String {
        pos += 1
        let start = pos
        // Fast path: no escapes.
        while pos < bytes.count {
            let b = bytes[pos]
            if b == UInt8(ascii: "\"") {
                guard let s = String(validating: UnsafeBufferPointer(rebasing: bytes[start..<pos]), as: UTF8.self) else {
                    throw error("a string is not valid UTF-8")
                }
                pos += 1
                return s
            }
            if b == UInt8(ascii: "\\") { break }
            if b < 0x20 { throw error("a control character inside a string") }
            pos += 1
        }
        var out = [UInt8](UnsafeBufferPointer(rebasing: bytes[start..<pos]))
        while pos < bytes.count {
            let b = bytes[pos]
            switch b {
            case UInt8(ascii: "\""):
                pos += 1
                guard let s = String(validating: out, as: UTF8.self) else { throw error("a string is not valid UTF-8") }
                return s
            case UInt8(ascii: "\\"):
                pos += 1
                guard pos < bytes.count else { break }
                try appendEscape(to: &out)
            default:
                if b < 0x20 { throw error("a control character inside a string") }
                out.append(b)
                pos += 1
            }
        }
        throw error("unterminated string")
    }

    /// The escape after a backslash (`pos` at the letter), appended as UTF-8.
    private mutating func appendEscape(to out: inout [UInt8]) throws {
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
            var scalar = try hex4()
            if scalar >= 0xD800 && scalar < 0xDC00 {
                guard pos + 1 < bytes.count, bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u") else {
                    throw error("a lone surrogate in a \\u escape")
                }
                pos += 2
                let low = try hex4()
                guard low >= 0xDC00 && low < 0xE000 else { throw error("a lone surrogate in a \\u escape") }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            }
            guard let u = UnicodeScalar(scalar) else { throw error("a lone surrogate in a \\u escape") }
            out.append(contentsOf: String(Character(u)).utf8)
        default:
            pos -= 1
            throw error("invalid escape \\\(String(UnicodeScalar(e)))")
        }
    }

    private mutating func hex4() throws -> UInt32 {
        guard pos + 4 <= bytes.count else { throw error("truncated \\u escape") }
        guard let v = JSONHex.value4(bytes, at: pos) else {
            while JSONHex.digit(bytes[pos]) != nil { pos += 1 }   // the error names the bad digit's column
            throw error("invalid hex digit in a \\u escape")
        }
        pos += 4
        return v
    }
}

/// The four hex digits of a `\uXXXX` escape (either case), shared by the JSON parser and the
/// tokenizers' vocabulary scanner.
package enum JSONHex {
    /// The value of `bytes[at..<at + 4]` read as hex digits; nil when one is not a hex digit or
    /// fewer than four bytes remain.
    package static func value4(_ bytes: UnsafeBufferPointer<UInt8>, at start: Int) -> UInt32? {
        guard start >= 0, start + 4 <= bytes.count else { return nil }
        var v: UInt32 = 0
        for b in bytes[start..<(start + 4)] {
            guard let d = digit(b) else { return nil }
            v = v * 16 + d
        }
        return v
    }

    /// The value of one hex digit (either case); nil for any other byte.
    package static func digit(_ b: UInt8) -> UInt32? {
        switch b {
        case 0x30...0x39: UInt32(b - 0x30)
        case 0x41...0x46: UInt32(b - 0x41 + 10)
        case 0x61...0x66: UInt32(b - 0x61 + 10)
        default: nil
        }
    }
}
