import Foundation
import Testing
@testable import MechanicTokenizers

/// The fast load path (`VocabularyScanner`, straight from the bytes) against a straightforward
/// parse of the same files (`JSONValue.parse`, `GPT2Files.parseMerges`, `BPEVocabulary(entries:…)`):
/// every token, id and merge must be equal, and the fast path must really be the one taken.
struct ScannedVocabularyTests {
    /// Every id's token (bytes), every token's id, and every merge triple, equal.
    func expectEqual(_ scanned: BPEVocabulary?, _ parsed: BPEVocabulary, _ name: String) {
        guard let scanned else { Issue.record("\(name): the fast path gave up"); return }
        #expect(scanned.spans.count == parsed.spans.count, "\(name) token count")
        #expect(scanned.table.count == parsed.table.count, "\(name) table count")
        var tokenMismatches = 0
        for id in 0..<parsed.spans.count {
            let a = scanned.token(id).map(Array.init), b = parsed.token(id).map(Array.init)
            if a != b { tokenMismatches += 1; continue }
            if let b, parsed.table.lookup(b) != id || scanned.table.lookup(b) != id { tokenMismatches += 1 }
        }
        #expect(tokenMismatches == 0, "\(name): \(tokenMismatches) tokens differ")
        #expect(scanned.merges.count == parsed.merges.count, "\(name) merge count")
        let mergeMismatches = zip(scanned.merges, parsed.merges).filter { p in p.0.0 != p.1.0 || p.0.1 != p.1.1 || p.0.2 != p.1.2 }.count
        #expect(mergeMismatches == 0, "\(name): \(mergeMismatches) merges differ")
    }

    func parsedGPT2(_ dir: URL) throws -> BPEVocabulary {
        let object = try #require(try JSONParser.parse(contentsOf: dir.appendingPathComponent("vocab.json")).objectValue)
        let entries = object.map { ($0.0, $0.1.intValue ?? -1) }
        let merges = try GPT2Files.parseMerges(readFile(dir.appendingPathComponent("merges.txt")), file: "merges.txt")
        return try BPEVocabulary(entries: entries, merges: merges, continuingSubwordPrefix: nil, file: "merges.txt")
    }

    func scannedGPT2(_ dir: URL) -> BPEVocabulary? {
        GPT2Files.scannedVocabulary(vocab: dir.appendingPathComponent("vocab.json"), merges: dir.appendingPathComponent("merges.txt"))
    }

    func parsedTokenizerJSON(_ data: Data) throws -> BPEVocabulary {
        let model = try #require(try JSONValue.parse(data).objectValue?["model"]?.objectValue)
        let entries = try #require(model["vocab"]?.objectValue).map { ($0.0, $0.1.intValue ?? -1) }
        let merges = try #require(model["merges"]?.arrayValue).compactMap { m -> (String, String)? in
            if let s = m.stringValue {
                if s.hasPrefix("#version") { return nil }
                let parts = s.utf8.split(separator: 0x20, omittingEmptySubsequences: false)
                return (String(decoding: parts[0], as: UTF8.self), String(decoding: parts[1], as: UTF8.self))
            }
            guard let pair = m.arrayValue, let a = pair[0].stringValue, let b = pair[1].stringValue else { return nil }
            return (a, b)
        }
        return try BPEVocabulary(entries: entries, merges: merges, continuingSubwordPrefix: nil, file: "tokenizer.json")
    }

    func scannedTokenizerJSON(_ data: Data) -> BPEVocabulary? {
        data.withUnsafeBytes { raw in
            let bytes = raw.bindMemory(to: UInt8.self)
            return TokenizerJSONScan.scanModel(bytes).flatMap {
                BPEVocabulary.scanned(table: $0.table, spans: $0.spans, merges: $0.merges, input: bytes, prefixLength: 0)
            }
        }
    }

    func directory(_ files: [String: String]) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mechanic-tokscan-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for (name, content) in files { try Data(content.utf8).write(to: dir.appendingPathComponent(name)) }
        return dir
    }

    @Test(.enabled(if: Fixtures.sharedAvailable, "needs ../shared/data/tokenizers (absent: skipped)"))
    func realFilesScanAsTheyParse() throws {
        let gpt2 = Fixtures.sharedTokenizers.appendingPathComponent("gpt2")
        let parsed = try parsedGPT2(gpt2)
        #expect(parsed.spans.count == 50257 && parsed.merges.count == 50000)
        expectEqual(scannedGPT2(gpt2), parsed, "gpt2")
        for name in ["pythia", "llama2"] {
            let data = try readFile(Fixtures.sharedTokenizers.appendingPathComponent("\(name)/tokenizer.json"))
            expectEqual(scannedTokenizerJSON(data), try parsedTokenizerJSON(data), name)
        }
    }

    /// Escapes in vocab.json (`\u0120`, `\"`, `\\`, `\/`, a surrogate pair), merges.txt's
    /// `#version` line, CRLF line ends, runs of spaces and a blank line.
    @Test func gpt2EscapesAndMergeLines() throws {
        let vocab = #"{"a": 0, "b": 1, "\u0120": 2, "\"": 3, "\\": 4, "a\/b": 5, "\ud83d\ude00": 6, "ab": 7, "\u0120\"": 8, "\"\\": 9, "ab\ud83d\ude00": 10}"#
        let merges = "#version: 0.2\r\na b\r\n\u{120}  \"\n\n\" \\\nab \u{1F600}\n"
        let dir = try directory(["vocab.json": vocab, "merges.txt": merges])
        defer { try? FileManager.default.removeItem(at: dir) }
        let parsed = try parsedGPT2(dir)
        #expect(parsed.merges.map { [$0.0, $0.1, $0.2] } == [[0, 1, 7], [2, 3, 8], [3, 4, 9], [7, 6, 10]])
        #expect(parsed.token(2).map(Array.init) == Array("\u{120}".utf8) && parsed.token(5).map(Array.init) == Array("a/b".utf8))
        #expect(parsed.token(6).map(Array.init) == Array("\u{1F600}".utf8))
        expectEqual(scannedGPT2(dir), parsed, "escapes")
        let tok = try Tokenizer.load(directory: dir)
        #expect(tok.id(of: "\u{120}\"") == 8 && tok.token(of: 10) == "ab\u{1F600}")
    }

    /// tokenizer.json merges as "a b" strings and as ["a", "b"] pairs, with escapes on either side
    /// (both decoded into the scanner's scratch space) and tokens that contain spaces.
    @Test func tokenizerJSONMergeForms() throws {
        let model = #"{"type": "BPE", "vocab": {"a": 0, "b": 1, " ": 2, "\u0120": 3, "ab": 4, "a ": 5, "a b": 6, "\u0120\u0120": 7, "\"\\": 8, "\"": 9, "\\": 10}, "#
            + ##""merges": ["#version: 0.2", "a b", ["a", " "], ["a ", "b"], ["\u0120", "\u0120"], ["\"", "\\"]]}"##
        let json = #"{"version": "1.0", "added_tokens": [], "normalizer": null, "pre_tokenizer": null, "post_processor": null, "decoder": null, "model": "#
            + model + "}"
        let data = Data(json.utf8)
        let parsed = try parsedTokenizerJSON(data)
        #expect(parsed.merges.map { [$0.0, $0.1, $0.2] } == [[0, 1, 4], [0, 2, 5], [5, 1, 6], [3, 3, 7], [9, 10, 8]])
        expectEqual(scannedTokenizerJSON(data), parsed, "merge forms")
        let dir = try directory(["tokenizer.json": json])
        defer { try? FileManager.default.removeItem(at: dir) }
        let tok = try Tokenizer.load(directory: dir)
        #expect(tok.encode("a b", addSpecialTokens: false) == [6])
        #expect(tok.encode("\u{120}\u{120}\"\\", addSpecialTokens: false) == [7, 8])
    }

    /// Input the scanner leaves to the general path (ids written as floats, a byte order mark,
    /// keys that differ only by escapes) loads exactly as before or fails as before.
    @Test func refusedInputTakesTheGeneralPath() throws {
        let floats = try directory(["vocab.json": #"{"a": 0, "b": 1.0, "ab": 2e0}"#, "merges.txt": "a b\n"])
        defer { try? FileManager.default.removeItem(at: floats) }
        #expect(scannedGPT2(floats) == nil)
        #expect(try Tokenizer.load(directory: floats).encode("abba") == [2, 1, 0])
        let bom = try directory(["vocab.json": "\u{FEFF}" + #"{"a": 0, "b": 1, "ab": 2}"#, "merges.txt": "a b\n"])
        defer { try? FileManager.default.removeItem(at: bom) }
        #expect(scannedGPT2(bom) != nil)
        #expect(try Tokenizer.load(directory: bom).encode("abba") == [2, 1, 0])
        let repeated = try directory(["vocab.json": #"{"a": 0, "\u0061": 1}"#, "merges.txt": ""])
        defer { try? FileManager.default.removeItem(at: repeated) }
        #expect(scannedGPT2(repeated) == nil)
        #expect(throws: TokenizerError.self) { try Tokenizer.load(directory: repeated) }
        let lone = Data(#"{"model": {"type": "BPE", "vocab": {"\ud800": 0}, "merges": []}}"#.utf8)
        #expect(scannedTokenizerJSON(lone) == nil)
    }
}

/// `readFile` (one read(2) loop sized by stat): files whose size stat does not know, and the limit.
struct ReadFileTests {
    #if os(Linux)
    @Test func fileLargerThanItsStatSizeIsReadWhole() throws {
        // /proc files are regular files that stat reports as empty.
        let url = URL(fileURLWithPath: "/proc/self/maps")
        let data = try readFile(url)
        #expect(data.count > 0 && String(decoding: data, as: UTF8.self).contains("\n"))
        #expect(throws: TokenizerError.unreadableFile(path: url.path, reason: "it has more than the 16 bytes allowed")) {
            try readFile(url, limit: 16)
        }
    }
    #endif

    @Test func sizesAtAndAboveTheLimit() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("mechanic-readfile-\(UUID().uuidString)")
        try Data("0123456789".utf8).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        #expect(try readFile(url, limit: 10) == Data("0123456789".utf8))
        #expect(throws: TokenizerError.unreadableFile(path: url.path, reason: "it has 10 bytes, more than the 9 allowed")) {
            try readFile(url, limit: 9)
        }
    }
}

/// SentencePiece pieces are checked as UTF-8 in place (`UTF8Check`) before they become strings.
struct SentencePieceUTF8Tests {
    @Test func pieceThatIsNotUTF8IsRefusedAndValidPiecesKeepTheirBytes() throws {
        var pieces = SyntheticSentencePieceTests.basic
        pieces.append(("ZZ", -6, 1))
        pieces.append(("\u{E9}\u{1F600}", -7, 1))
        var bytes = [UInt8](SyntheticSentencePieceTests.model(pieces))
        let good = try SyntheticSentencePieceTests.load(Data(bytes))
        #expect(good.token(of: pieces.count - 1) == "\u{E9}\u{1F600}" && good.id(of: "ZZ") == pieces.count - 2)
        // "ZZ" → C3 28: a lead byte without its continuation.
        let at = try #require((0..<(bytes.count - 1)).first { bytes[$0] == 0x5A && bytes[$0 + 1] == 0x5A })
        bytes[at] = 0xC3
        bytes[at + 1] = 0x28
        #expect {
            try SyntheticSentencePieceTests.load(Data(bytes))
        } throws: { e in "\(e)".contains("2 bytes that are not UTF-8") && "\(e)".contains(".model") }
    }
}
