import Foundation
import Testing
import FixtureSupport
@testable import Mechanic
import MechanicTokenizers

/// Tokenizers a user actually has: `load(_:tokenizer:)` / `setTokenizer`, the check that the
/// tokenizer fits `d_vocab`, and `config.json`'s `bos_token_id` for a model without tokenizer files.
@Suite struct ModelTokenizerTests {
    @Test func modelWithoutTokenizerFilesUsesConfigBOS() throws {
        for (name, bos) in [("llama-tiny", 1), ("gpt2-tiny", 499), ("pythia-tiny", 0)] {
            let dir = try TestFixtures.bareModel(name)
            defer { try? FileManager.default.removeItem(at: dir) }
            let m = try HookedTransformer.load(dir)
            #expect(m.tokenizer == nil)
            #expect(m.configBosTokenId == bos && m.bosTokenId == bos, "\(name)")
        }
        // With a tokenizer, its BOS wins.
        #expect(try TestFixtures.load("llama-tiny").bosTokenId == 1)
    }

    @Test func tokenizerOptionAttachesATokenizerJSONOrADirectory() throws {
        let dir = try TestFixtures.bareModel("llama-tiny")
        defer { try? FileManager.default.removeItem(at: dir) }
        let reference = try TestFixtures.load("llama-tiny")
        let text = "The cat sat on the mat"
        for path in [TestFixtures.model("llama-tiny").appendingPathComponent("tokenizer.json"), TestFixtures.model("llama-tiny")] {
            let m = try HookedTransformer.load(dir, tokenizer: path)
            #expect(try m.toTokens(text) == reference.toTokens(text))
        }
        let m = try HookedTransformer.load(dir)
        #expect(throws: MechanicError.self) { try m.toTokens(text) }
        try m.setTokenizer(path: TestFixtures.model("llama-tiny"))
        #expect(try m.toTokens(text) == reference.toTokens(text))
    }

    /// llama-tiny's 512-token tokenizer on gpt2-tiny (d_vocab 500): ids 500…511 would index past W_U.
    @Test func tokenizerWithIdsBeyondDVocabIsAnErrorNamingBothFiles() throws {
        let dir = try TestFixtures.bareModel("gpt2-tiny")
        defer { try? FileManager.default.removeItem(at: dir) }
        let tokenizerFile = TestFixtures.model("llama-tiny").appendingPathComponent("tokenizer.json")
        do {
            _ = try HookedTransformer.load(dir, tokenizer: tokenizerFile)
            Issue.record("a tokenizer with ids ≥ d_vocab must be refused")
        } catch let e as MechanicError {
            guard case let .tokenizerDoesNotFit(tok, config, reason) = e else { Issue.record("\(e)"); return }
            #expect(tok == tokenizerFile.path && config == dir.appendingPathComponent("config.json").path)
            #expect(reason.contains("511") && reason.contains("d_vocab = 500"), "\(e)")
        }
        let m = try HookedTransformer.load(dir)
        #expect(throws: MechanicError.self) { try m.setTokenizer(path: tokenizerFile) }
        #expect(m.tokenizer == nil)
        // The real Llama-2 tokenizer.model (32,000 pieces) on llama-tiny (d_vocab 512).
        if let llama2 = TestFixtures.sharedTokenizer("llama2") {
            let tiny = try TestFixtures.bareModel("llama-tiny")
            defer { try? FileManager.default.removeItem(at: tiny) }
            #expect {
                try HookedTransformer.load(tiny, tokenizer: llama2.appendingPathComponent("tokenizer.model"))
            } throws: { e in
                let s = "\(e)"
                return s.contains("tokenizer.model") && s.contains("config.json") && s.contains("31999") && s.contains("512")
            }
        }
    }

    /// A model directory whose only tokenizer file is tokenizer.model uses it (here the real
    /// Llama-2 one, which is then refused: 32,000 pieces do not fit llama-tiny's 512 rows).
    @Test func modelDirectoryWithOnlyTokenizerModel() throws {
        guard let llama2 = TestFixtures.sharedTokenizer("llama2") else { return }
        let dir = try TestFixtures.bareModel("llama-tiny")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createSymbolicLink(at: dir.appendingPathComponent("tokenizer.model"),
                                                   withDestinationURL: llama2.appendingPathComponent("tokenizer.model"))
        let tok = try #require(try HookedTransformer.loadTokenizer(dir))
        #expect(tok.encode("The mouse is short") == [1, 450, 9495, 338, 3273])
        #expect {
            try HookedTransformer.load(dir)
        } throws: { e in "\(e)".contains(dir.appendingPathComponent("tokenizer.model").path) && "\(e)".contains("d_vocab = 512") }
    }

    /// A tokenizer.json with an empty vocabulary next to a config.json with 500 tokens: today's
    /// failure mode was a model that ran and decoded every token as "".
    @Test func emptyVocabularyIsAnErrorNamingBothFiles() throws {
        let json = #"{"version": "1.0", "model": {"type": "BPE", "vocab": {}, "merges": []}, "added_tokens": []}"#
        let dir = try TestFixtures.bareModel("gpt2-tiny", extra: ["tokenizer.json": json])
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect {
            try HookedTransformer.load(dir)
        } throws: { e in
            let s = "\(e)"
            return s.contains(dir.appendingPathComponent("tokenizer.json").path) && s.contains(dir.appendingPathComponent("config.json").path)
                && s.contains("empty vocabulary") && s.contains("d_vocab = 500")
        }
    }
}
