import ArgumentParser
import Foundation
import Mechanic
import MechanicAnalysis

/// `POST /api/prompt`: the prompt page's overview (`PromptOverview`), with options named as the
/// other commands name them: prompt / tokens / no-bos, answer / answer-id, top, mode, patterns.
struct PromptRequest: ModelCommand {
    static let configuration = CommandConfiguration(commandName: "prompt", abstract: "The explorer's prompt overview.")

    @OptionGroup var model: ModelOptions
    @OptionGroup var input: PromptOptions
    @OptionGroup var answer: AnswerOptions

    @Option(name: .long, parsing: .unconditional, help: "Next tokens listed per position.")
    var top = 5

    @Option(name: .long, help: "own | final.")
    var mode: LensMode = .own

    @Flag(name: .long, help: "Leave the attention patterns out.")
    var noPatterns = false

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    var jsonOutput: Bool { json }

    func run() throws { try runLoading(model.load) }

    func result(model m: HookedTransformer, progress: WorkProgress?) throws -> CommandResult {
        let ids = try input.ids(for: m)
        let overview = try PromptOverview.run(model: m, tokens: ids, top: top, answer: try answer.id(for: m), mode: mode,
                                              patterns: !noPatterns)
        return CommandResult(overview, keys: .snakeCase)
    }
}
