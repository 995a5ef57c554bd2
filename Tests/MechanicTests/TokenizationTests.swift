import Foundation
import Testing
import FixtureSupport
@testable import Mechanic

/// `toTokens` reproduces TransformerLens's `to_tokens` (its BOS rule per family) on the fixture
/// models' own tokenizers, and the string helpers behave as TransformerLens's.
@Suite struct TokenizationTests {
    @Test(arguments: ["gpt2-tiny", "pythia-tiny", "llama-tiny", "qwen2-tiny"])
    func toTokensMatchesTransformerLens(name: String) throws {
        let model = try Fixtures.load(name, processed: true)
        for p in try Fixtures.prompts(name) {
            guard let text = p.text else { continue }
            #expect(try model.toTokens(text) == p.tokens, "\(name) \(p.name)")
            // prepend_bos=False drops exactly the BOS, never doubles it
            let bos = model.tokenizer?.bosTokenId
            let withoutBOS = bos != nil && p.tokens.first == bos ? Array(p.tokens.dropFirst()) : p.tokens
            let ours = try model.toTokens(text, prependBOS: false)
            #expect(ours == withoutBOS, "\(name) \(p.name): \(ours) vs \(withoutBOS) (bos \(String(describing: bos)))")
        }
    }

    @Test func singleTokensPositionsAndErrors() throws {
        let model = try Fixtures.load("gpt2-tiny", processed: true)
        let ids = try model.toTokens("The cat sat.")
        let cat = try model.toSingleToken(" cat")
        #expect(ids.contains(cat))
        #expect(try model.tokenPosition(of: " cat", in: "The cat sat.") == ids.firstIndex(of: cat))
        #expect(try model.toStrTokens(ids).joined() == "<|endoftext|>The cat sat.")
        #expect(try model.toString(Array(ids.dropFirst())) == "The cat sat.")
        do {
            _ = try model.toSingleToken(" boils degrees")
            Issue.record("a multi-token string must be refused")
        } catch let MechanicError.notSingleToken(text, pieces) {
            #expect(text == " boils degrees" && pieces.count > 1 && pieces.joined() == " boils degrees")
        }
        #expect(throws: MechanicError.self) { _ = try model.tokenPosition(of: " cat", in: "Water boils") }
    }

    @Test func paddedTextBatchMasksPadding() throws {
        let model = try Fixtures.load("gpt2-tiny", processed: true)
        let batch = try model.toTokens(["The cat sat.", "Water boils at 100 degrees"], paddingSide: .left)
        #expect(batch.tokens(0) == (try model.toTokens("The cat sat.")))
        #expect(batch.mask[0].filter { $0 == 0 }.count == batch.length - (try model.toTokens("The cat sat.")).count)
    }
}
