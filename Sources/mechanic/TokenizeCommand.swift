import ArgumentParser
import Foundation
import Mechanic
import MechanicAnalysis
import MechanicTokenizers

struct TokenizeCommand: ModelCommand {
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

    var jsonOutput: Bool { json }

    func run() throws {
        let out = try result(tokenizer: try commandTokenizer(model: model, revision: revision, tokenizer: tokenizer).tokenizer)
        if json { print(try out.json()) }
    }

    /// The loaded model's tokenizer (the server's).
    func result(model m: HookedTransformer, progress: WorkProgress?) throws -> CommandResult {
        guard let tok = m.tokenizer else { throw MechanicError.noTokenizer(model: m.source) }
        return try result(tokenizer: tok)
    }

    func result(tokenizer tok: Tokenizer) throws -> CommandResult {
        let ids = try HookedTransformer.tokens(text, tokenizer: tok, prependBOS: !noBos && tok.bosTokenId != nil)
        let pieces = ids.map { tok.displayToken($0) }  // Llama's "▁" kept: "▁short" and "short" differ
        if !json {
            for (i, (id, piece)) in zip(ids, pieces).enumerated() {
                print(String(format: "%4d  %6d  ", i, id) + piece.debugDescription)
            }
        }
        return CommandResult(TokenizationResult(ids: ids, tokens: pieces))
    }
}
