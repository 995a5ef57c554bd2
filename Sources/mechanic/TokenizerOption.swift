import ArgumentParser
import Foundation
import Mechanic
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
    if let tokenizer { return (try Tokenizer.load(path: URL(fileURLWithPath: tokenizer)), dir) }
    guard let dir else { throw ValidationError("give --model or --tokenizer") }
    guard let tok = try HookedTransformer.loadTokenizer(dir) else { throw MechanicError.noTokenizer(model: dir.path) }
    return (tok, dir)
}
