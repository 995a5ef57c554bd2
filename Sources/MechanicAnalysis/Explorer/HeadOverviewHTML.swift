import Foundation
import Mechanic

extension HeadOverview: HTMLReportable {
    public func html(into report: inout Report) {
        let name = "L\(layer)H\(head)"
        report.heading("Scores")
        report.table(header: ["head", "copy score (top-1 fraction)", "eigenvalue score"],
                     rows: [[name, HTMLText.format(copyScore), HTMLText.format(eigenScore)]])
        func chips(_ values: [TokenValue], up: Bool) -> String {
            Report.tokenChips(values.map { ($0.token, $0.value) }, up: up)
        }
        report.heading("OV circuit")
        report.htmlTable(header: ["source token", "most boosted outputs", "most suppressed outputs"], rows: ov.map {
            ["<span class=\"src\" data-id=\"\($0.id)\">\(HTMLText.escape(HTMLText.displayToken($0.token)))</span>", chips($0.top, up: true), chips($0.bottom, up: false)]
        }, caption: "W_E[source] · W_V W_O · W_U over the whole vocabulary")
        report.heading("QK circuit")
        report.htmlTable(header: ["query token", "preferred keys", "avoided keys"], rows: qk.map {
            ["\(HTMLText.escape(HTMLText.displayToken($0.token)))", chips($0.top, up: true), chips($0.bottom, up: false)]
        }, caption: "W_E[query] · W_Q W_Kᵀ · W_Eᵀ (attention score before scaling; biases and positions left out)")
        if let m = mapping {
            report.heading("Mapping score")
            report.htmlTable(header: ["pairs", "top-\(m.k) fraction", "mean rank"],
                         rows: [["\(m.pairs.count)", "<span id=\"mapping-topk\">\(HTMLText.format(Float(m.topKFraction)))</span>",
                                 "<span id=\"mapping-mean-rank\">\(HTMLText.format(Float(m.meanRank)))</span>"]])
            report.htmlTable(header: ["source", "target", "target's rank", "logit", "source's own rank"], rows: m.pairs.map {
                [HTMLText.escape(HTMLText.displayToken($0.sourceToken)), HTMLText.escape(HTMLText.displayToken($0.targetToken)),
                 "<span class=\"mapping-rank\">\($0.rank)</span>", HTMLText.format($0.logit), "\($0.sourceRank)"]
            }, caption: "the user's pairs on the full OV circuit W_E[source] · W_V W_O · W_U: rank 1 = the head's top output when it attends to the source")
        }
        guard let p = prompt else { return }
        report.heading("On the prompt")
        report.attentionGrid([AttentionPanel(label: name, pattern: p.pattern)], tokens: p.strTokens, title: "Attention of \(name)")
        let meanSource = p.meanOver == "corpus" ? "the corpus's \(p.meanPositions) tokens" : "the prompt's \(p.meanPositions) positions"
        report.htmlTable(header: ["pos", "token", "DLA to the next token", "next token", "loss", "loss with \(name) zeroed", "change",
                                  "loss with \(name) mean-ablated", "change"],
                         rows: p.strTokens.indices.map { i in
            let before = i < p.lossBefore.count ? p.lossBefore[i] : nil, after = i < p.lossAfter.count ? p.lossAfter[i] : nil
            let mean = i < p.meanLossAfter.count ? p.meanLossAfter[i] : nil
            return ["\(i)", HTMLText.escape(HTMLText.displayToken(p.strTokens[i])),
                    "<span class=\"dla\">\(HTMLText.format(p.dla[i]))</span>", "\(p.dlaTargets[i])",
                    before.map { HTMLText.format($0) } ?? "–", after.map { "<span class=\"loss-after\">\(HTMLText.format($0))</span>" } ?? "–",
                    before.flatMap { b in after.map { HTMLText.format($0 - b) } } ?? "–",
                    mean.map { "<span class=\"loss-mean\">\(HTMLText.format($0))</span>" } ?? "–",
                    before.flatMap { b in mean.map { HTMLText.format($0 - b) } } ?? "–"]
        }, caption: "direct logit attribution of this head to the token that follows (the model's top prediction at the last position); "
            + "per-token loss before and after ablating it: zero, and mean (its z at every position set to its mean over \(meanSource))")
        report.table(header: ["rank", "next token (model)", "prob", "next token (\(name) zeroed)", "prob", "next token (\(name) mean-ablated)", "prob"],
                     rows: zip(p.topBefore, zip(p.topAfter, p.meanTopAfter)).map { b, a in
                         [String(b.rank + 1), b.token.debugDescription, HTMLText.percent(b.prob), a.0.token.debugDescription, HTMLText.percent(a.0.prob),
                          a.1.token.debugDescription, HTMLText.percent(a.1.prob)]
                     },
                     caption: "after the last position")
        report.table(header: ["rank", "logit lens before layer \(layer)", "prob"],
                     rows: p.lensBefore.map { [String($0.rank + 1), $0.token.debugDescription, HTMLText.percent($0.prob)] },
                     caption: "what the residual stream entering layer \(layer) predicts at the last position (own normalisation)")
    }
}
