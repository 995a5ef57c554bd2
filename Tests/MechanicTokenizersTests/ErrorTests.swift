#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
@testable import MechanicTokenizers

/// Bad input throws a typed error whose message names the file, the key and the value.
struct ErrorTests {
    /// A fresh temporary directory holding `files`.
    func directory(_ files: [String: String]) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mechanic-tok-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for (name, content) in files { try content.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8) }
        return dir
    }

    /// A minimal valid tokenizer.json with one component replaced.
    func tokenizerJSON(model: String = #"{"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}"#,
                       normalizer: String = "null", preTokenizer: String = "null", postProcessor: String = "null",
                       decoder: String = "null") -> String {
        """
        {"version": "1.0", "added_tokens": [], "normalizer": \(normalizer), "pre_tokenizer": \(preTokenizer),
         "post_processor": \(postProcessor), "decoder": \(decoder), "model": \(model)}
        """
    }

    func loadError(_ files: [String: String]) throws -> TokenizerError {
        let dir = try directory(files)
        defer { try? FileManager.default.removeItem(at: dir) }
        do {
            _ = try Tokenizer.load(directory: dir)
        } catch let error as TokenizerError {
            return error
        }
        throw FixtureError("no error thrown for \(files.keys.sorted())")
    }

    @Test func minimalTokenizerWorks() throws {
        let dir = try directory(["tokenizer.json": tokenizerJSON()])
        defer { try? FileManager.default.removeItem(at: dir) }
        let tok = try Tokenizer.load(directory: dir)
        #expect(tok.encode("abab") == [2, 2])   // no pre-tokenizer: one word; "ab" + "ab" has no merge
        #expect(tok.encode("aab") == [0, 2])
        #expect(tok.vocabSize == 3 && !tok.addsBosToken && tok.bosTokenId == nil)
        #expect(tok.decode([0, 1, 99, -5]) == "a b")   // no decoder: tokens joined by spaces; unknown ids skipped
        #expect(tok.tokenString(-1) == "" && tok.token(of: 99) == nil && tok.id(of: "zz") == nil)
    }

    @Test func missingDirectoryAndFiles() throws {
        let missing = URL(fileURLWithPath: "/nonexistent/mechanic/tokenizer-dir")
        #expect(throws: TokenizerError.fileNotFound(path: missing.path)) { try Tokenizer.load(directory: missing) }
        let empty = try loadError([:])
        guard case .noTokenizerFiles = empty else { Issue.record("got \(empty)"); return }
        #expect(empty.description.contains("tokenizer.json") && empty.description.contains("merges.txt"))
        let onlyVocab = try loadError(["vocab.json": #"{"a": 0}"#])
        guard case .noTokenizerFiles = onlyVocab else { Issue.record("got \(onlyVocab)"); return }
        let file = URL(fileURLWithPath: "/nonexistent/tokenizer.json")
        #expect(throws: TokenizerError.fileNotFound(path: file.path)) { try Tokenizer.load(tokenizerJSON: file, config: nil) }
    }

    @Test func malformedJSONNamesFileAndPosition() throws {
        let error = try loadError(["tokenizer.json": "{\"model\": {\"type\": \"BPE\",\n  \"vocab\": {\"a\": 0,}}}"])
        guard case .malformedJSON(let file, let line, let column, _) = error else { Issue.record("got \(error)"); return }
        #expect(file.hasSuffix("tokenizer.json"))
        #expect(line == 2 && column == 20)   // at the "}" after the trailing comma
        #expect(error.description.contains("tokenizer.json") && error.description.contains("line 2"))
        let truncated = try loadError(["tokenizer.json": String(tokenizerJSON().dropLast(5))])
        guard case .malformedJSON = truncated else { Issue.record("got \(truncated)"); return }
    }

    @Test func unknownComponentTypesAreNamed() throws {
        let cases: [(String, String, String)] = [
            (tokenizerJSON(model: #"{"type": "WordPiece", "vocab": {}}"#), "model", "WordPiece"),
            (tokenizerJSON(preTokenizer: #"{"type": "FancySplit"}"#), "pre_tokenizer", "FancySplit"),
            (tokenizerJSON(preTokenizer: #"{"type": "Sequence", "pretokenizers": [{"type": "Digits"}, {"type": "UnicodeScripts"}]}"#),
             "pre_tokenizer", "UnicodeScripts"),
            (tokenizerJSON(normalizer: #"{"type": "Precompiled", "precompiled_charsmap": ""}"#), "normalizer", "Precompiled"),
            (tokenizerJSON(decoder: #"{"type": "CTC"}"#), "decoder", "CTC"),
            (tokenizerJSON(postProcessor: #"{"type": "Mystery"}"#), "post_processor", "Mystery"),
        ]
        for (json, component, type) in cases {
            let error = try loadError(["tokenizer.json": json])
            #expect(error.description.contains(type) && error.description.contains(component), "\(error)")
            #expect(error.description.contains("tokenizer.json"), "\(error)")
            guard case .unsupportedComponent(_, let c, let t) = error else { Issue.record("got \(error)"); continue }
            #expect(c == component && t == type)
        }
    }

    @Test func badValuesNameKeyAndValue() throws {
        let badMerge = try loadError(["tokenizer.json": tokenizerJSON(model: #"{"type": "BPE", "vocab": {"a": 0}, "merges": ["a zz"]}"#)])
        #expect(badMerge.description.contains("\"zz\"") && badMerge.description.contains("merge #0"), "\(badMerge)")
        let badId = try loadError(["tokenizer.json": tokenizerJSON(model: #"{"type": "BPE", "vocab": {"a": "zero"}, "merges": []}"#)])
        #expect(badId.description.contains("model.vocab") && badId.description.contains("zero"), "\(badId)")
        let negative = try loadError(["tokenizer.json": tokenizerJSON(model: #"{"type": "BPE", "vocab": {"a": -3}, "merges": []}"#)])
        #expect(negative.description.contains("-3"), "\(negative)")
        let mergeShape = try loadError(["tokenizer.json": tokenizerJSON(model: #"{"type": "BPE", "vocab": {"a": 0}, "merges": ["a b c"]}"#)])
        #expect(mergeShape.description.contains("model.merges[0]"), "\(mergeShape)")
        let noVocab = try loadError(["tokenizer.json": tokenizerJSON(model: #"{"type": "BPE", "merges": []}"#)])
        #expect(noVocab == .missingKey(file: noVocab.fileName, key: "model.vocab"), "\(noVocab)")
        let behavior = try loadError(["tokenizer.json": tokenizerJSON(
            preTokenizer: #"{"type": "Split", "pattern": {"String": " "}, "behavior": "Sideways", "invert": false}"#)])
        #expect(behavior.description.contains("Sideways") && behavior.description.contains("pre_tokenizer.behavior"), "\(behavior)")
        let regex = try loadError(["tokenizer.json": tokenizerJSON(
            preTokenizer: #"{"type": "Split", "pattern": {"Regex": "(unclosed"}, "behavior": "Isolated", "invert": false}"#)])
        guard case .invalidRegex(_, let key, let pattern, _) = regex else { Issue.record("got \(regex)"); return }
        #expect(key == "pre_tokenizer.pattern" && pattern == "(unclosed")
        let template = try loadError(["tokenizer.json": tokenizerJSON(postProcessor:
            #"{"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<bos>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}], "special_tokens": {}}"#)])
        #expect(template.description.contains("<bos>"), "\(template)")
    }

    @Test func gpt2FilesAndConfigErrors() throws {
        let badLine = try loadError(["vocab.json": #"{"a": 0, "b": 1, "ab": 2}"#, "merges.txt": "#version: 0.2\na b\nab\n"])
        #expect(badLine == .malformedMerges(file: badLine.fileName, line: 3, content: "ab"), "\(badLine)")
        #expect(badLine.description.contains("merges.txt line 3"))
        let badConfig = try loadError(["tokenizer.json": tokenizerJSON(), "tokenizer_config.json": #"{"bos_token": 5}"#])
        #expect(badConfig.description.contains("tokenizer_config.json") && badConfig.description.contains("bos_token"), "\(badConfig)")
        let missingBos = try loadError(["tokenizer.json": tokenizerJSON(),
                                        "tokenizer_config.json": #"{"tokenizer_class": "LlamaTokenizer", "add_bos_token": true}"#])
        #expect(missingBos.description.contains("add_bos_token") && missingBos.description.contains("bos_token"), "\(missingBos)")
    }

    /// As in transformers, special tokens of the config that the vocabulary lacks become added tokens.
    @Test func configSpecialTokensAreAdded() throws {
        let dir = try directory(["tokenizer.json": tokenizerJSON(),
                                 "tokenizer_config.json": #"{"tokenizer_class": "LlamaTokenizerFast", "bos_token": {"content": "<s>"}}"#])
        defer { try? FileManager.default.removeItem(at: dir) }
        let tok = try Tokenizer.load(directory: dir)
        #expect(tok.bosTokenId == 3 && tok.bosToken == "<s>" && tok.vocabSize == 4)
        #expect(tok.encode("ab<s>a") == [3, 2, 3, 0])   // the Llama class adds BOS by default
        #expect(tok.encode("ab", addSpecialTokens: false) == [2] && tok.addsBosToken)
    }

    @Test func gpt2FilesWithConfig() throws {
        let dir = try directory([
            "vocab.json": #"{"a": 0, "b": 1, "ab": 2, "Ġ": 3, "Ġab": 4, "<|endoftext|>": 5}"#,
            "merges.txt": "#version: 0.2\na b\nĠ ab\n",
            "tokenizer_config.json": #"{"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "add_bos_token": true}"#,
        ])
        defer { try? FileManager.default.removeItem(at: dir) }
        let tok = try Tokenizer.load(directory: dir)
        #expect(tok.encode("ab ab<|endoftext|>") == [5, 2, 4, 5])
        #expect(tok.addsBosToken && tok.bosTokenId == 5 && tok.eosTokenId == 5)
        #expect(tok.decode([5, 2, 4, 5], skipSpecialTokens: true) == "ab ab")
        #expect(tok.tokenString(4) == " ab")
    }
}

extension TokenizerError {
    /// The file named by the error, for building expected values.
    var fileName: String {
        switch self {
        case .fileNotFound(let p), .unreadableFile(let p, _): return p
        case .noTokenizerFiles(let d): return d
        case .malformedJSON(let f, _, _, _), .missingKey(let f, _), .invalidValue(let f, _, _, _),
             .unsupportedComponent(let f, _, _), .invalidRegex(let f, _, _, _), .unknownToken(let f, _, _),
             .malformedMerges(let f, _, _):
            return f
        }
    }
}

/// Hostile files found by fuzzing: duplicate keys, binary merges lines, FIFOs and directories.
struct FuzzedFileTests {
    func directory(_ files: [String: Data]) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mechanic-tokfuzz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for (name, content) in files { try content.write(to: dir.appendingPathComponent(name)) }
        return dir
    }

    func loadError(_ dir: URL) -> String {
        do { _ = try Tokenizer.load(directory: dir); return "" } catch { return "\(error)" }
    }

    @Test func duplicateVocabularyKeyIsRefusedAndNamed() throws {
        let json = #"{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "a": 2}, "merges": []}}"#
        let dir = try directory(["tokenizer.json": Data(json.utf8)])
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(loadError(dir) == "malformed JSON in \(dir.path)/tokenizer.json at line 1, column 53: the key \"a\" appears twice in one object")
    }

    @Test func canonicallyEquivalentKeysAreDistinct() throws {
        // U+1F77 and U+03AF are canonically equivalent (Swift's == says equal) but distinct tokens.
        let json = "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"\u{1F77}\": 0, \"\u{03AF}\": 1}, \"merges\": []}}"
        let dir = try directory(["tokenizer.json": Data(json.utf8)])
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(throws: Never.self) { _ = try Tokenizer.load(directory: dir) }
    }

    @Test func binaryMergesLineIsQuotedShort() throws {
        var merges = Data("#version: 0.2\na b\n".utf8)
        merges.append(Data((0..<800).map { UInt8(0x80 + $0 % 100) }))
        merges.append(Data("\n".utf8))
        let dir = try directory(["vocab.json": Data(#"{"a": 0, "b": 1, "ab": 2}"#.utf8), "merges.txt": merges])
        defer { try? FileManager.default.removeItem(at: dir) }
        let message = loadError(dir)
        #expect(message.hasPrefix("\(dir.path)/merges.txt line "))
        #expect(message.contains(": expected two space-separated tokens, found \""))
        #expect(message.hasSuffix("…\""))
        #expect(message.count < dir.path.count + 100 + 60 * 6)   // 60 characters, each escaped to at most 6
    }

    @Test func fifoAndDirectoryAreRefusedWithoutBlocking() throws {
        let dir = try directory([:])
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(mkfifo(dir.appendingPathComponent("tokenizer.json").path, 0o600) == 0)
        #expect(loadError(dir) == "cannot read tokenizer file \(dir.path)/tokenizer.json: it is a FIFO (named pipe), not a regular file")
        try FileManager.default.removeItem(at: dir.appendingPathComponent("tokenizer.json"))
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("tokenizer.json"), withIntermediateDirectories: false)
        #expect(loadError(dir) == "cannot read tokenizer file \(dir.path)/tokenizer.json: it is a directory, not a regular file")
    }
}
