import ArgumentParser
import Foundation
import Mechanic

/// The commands `POST /api/<name>` answers: each parses a request's options with the command's
/// own parser and runs on the server's loaded model.
struct APICommand: Sendable {
    let name: String
    /// Request keys that are the command's positional arguments.
    let positional: [String]
    /// Long work (patching sweeps, `diff --verify`, corpus searches) that reports progress.
    let parse: @Sendable ([String]) throws -> any ModelCommand

    static let all: [String: APICommand] = Dictionary(uniqueKeysWithValues: [
        make("predict", PredictCommand.self), make("tokenize", TokenizeCommand.self, positional: ["text"]),
        make("lens", LensCommand.self), make("attribute", AttributeCommand.self),
        make("diff", DiffCommand.self, positional: ["prompts"]), make("patch", PatchCommand.self),
        make("heads", HeadsCommand.self), make("neurons", NeuronsCommand.self), make("congruence", CongruenceCommand.self),
        make("circuit", CircuitCommand.self),
    ].map { ($0.name, $0) })

    static func make<C: ModelCommand>(_ name: String, _ type: C.Type, positional: [String] = []) -> APICommand {
        APICommand(name: name, positional: positional, parse: { try C.parse($0) })
    }

    /// The command a request body asks for, as `mechanic <name> --model <model> … --json`.
    func command(body: Data, modelName: String) throws -> any ModelCommand {
        let args = try RequestArguments.argv(body, positional: positional)
        return try parse(["--model=\(modelName)", "--json"] + args)
    }
}

/// An error as the command line would print it: one sentence, without usage lines.
func errorSentence(_ error: any Error) -> String {
    let text = MechanicCommand.message(for: error).trimmingCharacters(in: .whitespacesAndNewlines)
    return text.isEmpty ? "\(error)" : text
}
