import Foundation
import Testing
@testable import MechanicTokenizers

/// Vocabularies and added tokens that used to load and then decode wrongly (found by fuzzing):
/// now errors naming the file, the key and the value.
struct HostileVocabularyTests {
    let files = ErrorTests()

    @Test func tokensSharingAnIdAreRefused() throws {
        // Every entry mapped to one id: it used to load, and decode every id to one string.
        let json = files.tokenizerJSON(model: #"{"type": "BPE", "vocab": {"a": 0, "b": 0, "ab": 0}, "merges": ["a b"]}"#)
        let error = try files.loadError(["tokenizer.json": json])
        guard case .invalidValue(_, let key, let value, let expected) = error else { Issue.record("got \(error)"); return }
        #expect(key == #"model.vocab["b"]"# && value == "0" && expected.contains(#""a" has id 0 too"#))
        #expect(error.fileName.hasSuffix("tokenizer.json"))
        // The same in GPT-2's vocab.json.
        let gpt2 = try files.loadError(["vocab.json": #"{"a": 0, "b": 1, "ab": 1}"#, "merges.txt": "#version: 0.2\na b\n"])
        guard case .invalidValue(let file, let key2, _, let expected2) = gpt2 else { Issue.record("got \(gpt2)"); return }
        #expect(file.hasSuffix("vocab.json") && key2 == #""ab""# && expected2.contains(#""b" has id 1 too"#))
    }

    @Test func addedTokensNeedAnIdAndText() throws {
        func added(_ token: String) -> String {
            files.tokenizerJSON().replacingOccurrences(of: #""added_tokens": []"#, with: #""added_tokens": [\#(token)]"#)
        }
        let negative = try files.loadError(["tokenizer.json": added(#"{"id": -1, "content": "<s>", "special": true}"#)])
        #expect(negative == .invalidValue(file: negative.fileName, key: "added_tokens[0].id", value: "-1",
                                          expected: "a token id between 0 and 16,000,000"))
        let empty = try files.loadError(["tokenizer.json": added(#"{"id": 3, "content": "", "special": true}"#)])
        #expect(empty == .invalidValue(file: empty.fileName, key: "added_tokens[0].content", value: "\"\"",
                                       expected: "the token's text (not empty)"))
        // tokenizer_config.json's added_tokens_decoder is held to the same rule.
        let config = try files.loadError(["tokenizer.json": files.tokenizerJSON(),
                                          "tokenizer_config.json": #"{"added_tokens_decoder": {"-4": {"content": "<x>"}}}"#])
        #expect(config == .invalidValue(file: config.fileName, key: "added_tokens_decoder.-4.id", value: "-4",
                                        expected: "a token id between 0 and 16,000,000"))
        #expect(config.fileName.hasSuffix("tokenizer_config.json"))
    }
}
