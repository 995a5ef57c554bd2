import Foundation

extension ActivationDiffReport: HTMLReportable {
    /// What `rankBy` measures, in words.
    var rankDescription: String {
        switch rankBy {
        case .relativeNorm: return "‖a − b‖ / ‖a‖"
        case .norm: return "‖a − b‖"
        case .angle: return "1 − cos(a, b)"
        }
    }

    /// Token strips of both sides, tokens that differ from the other side's first prompt at the
    /// same index shaded, the compared positions outlined.
    func strips() -> [(label: String, pieces: [String], ids: [Int]?, marks: [Int: TokenMark], focus: Set<Int>)] {
        var out: [(label: String, pieces: [String], ids: [Int]?, marks: [Int: TokenMark], focus: Set<Int>)] = []
        for (side, other, name) in [(a, b, "A"), (b, a, "B")] {
            let reference = other.tokens.first ?? []
            for (i, ids) in side.tokens.enumerated() {
                var marks: [Int: TokenMark] = [:]
                for (j, t) in ids.enumerated() where j >= reference.count || reference[j] != t { marks[j] = .changed }
                let text = side.texts.flatMap { i < $0.count ? $0[i] : nil }
                let label = "\(name)\(side.tokens.count > 1 ? "\(i + 1)" : "")" + (text.map { ": \"\($0)\"" } ?? "")
                out.append((label, i < side.strTokens.count ? side.strTokens[i] : ids.map { "#\($0)" }, ids, marks,
                            i < side.positions.count ? [side.positions[i]] : []))
            }
        }
        return out
    }

    /// `byLayer` as one series per hook kind over the layers.
    func layerSeries() -> (layers: [String], series: [LineSeries]) {
        let L = (byLayer.compactMap(\.layer).max() ?? -1) + 1
        let kinds = ["resid_pre", "resid_mid", "attn_out", "mlp_out", "resid_post"].filter { k in byLayer.contains { $0.kind == k } }
        let series = kinds.map { k in
            LineSeries(name: k, values: (0..<L).map { l in byLayer.first { $0.kind == k && $0.layer == l }?.norm ?? .nan })
        }
        return ((0..<L).map { "L\($0)" }, series)
    }

    public func html(into report: inout Report) {
        let sets = a.tokens.count > 1 || b.tokens.count > 1
        report.heading("The two runs")
        report.paragraph("Every cached activation is compared between A and B at " + (sets ? "each prompt's aligned position, averaged over the "
            + "\(a.tokens.count) A and \(b.tokens.count) B prompts" : "the aligned position") + " (outlined below): ‖a − b‖, ‖a − b‖ / ‖a‖ and cos(a, b). "
            + "Residual-stream and output differences are unembedded (centered, divided by A's cached final-norm scale, times W_U) "
            + "to show which tokens the difference raises and lowers.")
        report.tokenStrips(strips(), title: "Tokenizations side by side",
                           caption: "Yellow: tokens that differ from the other side's (first) prompt at the same index. Hover a token for its id.")
        if !warnings.isEmpty {
            report.heading("Warnings", level: 3)
            report.list(warnings)
        }
        if !summary.isEmpty {
            report.heading("Summary", level: 3)
            report.list(summary)
        }

        report.heading("Where the runs differ")
        let top = components.prefix(25).map { ($0.label, DiffSummary.rankValue($0, rankBy)) }
        report.rankedBars(top, title: "Components ranked by \(rankDescription)", valueLabel: rankDescription,
                          caption: "The \(min(25, components.count)) top-ranked of \(components.count) compared components; "
                          + "heads appear as L{layer}H{head} (their share of attn.hook_result).", limit: 25)
        let (layers, series) = layerSeries()
        report.lineChart(series, xLabels: layers, title: "‖a − b‖ through the layers", xLabel: "layer", yLabel: "‖a − b‖",
                         caption: "The residual stream before (resid_pre) and after each block, and what attention and the MLP write.")
        report.table(header: ["component", "‖a − b‖", "‖a‖", "‖b‖", "‖a − b‖ / ‖a‖", "cos(a, b)"],
                     rows: components.prefix(25).map { c in
                         [c.label, HTMLText.format(c.norm), HTMLText.format(c.normA), HTMLText.format(c.normB),
                          c.relativeNorm.map(HTMLText.format) ?? "n/a", c.cosine.map(HTMLText.format) ?? "n/a"]
                     }, caption: "The top-ranked components, all statistics")

        report.heading("What the differences unembed to")
        let unembedded = byLayer.filter { $0.up != nil } + components.filter { $0.kind == "result" && $0.up != nil }.prefix(8)
        let chips = { (ts: [DiffToken]?, up: Bool) in Report.tokenChips((ts ?? []).prefix(8).map { ($0.token, $0.value) }, up: up) }
        report.htmlTable(header: ["component", "‖a − b‖", "raises (logit change)", "lowers (logit change)"],
                         rows: unembedded.map { c in
                             ["<code>\(HTMLText.escape(c.label))</code>", HTMLText.format(c.norm)]
                                 + (c.noDifference ? ["no difference", "no difference"] : [chips(c.up, true), chips(c.down, false)])
                         },
                         caption: "a − b through the final norm and W_U: the tokens whose logits the difference raises and lowers most "
                         + "(layer outputs in layer order, then the heads with the largest differences)")

        if let v = verification {
            report.heading("Verification by patching")
            let metric = "logit[\"\(HTMLText.displayToken(v.answerToken))\"] − logit[\"\(HTMLText.displayToken(v.wrongToken))\"]"
            report.paragraph("Each top-ranked component's activation from A is patched into B's run at the aligned position; "
                + "the share restored is (patched − B) / (A − B) of \(metric): \(HTMLText.format(v.metricA)) in A, \(HTMLText.format(v.metricB)) in B.")
            report.table(header: ["component", "patched \(metric)", "share restored"],
                         rows: v.results.map { [$0.label, HTMLText.format($0.patchedMetric), $0.fractionRestored.map(HTMLText.format) ?? "n/a"] },
                         caption: "Patching A → B, one component at a time")
            report.rankedBars(v.results.map { ($0.label, $0.fractionRestored ?? .nan) }, title: "Share of the logit difference each patch restores",
                              valueLabel: "(patched − B) / (A − B)", limit: 30)
        }
        if !skipped.isEmpty {
            report.heading("Left out", level: 3)
            report.list(skipped)
        }
    }
}
