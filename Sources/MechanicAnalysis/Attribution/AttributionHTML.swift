import Foundation

extension AttributionReport: HTMLReportable {
    /// `logit[" Mary"] − logit[" John"]`, or `logit[" Mary"]`.
    var targetDescription: String {
        let a = "logit[\"\(HTMLText.displayToken(answerToken))\"]"
        return wrongToken.map { "\(a) − logit[\"\(HTMLText.displayToken($0))\"]" } ?? a
    }

    /// Entries of heads as `[layer][head]` (NaN where a head is not among the entries).
    func headGrid() -> [[Float]]? {
        let heads = entries.filter { $0.kind == "head" }
        guard !heads.isEmpty else { return nil }
        let L = (heads.compactMap(\.layer).max() ?? 0) + 1, H = (heads.compactMap(\.head).max() ?? 0) + 1
        var grid = [[Float]](repeating: [Float](repeating: .nan, count: H), count: L)
        for e in heads { if let l = e.layer, let h = e.head { grid[l][h] = e.value } }
        return grid
    }

    public func html(into report: inout Report) {
        let at = position < strTokens.count ? HTMLText.displayToken(strTokens[position]) : "?"
        report.heading("Direct logit attribution of \(targetDescription)")
        report.paragraph("At position \(position) (\"\(at)\"), grouped by \(by.rawValue). Each component's output is centered (LayerNorm), "
            + "divided by the run's cached final-norm scale and dotted with the unembedding direction of the answer"
            + (wrongToken == nil ? "" : " minus the wrong token") + ", so the entries add up exactly: the model's value = the sum over all "
            + "\(componentCount) components + a constant that no component writes (b_U and the final norm's bias).")
        report.tokenStrip(strTokens, ids: tokens, focus: [position], title: "Prompt (the position attributed is outlined)")
        report.table(header: ["quantity", "value"], rows: [
            ["the model's \(targetDescription)", HTMLText.format(logitDiff)],
            ["sum over all \(componentCount) components", HTMLText.format(total)],
            ["constant (b_U, final-norm bias)", HTMLText.format(constant)],
            ["components + constant − model (rounding)", HTMLText.format(total + constant - logitDiff)],
        ], caption: "The decomposition adds up")
        let listed = entries.count < componentCount ? "the \(entries.count) largest of \(componentCount) components" : "all \(componentCount) components"
        report.rankedBars(entries.map { ($0.label, $0.value) }, title: "Direct contributions, ranked by size", valueLabel: "contribution to \(targetDescription)",
                          caption: "Showing \(listed) by |value|. Red raises \(targetDescription), blue lowers it.", limit: 30)
        switch by {
        case .head, .neuron:
            guard let grid = headGrid() else { break }
            report.heatmap(grid, rowLabels: grid.indices.map { "L\($0)" }, colLabels: (grid.first ?? []).indices.map { "H\($0)" },
                           title: "Heads: layer × head", xLabel: "head", yLabel: "layer", legendLabel: "direct contribution",
                           caption: "Each head's direct contribution to \(targetDescription)"
                           + (entries.count < componentCount ? "; grey heads are outside the listed entries." : "."))
            let mlps = entries.filter { $0.kind == "mlp" || $0.kind == "neuron" }
            if by == .neuron, !mlps.isEmpty {
                var perLayer: [Int: Float] = [:]
                for e in mlps { if let l = e.layer { perLayer[l, default: 0] += e.value } }
                let L = (perLayer.keys.max() ?? 0) + 1
                report.lineChart([LineSeries(name: "neurons", values: (0..<L).map { perLayer[$0] ?? .nan })], xLabels: (0..<L).map { "L\($0)" },
                                 title: "Sum of the listed neurons per layer", xLabel: "layer", yLabel: "contribution")
            }
        case .component:
            let layers = (entries.compactMap(\.layer).max() ?? -1) + 1
            guard layers > 0 else { break }
            var grid = [[Float]](repeating: [.nan, .nan], count: layers)
            for e in entries { if let l = e.layer { grid[l][e.kind == "attn" ? 0 : 1] = e.value } }
            report.heatmap(grid, rowLabels: (0..<layers).map { "L\($0)" }, colLabels: ["attn_out", "mlp_out"], title: "Layer outputs: layer × component",
                           xLabel: "component", yLabel: "layer", legendLabel: "direct contribution", showValues: true)
        case .layer:
            let layered = entries.filter { $0.kind == "layer" }.sorted { ($0.layer ?? 0) < ($1.layer ?? 0) }
            report.lineChart([LineSeries(name: "layer", values: layered.map(\.value))], xLabels: layered.map(\.label),
                             title: "Contribution of each layer (attention + MLP)", xLabel: "layer", yLabel: "contribution")
        }
    }
}
