import Foundation
import Testing
import FixtureSupport
@testable import Mechanic
@testable import MechanicAnalysis

/// Trap 2: `predict --prompt "The mouse is " --answer "short"` on a Llama tokenizer scored the ids of
/// "The mouse is  short" (the prompt's lone "▁", then "▁short" with SentencePiece's dummy prefix)
/// while the warning said no space was added. The scored ids must read as prompt + answer.
@Suite struct TestPromptTrapTests {
    static func reads(_ t: AnswerTokenization, _ tok: Tokenizer) -> String {
        tok.decode(t.promptTokens + t.answerTokens, skipSpecialTokens: true)
    }

    @Test func llama2TrailingSpacePromptScoresOneSpace() throws {
        guard let dir = TestFixtures.sharedTokenizer("llama2") else { return }
        // Hugging Face's tokenizer.json and sentencepiece's tokenizer.model agree.
        for tok in [try Tokenizer.load(directory: dir), try Tokenizer.load(path: dir.appendingPathComponent("tokenizer.model"))] {
            let t = try AnswerTokenization(prompt: "The mouse is ", answer: "short", tokenizer: tok, prependBOS: true)
            #expect(t.promptTokens == [1, 450, 9495, 338] && t.answerTokens == [3273], "\(t)")
            #expect(Self.reads(t, tok) == "The mouse is short")
            #expect(t.method == "joint")
            #expect(t.warnings.contains { $0.contains("no space is prepended") })
            #expect(t.warnings.contains { $0.contains("\"▁\"") && $0.contains("\"▁short\"") }, "\(t.warnings)")
            #expect(!t.warnings.contains { $0.contains("scored tokens read") }, "\(t.warnings)")

            // Glued to the last word: "s" continues "The cat" without a dummy-prefix space.
            let glued = try AnswerTokenization(prompt: "The cat", answer: "s", tokenizer: tok, prependBOS: true, prependSpaceToAnswer: false)
            #expect(Self.reads(glued, tok) == "The cats", "\(glued)")
            #expect(!glued.warnings.contains { $0.contains("scored tokens read") }, "\(glued.warnings)")
            // The usual case is untouched: " short" after "The mouse is".
            let plain = try AnswerTokenization(prompt: "The mouse is", answer: "short", tokenizer: tok, prependBOS: true)
            #expect(plain.promptTokens == [1, 450, 9495, 338] && plain.answerTokens == [3273], "\(plain)")
            #expect(plain.warnings.count == 1 && plain.warnings[0].hasPrefix("TransformerLens's test_prompt would score \"▁\" + \"▁short\""), "\(plain.warnings)")
        }
    }

    /// A prompt given as ids: "mat" with --no-prepend-space continues the prompt's last word on
    /// Llama-2 too (not "▁mat", which reads " mat"); " mat" stays "▁mat".
    @Test func llama2AnswerAfterPromptIds() throws {
        guard let dir = TestFixtures.sharedTokenizer("llama2") else { return }
        let tok = try Tokenizer.load(path: dir.appendingPathComponent("tokenizer.model"))
        let prompt = tok.encode("The cat sat on the")
        let glued = try AnswerTokenization.answer(after: prompt, text: "mat", tokenizer: tok)
        #expect(tok.decode(prompt + glued.tokens, skipSpecialTokens: true) == "The cat sat on themat", "\(glued)")
        #expect(glued.warnings.count == 1 && glued.warnings[0].contains("continuation"), "\(glued.warnings)")
        let spaced = try AnswerTokenization.answer(after: prompt, text: " mat", tokenizer: tok)
        #expect(spaced.tokens == [tok.encode("mat", addSpecialTokens: false)[0]] && !spaced.warnings.contains { $0.contains("read") }, "\(spaced)")
    }

    @Test func gpt2TrailingSpacePromptScoresOneSpace() throws {
        guard let dir = TestFixtures.sharedTokenizer("gpt2") else { return }
        let tok = try Tokenizer.load(directory: dir)
        let t = try AnswerTokenization(prompt: "The mouse is ", answer: "short", tokenizer: tok, prependBOS: true)
        #expect(Self.reads(t, tok) == "The mouse is short")
        #expect(t.answerTokens == [tok.encode(" short", addSpecialTokens: false)[0]] && t.promptTokens.last == tok.id(of: "Ġis"), "\(t)")
    }

    /// The same on the llama-tiny fixture model (its own small SentencePiece-style tokenizer).
    @Test func fixtureLlamaModelScoresWhatThePromptReads() throws {
        let m = try TestFixtures.load("llama-tiny")
        let tok = try #require(m.tokenizer)
        let r = try testPrompt(model: m, prompt: "The cat sat on the ", answer: "mat", top: 3)
        #expect(tok.decode(r.promptTokens + r.answerTokens, skipSpecialTokens: true) == "The cat sat on the mat", "\(r.promptTokens) \(r.answerTokens)")
        #expect(!r.warnings.contains { $0.contains("scored tokens read") }, "\(r.warnings)")
        #expect(r.positions.count == r.answerTokens.count && r.positions.first?.position == r.promptTokens.count - 1)
        #expect(r.answerStrTokens.first?.hasPrefix("\u{2581}") == true, "Llama pieces keep their ▁: \(r.answerStrTokens)")
    }
}
