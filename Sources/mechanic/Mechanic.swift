import ArgumentParser
import Mechanic

@main
struct MechanicCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mechanic",
        abstract: "Mechanistic interpretability for transformer language models (TransformerLens-compatible).",
        subcommands: [CacheCommand.self, TokenizeCommand.self, PredictCommand.self, GenerateCommand.self, BenchCommand.self,
                      LensCommand.self, AttributeCommand.self, DiffCommand.self, PatchCommand.self, HeadsCommand.self,
                      DatasetCommand.self, NeuronsCommand.self, CongruenceCommand.self, DemoCommand.self])
}
