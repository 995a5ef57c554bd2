// MechanicAnalysis/Datasets: clean/corrupt prompt pairs — templates (IOI built in, or a JSON spec),
// seeded generation, checks of user pairs, the JSONL format and the dataset report.

import Foundation
import Mechanic

/// A clean/corrupt prompt pair for patching: both prompts tokenize to the same length and the
/// answer and wrong completions are single tokens. One line of a dataset file:
/// `{"clean": …, "corrupt": …, "answer": …, "wrong": …, "clean_tokens": […], "corrupt_tokens": […],
/// "answer_id": n, "wrong_id": m}`.
public struct PromptPair: Sendable, Equatable, Codable {
    public var clean: String
    public var corrupt: String
    /// The completion the clean prompt should get (e.g. the indirect object `" Mary"`).
    public var answer: String
    /// The competing completion (e.g. the subject `" John"`).
    public var wrong: String
    /// Token ids of the prompts as the model runs them (BOS included when the model prepends it).
    public var cleanTokens: [Int]
    public var corruptTokens: [Int]
    public var answerId: Int
    public var wrongId: Int

    public init(clean: String, corrupt: String, answer: String, wrong: String, cleanTokens: [Int], corruptTokens: [Int],
                answerId: Int, wrongId: Int) {
        self.clean = clean
        self.corrupt = corrupt
        self.answer = answer
        self.wrong = wrong
        self.cleanTokens = cleanTokens
        self.corruptTokens = corruptTokens
        self.answerId = answerId
        self.wrongId = wrongId
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case clean, corrupt, answer, wrong
        case cleanTokens = "clean_tokens", corruptTokens = "corrupt_tokens", answerId = "answer_id", wrongId = "wrong_id"
    }

    /// The JSON object on one line, keys in the documented order, strings escaped minimally (only
    /// `"`, `\` and control characters; everything else raw UTF-8) — byte-identical on every platform.
    public var jsonLine: String {
        func ints(_ a: [Int]) -> String { "[" + a.map(String.init).joined(separator: ",") + "]" }
        return "{\"clean\":\(DatasetJSON.quote(clean)),\"corrupt\":\(DatasetJSON.quote(corrupt)),"
            + "\"answer\":\(DatasetJSON.quote(answer)),\"wrong\":\(DatasetJSON.quote(wrong)),"
            + "\"clean_tokens\":\(ints(cleanTokens)),\"corrupt_tokens\":\(ints(corruptTokens)),"
            + "\"answer_id\":\(answerId),\"wrong_id\":\(wrongId)}"
    }

    /// JSON lines, each ending in a newline.
    public static func jsonl(_ pairs: [PromptPair]) -> String {
        pairs.map { $0.jsonLine + "\n" }.joined()
    }

    /// Reads complete pairs from JSON lines (blank lines skipped); an error names the line.
    public static func readJSONL(_ data: Data) throws -> [PromptPair] {
        try PromptPairDraft.readJSONL(data).enumerated().map { i, d in
            guard let ct = d.cleanTokens, let kt = d.corruptTokens, let a = d.answerId, let w = d.wrongId else {
                throw MechanicError.invalidArgument("line \(d.line ?? i + 1): clean_tokens, corrupt_tokens, answer_id and wrong_id are required (tokenize the file with `mechanic dataset --input`)")
            }
            return PromptPair(clean: d.clean, corrupt: d.corrupt, answer: d.answer, wrong: d.wrong, cleanTokens: ct,
                              corruptTokens: kt, answerId: a, wrongId: w)
        }
    }
}

/// A pair as a user may write it: the texts, token fields optional (filled in and checked by
/// `PairGenerator.tokenize`).
public struct PromptPairDraft: Sendable, Equatable, Decodable {
    public var clean: String
    public var corrupt: String
    public var answer: String
    public var wrong: String
    public var cleanTokens: [Int]?
    public var corruptTokens: [Int]?
    public var answerId: Int?
    public var wrongId: Int?
    /// 1-based line in the file it came from.
    public var line: Int?

    public init(clean: String, corrupt: String, answer: String, wrong: String) {
        self.clean = clean
        self.corrupt = corrupt
        self.answer = answer
        self.wrong = wrong
    }

    enum CodingKeys: String, CodingKey {
        case clean, corrupt, answer, wrong
        case cleanTokens = "clean_tokens", corruptTokens = "corrupt_tokens", answerId = "answer_id", wrongId = "wrong_id"
    }

    /// Parses JSON lines; an error names the line and what is wrong with it.
    public static func readJSONL(_ data: Data) throws -> [PromptPairDraft] {
        let text = String(decoding: data, as: UTF8.self)
        var out: [PromptPairDraft] = []
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.isEmpty { continue }
            do {
                var d = try JSONDecoder().decode(PromptPairDraft.self, from: Data(trimmed.utf8))
                d.line = i + 1
                out.append(d)
            } catch let DecodingError.keyNotFound(key, _) {
                throw MechanicError.invalidArgument("line \(i + 1): missing key \"\(key.stringValue)\" (each line needs clean, corrupt, answer, wrong)")
            } catch {
                throw MechanicError.invalidArgument("line \(i + 1) is not a prompt-pair JSON object: \(trimmed.prefix(80))")
            }
        }
        return out
    }
}

/// JSON string quoting for the JSONL writer (the project's one quoter, `JSONQuoting`).
enum DatasetJSON {
    static func quote(_ s: String) -> String { JSONQuoting.quoted(s) }
}
