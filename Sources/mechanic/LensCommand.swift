import ArgumentParser
import Foundation
import Mechanic
import MechanicAnalysis

struct LensCommand: ModelCommand {
    static let configuration = CommandConfiguration(
        commandName: "lens",
        abstract: "Logit lens: what the residual stream before each layer (pre/mid) and after the last one would predict.",
        discussion: """
        --mode own (default) normalises each layer's residual with its own statistics through the final \
        norm, then W_U (a true logit lens; TransformerLens's accumulated_resid(apply_ln=True)). --mode final \
        divides every layer's residual by the run's cached final-norm scale (apply_ln_to_stack semantics), \
        the view under which decompositions add up. The final_post row is the model's own prediction in both. \
        JSON keys: docs/cli/lens.md.
        """)

    @OptionGroup var model: ModelOptions
    @OptionGroup var input: PromptOptions
    @OptionGroup var answer: AnswerOptions

    @Option(name: .long, parsing: .unconditional, help: "Position to read (negative counts from the end).")
    var pos = -1

    @Option(name: .long, parsing: .unconditional, help: "Tokens listed per layer.")
    var top = 5

    @Option(name: .long, help: "own | final (see below).")
    var mode: LensMode = .own

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    @OptionGroup var report: HTMLReportOption

    func validate() throws {
        try requireAtLeast(1, top, "--top")
    }

    var jsonOutput: Bool { json }

    func run() throws { try runLoading(model.load) }

    func result(model m: HookedTransformer, progress: WorkProgress?) throws -> CommandResult {
        let ids = try input.ids(for: m)
        let answerId = try answer.id(for: m)
        let report = try LogitLens.run(model: m, tokens: ids, position: pos, mode: mode, top: top, answer: answerId)
        try self.report.write(title: "Logit lens", meta: reportMeta(m, processed: !self.model.noProcessing) + input.reportMeta + [
            ("position", "\(pos) → \(report.position)"), ("mode", mode.rawValue), ("top", "\(top)"),
            ("answer", answerId.map { "\(m.pieceString($0).debugDescription) (id \($0))" } ?? "none"),
        ], [report])
        let out = CommandResult(report, keys: .snakeCase)
        if json { return out }
        print("prompt tokens: " + report.strTokens.map(\.debugDescription).joined(separator: " "))
        print("logit lens at position \(report.position) (\(report.strTokens[report.position].debugDescription)), mode \(mode.rawValue)"
              + (answerId.map { ", answer \(m.pieceString($0).debugDescription) (\($0))" } ?? ""))
        let width = max(12, report.rows.map(\.label.count).max() ?? 0)
        for row in report.rows {
            var line = row.label.padding(toLength: width, withPad: " ", startingAt: 0)
            if let a = row.answer { line += String(format: "  answer rank %5d  p %6.2f%%", a.rank, 100 * Double(a.prob)) }
            line += "  " + row.top.map { String(format: "%@ %.1f%%", $0.token.debugDescription, 100 * Double($0.prob)) }.joined(separator: "  ")
            print(line)
        }
        return out
    }
}

extension LensMode: ExpressibleByArgument {}

/// `--answer TOKEN` / `--answer-id N`: one token, as text (must be a single token) or id.
struct AnswerOptions: ParsableArguments {
    @Option(name: .long, parsing: .unconditional, help: "The answer token as text (it must be exactly one token; mind the leading space).")
    var answer: String?

    @Option(name: .long, parsing: .unconditional, help: "The answer token id.")
    var answerId: Int?

    func validate() throws {
        if answer != nil && answerId != nil { throw ValidationError("give at most one of --answer and --answer-id") }
    }

    func id(for m: HookedTransformer) throws -> Int? {
        if let answerId {
            guard answerId >= 0, answerId < m.config.dVocab else { throw MechanicError.tokenOutOfRange(id: answerId, dVocab: m.config.dVocab) }
            return answerId
        }
        return try answer.map { try m.toSingleToken($0) }
    }
}

/// Prints a report as JSON: snake_case keys, sorted; non-finite numbers as strings.
func printEncodable<T: Encodable>(_ value: T) throws {
    print(try ResultJSON.string(value, keys: .snakeCase))
}
