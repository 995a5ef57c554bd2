import Foundation

extension LogitLensReport: HTMLReportable {
    /// The answer's text, when the lens followed one.
    var answerToken: String? { rows.lazy.compactMap(\.answer).first?.token }

    /// Rows for `Report.logitLensTable` (ranks from 0, as in the JSON).
    public var tableRows: [LensTableRow] {
        rows.map { row in
            LensTableRow(label: row.label, top: row.top.map { TokenProbability(token: $0.token, probability: $0.prob, logit: $0.logit) },
                         targetRank: row.answer?.rank, targetProbability: row.answer?.prob)
        }
    }

    public func html(into report: inout Report) {
        let at = position < strTokens.count ? HTMLText.displayToken(strTokens[position]) : "?"
        report.heading("Logit lens at position \(position) (\"\(at)\")")
        report.paragraph(mode == .own
            ? "Each row reads the residual stream at one layer boundary, puts it through the final norm with its own statistics and the "
                + "unembedding (a true logit lens; TransformerLens's accumulated_resid(apply_ln=True)), and lists the most likely next tokens."
            : "Each row reads the residual stream at one layer boundary, divides it by the run's cached final-norm scale (apply_ln_to_stack: "
                + "the view under which decompositions add up) and unembeds it, listing the most likely next tokens.")
        report.tokenStrip(strTokens, ids: tokens, focus: [position], title: "Prompt (the position read is outlined)")
        let answer = answerToken
        report.logitLensTable(tableRows, title: "Top tokens after each layer", target: answer,
                              caption: "Rows are TransformerLens's accumulated_resid labels (0_pre = the embeddings, l_mid = after layer l's "
                              + "attention, final_post = the model's output); cells show the probability, hover for the exact probability and logit."
                              + (answer.map { " The answer \"\(HTMLText.displayToken($0))\" is outlined where it appears; rank 0 is the top token." } ?? ""))
        let labels = rows.map(\.label)
        if answer != nil {
            let probs = rows.map { $0.answer?.prob ?? .nan }
            // A fixed 0–1 axis unless the answer stays improbable throughout (then zoom in).
            let small = (probs.filter(\.isFinite).max() ?? 0) < 0.05
            report.lineChart([LineSeries(name: "p(answer)", values: probs)], xLabels: labels,
                             title: "Probability of the answer after each layer", xLabel: "residual stream", yLabel: "probability",
                             yRange: small ? nil : 0...1, caption: small ? "The answer stays below 5% everywhere: the axis is zoomed in." : nil)
            report.lineChart([LineSeries(name: "rank", values: rows.map { $0.answer.map { Float($0.rank) } ?? .nan })], xLabels: labels,
                             title: "Rank of the answer after each layer (0 = top)", xLabel: "residual stream", yLabel: "rank",
                             scale: .log1p)
        } else if let final = rows.last?.top.first {
            // Without an answer, follow the model's own final prediction through the layers where it is in the top list.
            let values = rows.map { row in row.top.first { $0.id == final.id }?.prob ?? .nan }
            report.lineChart([LineSeries(name: "p(top-1)", values: rows.map { $0.top.first?.prob ?? .nan }),
                              LineSeries(name: "p(\"\(HTMLText.displayToken(final.token))\")", values: values)],
                             xLabels: labels, title: "Confidence after each layer", xLabel: "residual stream", yLabel: "probability",
                             yRange: 0...1, caption: "The probability of each layer's top token, and of the model's final prediction "
                             + "\"\(HTMLText.displayToken(final.token))\" where it is among the listed tokens (give --answer to follow a token everywhere).")
        }
    }
}
