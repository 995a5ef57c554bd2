import ArgumentParser
import Foundation
import Mechanic
import MechanicAnalysis

/// `--model` and the processing switch, shared by every subcommand that runs a model.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: "A model directory, a Hugging Face hub id, or an alias such as gpt2-small.")
    var model: String

    @Option(name: .long, help: "Hub revision (branch, tag or commit) when --model is a hub id.")
    var revision: String?

    @Flag(name: .long, help: "Load the weights unprocessed (like from_pretrained_no_processing).")
    var noProcessing = false

    @Option(name: .long, help: "Stream the blocks from the checkpoint: auto (when float32 weights exceed 40% of available memory), on or off.")
    var streaming: StreamingMode = .auto

    @Option(name: .long, help: tokenizerOptionHelp)
    var tokenizer: String?

    @Flag(name: .long, help: "Neither read nor write the processed-weights cache ($MECHANIC_CACHE, else $XDG_CACHE_HOME/mechanic, else ~/.cache/mechanic).")
    var noWeightCache = false

    var processing: WeightProcessing { noProcessing ? .none : .default }

    func directory(weights: Bool = true) throws -> URL {
        try resolveModel(model, revision: revision, weights: weights)
    }

    func load() throws -> HookedTransformer {
        // Built-in models (planted:induction) are built in code; everything else is resolved to files.
        if let builtin = try HookedTransformer.builtin(model) { return builtin }
        if let tokenizer { recordTokenizerInput(tokenizer) }
        return try HookedTransformer.load(directory(), options: LoadOptions(
            processing: processing, streaming: streaming.load, tokenizer: tokenizer.map { URL(fileURLWithPath: $0) },
            weightCache: !noWeightCache))
    }
}

/// `--streaming auto|on|off`: whether a model's blocks stay in the checkpoint and are widened
/// per use (`HookedTransformer.load(_:processing:streaming:)`). The numbers are the same either way.
enum StreamingMode: String, CaseIterable, ExpressibleByArgument {
    case auto, on, off

    /// The `streaming:` argument of `HookedTransformer.load` (nil = decide by available memory).
    var load: Bool? {
        switch self {
        case .auto: return nil
        case .on: return true
        case .off: return false
        }
    }
}

/// A local directory as given; hub ids and aliases through the Hugging Face cache (downloading
/// into it unless HF_HUB_OFFLINE is set).
func resolveModel(_ model: String, revision: String?, weights: Bool) throws -> URL {
    if BuiltinModels.isBuiltinName(model) { throw BuiltinModels.noFiles(model) }
    // Tokenizing needs no config.json or weights: any local directory with tokenizer files will do.
    var isDir: ObjCBool = false
    let dir: URL
    if !weights, FileManager.default.fileExists(atPath: model, isDirectory: &isDir), isDir.boolValue {
        dir = URL(fileURLWithPath: model)
    } else {
        dir = try ModelResolver().resolve(model, revision: revision, weights: weights)
    }
    InputFiles.record(directory: dir)   // no output may replace a model file
    return dir
}

/// Parses `50256,464,3797` (spaces allowed around or instead of commas); an empty element
/// (`1,,2`, a trailing comma) is an error naming its position.
func parseTokenList(_ text: String, option: String) throws -> [Int] {
    let byComma = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
    guard byComma.contains(where: { !$0.isEmpty }) else { throw MechanicError.invalidArgument("\(option) is empty; give comma-separated token ids") }
    var parts: [Substring] = []
    for (i, item) in byComma.enumerated() {
        guard !item.isEmpty else {
            throw MechanicError.invalidArgument("\(option) '\(text)': element \(i + 1) is empty; give comma-separated token ids such as 50256,464")
        }
        parts += item.split(separator: " ")
    }
    return try parts.map { p in
        guard let v = Int(p) else { throw MechanicError.invalidArgument("\(option): '\(p)' is not a token id") }
        return v
    }
}

/// Prints a JSON value (sorted keys) to stdout.
func printResult(_ value: some Encodable) throws {
    print(try ResultJSON.string(value))
}

/// Prints a JSON object built by hand (sorted keys); prefer a Codable result type and the
/// `Encodable` overload.
func printJSON(_ value: Any) throws {
    let data = try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes])
    print(String(decoding: data, as: UTF8.self))
}

/// Writes `message` to stderr.
func warn(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// Prompt text or explicit ids, as `--prompt` / `--tokens`.
struct PromptOptions: ParsableArguments {
    @Option(name: .long, help: "The prompt text.")
    var prompt: String?

    @Option(name: .long, parsing: .unconditional, help: "Comma-separated token ids, run exactly as given (no BOS added).")
    var tokens: String?

    @Flag(name: .long, help: "Do not prepend the BOS token to --prompt.")
    var noBos = false

    func validate() throws {
        guard (prompt == nil) != (tokens == nil) else {
            throw ValidationError("give exactly one of --prompt and --tokens")
        }
    }

    func ids(for model: HookedTransformer) throws -> [Int] {
        if let tokens { return try parseTokenList(tokens, option: "--tokens") }
        return try model.toTokens(prompt ?? "", prependBOS: noBos ? false : nil)
    }
}
