import Foundation
import Mechanic
import MechanicAnalysis

extension DemoResult: HTMLReportable {
    static let roles: [(key: String, title: String, planted: String?)] = [
        ("previous_token_heads", "previous-token heads", "previous_token"),
        ("induction_heads", "induction heads", "induction"),
        ("duplicate_token_heads", "duplicate-token heads", nil),
        ("bos_heads", "heads attending to BOS", nil),
        ("copy_heads", "copying heads (OV)", nil),
        ("patching_heads", "heads that matter for the prompt pair (patching)", nil),
    ]

    public func html(into report: inout Report) {
        let layerLabels = (0..<nLayers).map { "L\($0)" }, headLabels = (0..<nHeads).map { "H\($0)" }
        let found = identified
        report.heading("What the demo found")
        report.paragraph("Model: \(subjectName). Head roles are read off attention patterns on \(options.batch) sequences of \(seqLen) random "
            + "tokens repeated twice, copying from the OV circuits, and causal importance from activation patching on a prompt pair. "
            + "A head is listed when its score reaches \(HTMLText.format(options.threshold)) (patching: \(HTMLText.format(options.patchingThreshold)) "
            + "of the clean–corrupted gap); lists are ranked by score.")
        var rows: [[String]] = []
        for role in Self.roles {
            guard let heads = found[role.key] else { continue }
            let scored = heads.map { h -> String in
                let s = role.key == "patching_heads" ? pair?.headPatching : [previousToken, induction, duplicateToken, bos, copying]
                    .compactMap { $0 }.first { $0.name == Self.scoreName(role.key) }
                let v = s?.ranked.first { $0.head == h }?.score
                return v.map { "\(h) (\(HTMLText.format($0)))" } ?? h
            }
            var row = [role.title, scored.isEmpty ? "none" : scored.joined(separator: ", ")]
            if !plantedHeads.isEmpty {
                let truth = role.planted.flatMap { plantedHeads[$0] }
                row.append(truth.map { $0.joined(separator: ", ") } ?? "—")
                row.append(truth.map { t in heads.first.map { t.contains($0) } == true ? "✓ ranked first" : "✗" } ?? "")
            }
            rows.append(row)
        }
        report.table(header: plantedHeads.isEmpty ? ["role", "heads (score)"] : ["role", "heads found (score)", "planted", "check"], rows: rows)

        report.heading("Attention-head scores on repeated random tokens")
        report.paragraph("Each score is the mean attention weight a head puts on a particular key: the previous token (previous-token score); "
            + "the token after the earlier occurrence of the current token, in the repeated half (induction score); the earlier occurrence "
            + "itself (duplicate-token score); the BOS token.")
        for s in [previousToken, induction, duplicateToken] + [bos].compactMap({ $0 }) {
            report.heatmap(s.values, rowLabels: layerLabels, colLabels: headLabels, title: s.name.prefix(1).uppercased() + s.name.dropFirst(),
                           scale: .sequential(min: 0, max: 1), xLabel: "head", yLabel: "layer", legendLabel: "mean attention")
        }
        let shown = patternHeads()
        let panels = shown.map { l, h in
            AttentionPanel(label: DemoHeadScores.label(layer: l, head: h), pattern: patterns[l][h], note: role(layer: l, head: h))
        }
        report.attentionGrid(panels, tokens: repeatedLabels, title: "Attention patterns on one repeated sequence",
                             caption: "The second half repeats the first. A previous-token head draws the sub-diagonal; an induction head "
                             + "a stripe \(repeatedTokens.count / 2 - 1) positions below the diagonal in the second half.")

        report.heading("OV copy scores")
        report.heatmap(copying.values, rowLabels: layerLabels, colLabels: headLabels, title: "Share of tokens each head's OV circuit copies",
                       scale: .sequential(min: 0, max: 1), xLabel: "head", yLabel: "layer", legendLabel: "copy score",
                       caption: "For each token t: is t the top logit of W_E[t]·W_V·W_O·W_U (ties go to the smaller id, as argmax)? "
                       + "A head that copies what it attends to scores near 1; one whose OV output the unembedding ignores scores 1/n.")

        if let pair { pairSections(pair, into: &report, layerLabels: layerLabels, headLabels: headLabels) }
        if !notes.isEmpty {
            report.heading("Notes")
            report.list(notes)
        }
    }

    static func scoreName(_ key: String) -> String {
        switch key {
        case "previous_token_heads": return "previous-token score"
        case "induction_heads": return "induction score"
        case "duplicate_token_heads": return "duplicate-token score"
        case "bos_heads": return "attention to BOS"
        default: return "OV copy score"
        }
    }

    /// A short role note for a head's pattern panel.
    func role(layer l: Int, head h: Int) -> String? {
        let label = DemoHeadScores.label(layer: l, head: h)
        var parts: [String] = []
        for (key, title) in [("induction_heads", "induction"), ("previous_token_heads", "previous token"),
                             ("duplicate_token_heads", "duplicate token"), ("bos_heads", "BOS")] where identified[key]?.contains(label) == true {
            parts.append(title)
        }
        return parts.isEmpty ? nil : parts.joined(separator: ", ")
    }

    /// All heads on small models; on large ones the top heads by induction and previous-token score.
    func patternHeads() -> [(Int, Int)] {
        let all = (0..<nLayers).flatMap { l in (0..<nHeads).map { (l, $0) } }
        guard all.count > options.maxPatternHeads else { return all }
        var chosen: [String] = []
        for s in [induction, previousToken, duplicateToken] {
            for r in s.ranked.prefix(max(options.maxPatternHeads / 3, 1)) where !chosen.contains(r.head) { chosen.append(r.head) }
        }
        return all.filter { chosen.contains(DemoHeadScores.label(layer: $0.0, head: $0.1)) }
    }

    func pairSections(_ pair: DemoPairResult, into report: inout Report, layerLabels: [String], headLabels: [String]) {
        report.heading("The prompt pair")
        report.paragraph(pair.description)
        let changed = zip(pair.cleanLabels, pair.corruptedLabels).map { $0 == $1 ? Float(0) : 1 }
        report.tokenText([TokenTextRow(label: "clean", tokens: pair.cleanLabels, values: changed),
                          TokenTextRow(label: "corrupted", tokens: pair.corruptedLabels, values: changed)],
                         title: "Clean and corrupted prompts (changed tokens shaded)", scale: .sequential(min: 0, max: 2), valueHeader: "prompt")
        report.table(header: ["", "clean", "corrupted"], rows: [["metric at the last position", HTMLText.format(pair.cleanMetric), HTMLText.format(pair.corruptedMetric)]])

        report.heading("What differs between the prompts")
        // Attention scores and patterns are left out: pre-softmax scores dwarf everything and say little on their own.
        let differing = pair.diff.components.filter { $0.norm > 0 && $0.kind != "attn_scores" && $0.kind != "pattern" }
        report.rankedBars(differing.prefix(15).map { ($0.label, $0.norm) }, title: "‖clean − corrupted‖ at the last position",
                          valueLabel: "L2 norm of the difference", caption: "Every cached activation (but attention scores and patterns) compared at the last position, as "
                          + "mechanic diff does (heads as L{layer}H{head}: their share of attn.hook_result). Differences say where activations "
                          + "change, not whether the change matters: compare with the patching results below.", limit: 15)
        if let last = pair.diff.byLayer.last(where: { $0.kind.hasPrefix("resid") }), last.norm > 0 {
            let chips = { (ts: [DiffToken]?, up: Bool) in Report.tokenChips((ts ?? []).filter { $0.value != 0 }.prefix(6).map { ($0.token, $0.value) }, up: up) }
            report.htmlTable(header: ["at the last position", "raises (logit change)", "lowers (logit change)"],
                             rows: [["<code>\(HTMLText.escape(last.label))</code>: clean − corrupted", chips(last.up, true), chips(last.down, false)]],
                             caption: "What the difference in the final residual stream does to the logits")
        }

        report.heading("Activation patching")
        report.paragraph("Each cell: run the corrupted prompt, replace one activation by its value on the clean prompt, and measure how much "
            + "of the metric comes back: (patched − corrupted) / (clean − corrupted); 1 = fully restored, 0 = no effect.")
        report.heatmap(pair.headPatching.values, rowLabels: layerLabels, colLabels: headLabels, title: "Patching each head's output (hook_z, all positions)",
                       scale: .diverging(maxAbs: max(1, pair.headPatching.values.flatMap { $0 }.map(abs).filter(\.isFinite).max() ?? 1)),
                       xLabel: "head", yLabel: "layer", legendLabel: "share of metric restored")
        report.heatmap(pair.residPatching, rowLabels: layerLabels.map { "resid_pre \($0.dropFirst())" }, colLabels: pair.cleanLabels,
                       title: "Patching the residual stream: layer × position",
                       scale: .diverging(maxAbs: max(1, pair.residPatching.flatMap { $0 }.map(abs).filter(\.isFinite).max() ?? 1)),
                       xLabel: "position (clean token)", yLabel: "layer", legendLabel: "share of metric restored",
                       caption: "Where the information that decides the answer sits, layer by layer.")
        report.rankedBars(pair.headPatching.ranked.prefix(10).map { ($0.head, $0.score) }, title: "Heads ranked by patching effect",
                          valueLabel: "share of metric restored", highlight: Set(identified["patching_heads"] ?? []))

        report.heading("Logit lens")
        report.logitLensTable(pair.logitLens, title: "The clean prompt's last position, read through the unembedding after each layer",
                              target: pair.answerLabel, caption: "As mechanic lens: rows are TransformerLens's accumulated_resid labels "
                              + "(0_pre = the embeddings, final_post = the output); top tokens by probability; the outlined cell is the expected answer "
                              + "\(HTMLText.displayToken(pair.answerLabel)), ranked from 0 (the top token).")
    }
}
