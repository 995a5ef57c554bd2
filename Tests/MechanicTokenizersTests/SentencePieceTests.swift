import Foundation
import Testing
@testable import MechanicTokenizers

/// Llama-2's `tokenizer.model` read directly, against the `sentencepiece` library's own output
/// (Tests/Fixtures/tokenizers/llama2_sentencepiece.json, from scripts/reference/sentencepiece_fixtures.py).
@Suite(.enabled(if: Fixtures.sharedAvailable, "needs ../shared/data/tokenizers (absent: skipped)"))
struct RealSentencePieceTests {
    static let modelFile = Fixtures.sharedTokenizers.appendingPathComponent("llama2/tokenizer.model")

    struct Expected {
        let strings: [String]
        let ids: [[Int]]
        let decode: [String]
        let pieces: [(Int, String, String)]
        init() throws {
            let o = try Fixtures.json("llama2_sentencepiece.json")
            strings = (o["strings"]?.arrayValue ?? []).compactMap(\.stringValue)
            ids = (o["ids"]?.arrayValue ?? []).map { ($0.arrayValue ?? []).compactMap(\.intValue) }
            let strs = strings
            decode = (o["decode"]?.arrayValue ?? []).enumerated().map { i, v in v.stringValue ?? strs[i] }
            pieces = (o["pieces"]?.arrayValue ?? []).compactMap { row in
                guard let r = row.arrayValue, r.count == 3, let id = r[0].intValue, let p = r[1].stringValue, let d = r[2].stringValue else { return nil }
                return (id, p, d)
            }
            guard strings.count > 1000, ids.count == strings.count, decode.count == strings.count else {
                throw FixtureError("llama2_sentencepiece.json: strings, ids and decode must have the same length (> 1000)")
            }
        }
    }

    @Test func idsEqualSentencePieceOnEveryString() throws {
        let tok = try Tokenizer.load(path: Self.modelFile)
        let e = try Expected()
        let noBOS = expectRows("ids", strings: e.strings, expected: e.ids) { tok.encode(e.strings[$0], addSpecialTokens: false) }
        let withBOS = expectRows("ids with BOS", strings: e.strings, expected: e.ids.map { [1] + $0 }) { tok.encode(e.strings[$0]) }
        print("SentencePiece agreement: \(e.strings.count - noBOS) of \(e.strings.count) strings identical (with BOS: \(e.strings.count - withBOS))")
        #expect(noBOS == 0 && withBOS == 0)
        #expect(tok.encode("The opposite of tall is") == [1, 450, 11564, 310, 15655, 338])
        #expect(tok.encode("<s>", addSpecialTokens: false) == [529, 29879, 29958], "literal <s> is text to sentencepiece")
    }

    @Test func decodesAsSentencePieceAndRoundTrips() throws {
        let tok = try Tokenizer.load(path: Self.modelFile)
        let e = try Expected()
        expectRows("decode", strings: e.strings, expected: e.decode.map(Exact.init)) { Exact(tok.decode(e.ids[$0])) }
        expectRows("decode with BOS", strings: e.strings, expected: e.decode.map(Exact.init)) { Exact(tok.decode([1] + e.ids[$0])) }
        // Round trip: every string sentencepiece itself gives back.
        let lossless = e.strings.indices.filter { Exact(e.decode[$0]) == Exact(e.strings[$0]) }
        #expect(lossless.count > 1000)
        expectRows("round trip", strings: e.strings, expected: lossless.map { Exact(e.strings[$0]) }) {
            Exact(tok.decode(tok.encode(e.strings[lossless[$0]])))
        }
    }

    @Test func piecesAndSpecialIds() throws {
        let tok = try Tokenizer.load(path: Self.modelFile)
        let e = try Expected()
        #expect(e.pieces.count > 600)
        for (id, piece, decoded) in e.pieces {
            #expect(tok.token(of: id).map(Exact.init) == Exact(piece), "token(of: \(id))")
            #expect(Exact(tok.tokenString(id)) == Exact(decoded), "tokenString(\(id))")
            #expect(tok.id(of: piece) == id)
        }
        #expect(tok.vocabSize == 32000)
        #expect(tok.bosTokenId == 1 && tok.eosTokenId == 2 && tok.unkTokenId == 0 && tok.padTokenId == nil)
        #expect(tok.addsBosToken)
    }

    /// A directory that holds only `tokenizer.model` loads (through a symlink: the real file is
    /// never copied into the repository).
    @Test func directoryWithOnlyTokenizerModel() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("spm-only-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createSymbolicLink(at: dir.appendingPathComponent("tokenizer.model"), withDestinationURL: Self.modelFile)
        let tok = try Tokenizer.load(directory: dir)
        #expect(tok.encode("The mouse is short") == [1, 450, 9495, 338, 3273])
        let viaPath = try Tokenizer.load(path: dir)
        #expect(viaPath.encode("  a  b ", addSpecialTokens: false) == [259, 263, 29871, 289, 29871])
        // With a tokenizer_config.json that turns BOS off.
        try Data(#"{"add_bos_token": false, "tokenizer_class": "LlamaTokenizer"}"#.utf8).write(to: dir.appendingPathComponent("tokenizer_config.json"))
        let noBOS = try Tokenizer.load(directory: dir)
        #expect(noBOS.encode("short") == [3273])
        #expect(!noBOS.addsBosToken && noBOS.bosTokenId == 1)
    }
}

/// Small hand-built `ModelProto`s for the rules the Llama-2 file does not exercise.
struct SyntheticSentencePieceTests {
    /// Protobuf bytes of a ModelProto: (piece, score, type) pieces, a trainer_spec and a normalizer_spec.
    static func model(_ pieces: [(String, Float, Int)], modelType: Int = 2, byteFallback: Bool = false,
                      removeExtraWhitespaces: Bool = false, addDummyPrefix: Bool = true, unkId: Int? = nil) -> Data {
        func varint(_ v: UInt64) -> [UInt8] {
            var v = v, out: [UInt8] = []
            while v >= 0x80 { out.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
            return out + [UInt8(v)]
        }
        func field(_ n: Int, _ bytes: [UInt8]) -> [UInt8] { varint(UInt64(n << 3 | 2)) + varint(UInt64(bytes.count)) + bytes }
        func int(_ n: Int, _ v: Int) -> [UInt8] { varint(UInt64(n << 3)) + varint(UInt64(bitPattern: Int64(v))) }
        var out: [UInt8] = []
        for (p, score, type) in pieces {
            let bits = score.bitPattern
            let body = field(1, Array(p.utf8)) + varint(2 << 3 | 5) + (0..<4).map { UInt8((bits >> (8 * $0)) & 0xFF) } + int(3, type)
            out += field(1, body)
        }
        var trainer = int(3, modelType) + int(35, byteFallback ? 1 : 0) + int(42, -1) + int(41, -1)
        if let unkId { trainer += int(40, unkId) }
        out += field(2, trainer)
        out += field(3, field(1, Array("identity".utf8)) + int(3, addDummyPrefix ? 1 : 0) + int(4, removeExtraWhitespaces ? 1 : 0))
        return Data(out)
    }

    static func load(_ data: Data) throws -> Tokenizer {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("synthetic-\(UUID().uuidString).model")
        try data.write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        return try Tokenizer.load(path: url)
    }

    static let basic: [(String, Float, Int)] = [
        ("<unk>", 0, 2), ("a", -1, 1), ("b", -1, 1), ("c", -1, 1), ("\u{2581}", -1, 1),
        ("ab", -5, 1), ("bc", -2, 1), ("abc", -3, 1), ("\u{2581}a", -4, 1),
    ]

    /// The pair whose merged piece scores highest merges first, whatever the vocabulary order:
    /// "▁abc" → ▁ a b c → (bc -2 beats ▁a -4 and ab -5) ▁ a bc → (abc -3) ▁ abc. Merging by
    /// vocabulary order (ab, id 5, first) would give ▁a bc.
    @Test func mergesByScoreOfTheMergedPiece() throws {
        let tok = try Self.load(Self.model(Self.basic))
        #expect(tok.encode("abc") == [4, 7])
        #expect(tok.decode([4, 7]) == "abc")
        #expect(tok.encode("ab") == [8, 2], "▁a (-4) beats ab (-5)")
        #expect(tok.bosTokenId == nil && !tok.addsBosToken)
    }

    /// Without byte fallback, a run of unknown characters is one unk id; decode shows " ⁇ ".
    @Test func unknownRunIsOneUnkWithoutByteFallback() throws {
        let tok = try Self.load(Self.model(Self.basic))
        #expect(tok.encode("axyb") == [8, 0, 2])
        #expect(tok.decode([8, 0, 2]) == "a \u{2047} b")
        #expect(tok.decode([8, 0, 2], skipSpecialTokens: true) == "ab")
    }

    @Test func removeExtraWhitespacesAndNoDummyPrefix() throws {
        let collapsing = try Self.load(Self.model(Self.basic, removeExtraWhitespaces: true))
        #expect(collapsing.encode("  a   a  ") == [8, 8])
        let plain = try Self.load(Self.model(Self.basic, addDummyPrefix: false))
        #expect(plain.encode("a a") == [1, 8])
    }

    @Test func refusesUnigramAndBrokenFiles() throws {
        #expect {
            try Self.load(Self.model(Self.basic, modelType: 1))
        } throws: { e in "\(e)".contains(".model") && "\(e)".contains("unigram") }
        var truncated = Self.model(Self.basic)
        truncated.removeLast(3)
        #expect {
            try Self.load(truncated)
        } throws: { e in "\(e)".contains("truncated or corrupt protobuf") }
        #expect {
            try Self.load(Self.model(Self.basic, unkId: 3))
        } throws: { e in "\(e)".contains("pieces[3].type") && "\(e)".contains("UNKNOWN") }
        #expect {
            try Self.load(Self.model([("<unk>", 0, 2), ("<0x41>", 0, 6)]))
        } throws: { e in "\(e)".contains("byte_fallback") }
        #expect(throws: TokenizerError.self) { try Tokenizer.load(path: URL(fileURLWithPath: "/nonexistent/tokenizer.model")) }
    }
}
