import Foundation
import Mechanic

extension PromptOverview: HTMLReportable {
    /// The prompt page's figures: the tokens (ids, BOS shown), a table of the top next tokens and
    /// the loss at every position, the logit-lens grid of the answer, and every head's pattern.
    public func html(into report: inout Report) {
        report.heading("Tokens")
        report.tokenStrip(strTokens, ids: tokens, title: "\(tokens.count) tokens (ids below each; BOS included when prepended)")
        report.heading("Next-token predictions and loss")
        report.htmlTable(header: ["pos", "token", "id", "loss of the next token", "top next tokens"], rows: positions.enumerated().map { p, row in
            let chips = row.top.map { "<span class=\"pred\" data-id=\"\($0.id)\">\(HTMLText.escape(HTMLText.displayToken($0.token))) "
                + "<small>\(HTMLText.percent($0.prob))</small></span>" }.joined(separator: " ")
            return ["\(p)", HTMLText.escape(HTMLText.displayToken(strTokens[p])), "\(tokens[p])",
                    row.loss.map { "<span class=\"loss\">\(HTMLText.format($0))</span>" } ?? "–", chips]
        }, caption: "loss: −log p(actual next token); top: the most likely next tokens after each position")
        if let lens, let answer {
            report.heading("Logit lens of \(HTMLText.displayToken(answer.token)) (id \(answer.id))")
            report.heatmap(lens.prob, rowLabels: lens.labels, colLabels: strTokens.enumerated().map { "\($0.offset) \($0.element)" },
                           title: "Probability of \(HTMLText.displayToken(answer.token)) by layer (rows) and position (columns), \(lens.mode.rawValue) normalisation",
                           scale: .sequential(min: 0, max: 1), xLabel: "position", yLabel: "residual stream before", legendLabel: "probability")
        }
        if let patterns {
            report.heading("Attention patterns")
            let panels = patterns.enumerated().flatMap { l, heads in
                heads.enumerated().map { h, p in AttentionPanel(label: "L\(l)H\(h)", pattern: p) }
            }
            report.attentionGrid(panels, tokens: strTokens, title: "Every head (query rows × key columns)")
        }
    }
}
