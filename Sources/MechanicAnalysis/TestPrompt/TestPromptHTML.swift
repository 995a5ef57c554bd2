import Foundation

extension TestPromptResult: HTMLReportable {
    public func html(into report: inout Report) {
        let shown = { (s: String) in "\"\(HTMLText.displayToken(s))\"" }
        report.heading("How the model scores the answer")
        report.paragraph("The answer is appended to the prompt and scored token by token (teacher forcing, TransformerLens's test_prompt): "
            + "position len(prompt) − 1 + i predicts answer token i. Rank 0 is the most likely token. Tokenization: \(tokenization)"
            + (tokenization == "separate" ? " (the answer was tokenized on its own, because tokenizing prompt + answer changes the prompt's tokens)." : "."))
        var marks: [Int: TokenMark] = [:]
        for i in answerTokens.indices { marks[promptTokens.count + i] = .answer }
        report.tokenStrip(promptStrTokens + answerStrTokens, ids: promptTokens + answerTokens, marks: marks,
                          title: "Prompt and answer (answer tokens in green)")
        if !warnings.isEmpty {
            report.heading("Warnings", level: 3)
            report.list(warnings)
        }
        if let tl = transformerLensAnswerTokens {
            report.paragraph("TransformerLens's test_prompt would score the answer tokens \(tl.map(String.init).joined(separator: ", ")) instead.", note: true)
        }
        report.table(header: ["answer token", "id", "predicted at", "rank", "logit", "probability", "log p"],
                     rows: positions.map { p in
                         [shown(p.answer.token), String(p.answer.id), String(p.position), String(p.answer.rank), HTMLText.format(p.answer.logit),
                          HTMLText.format(p.answer.prob), HTMLText.format(logf(p.answer.prob))]
                     }, caption: "Performance on the answer tokens")
        report.paragraph("Log probability of the whole answer: \(HTMLText.format(answerLogProb)) (probability \(HTMLText.format(expf(answerLogProb)))).")
        if positions.count > 1 {
            report.lineChart([LineSeries(name: "rank", values: positions.map { Float($0.answer.rank) })],
                             xLabels: positions.map { HTMLText.displayToken($0.answer.token) }, title: "Rank of each answer token (0 = top)",
                             xLabel: "answer token", yLabel: "rank", scale: .log1p)
        }
        let tops = positions.filter { !$0.top.isEmpty }
        guard !tops.isEmpty else { return }
        report.heading("The top tokens where each answer token is predicted", level: 3)
        report.raw("<div class=\"tables\">")
        for p in tops {
            let context = p.position < promptStrTokens.count + answerStrTokens.count ? (promptStrTokens + answerStrTokens)[p.position] : "?"
            let answerRow = p.top.firstIndex { $0.id == p.answer.id }
            report.raw("<div><div class=\"tabletitle\">\(HTMLText.escape("Position \(p.position) (after \(shown(context))) → \(shown(p.answer.token))"))</div>")
            report.table(header: ["rank", "token", "id", "logit", "probability"],
                         rows: p.top.map { [String($0.rank), shown($0.token), String($0.id), HTMLText.format($0.logit), HTMLText.format($0.prob)] },
                         highlight: answerRow.map { [$0] } ?? [])
            if answerRow == nil {
                report.paragraph("The answer is not among them: rank \(p.answer.rank), probability \(HTMLText.format(p.answer.prob)).", note: true)
            }
            report.raw("</div>")
        }
        report.raw("</div>")
    }
}
