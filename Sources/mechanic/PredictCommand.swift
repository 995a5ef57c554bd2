import ArgumentParser
import Foundation
import Mechanic
import MechanicAnalysis

struct PredictCommand: ModelCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "The next-token distribution after a prompt: rank, logit, probability and token of the top k.",
        discussion: """
        With --answer/--answer-id: TransformerLens's test_prompt. The answer is appended to the prompt and scored \
        token by token (teacher forcing); for each answer token its rank (0 = top), logit, probability and the top k \
        at that position. A space is prepended to an answer that lacks one unless the prompt ends in whitespace \
        (--no-prepend-space turns this off); the answer's tokens are those that follow the prompt's in the \
        tokenization of prompt + answer; warnings say when this differs from what TransformerLens would score. \
        JSON keys: docs/cli/lens.md.
        """)

    @OptionGroup var model: ModelOptions
    @OptionGroup var input: PromptOptions

    @Option(name: .long, parsing: .unconditional, help: "How many tokens to list.")
    var top = 10

    @Option(name: .long, parsing: .unconditional, help: "Score this answer after the prompt (test_prompt); several tokens are scored one by one.")
    var answer: String?

    @Option(name: .long, parsing: .unconditional, help: "Answer token ids to score after the prompt (comma-separated).")
    var answerId: String?

    @Flag(name: .long, help: "With --answer: do not prepend a space to an answer that does not start with one.")
    var noPrependSpace = false

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    @OptionGroup var report: HTMLReportOption

    func validate() throws {
        if answer != nil && answerId != nil { throw ValidationError("give at most one of --answer and --answer-id") }
        // An empty answer would be scored as the lone space the space rule puts before it.
        if answer == "" { throw MechanicError.emptyInput("the answer is an empty string; give the text to score, e.g. \" Paris\"") }
        try requireAtLeast(1, top, "--top")
    }

    var jsonOutput: Bool { json }

    func run() throws { try runLoading(model.load) }

    func result(model m: HookedTransformer, progress: WorkProgress?) throws -> CommandResult {
        if answer != nil || answerId != nil { return try runTestPrompt(m) }
        let ids = try input.ids(for: m)
        let logits = try m.forward(TokenBatch(ids), options: ForwardOptions(logits: .last)).logits ?? Tensor(zeros: [1, 1, 0])
        let row = LogitRow(logits.data)
        let entries = row.top(top, model: m)
        try report.write {
            var r = Report(title: "Next-token prediction", meta: reportMeta(m, processed: !self.model.noProcessing) + input.reportMeta + [("top", "\(top)")])
            r.heading("The next token after the prompt")
            r.tokenStrip(m.pieceStrings(ids), ids: ids, focus: [ids.count - 1], title: "Prompt")
            r.rankedBars(entries.map { ("\($0.rank + 1). \($0.token.debugDescription)", $0.prob) }, title: "Top \(entries.count) by probability",
                         valueLabel: "probability", limit: max(top, 1))
            r.table(header: ["rank", "token", "id", "logit", "probability"],
                    rows: entries.map { [String($0.rank + 1), $0.token.debugDescription, String($0.id), HTMLText.format($0.logit), HTMLText.format($0.prob)] },
                    caption: "Rank 1 is the most likely token (as in the JSON output)")
            return r
        }
        let out = CommandResult(NextTokenResult(tokens: ids, entries: entries))
        if !json {
            print("prompt tokens: " + zip(ids, m.pieceStrings(ids)).map { "\($1.debugDescription)(\($0))" }.joined(separator: " "))
            for e in entries {
                print(String(format: "%3d  logit %8.3f  prob %6.2f%%  id %6d  ", e.rank + 1, Double(e.logit), 100 * Double(e.prob), e.id)
                      + e.token.debugDescription)
            }
        }
        return out
    }

    /// `--answer`: TransformerLens's `test_prompt` report.
    func runTestPrompt(_ m: HookedTransformer) throws -> CommandResult {
        var result: TestPromptResult
        if let answerId {
            result = try testPrompt(model: m, promptTokens: input.ids(for: m), answerTokens: parseTokenList(answerId, option: "--answer-id"), top: top)
        } else if let prompt = input.prompt, let answer {
            result = try testPrompt(model: m, prompt: prompt, answer: answer, prependBOS: input.noBos ? false : nil,
                                    prependSpaceToAnswer: !noPrependSpace, top: top)
        } else {
            // Prompt given as ids: the answer is tokenized on its own (a space prepended unless --no-prepend-space).
            let (text, spaceWarnings) = answerText(prompt: "", answer: answer ?? "", prependSpace: !noPrependSpace)
            guard let tok = m.tokenizer else { throw MechanicError.noTokenizer(model: m.source) }
            let promptIds = try input.ids(for: m)
            let separate = try AnswerTokenization.answer(after: promptIds, text: text, tokenizer: tok)
            result = try testPrompt(model: m, promptTokens: promptIds, answerTokens: separate.tokens, top: top)
            result.answer = text
            result.tokenization = "separate"
            result.warnings = spaceWarnings + separate.warnings
        }
        try report.write(title: "test_prompt", meta: reportMeta(m, processed: !self.model.noProcessing) + input.reportMeta + [
            ("answer", answer.map(\.debugDescription) ?? answerId ?? ""), ("top", "\(top)"),
        ], [result])
        let out = CommandResult(result, keys: .snakeCase)
        if json { return out }
        for w in result.warnings { warn("warning: " + w) }
        print("Tokenized prompt: [" + result.promptStrTokens.map(\.debugDescription).joined(separator: ", ") + "]")
        print("Tokenized answer: [" + result.answerStrTokens.map(\.debugDescription).joined(separator: ", ") + "]")
        let ids = result.promptTokens + result.answerTokens, pieces = result.promptStrTokens + result.answerStrTokens
        for (i, (id, piece)) in zip(ids, pieces).enumerated() {
            let role = i < result.promptTokens.count ? "prompt" : "answer \(i - result.promptTokens.count + 1) (predicted at \(i - 1))"
            print(String(format: "%4d  %6d  ", i, id) + piece.debugDescription.padding(toLength: 18, withPad: " ", startingAt: 0) + role)
        }
        for p in result.positions {
            print("Performance on answer token:")
            print(String(format: "Rank: %-8d Logit: %5.2f Prob: %6.2f%% Token: |%@| (id %d)", p.answer.rank, Double(p.answer.logit),
                         100 * Double(p.answer.prob), p.answer.token, p.answer.id))
            for t in p.top {
                print(String(format: "Top %dth token. Logit: %5.2f Prob: %6.2f%% Token: |%@| (id %d)", t.rank, Double(t.logit), 100 * Double(t.prob),
                             t.token, t.id))
            }
        }
        print("Ranks of the answer tokens: [" + zip(result.answerStrTokens, result.positions)
            .map { "(\($0.debugDescription), \($1.answer.rank))" }.joined(separator: ", ") + "]")
        print(String(format: "Answer log probability: %.4f", Double(result.answerLogProb)))
        return out
    }
}
