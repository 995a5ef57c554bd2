import ArgumentParser
import Foundation
import Mechanic
import MechanicAnalysis

/// `POST /api/head`: the head page's overview (`HeadOverview`): OV/QK circuits, copy score, the
/// user's mapping score, and on a prompt (optional) its attention, DLA and zero/mean ablation.
struct HeadRequest: ModelCommand {
    static let configuration = CommandConfiguration(commandName: "head", abstract: "The explorer's head overview.")

    @OptionGroup var model: ModelOptions

    @Option(name: .long, parsing: .unconditional, help: "The head's layer.")
    var layer: Int

    @Option(name: .long, parsing: .unconditional, help: "The head.")
    var head: Int

    @Option(name: .long, help: "A prompt to look at the head on.")
    var prompt: String?

    @Option(name: .long, parsing: .unconditional, help: "Or the prompt as comma-separated token ids.")
    var tokens: String?

    @Flag(name: .long, help: "Do not prepend BOS to --prompt.")
    var noBos = false

    @Option(name: .long, parsing: .unconditional, help: "OV source / QK query token ids (comma-separated).")
    var sources: String?

    @Option(name: .long, help: "Pairs scored on the OV circuit: source:target, comma-separated (\"hot:cold, big:small\"; quote to keep spaces: \" hot\":\" cold\"; or ids).")
    var mapping: String?

    @Option(name: .long, parsing: .unconditional, help: "The mapping score counts targets within the top k.")
    var mappingK = 5

    @Option(name: .long, help: "Mean ablation over this corpus's first documents (JSON lines or text) instead of the prompt's positions.")
    var corpus: String?

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    var jsonOutput: Bool { json }

    func validate() throws {
        if prompt != nil && tokens != nil { throw ValidationError("give at most one of --prompt and --tokens") }
    }

    func run() throws { try runLoading(model.load) }

    func result(model m: HookedTransformer, progress: WorkProgress?) throws -> CommandResult {
        let ids = try tokens.map { try parseTokenList($0, option: "--tokens") } ?? prompt.map { try m.toTokens($0, prependBOS: noBos ? false : nil) }
        let mapped = try mapping.map { try TokenMapping.parse(text: $0, resolve: m.toSingleToken) }
        let overview = try HeadOverview.run(model: m, layer: layer, head: head, tokens: ids,
                                            sources: try sources.map { try parseTokenList($0, option: "--sources") },
                                            mapping: mapped, mappingK: mappingK, meanCorpus: try corpus.map { path in
                                                var reader = try CorpusReader(url: URL(fileURLWithPath: path))
                                                return try HeadOverview.meanRuns(corpus: &reader, model: m)
                                            })
        return CommandResult(overview, keys: .snakeCase, report: overview)
    }
}
