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
