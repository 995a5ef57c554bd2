import ArgumentParser
import Foundation
import Mechanic
import MechanicAnalysis

struct AttributeCommand: ModelCommand {
    static let configuration = CommandConfiguration(
        commandName: "attribute",
        abstract: "Direct logit attribution: how much each layer, head, neuron or component writes the answer's logit (minus the wrong token's).",
        discussion: """
        Each component is centered (LayerNorm) and divided by the run's cached final-norm scale, then dotted with \
        W_U[:, answer] − W_U[:, wrong] (times the final norm's weight if unfolded), so the entries add up exactly: \
        total + constant = the model's logit difference, where constant is what no component writes (b_U and the \
        final norm's bias). Entries are ranked by |value|. JSON keys: docs/cli/lens.md.
        """)

    @OptionGroup var model: ModelOptions
    @OptionGroup var input: PromptOptions
    @OptionGroup var answer: AnswerOptions

    @Option(name: .long, parsing: .unconditional, help: "The wrong token as text (one token): attribute logit[answer] − logit[wrong].")
    var wrong: String?

    @Option(name: .long, parsing: .unconditional, help: "The wrong token id.")
    var wrongId: Int?

    @Option(name: .long, help: "layer | head | neuron | component.")
    var by: AttributionGrouping = .head

    @Option(name: .long, parsing: .unconditional, help: "Position to attribute (negative counts from the end).")
    var pos = -1

    @Option(name: .long, parsing: .unconditional, help: "Entries to list.")
    var top = 20

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    @OptionGroup var report: HTMLReportOption

    func validate() throws {
        if wrong != nil && wrongId != nil { throw ValidationError("give at most one of --wrong and --wrong-id") }
        try requireAtLeast(1, top, "--top")
    }

    var jsonOutput: Bool { json }

    func run() throws { try runLoading(model.load) }

    func result(model m: HookedTransformer, progress: WorkProgress?) throws -> CommandResult {
        let ids = try input.ids(for: m)
        guard let answerId = try answer.id(for: m) else { throw ValidationError("give --answer or --answer-id") }
        let wrongToken: Int? = try wrongId.map { id in
            guard id >= 0, id < m.config.dVocab else { throw MechanicError.tokenOutOfRange(id: id, dVocab: m.config.dVocab) }
            return id
        } ?? wrong.map { try m.toSingleToken($0) }
        // Every entry for the report (its layer × head heatmap needs all heads); the top ones for the text and JSON.
        let all = try DirectLogitAttribution.run(model: m, tokens: ids, answer: answerId, wrong: wrongToken, position: pos, by: by, top: nil)
        var r = all
        r.entries = Array(all.entries.prefix(top))
        try report.write(title: "Direct logit attribution", meta: reportMeta(m, processed: !self.model.noProcessing) + input.reportMeta + [
            ("answer", "\(all.answerToken.debugDescription) (id \(all.answerId))"),
            ("wrong", all.wrongId.map { "\(all.wrongToken?.debugDescription ?? "") (id \($0))" } ?? "none"),
            ("position", "\(pos) → \(all.position)"), ("by", by.rawValue),
        ], [all])
        let out = CommandResult(r, keys: .snakeCase)
        if json { return out }
        print("prompt tokens: " + r.strTokens.map(\.debugDescription).joined(separator: " "))
        let target = r.wrongId.map { "logit[\(r.answerToken.debugDescription)] − logit[\(m.pieceString($0).debugDescription)]" }
            ?? "logit[\(r.answerToken.debugDescription)]"
        print("direct attribution of \(target) at position \(r.position) (\(r.strTokens[r.position].debugDescription)), by \(by.rawValue)")
        print(String(format: "model: %.4f = components %.4f + constant %.4f   (%d components, top %d by |value|)",
                     Double(r.logitDiff), Double(r.total), Double(r.constant), r.componentCount, r.entries.count))
        let width = max(10, r.entries.map(\.label.count).max() ?? 0)
        for e in r.entries {
            print(e.label.padding(toLength: width, withPad: " ", startingAt: 0) + String(format: "  %+10.4f", Double(e.value)))
        }
        return out
    }
}

extension AttributionGrouping: ExpressibleByArgument {}
