import Foundation

/// The fast path for `tokenizer.json`: `model.vocab` and `model.merges` (nearly all of the file)
/// are read by `VocabularyScanner` straight from the bytes; the rest of the document, with those
/// two values replaced by `{}` and `[]`, goes through `JSONValue.parse` and `TokenizerJSONLoader`
/// as usual. Any problem (or an error anywhere) sends the load down the general path, which
/// parses the whole file and reports the error as it always has.
enum TokenizerJSONScan {
    /// The tokenizer of a `tokenizer.json` file.
    static func load(contentsOf url: URL) throws -> TokenizerComponents {
        let data = try readFile(url)
        if let components = try? scanned(data, file: url.path) { return components }
        return try TokenizerJSONLoader.load(JSONParser.parse(data, file: url.path), file: url.path)
    }

    /// Thrown inside the fast path when the scanner gives up (never escapes `load`).
    struct GaveUp: Error {}

    static func scanned(_ data: Data, file: String) throws -> TokenizerComponents {
        try data.withUnsafeBytes { raw -> TokenizerComponents in
            let bytes = raw.bindMemory(to: UInt8.self)
            guard let found = scanModel(bytes), let base = bytes.baseAddress else { throw GaveUp() }
            // The document without the two big values (`{}` and `[]` in their place).
            let (vocabRange, mergesRange) = (found.vocabRange, found.mergesRange)
            let first = vocabRange.lowerBound < mergesRange.lowerBound ? vocabRange : mergesRange
            let second = first == vocabRange ? mergesRange : vocabRange
            var rest = Data(capacity: bytes.count - first.count - second.count + 4)
            rest.append(base, count: first.lowerBound)
            rest.append(contentsOf: first == vocabRange ? Array("{}".utf8) : Array("[]".utf8))
            rest.append(base + first.upperBound, count: second.lowerBound - first.upperBound)
            rest.append(contentsOf: second == vocabRange ? Array("{}".utf8) : Array("[]".utf8))
            rest.append(base + second.upperBound, count: bytes.count - second.upperBound)
            let root = try JSONParser.parse(rest, file: file)
            return try TokenizerJSONLoader.load(root, file: file) { prefixLength in
                BPEVocabulary.scanned(table: found.table, spans: found.spans, merges: found.merges, input: bytes, prefixLength: prefixLength)
            }
        }
    }

    /// `model.vocab` and `model.merges`, scanned, with the byte ranges of their values; nil
    /// unless the top level is an object whose `model` object holds each key once.
    struct ScannedModel {
        var table: TokenTable
        var spans: [UInt64]
        var merges: MergeText
        var vocabRange: Range<Int>
        var mergesRange: Range<Int>
    }

    static func scanModel(_ bytes: UnsafeBufferPointer<UInt8>) -> ScannedModel? {
        var p = Skimmer(bytes: bytes)
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { p.pos = 3 }
        var seenModel = false
        var vocab: (TokenTable, [UInt64], Range<Int>)?, merges: (MergeText, Range<Int>)?
        let complete = p.object { p, key in
            guard key.elementsEqual("model".utf8) else { return p.skipValue() }
            guard !seenModel else { return false }
            seenModel = true
            return p.object { p, key in
                let start = p.pos
                if key.elementsEqual("vocab".utf8) {
                    guard vocab == nil else { return false }
                    let scanned = VocabularyScanner.with(bytes, at: start) { s -> (TokenTable, [UInt64], Int)? in
                        s.vocabulary(expectedCount: max(16, (bytes.count - start) / 40)).map { ($0.0, $0.1, s.pos) }
                    }
                    guard let (table, spans, end) = scanned else { return false }
                    vocab = (table, spans, start..<end)
                    p.pos = end
                    return true
                }
                if key.elementsEqual("merges".utf8) {
                    guard merges == nil else { return false }
                    var end = start
                    var list = MergeText(input: bytes, expected: max(16, (bytes.count - start) / 40))
                    let ok = VocabularyScanner.with(bytes, at: start) { s -> Bool in
                        defer { end = s.pos }
                        return s.jsonMerges(into: &list)
                    }
                    guard ok else { return false }
                    merges = (list, start..<end)
                    p.pos = end
                    return true
                }
                return p.skipValue()
            }
        }
        guard complete, let vocab, let merges else { return nil }
        return ScannedModel(table: vocab.0, spans: vocab.1, merges: merges.0, vocabRange: vocab.2, mergesRange: merges.1)
    }

    /// Finds value boundaries without validating (the parser and the scanner validate).
    struct Skimmer {
        let bytes: UnsafeBufferPointer<UInt8>
        var pos = 0

        var peek: UInt8? { pos < bytes.count ? bytes[pos] : nil }

        mutating func skipWhitespace() {
            while pos < bytes.count, bytes[pos] == 0x20 || bytes[pos] == 0x0A || bytes[pos] == 0x0D || bytes[pos] == 0x09 { pos += 1 }
        }

        /// An object at `pos` (after whitespace): `member` is called with each raw key (escapes
        /// not decoded) and `pos` at its value, which it must consume.
        mutating func object(_ member: (inout Skimmer, UnsafeBufferPointer<UInt8>) -> Bool) -> Bool {
            skipWhitespace()
            guard peek == UInt8(ascii: "{") else { return false }
            pos += 1
            skipWhitespace()
            if peek == UInt8(ascii: "}") { pos += 1; return true }
            while true {
                skipWhitespace()
                let keyStart = pos + 1
                guard peek == UInt8(ascii: "\""), skipString() else { return false }
                let key = UnsafeBufferPointer(rebasing: bytes[keyStart..<(pos - 1)])
                skipWhitespace()
                guard peek == UInt8(ascii: ":") else { return false }
                pos += 1
                skipWhitespace()
                guard member(&self, key) else { return false }
                skipWhitespace()
                guard let c = peek else { return false }
                pos += 1
                if c == UInt8(ascii: ",") { continue }
                return c == UInt8(ascii: "}")
            }
        }

        /// A string at `pos`, up to and including its closing quote.
        mutating func skipString() -> Bool {
            pos += 1
            while pos < bytes.count {
                let b = bytes[pos]
                pos += 1
                if b == UInt8(ascii: "\"") { return true }
                if b == UInt8(ascii: "\\") { pos += 1 }
            }
            return false
        }

        /// Any value at `pos`: strings and nested brackets are matched, scalars end at a delimiter.
        mutating func skipValue() -> Bool {
            guard let c = peek else { return false }
            if c == UInt8(ascii: "\"") { return skipString() }
            if c == UInt8(ascii: "{") || c == UInt8(ascii: "[") {
                var depth = 0
                while pos < bytes.count {
                    let b = bytes[pos]
                    if b == UInt8(ascii: "\"") {
                        guard skipString() else { return false }
                        continue
                    }
                    pos += 1
                    if b == UInt8(ascii: "{") || b == UInt8(ascii: "[") { depth += 1 }
                    if b == UInt8(ascii: "}") || b == UInt8(ascii: "]") {
                        depth -= 1
                        if depth == 0 { return true }
                    }
                }
                return false
            }
            while pos < bytes.count {
                let b = bytes[pos]
                if b == UInt8(ascii: ",") || b == UInt8(ascii: "}") || b == UInt8(ascii: "]") || b <= 0x20 { break }
                pos += 1
            }
            return true
        }
    }
}
