import ArgumentParser
import Foundation
import Mechanic
import MechanicAnalysis

struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Show the token ids and pieces of a text (reads only the tokenizer files).")

    @Option(name: .long, help: "A model or tokenizer directory, hub id or alias.")
    var model: String?

    @Option(name: .long, help: tokenizerOptionHelp)
    var tokenizer: String?

    @Option(name: .long, help: "Hub revision.")
    var revision: String?

    @Flag(name: .long, help: "Do not prepend the BOS token.")
    var noBos = false

    @Flag(name: .long, help: "Print {\"ids\": [...], \"tokens\": [...]}.")
    var json = false

    @Argument(help: "The text to tokenize.")
    var text: String

    func run() throws {
        let tok = try commandTokenizer(model: model, revision: revision, tokenizer: tokenizer).tokenizer
        let ids = try HookedTransformer.tokens(text, tokenizer: tok, prependBOS: !noBos && tok.bosTokenId != nil)
        let pieces = ids.map { tok.displayToken($0) }  // Llama's "▁" kept: "▁short" and "short" differ
        if json {
            try printResult(TokenizationResult(ids: ids, tokens: pieces))
        } else {
            for (i, (id, piece)) in zip(ids, pieces).enumerated() {
                print(String(format: "%4d  %6d  ", i, id) + piece.debugDescription)
            }
        }
    }
}
