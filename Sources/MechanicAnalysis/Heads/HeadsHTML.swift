import Foundation
import Mechanic

extension Report {
    /// A layer × head heatmap of `[n_layers][n_heads]` scores, with the top heads as ranked bars
    /// beside it (`rankTop` > 0).
    mutating func headScores(_ values: [[Float]], title: String, scale: ColorScale, legendLabel: String, caption: String? = nil,
                             rankTop: Int = 10, ascending: Bool = false) {
        heatmap(values, rowLabels: values.indices.map { "L\($0)" }, colLabels: (values.first ?? []).indices.map { "H\($0)" },
                title: title, scale: scale, xLabel: "head", yLabel: "layer", legendLabel: legendLabel, caption: caption)
        guard rankTop > 0 else { return }
        var all: [(label: String, value: Float)] = []
        for (l, row) in values.enumerated() { for (h, v) in row.enumerated() where v.isFinite { all.append(("L\(l)H\(h)", v)) } }
        all.sort { ascending ? $0.value < $1.value : $0.value > $1.value }
        // Equal scores (e.g. no head puts any target in its top k: every share 0) have no ranking:
        // a chart of zero-width bars says nothing, so say it in words.
        if let first = all.first, all.allSatisfy({ $0.value == first.value }) {
            figure(title: "\(ascending ? "Lowest" : "Top") heads: \(title.lowercased())", caption: nil,
                   body: "<p class=\"note\">Every head scores \(HTMLText.format(first.value)) (\(HTMLText.escape(legendLabel))): there is no ranking to show.</p>")
            return
        }
        rankedBars(Array(all.prefix(rankTop)), title: "\(ascending ? "Lowest" : "Top") heads: \(title.lowercased())",
                   valueLabel: legendLabel, limit: rankTop)
    }

    /// `[n_layers, n_heads]` as nested arrays.
    static func layerHead(_ t: Tensor) -> [[Float]] {
        guard t.rank == 2 else { return [] }
        return (0..<t.shape[0]).map { l in (0..<t.shape[1]).map { t[l, $0] } }
    }
}

extension HeadDetectionReport: HTMLReportable {
    public func html(into report: inout Report) {
        let name = kind.rawValue.replacingOccurrences(of: "_", with: " ")
        report.heading("detect_head: \(name) scores")
        let measure = options.errorMeasure == .mul
            ? "mul: the share of each head's attention that falls on the detection pattern's pairs (1 = all of it)"
            : "abs: 1 − the mean absolute difference between attention and the detection pattern, times the sequence length, rounded to 3 digits (1 = identical, −1 = opposite)"
        report.paragraph("TransformerLens's head_detector on this prompt. Error measure \(measure)."
            + (options.excludeBOS ? " Attention to BOS (key 0) is left out." : "") + (options.excludeCurrentToken ? " Attention to the current token is left out." : ""))
        report.tokenStrip(strTokens, ids: tokens, title: "Prompt")
        report.headScores(shownScores, title: "\(name.prefix(1).uppercased())\(name.dropFirst()) score",
                          scale: options.errorMeasure == .mul ? .sequential(min: 0, max: 1) : .diverging(maxAbs: 1), legendLabel: "score",
                          caption: options.heads == nil ? nil : "Only the heads given with --heads are scored (grey: not scored; TransformerLens reports −1).")
        let target = AttentionPatternReport.rows(HeadDetector.detectionPattern(kind, tokens: tokens))
        report.attentionGrid([AttentionPanel(label: "detection pattern", pattern: target, note: "a perfect \(name)")] + examples, tokens: strTokens,
                             title: "The detection pattern and the best-scoring heads' attention",
                             caption: "The score compares each head's pattern with the detection pattern (left).")
        if !result.warnings.isEmpty { report.list(result.warnings) }
    }
}

extension AttentionPatternReport: HTMLReportable {
    public func html(into report: inout Report) {
        let label = "L\(layer)H\(head)"
        report.heading("Attention pattern of \(label)")
        report.attentionGrid([AttentionPanel(label: label, pattern: pattern, note: note)], tokens: strTokens, title: "\(label) on the prompt",
                             cell: 30)
        // For each query, where most of its attention goes.
        let rows = pattern.enumerated().map { q, row -> [String] in
            let k = row.indices.max { row[$0] < row[$1] } ?? 0
            let piece = { (i: Int) in i < strTokens.count ? "\"\(HTMLText.displayToken(strTokens[i]))\"" : "?" }
            return [String(q), piece(q), String(k), piece(k), HTMLText.format(row.isEmpty ? .nan : row[k])]
        }
        report.table(header: ["query", "token", "most-attended key", "token", "weight"], rows: rows, caption: "Where each query looks most")
    }
}

extension InductionScores: HTMLReportable {
    public func html(into report: inout Report) {
        report.heading("Induction scores")
        let prefix = (tokens.first?.count ?? 0) - 2 * seqLen
        report.paragraph("\(tokens.count) sequences of \(prefix > 0 ? "BOS + " : "")r + r, r of \(seqLen) random tokens. A head's score is its mean "
            + "attention, from each token in the second copy of r, to the token after that token's first occurrence — what an induction head does.")
        report.headScores(Report.layerHead(scores), title: "Induction score", scale: .sequential(min: 0, max: 1), legendLabel: "mean attention")
    }
}

extension VocabularyCopyScores: HTMLReportable {
    public func html(into report: inout Report) {
        report.heading("OV copy scores")
        report.paragraph("Each head's full OV circuit embed · W_V · W_O · W_U over the whole vocabulary: how often a token's own logit is in the top "
            + "\(topK) of what the head writes when it attends to that token, and the eigenvalue copying score Re(Σλ)/Σ|λ| (1: every eigenvalue positive).")
        report.headScores(Report.layerHead(topKFraction), title: "Share of tokens copied (top \(topK))", scale: .sequential(min: 0, max: 1),
                          legendLabel: "fraction of tokens", rankTop: 0)
        report.headScores(Report.layerHead(positiveEigenFraction), title: "Positive eigenvalue mass", scale: .sequential(min: 0, max: 1),
                          legendLabel: "Σ max(Re λ, 0)/Σ|λ|", rankTop: 0)
        report.headScores(Report.layerHead(eigenScore), title: "Eigenvalue copying score", scale: .diverging(maxAbs: 1), legendLabel: "Re(Σλ)/Σ|λ|")
    }
}

extension TokenMappingScores: HTMLReportable {
    public func html(into report: inout Report) {
        report.heading("Mapping scores over \(mapping.pairs.count) token pairs")
        report.paragraph("For each head and each source → target pair: the rank of the target (1 = the head's top output) in embed(source) · OV · W_U, "
            + "the head's direct output per unit of attention to the source.")
        let L = (heads.map(\.layer).max() ?? -1) + 1, H = (heads.map(\.head).max() ?? -1) + 1
        var meanRank = [[Float]](repeating: [Float](repeating: .nan, count: H), count: L), topK = meanRank
        for h in heads {
            meanRank[h.layer][h.head] = Float(h.meanRank)
            topK[h.layer][h.head] = Float(h.topK)
        }
        report.headScores(topK, title: "Share of pairs with the target in the top \(k)", scale: .sequential(min: 0, max: 1), legendLabel: "fraction of pairs")
        report.headScores(meanRank, title: "Mean rank of the target", scale: .sequential(min: 1), legendLabel: "mean rank (1 = top)",
                          rankTop: 10, ascending: true)
        guard let best = heads.min(by: { $0.meanRank < $1.meanRank }) else { return }
        report.table(header: ["source", "target", "rank of target", "logit of target", "rank of source"],
                     rows: mapping.labels.enumerated().map { i, l in
                         ["\"\(HTMLText.displayToken(l.source))\"", "\"\(HTMLText.displayToken(l.target))\"", String(best.ranks[i]),
                          HTMLText.format(best.logits[i]), String(best.sourceRanks[i])]
                     }, caption: "L\(best.layer)H\(best.head) (lowest mean rank, \(HTMLText.format(best.meanRank))), pair by pair")
    }
}

extension CompositionReport: HTMLReportable {
    public func html(into report: inout Report) {
        let (L, H) = (scores.shape[0], scores.shape[1])
        let what = ["Q": "query", "K": "key", "V": "value"][mode.rawValue] ?? mode.rawValue
        report.heading("\(mode.rawValue)-composition scores")
        report.paragraph("How much each earlier head's OV output feeds each later head's \(what) circuit: ‖OV₁ · M₂‖ / (‖OV₁‖ ‖M₂‖), "
            + "TransformerLens's all_composition_scores(\"\(mode.rawValue)\"). One grid per pair of layers: rows are the earlier layer's heads, "
            + "columns the later layer's.")
        let ranked = ranked
        let maxScore = ranked.first?.value ?? 1
        report.rankedBars(Array(ranked.prefix(20)), title: "Strongest compositions", valueLabel: "composition score", limit: 20)
        for l1 in 0..<L {
            for l2 in (l1 + 1)..<max(l1 + 1, L) {
                let grid = (0..<H).map { a in (0..<H).map { b in scores[l1, a, l2, b] } }
                report.heatmap(grid, rowLabels: (0..<H).map { "L\(l1)H\($0)" }, colLabels: (0..<H).map { "L\(l2)H\($0)" },
                               title: "L\(l1) → L\(l2)", scale: .sequential(min: 0, max: maxScore > 0 ? maxScore : 1),
                               xLabel: "later head (\(what))", yLabel: "earlier head (OV)", legendLabel: "score")
            }
        }
    }
}

extension NameMoverReport: HTMLReportable {
    public func html(into report: inout Report) {
        let s = scatter
        let metric = "logit[\"\(HTMLText.displayToken(answerToken))\"] − logit[\"\(HTMLText.displayToken(wrongToken))\"]"
        report.heading("Name movers: direct effect vs attention to the answer")
        report.paragraph("Each head's direct effect on \(metric) at the final position (its output through the final norm's cached scale and "
            + "the unembedding), against its attention from the final position to the answer token at position \(s.answerPosition). "
            + "Name movers sit top right: they attend to the name and copy it.")
        var marks: [Int: TokenMark] = [s.answerPosition: .answer]
        if let w = s.wrongPosition { marks[w] = .changed }
        report.tokenStrip(strTokens, ids: s.tokens, marks: marks, focus: [s.finalPosition],
                          title: "Prompt (green: the answer's position; yellow: the wrong token's; outlined: the final position)")
        let byEffect = s.points.sorted { $0.directEffect > $1.directEffect }
        let annotated = Set((byEffect.prefix(5) + byEffect.suffix(2)).map { "L\($0.layer)H\($0.head)" })
        report.scatter(s.points.map { p in
            let label = "L\(p.layer)H\(p.head)"
            return ScatterPoint(x: p.attnToAnswer, y: p.directEffect, label: label, annotate: annotated.contains(label))
        }, title: "Direct effect vs attention to the answer", xLabel: "attention to the answer", yLabel: "direct effect on \(metric)")
        let L = (s.points.map(\.layer).max() ?? -1) + 1, H = (s.points.map(\.head).max() ?? -1) + 1
        var grid = [[Float]](repeating: [Float](repeating: .nan, count: H), count: L)
        for p in s.points { grid[p.layer][p.head] = p.directEffect }
        report.headScores(grid, title: "Direct effect", scale: .diverging(), legendLabel: "direct effect", rankTop: 0)
        report.table(header: ["head", "direct effect", "attention to answer", "attention to wrong"],
                     rows: byEffect.prefix(15).map { p in
                         ["L\(p.layer)H\(p.head)", HTMLText.format(p.directEffect), HTMLText.format(p.attnToAnswer), p.attnToWrong.map(HTMLText.format) ?? "–"]
                     }, caption: "Heads with the largest direct effect")
    }
}
