import Foundation

/// Everything that can go wrong while loading a tokenizer. Every message names the file and,
/// where there is one, the key and the offending value, and says what was expected.
public enum TokenizerError: Error, CustomStringConvertible, Equatable {
    /// The file does not exist.
    case fileNotFound(path: String)
    /// The file exists but could not be read.
    case unreadableFile(path: String, reason: String)
    /// The directory holds neither `tokenizer.json` nor `vocab.json` + `merges.txt`.
    case noTokenizerFiles(directory: String)
    /// The file is not valid JSON.
    case malformedJSON(file: String, line: Int, column: Int, reason: String)
    /// A required key is absent.
    case missingKey(file: String, key: String)
    /// A key holds a value of the wrong kind or an impossible value.
    case invalidValue(file: String, key: String, value: String, expected: String)
    /// A component (`model`, `normalizer`, `pre_tokenizer`, `post_processor`, `decoder`) has a
    /// `type` this library does not implement.
    case unsupportedComponent(file: String, component: String, type: String)
    /// A regular expression in the file could not be compiled.
    case invalidRegex(file: String, key: String, pattern: String, reason: String)
    /// A merge or special token refers to a token that is not in the vocabulary.
    case unknownToken(file: String, key: String, token: String)
    /// A line of `merges.txt` is not two space-separated tokens.
    case malformedMerges(file: String, line: Int, content: String)

    public var description: String {
        switch self {
        case .fileNotFound(let path):
            return "tokenizer file not found: \(path)"
        case .unreadableFile(let path, let reason):
            return "cannot read tokenizer file \(path): \(reason)"
        case .noTokenizerFiles(let directory):
            return "no tokenizer in \(directory): expected tokenizer.json, vocab.json together with merges.txt, or a SentencePiece tokenizer.model"
        case .malformedJSON(let file, let line, let column, let reason):
            return "malformed JSON in \(file) at line \(line), column \(column): \(reason)"
        case .missingKey(let file, let key):
            return "\(file): required key \"\(key)\" is missing"
        case .invalidValue(let file, let key, let value, let expected):
            return "\(file): key \"\(key)\" has value \(value); expected \(expected)"
        case .unsupportedComponent(let file, let component, let type):
            return "\(file): unsupported \(component) type \"\(type)\""
        case .invalidRegex(let file, let key, let pattern, let reason):
            return "\(file): key \"\(key)\" holds a regular expression that does not compile (\(reason)): \(pattern)"
        case .unknownToken(let file, let key, let token):
            return "\(file): \(key) refers to token \(Self.quoted(token)), which is not in the vocabulary"
        case .malformedMerges(let file, let line, let content):
            return "\(file) line \(line): expected two space-separated tokens, found \(Self.quoted(content, limit: 60))"
        }
    }

    /// `s` quoted and escaped for a message (`JSONQuoting.quoted`).
    static func quoted(_ s: String) -> String { JSONQuoting.quoted(s) }

    static func quoted(_ s: String, limit: Int?) -> String { JSONQuoting.quoted(s, limit: limit) }
}
