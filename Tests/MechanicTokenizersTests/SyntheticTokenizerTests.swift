import Foundation
import Testing
@testable import MechanicTokenizers

/// Small tokenizers trained by scripts/reference/tokenizer_corpus.py to exercise the components the
/// real files do not use (Split with the Llama-3 / Qwen2 regexes, ignore_merges, Metaspace, byte
/// fallback with unk, NFKC/NFD/StripAccents/Lowercase/Strip/Replace, Digits, Punctuation,
/// Whitespace(Split), regex splits with every behavior, subword prefix/suffix, Bert/Roberta/
/// Sequence post-processors, all decoders, added tokens with lstrip/rstrip/single_word, "a b"
/// merges). Expected values come from Hugging Face `tokenizers` on the same files.
struct SyntheticTokenizerTests {
    @Test(arguments: Fixtures.syntheticNames)
    func idsMatchHuggingFace(name: String) throws {
        let tok = try Fixtures.synthetic(name)
        let e = try Expectations(file: "synthetic/\(name).expected.json")
        #expect(e.strings.count > 300)
        expectRows("\(name) ids_no_special", strings: e.strings, expected: e.idsNoSpecial) { tok.encode(e.strings[$0], addSpecialTokens: false) }
        expectRows("\(name) ids", strings: e.strings, expected: e.ids) { tok.encode(e.strings[$0]) }
    }

    @Test(arguments: Fixtures.syntheticNames)
    func decodesMatchHuggingFace(name: String) throws {
        let tok = try Fixtures.synthetic(name)
        let e = try Expectations(file: "synthetic/\(name).expected.json")
        expectRows("\(name) decode", strings: e.strings, expected: e.decode.map(Exact.init)) { Exact(tok.decode(e.ids[$0])) }
        expectRows("\(name) decode_skip_special", strings: e.strings, expected: e.decodeSkipSpecial.map(Exact.init)) {
            Exact(tok.decode(e.ids[$0], skipSpecialTokens: true))
        }
        var failures = 0
        for (id, piece, token) in e.pieces {
            if Exact(tok.tokenString(id)) != Exact(piece) {
                failures += 1
                if failures <= 5 { Issue.record("\(name) tokenString(\(id)): expected \(Exact(piece)), got \(Exact(tok.tokenString(id)))") }
            }
            #expect(tok.token(of: id).map(Exact.init) == token.map(Exact.init), "\(name) token(of: \(id))")
        }
        #expect(failures == 0)
        #expect(tok.vocabSize == e.pieces.count)
    }

    @Test func llama3AddedTokensAndBos() throws {
        let tok = try Fixtures.synthetic("llama3_split")
        let bos = try #require(tok.id(of: "<|begin_of_text|>"))
        #expect(tok.addsBosToken)
        #expect(tok.bosTokenId == bos)   // taken from the template when there is no config
        #expect(try Fixtures.synthetic("bert_like").addsBosToken)
        #expect(try !Fixtures.synthetic("bytelevel_prefix").addsBosToken)   // "$A </s>" appends only
        #expect(try !Fixtures.synthetic("qwen2_nfc").addsBosToken)
        let eot = try #require(tok.id(of: "<|eot|>"))
        // lstrip/rstrip swallow the surrounding spaces.
        let ids = tok.encode("a  <|eot|>  b", addSpecialTokens: false)
        #expect(ids.contains(eot))
        #expect(tok.decode(ids) == "a<|eot|>b")
    }
}
