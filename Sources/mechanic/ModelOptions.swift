import ArgumentParser
import Foundation
import Mechanic

/// `--model` and the processing switch, shared by every subcommand that runs a model.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: "A model directory, a Hugging Face hub id, or an alias such as gpt2-small.")
    var model: String

    @Option(name: .long, help: "Hub revision (branch, tag or commit) when --model is a hub id.")
    var revision: String?

    @Flag(name: .long, help: "Load the weights unprocessed (like from_pretrained_no_processing).")
    var noProcessing = false

    var processing: WeightProcessing { noProcessing ? .none : .default }

    func directory(weights: Bool = true) throws -> URL {
        try resolveModel(model, revision: revision, weights: weights)
    }

    func load() throws -> HookedTransformer {
        try HookedTransformer.load(directory(), processing: processing)
    }
}

/// A local directory as given; hub ids and aliases through the Hugging Face cache (downloading
/// into it unless HF_HUB_OFFLINE is set).
func resolveModel(_ model: String, revision: String?, weights: Bool) throws -> URL {
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

/// Parses `50256,464,3797` (spaces allowed).
func parseTokenList(_ text: String, option: String) throws -> [Int] {
    let parts = text.split(whereSeparator: { $0 == "," || $0 == " " })
    guard !parts.isEmpty else { throw MechanicError.invalidArgument("\(option) is empty; give comma-separated token ids") }
    return try parts.map { p in
        guard let v = Int(p) else { throw MechanicError.invalidArgument("\(option): '\(p)' is not a token id") }
        return v
    }
}

/// Prints a JSON value (sorted keys) to stdout.
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

    @Option(name: .long, help: "Comma-separated token ids, run exactly as given (no BOS added).")
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
