import MechanicJSON
/// The fast path for the bulk of a tokenizer's files: a vocabulary object `{"token": id, …}` and
/// a merges list (merges.txt's lines, or tokenizer.json's `["a b", …]` / `[["a", "b"], …]`) read
/// straight from the file's bytes into a `BPEVocabulary`, with no `String` per entry and no JSON
/// tree (loading GPT-2's went from ~90 ms of CPU to ~14 on a shared 2-core machine).
///
/// It accepts only plain, well-formed input, on which it gives exactly what the general path
/// (`JSONValue.parse`, then `BPEVocabulary(entries:merges:…)`) gives. On anything else (a syntax
/// error, a float or negative id, a repeated key or id, invalid UTF-8, an unknown merge token) it
/// returns nil, and the caller takes the general path, whose checks and typed errors users see.
struct VocabularyScanner {
    private let bytes: UnsafeBufferPointer<UInt8>
    private(set) var pos: Int
    /// Decoded strings with escapes (at most as long as the text scanned).
    private let scratch: UnsafeMutablePointer<UInt8>
    private let scratchCapacity: Int
    /// Where the next escaped string is decoded (past a pair's first string while reading its second).
    private var scratchStart = 0

    /// Scans `bytes` from `pos`; `body` runs with the scanner (the scratch space lives as long as it).
    static func with<R>(_ bytes: UnsafeBufferPointer<UInt8>, at pos: Int, _ body: (inout VocabularyScanner) -> R) -> R {
        let capacity = max(bytes.count, 16)
        let scratch = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        defer { scratch.deallocate() }
        var s = VocabularyScanner(bytes: bytes, pos: pos, scratch: scratch, scratchCapacity: capacity)
        return body(&s)
    }

    private init(bytes: UnsafeBufferPointer<UInt8>, pos: Int, scratch: UnsafeMutablePointer<UInt8>, scratchCapacity: Int) {
        self.bytes = bytes
        self.pos = pos
        self.scratch = scratch
        self.scratchCapacity = scratchCapacity
    }

    var atEnd: Bool { pos >= bytes.count }

    mutating func skipToPosition(_ p: Int) { pos = p }

    mutating func skipWhitespace() {
        while pos < bytes.count {
            let b = bytes[pos]
            guard b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 else { return }
            pos += 1
        }
    }

    mutating func skipByteOrderMark() {
        if pos == 0, bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { pos = 3 }
    }

    /// Consumes `c` if it is next.
    mutating func take(_ c: UInt8) -> Bool {
        guard pos < bytes.count, bytes[pos] == c else { return false }
        pos += 1
        return true
    }

    // MARK: - Vocabulary

    /// `{"token": id, …}` at `pos` (whitespace skipped before it): each token inserted into a
    /// table, ids distinct and below `BPEVocabulary.idLimit`. Returns the table and the
    /// arena span of each id's token (`offset << 32 | length`, `UInt64.max` for a gap).
    mutating func vocabulary(expectedCount: Int) -> (TokenTable, [UInt64])? {
        skipWhitespace()
        guard take(UInt8(ascii: "{")) else { return nil }
        // First the entries (escaped keys stay in the scratch space, one after another) ...
        var keys: [UnsafeBufferPointer<UInt8>] = []
        var ids: [Int32] = []
        keys.reserveCapacity(expectedCount)
        ids.reserveCapacity(expectedCount)
        var maxId = -1
        defer { scratchStart = 0 }
        skipWhitespace()
        if !take(UInt8(ascii: "}")) {
            while true {
                skipWhitespace()
                guard let key = string() else { return nil }
                if !Self.isInInput(key, bytes) { scratchStart += key.count }
                skipWhitespace()
                guard take(UInt8(ascii: ":")) else { return nil }
                skipWhitespace()
                guard let id = integer() else { return nil }
                keys.append(key)
                ids.append(Int32(id))
                maxId = max(maxId, id)
                skipWhitespace()
                if take(UInt8(ascii: ",")) { continue }
                if take(UInt8(ascii: "}")) { break }
                return nil
            }
        }
        // ... then the table, each insertion touching the slot of the key 8 ahead so that
        // cache misses overlap.
        let table = TokenTable(minimumCapacity: keys.count)
        var spans = [UInt64](repeating: UInt64.max, count: maxId + 1)
        var sink: UInt32 = 0
        for i in 0..<keys.count {
            if i + 8 < keys.count { sink ^= table.touch(keys[i + 8]) }
            let id = Int(ids[i])
            guard spans[id] == UInt64.max else { return nil }   // an id twice
            let offset = table.insertNew(keys[i], id: ids[i])
            guard offset >= 0 else { return nil }               // a key twice
            spans[id] = UInt64(offset) << 32 | UInt64(keys[i].count)
        }
        if sink == 1 { table.noteUnlikely() }
        return (table, spans)
    }

    /// A non-negative integer literal without sign, fraction or exponent, below `idLimit`.
    private mutating func integer() -> Int? {
        var value = 0, digits = 0
        let start = pos
        while pos < bytes.count, bytes[pos] >= 0x30, bytes[pos] <= 0x39 {
            value = value * 10 + Int(bytes[pos] - 0x30)
            digits += 1
            pos += 1
            if digits > 8 { return nil }
        }
        guard digits > 0, !(digits > 1 && bytes[start] == 0x30), value < BPEVocabulary.idLimit else { return nil }
        if pos < bytes.count, bytes[pos] == UInt8(ascii: ".") || bytes[pos] == UInt8(ascii: "e") || bytes[pos] == UInt8(ascii: "E") {
            return nil
        }
        return value
    }

    /// A JSON string at `pos` as valid UTF-8: a slice of the input when it has no escapes, else
    /// decoded into the scratch space (valid until the next escaped string).
    mutating func string() -> UnsafeBufferPointer<UInt8>? {
        guard take(UInt8(ascii: "\"")) else { return nil }
        let start = pos
        var ascii = true
        while pos < bytes.count {
            let b = bytes[pos]
            if b == UInt8(ascii: "\"") {
                let s = UnsafeBufferPointer(rebasing: bytes[start..<pos])
                pos += 1
                return ascii || UTF8Check.isValid(s) ? s : nil
            }
            if b == UInt8(ascii: "\\") { return escapedString(from: start) }
            if b < 0x20 { return nil }
            if b >= 0x80 { ascii = false }
            pos += 1
        }
        return nil
    }

    private mutating func escapedString(from start: Int) -> UnsafeBufferPointer<UInt8>? {
        let out = scratch + scratchStart
        let capacity = scratchCapacity - scratchStart
        var n = pos - start
        guard n <= capacity else { return nil }
        if let base = bytes.baseAddress { out.update(from: base + start, count: n) }
        while pos < bytes.count {
            let b = bytes[pos]
            if b == UInt8(ascii: "\"") {
                pos += 1
                let s = UnsafeBufferPointer(start: out, count: n)
                return UTF8Check.isValid(s) ? s : nil
            }
            if b < 0x20 || n + 4 > capacity { return nil }
            guard b == UInt8(ascii: "\\") else { out[n] = b; n += 1; pos += 1; continue }
            guard pos + 1 < bytes.count else { return nil }
            let e = bytes[pos + 1]
            pos += 2
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out[n] = e
            case UInt8(ascii: "b"): out[n] = 0x08
            case UInt8(ascii: "f"): out[n] = 0x0C
            case UInt8(ascii: "n"): out[n] = 0x0A
            case UInt8(ascii: "r"): out[n] = 0x0D
            case UInt8(ascii: "t"): out[n] = 0x09
            case UInt8(ascii: "u"):
                guard var v = hex4() else { return nil }
                if v >= 0xD800 && v < 0xDC00 {
                    guard take(UInt8(ascii: "\\")), take(UInt8(ascii: "u")), let low = hex4(), low >= 0xDC00 && low < 0xE000 else { return nil }
                    v = 0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00)
                } else if v >= 0xDC00 && v < 0xE000 {
                    return nil
                }
                n += UTF8Check.encode(v, into: out + n)
                continue
            default:
                return nil
            }
            n += 1
        }
        return nil
    }

    private mutating func hex4() -> UInt32? {
        guard let v = JSONHex.value4(bytes, at: pos) else { return nil }
        pos += 4
        return v
    }

    // MARK: - Merges

    /// tokenizer.json's `"merges"` array at `pos`: each merge as `"a b"` (exactly one space;
    /// `#version…` entries skipped) or `["a", "b"]`, added to `merges`; false when malformed.
    mutating func jsonMerges(into merges: inout MergeText) -> Bool {
        skipWhitespace()
        guard take(UInt8(ascii: "[")) else { return false }
        skipWhitespace()
        if take(UInt8(ascii: "]")) { return true }
        let version = Array("#version".utf8)
        while true {
            skipWhitespace()
            if take(UInt8(ascii: "[")) {
                skipWhitespace()
                guard let a = string() else { return false }
                // An escaped `a` sits in the scratch space: decode `b` after it.
                if !Self.isInInput(a, bytes) { scratchStart = a.count }
                skipWhitespace()
                guard take(UInt8(ascii: ",")) else { return false }
                skipWhitespace()
                guard let b = string() else { return false }
                scratchStart = 0
                skipWhitespace()
                guard take(UInt8(ascii: "]")) else { return false }
                merges.add(a, b)
            } else {
                guard let s = string() else { return false }
                if s.starts(with: version) {
                    // String.hasPrefix compares characters: a combining mark after "#version" is not a match.
                    guard s.count == version.count || s[version.count] < 0x80 else { return false }
                } else {
                    guard let space = s.firstIndex(of: 0x20), s[(space + 1)...].firstIndex(of: 0x20) == nil else { return false }
                    merges.add(UnsafeBufferPointer(rebasing: s[..<space]), UnsafeBufferPointer(rebasing: s[(space + 1)...]))
                }
            }
            skipWhitespace()
            if take(UInt8(ascii: ",")) { continue }
            return take(UInt8(ascii: "]"))
        }
    }

    private static func isInInput(_ s: UnsafeBufferPointer<UInt8>, _ input: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let p = s.baseAddress, let q = input.baseAddress else { return true }
        return p >= q && p < q + input.count
    }

    /// merges.txt: one merge per line, "left right" split on runs of spaces into exactly two
    /// parts; a first line starting with `#version` and empty lines skipped; "\r\n" ends a line
    /// too. Each merge is added to `merges`; false when a line is malformed.
    static func textMerges(_ bytes: UnsafeBufferPointer<UInt8>, into merges: inout MergeText) -> Bool {
        guard let p = bytes.baseAddress else { return true }
        let n = bytes.count
        let version = Array("#version".utf8)
        var lineStart = 0
        var lineNumber = 0
        while lineStart <= n {
            var end = lineStart
            while end < n, p[end] != 0x0A { end += 1 }
            let next = end + 1
            lineNumber += 1
            if end > lineStart, p[end - 1] == 0x0D { end -= 1 }
            defer { lineStart = next }
            if end == lineStart || (lineNumber == 1 && UnsafeBufferPointer(start: p + lineStart, count: end - lineStart).starts(with: version)) {
                continue
            }
            var i = lineStart
            while i < end, p[i] == 0x20 { i += 1 }
            let aStart = i
            while i < end, p[i] != 0x20 { i += 1 }
            let aEnd = i
            while i < end, p[i] == 0x20 { i += 1 }
            let bStart = i
            while i < end, p[i] != 0x20 { i += 1 }
            let bEnd = i
            while i < end, p[i] == 0x20 { i += 1 }
            guard aEnd > aStart, bEnd > bStart, i == end else { return false }
            merges.add(UnsafeBufferPointer(start: p + aStart, count: aEnd - aStart), UnsafeBufferPointer(start: p + bStart, count: bEnd - bStart))
        }
        return true
    }
}
