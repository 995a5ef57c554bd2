import Foundation

/// Tokenizer files (`tokenizer.json`, `vocab.json`, `tokenizer_config.json`) read with the
/// project's one JSON parser (`JSONValue.parse`, MechanicJSON), its errors as
/// `TokenizerError.malformedJSON` naming the file.
enum JSONParser {
    /// Parses a whole document; `file` names the source in error messages.
    static func parse(_ data: Data, file: String) throws -> JSONValue {
        do {
            return try JSONValue.parse(data)
        } catch let e as JSONParseError {
            throw TokenizerError.malformedJSON(file: file, line: e.line, column: e.column, reason: e.reason)
        }
    }

    /// Reads and parses a file, with typed errors for missing and unreadable files.
    static func parse(contentsOf url: URL) throws -> JSONValue {
        try parse(readFile(url), file: url.path)
    }
}
