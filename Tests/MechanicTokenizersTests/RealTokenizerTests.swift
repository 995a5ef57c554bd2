import Foundation
import Testing
@testable import MechanicTokenizers

/// The real GPT-2, Pythia and Llama-2 tokenizers against Hugging Face's output for the corpus
/// (Tests/Fixtures/tokenizers/{gpt2,pythia,llama2}.json, from scripts/reference/tokenizer_corpus.py).
@Suite(.enabled(if: Fixtures.sharedAvailable, "needs ../shared/data/tokenizers (absent: skipped)"))
struct RealTokenizerTests {
    @Test(arguments: Fixtures.realNames)
    func idsWithAndWithoutSpecialTokens(name: String) throws {
        let tok = try Fixtures.real(name)
        let e = try Expectations(file: "\(name).json")
        #expect(e.strings.count >= 1000)
        expectRows("\(name) ids_no_special", strings: e.strings, expected: e.idsNoSpecial) { tok.encode(e.strings[$0], addSpecialTokens: false) }
        expectRows("\(name) ids", strings: e.strings, expected: e.ids) { tok.encode(e.strings[$0]) }
    }

    @Test(arguments: Fixtures.realNames)
    func decodes(name: String) throws {
        let tok = try Fixtures.real(name)
        let e = try Expectations(file: "\(name).json")
        expectRows("\(name) decode", strings: e.strings, expected: e.decode.map(Exact.init)) { Exact(tok.decode(e.ids[$0])) }
        expectRows("\(name) decode_skip_special", strings: e.strings, expected: e.decodeSkipSpecial.map(Exact.init)) {
            Exact(tok.decode(e.ids[$0], skipSpecialTokens: true))
        }
        if let d = e.decodeNoSpecial {
            expectRows("\(name) decode_no_special", strings: e.strings, expected: d.map(Exact.init)) { Exact(tok.decode(e.idsNoSpecial[$0])) }
        }
    }

    @Test(arguments: Fixtures.realNames)
    func piecesAndTokenStrings(name: String) throws {
        let tok = try Fixtures.real(name)
        let e = try Expectations(file: "\(name).json")
        #expect(e.pieces.count > 1000)
        var failures = 0
        for (id, piece, token) in e.pieces {
            let got = tok.tokenString(id)
            if Exact(got) != Exact(piece) {
                failures += 1
                if failures <= 5 { Issue.record("\(name) tokenString(\(id)): expected \(TokenizerError.quoted(piece)), got \(TokenizerError.quoted(got))") }
            }
            #expect(tok.token(of: id).map(Exact.init) == token.map(Exact.init), "\(name) token(of: \(id))")
            if let token { #expect(tok.id(of: token) == id, "\(name) id(of: \(TokenizerError.quoted(token)))") }
        }
        #expect(failures == 0)
    }

    /// decode(encode(t)) == t for every corpus string that holds no added-token text, except where
    /// the tokenizer itself changes the text: Pythia normalizes to NFC; Llama-2 turns "▁" into a space.
    @Test(arguments: Fixtures.realNames)
    func roundTrip(name: String) throws {
        let tok = try Fixtures.real(name)
        let contents = tok.addedTokens.filter(\.special).map(\.content)
        var checked = 0
        for s in Fixtures.corpus {
            if contents.contains(where: { s.contains($0) }) { continue }
            if name == "pythia" && Exact(s.precomposedStringWithCanonicalMapping) != Exact(s) { continue }
            if name == "llama2" && s.contains("\u{2581}") { continue }
            checked += 1
            let back = tok.decode(tok.encode(s, addSpecialTokens: false))
            #expect(Exact(back) == Exact(s), "\(name) round trip of \(TokenizerError.quoted(s)) gave \(TokenizerError.quoted(back))")
        }
        #expect(checked > 900)
    }

    @Test(arguments: Fixtures.realNames)
    func specialTokensAndSizes(name: String) throws {
        let tok = try Fixtures.real(name)
        let e = try Expectations(file: "\(name).json")
        #expect(tok.addsBosToken == e.raw["adds_bos"]?.boolValue)
        #expect(tok.addsBosToken == (name == "llama2"))
        #expect(tok.vocabSize == e.raw["len"]?.intValue)
        #expect(tok.bosTokenId == e.raw["bos_token_id"]?.intValue)
        #expect(tok.eosTokenId == e.raw["eos_token_id"]?.intValue)
        #expect(tok.padTokenId == e.raw["pad_token_id"]?.intValue)
        #expect(tok.unkTokenId == e.raw["unk_token_id"]?.intValue)
        #expect(tok.bosToken == e.raw["bos_token"]?.stringValue)
        // transformers' all_special_ids (bos/eos/unk/pad) are special added tokens here too.
        let special = Set((e.raw["special_ids"]?.arrayValue ?? []).compactMap(\.intValue))
        #expect(!special.isEmpty && special.isSubset(of: tok.specialTokenIds))
    }

    @Test func knownValues() throws {
        let gpt2 = try Fixtures.real("gpt2")
        #expect(gpt2.encode("When Mary and John went to the store, John gave a drink to")
                == [2215, 5335, 290, 1757, 1816, 284, 262, 3650, 11, 1757, 2921, 257, 4144, 284])
        #expect(gpt2.id(of: "<|endoftext|>") == 50256 && gpt2.bosTokenId == 50256 && gpt2.vocabSize == 50257)
        #expect(gpt2.tokenString(262) == " the")
        let llama = try Fixtures.real("llama2")
        #expect(llama.encode("The opposite of tall is") == [1, 450, 11564, 310, 15655, 338])
        #expect(llama.encode("The opposite of tall is", addSpecialTokens: false) == [450, 11564, 310, 15655, 338])
        #expect(llama.bosTokenId == 1 && llama.eosTokenId == 2 && llama.unkTokenId == 0 && llama.vocabSize == 32000)
        #expect(llama.tokenString(13) == "\n")
        let pythia = try Fixtures.real("pythia")
        #expect(pythia.encode("Hello   world") == [12092, 50275, 10186])
        #expect(pythia.padTokenId == 50277 && pythia.eosTokenId == 0)
    }

    /// Random text from many Unicode blocks (unassigned and private-use code points, controls,
    /// combining marks, astral planes) survives encode → decode, and long inputs take the heap
    /// merge path without trouble.
    @Test(arguments: Fixtures.realNames)
    func randomTextRoundTrips(name: String) throws {
        let tok = try Fixtures.real(name)
        var rng = SplitMix(seed: 99)
        let ranges: [ClosedRange<UInt32>] = [0x00...0x7F, 0x80...0x24F, 0x300...0x36F, 0x370...0x52F, 0x590...0x6FF, 0x900...0x97F,
                                             0xE00...0xE7F, 0x1100...0x11FF, 0x2000...0x206F, 0x3000...0x30FF, 0x4E00...0x9FFF,
                                             0xAC00...0xD7A3, 0xE000...0xF8FF, 0xFB00...0xFFFD, 0x10000...0x1FFFF, 0x20000...0x2FFFF,
                                             0xE0000...0xE01EF, 0x10FFF0...0x10FFFD]
        for round in 0..<300 {
            var scalars = String.UnicodeScalarView()
            let length = round < 290 ? Int(rng.next() % 40) : 3000 + Int(rng.next() % 3000)
            for _ in 0..<length {
                let r = ranges[Int(rng.next() % UInt64(ranges.count))]
                let v = r.lowerBound + UInt32(rng.next() % UInt64(r.upperBound - r.lowerBound + 1))
                if let s = UnicodeScalar(v), v != 0x2581 { scalars.append(s) }
            }
            let s = String(scalars)
            if tok.addedTokens.contains(where: { $0.special && s.contains($0.content) }) { continue }
            let ids = tok.encode(s, addSpecialTokens: false)
            #expect(ids.allSatisfy { $0 >= 0 && $0 < tok.vocabSize })
            let expected = name == "pythia" ? s.precomposedStringWithCanonicalMapping : s
            let back = tok.decode(ids)
            if Exact(back) != Exact(expected) {
                Issue.record("\(name): round trip of \(Exact(s)) gave \(Exact(back))")
                break
            }
        }
    }

    /// `load(tokenizerJSON:config:)` builds the same tokenizer as `load(directory:)`.
    @Test func loadFromFiles() throws {
        let dir = Fixtures.sharedTokenizers.appendingPathComponent("llama2")
        let tok = try Tokenizer.load(tokenizerJSON: dir.appendingPathComponent("tokenizer.json"),
                                     config: dir.appendingPathComponent("tokenizer_config.json"))
        let reference = try Fixtures.real("llama2")
        for s in Fixtures.corpus.prefix(200) { #expect(tok.encode(s) == reference.encode(s)) }
        #expect(tok.bosTokenId == 1 && tok.addsBosToken)
        // Without a config the tokenizer.json's own template still adds <s>.
        let bare = try Tokenizer.load(tokenizerJSON: dir.appendingPathComponent("tokenizer.json"), config: nil)
        #expect(bare.encode("The opposite of tall is") == [1, 450, 11564, 310, 15655, 338] && bare.bosTokenId == 1)
        let pythia = try Tokenizer.load(tokenizerJSON: Fixtures.sharedTokenizers.appendingPathComponent("pythia/tokenizer.json"), config: nil)
        #expect(!pythia.addsBosToken && pythia.encode("Hello   world") == [12092, 50275, 10186])
    }

    /// The same tokenizer used from many threads gives the same ids.
    @Test func concurrentEncoding() async throws {
        let tok = try Fixtures.real("gpt2")
        let strings = Array(Fixtures.corpus.prefix(300))
        let expected = strings.map { tok.encode($0) }
        let results = await withTaskGroup(of: [[Int]].self) { group in
            for _ in 0..<4 { group.addTask { strings.map { tok.encode($0) } } }
            var all: [[[Int]]] = []
            for await r in group { all.append(r) }
            return all
        }
        for r in results { #expect(r == expected) }
    }
}
