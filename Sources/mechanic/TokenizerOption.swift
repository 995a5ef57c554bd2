import ArgumentParser
import Foundation
import Mechanic
import MechanicIO
import MechanicTokenizers

/// The help of `--tokenizer`, shared by every command that tokenizes.
let tokenizerOptionHelp = ArgumentHelp(
    "A tokenizer to use instead of the model's tokenizer files: a tokenizer.json, a directory, or a SentencePiece tokenizer.model.",
    valueName: "path")

/// The tokenizer of `tokenize` / `dataset`: `--tokenizer PATH` when given, else the tokenizer files
/// of `--model` (a local directory may hold only tokenizer files). Also returns the model directory
/// when there is one (its config.json decides the BOS rule).
func commandTokenizer(model: String?, revision: String?, tokenizer: String?) throws -> (tokenizer: Tokenizer, directory: URL?) {
    guard model != nil || tokenizer != nil else { throw ValidationError("give --model or --tokenizer") }
    let dir = try model.map { try resolveModel($0, revision: revision, weights: false) }
    if let tokenizer {
        recordTokenizerInput(tokenizer)
        return (try Tokenizer.load(path: URL(fileURLWithPath: tokenizer)), dir)
    }
    guard let dir else { throw ValidationError("give --model or --tokenizer") }
    guard let tok = try HookedTransformer.loadTokenizer(dir) else { throw MechanicError.noTokenizer(model: dir.path) }
    return (tok, dir)
}

/// Records `--tokenizer PATH` (a file or a directory) as one of the command's inputs, so that no
/// output of the command may replace it.
func recordTokenizerInput(_ path: String) {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { return }
    if isDir.boolValue { InputFiles.record(directory: URL(fileURLWithPath: path)) } else { InputFiles.record(path) }
}
