// mechanic: the command-line tool, one file per subcommand: parse options, call one library
// function, print its Codable result (ResultJSON) or write its HTML report. Bench/ holds
// `mechanic bench`.

import ArgumentParser
import Foundation
import Mechanic

@main
struct MechanicCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mechanic",
        abstract: "Mechanistic interpretability for transformer language models (TransformerLens-compatible).",
        subcommands: [CacheCommand.self, TokenizeCommand.self, PredictCommand.self, GenerateCommand.self, BenchCommand.self,
                      LensCommand.self, AttributeCommand.self, DiffCommand.self, PatchCommand.self, HeadsCommand.self,
                      DatasetCommand.self, NeuronsCommand.self, CongruenceCommand.self, DemoCommand.self,
                      CircuitCommand.self, ServeCommand.self, MergeCommand.self])

    /// As `ParsableCommand.main`, but an error is one sentence on stderr — the usage and help
    /// lines the parser appends to a bad option are left out (`--help` still prints the help).
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            let code = exitCode(for: error)
            guard code != .success else { exit(withError: error) }  // --help, --version
            let text = flagAdvice(message(for: error), for: error)
            if !text.isEmpty { FileHandle.standardError.write(Data("Error: \(text)\n".utf8)) }  // Ctrl-C (130) prints nothing
            exit(withError: ExitCode(code.rawValue))
        }
    }
}
