import Foundation
import Mechanic

/// A clean prompt, its corrupted twin (same number of tokens) and the tokens the metric
/// compares: the clean run should predict `answer`, the corrupted run `wrong`.
public struct PatchingPair: Sendable, Equatable, Codable {
    public var clean: [Int]
    public var corrupt: [Int]
    public var answer: Int
    public var wrong: Int

    public init(clean: [Int], corrupt: [Int], answer: Int, wrong: Int) {
        self.clean = clean
        self.corrupt = corrupt
        self.answer = answer
        self.wrong = wrong
    }

    /// Throws unless the two prompts have the same, non-zero length.
    public func validate(index: Int? = nil) throws {
        let which = index.map { "pair \($0): " } ?? ""
        guard !clean.isEmpty, !corrupt.isEmpty else { throw MechanicError.emptyInput("\(which)the clean and corrupted prompts need at least one token") }
        guard clean.count == corrupt.count else {
            throw MechanicError.invalidArgument("\(which)the clean prompt has \(clean.count) tokens but the corrupted prompt has \(corrupt.count); activation patching needs prompts of equal length (align them, e.g. with single-token substitutions)")
        }
    }
}

/// How the patched values are chosen.
public enum PatchingMode: Sendable, Equatable {
    /// Activation patching (TransformerLens's): clean activations patched into the corrupted run.
    case denoise
    /// Ablation of the clean run: the activation replaced by zeros, by its mean over the
    /// prompts (per position), or by its value on another prompt (the corrupted one).
    case ablate(AblationMode)

    public var description: String {
        switch self {
        case .denoise: return "patch clean → corrupted"
        case let .ablate(m): return "\(m.rawValue)-ablate the clean run"
        }
    }
}

/// Ablation kinds: zero, mean over a dataset of prompts (per position), resample from another prompt.
public enum AblationMode: String, Sendable, CaseIterable, Codable {
    case zero, mean, resample
}

/// The result of one patching experiment: values in TransformerLens's axis order.
public struct PatchingResult: Sendable {
    /// The kind's name (`resid_pre`, …) or a description for custom and path patches.
    public var act: String
    public var axes: [String]
    /// `values.shape` is the result shape.
    public var values: Tensor
    public var metric: PatchingMetric
    /// The metric of the clean and of the corrupted run (1 and 0 for the normalised logit difference).
    public var cleanMetric: Double
    public var corruptMetric: Double
    /// Mean logit differences of the clean and corrupted runs, whatever the metric.
    public var cleanLogitDiff: Double
    public var corruptLogitDiff: Double

    public var shape: [Int] { values.shape }
}

/// Reads a JSON-lines file of `{"clean": …, "corrupt": …, "answer": …, "wrong": …}` objects.
/// Prompts are strings (tokenized by `tokenize`) or arrays of token ids; answers are strings
/// (one token each, by `singleToken`) or ids.
public enum PatchingDataset {
    public static func load(_ url: URL, tokenize: (String) throws -> [Int], singleToken: (String) throws -> Int) throws -> [PatchingPair] {
        let text = try InputFile.readText(url.path, what: "a JSON-lines file of prompt pairs")
        var pairs: [PatchingPair] = []
        for (i, line) in text.split(whereSeparator: \.isNewline).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            guard let object = try? JSONSerialization.jsonObject(with: Data(trimmed.utf8)) as? [String: Any] else {
                throw MechanicError.invalidArgument("\(url.path) line \(i + 1) is not a JSON object")
            }
            func prompt(_ key: String) throws -> [Int] {
                if let s = object[key] as? String { return try tokenize(s) }
                if let ids = object[key] as? [Any] {
                    let ints = ids.compactMap { ($0 as? NSNumber)?.intValue }
                    if ints.count == ids.count { return ints }
                }
                throw MechanicError.invalidArgument("\(url.path) line \(i + 1): \"\(key)\" must be a string or a list of token ids")
            }
            func token(_ key: String) throws -> Int {
                if let s = object[key] as? String { return try singleToken(s) }
                if let n = object[key] as? NSNumber { return n.intValue }
                throw MechanicError.invalidArgument("\(url.path) line \(i + 1): \"\(key)\" must be a string or a token id")
            }
            let pair = PatchingPair(clean: try prompt("clean"), corrupt: try prompt("corrupt"), answer: try token("answer"), wrong: try token("wrong"))
            try pair.validate(index: i + 1)
            pairs.append(pair)
        }
        guard !pairs.isEmpty else { throw MechanicError.emptyInput("\(url.path) holds no prompt pairs") }
        return pairs
    }
}
