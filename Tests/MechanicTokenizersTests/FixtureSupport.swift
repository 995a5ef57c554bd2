import Foundation
import Testing
@testable import MechanicTokenizers

/// Paths and readers for the committed fixtures (Tests/Fixtures/tokenizers) and the real
/// tokenizer files (../shared/data/tokenizers, absent in a user's clone).
enum Fixtures {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let directory = packageRoot.appendingPathComponent("Tests/Fixtures/tokenizers")
    static let sharedTokenizers = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/data/tokenizers")

    static let realNames = ["gpt2", "pythia", "llama2"]
    static let syntheticNames = ["llama3_split", "qwen2_nfc", "bytelevel_prefix", "metaspace_fallback",
                                 "sentencepiece_legacy", "bert_like", "regex_behaviors", "bertpre_metaspace"]

    /// True when ../shared/data/tokenizers holds the three real tokenizers; prints a note otherwise.
    static let sharedAvailable: Bool = {
        let ok = realNames.allSatisfy {
            FileManager.default.fileExists(atPath: sharedTokenizers.appendingPathComponent($0).path)
        }
        if !ok {
            print("note: \(sharedTokenizers.path) is absent; tests of the real GPT-2 / Pythia / Llama-2 tokenizers are skipped")
        }
        return ok
    }()

    /// Fixtures are read with the package's own JSON parser: Foundation's JSONSerialization on
    /// Linux drops U+FEFF inside strings, which real vocabularies contain.
    static func json(_ name: String) throws -> JSONObject {
        let url = directory.appendingPathComponent(name)
        guard let object = try JSONParser.parse(contentsOf: url).objectValue else { throw FixtureError("\(name) is not a JSON object") }
        return object
    }

    static let corpus: [String] = {
        ((try? json("corpus.json"))?["strings"]?.arrayValue ?? []).compactMap(\.stringValue)
    }()

    /// Loaded once per name and shared between tests.
    nonisolated(unsafe) private static var cache: [String: Tokenizer] = [:]
    private static let lock = NSLock()

    static func real(_ name: String) throws -> Tokenizer {
        lock.lock()
        defer { lock.unlock() }
        if let t = cache[name] { return t }
        let t = try Tokenizer.load(directory: sharedTokenizers.appendingPathComponent(name))
        cache[name] = t
        return t
    }

    static func synthetic(_ name: String) throws -> Tokenizer {
        try Tokenizer.load(tokenizerJSON: directory.appendingPathComponent("synthetic/\(name).json"), config: nil)
    }
}

struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// The expected values of one tokenizer over a list of strings (null entries in the files mean
/// special_prefix + ids_no_special + special_suffix for ids, and "the string itself" for decodes;
/// the generating script nulls an entry only where Hugging Face's output is exactly that).
struct Expectations {
    let strings: [String]
    let idsNoSpecial: [[Int]]
    let ids: [[Int]]
    let decode: [String]
    let decodeNoSpecial: [String]?
    let decodeSkipSpecial: [String]
    /// (id, decode([id]), raw token string)
    let pieces: [(Int, String, String?)]
    let raw: JSONObject

    init(file: String) throws {
        let object = try Fixtures.json(file)
        raw = object
        if let indices = object["corpus_indices"]?.arrayValue {
            strings = indices.compactMap(\.intValue).map { Fixtures.corpus[$0] }
        } else {
            strings = Fixtures.corpus
        }
        let n = strings.count
        let strs = strings
        let prefix = (object["special_prefix"]?.arrayValue ?? []).compactMap(\.intValue)
        let suffix = (object["special_suffix"]?.arrayValue ?? []).compactMap(\.intValue)
        func intLists(_ key: String, fallback: [[Int]]?) throws -> [[Int]] {
            guard let rows = object[key]?.arrayValue, rows.count == n else { throw FixtureError("\(file): \(key) must have \(n) rows") }
            return try rows.enumerated().map { i, row in
                if row.isNull, let fallback { return prefix + fallback[i] + suffix }
                guard let list = row.arrayValue else { throw FixtureError("\(file): \(key)[\(i)] is not a list") }
                return list.compactMap(\.intValue)
            }
        }
        func stringList(_ key: String) -> [String]? {
            guard let list = object[key]?.arrayValue else { return nil }
            return list.enumerated().map { i, v in v.stringValue ?? strs[i] }
        }
        let noSpecial = try intLists("ids_no_special", fallback: nil)
        idsNoSpecial = noSpecial
        ids = try intLists("ids", fallback: noSpecial)
        decode = stringList("decode") ?? []
        decodeNoSpecial = stringList("decode_no_special")
        decodeSkipSpecial = stringList("decode_skip_special") ?? []
        pieces = (object["pieces"]?.arrayValue ?? []).compactMap { row in
            guard let r = row.arrayValue, r.count == 3, let id = r[0].intValue, let piece = r[1].stringValue else { return nil }
            return (id, piece, r[2].stringValue)
        }
    }
}

/// A string compared byte for byte (Swift's `==` on strings is canonical equivalence, which
/// would hide normalization bugs).
struct Exact: Equatable, CustomStringConvertible {
    let s: String
    init(_ s: String) { self.s = s }
    static func == (a: Exact, b: Exact) -> Bool { a.s.utf8.elementsEqual(b.s.utf8) }
    var description: String { TokenizerError.quoted(s) }
}

/// Compares expected and actual values row by row; records the first few mismatches in full and
/// returns the number of mismatching rows.
@discardableResult
func expectRows<T: Equatable>(_ label: String, strings: [String], expected: [T], actual: (Int) -> T,
                              sourceLocation: SourceLocation = #_sourceLocation) -> Int {
    var failures = 0
    for i in expected.indices {
        let got = actual(i)
        if got != expected[i] {
            failures += 1
            if failures <= 5 {
                Issue.record("\(label) #\(i) \(TokenizerError.quoted(strings[i])): expected \(expected[i]), got \(got)",
                             sourceLocation: sourceLocation)
            }
        }
    }
    if failures > 5 { Issue.record("\(label): \(failures) rows differ in total", sourceLocation: sourceLocation) }
    return failures
}
