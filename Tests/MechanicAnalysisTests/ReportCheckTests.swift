import Foundation
@testable import MechanicAnalysis

/// A report exercising every component, with awkward text (markup, quotes, ampersands, control
/// characters, spaces) in titles and labels.
func sampleReport() -> Report {
    var r = Report(title: "Sample report <all components> & \"quotes\"",
                   meta: [("model", "planted-induction (2 layers, attention only)"), ("prompt", "<bos> A B C A B C")])
    r.heading("Heatmaps")
    r.paragraph("Signed values use a diverging scale centred at zero; patterns a sequential one. Text with <tags> & 'quotes'.")
    let layers = (0..<4).map { "L\($0)" }
    let tokens = ["<bos>", " The", " cat", " sat", " on", " the", " mat", "\n", " and", " the", " cat"]
    var resid: [[Float]] = []
    for l in 0..<4 {
        var row: [Float] = []
        for p in 0..<tokens.count { row.append(Float(sin(Double(l * 7 + p)) * Double(l + 1) * 0.4)) }
        resid.append(row)
    }
    r.heatmap(resid, rowLabels: layers, colLabels: tokens, title: "Patching resid_pre: layer × position",
              xLabel: "position (token)", yLabel: "layer", legendLabel: "logit diff recovered",
              caption: "Each cell: the metric after patching the clean residual stream into the corrupted run.")
    var heads: [[Float]] = []
    for l in 0..<3 {
        var row: [Float] = []
        for h in 0..<6 { row.append(l == 1 && h == 4 ? 0.95 : Float((l * 6 + h) % 5) * 0.04) }
        heads.append(row)
    }
    r.heatmap(heads, rowLabels: ["L0", "L1", "L2"], colLabels: (0..<6).map { "H\($0)" }, title: "Induction score: layer × head",
              scale: .sequential(min: 0, max: 1), xLabel: "head", yLabel: "layer", legendLabel: "score")
    r.heading("Attention")
    let n = tokens.count
    let panels = (0..<3).map { h -> AttentionPanel in
        let pattern = (0..<n).map { q -> [Float] in
            var row = [Float](repeating: 0, count: n)
            switch h {
            case 0: row[max(q - 1, 0)] = 1
            case 1: for k in 0...q { row[k] = 1 / Float(q + 1) }
            default: row[0] = 0.7; row[q] += 0.3
            }
            return row
        }
        return AttentionPanel(label: "L0H\(h)", pattern: pattern, note: ["previous token", "uniform", "BOS"][h])
    }
    r.attentionGrid(panels, tokens: tokens, title: "Attention patterns, layer 0")
    r.heading("Logit lens")
    var lens: [LensTableRow] = []
    for l in 0..<4 {
        let p: Float = 0.2 + Float(l) * 0.2
        let first = TokenProbability(token: l < 2 ? " the" : " mat", probability: p, logit: Float(l))
        let top = [first, TokenProbability(token: " dog", probability: 0.1, logit: -1), TokenProbability(token: "<&>", probability: 0.05)]
        lens.append(LensTableRow(label: "resid_pre \(l)", top: top, targetRank: 4 - l, targetProbability: 0.2 * Float(l)))
    }
    r.logitLensTable(lens, title: "Logit lens at the final position", target: " mat")
    r.heading("Rankings and distributions")
    r.rankedBars([("blocks.1.attn.hook_z[H4]", 2.5), ("blocks.0.hook_mlp_out", -1.25), ("blocks.2.hook_attn_out", 0.75),
                  ("hook_embed", 0.1)], title: "Largest differences between the prompts", valueLabel: "‖clean − corrupted‖")
    var values: [Float] = []
    for i in 0..<500 {
        let a: Double = sin(Double(i) * 12.9898) * 0.5
        let b: Double = cos(Double(i) * 0.37) * 0.3
        values.append(Float(a + b))
    }
    r.histogram(values: values, bins: 24, title: "Cosine similarity of token pairs", xLabel: "cosine similarity", yLabel: "pairs")
    var pts: [ScatterPoint] = []
    for i in 0..<60 {
        let x = Float(i) / 10
        let y: Float = x + Float(sin(Double(i)))
        pts.append(ScatterPoint(x: x, y: y, label: "tok\(i)", annotate: i % 17 == 0))
    }
    r.scatter(pts, title: "Raw vs effective embedding similarity", xLabel: "cos (W_E)", yLabel: "cos (effective)", diagonal: true)
    r.tokenText([TokenTextRow(label: "4.2", tokens: [" The", " cat", " sat", "\n"], values: [0.1, 4.2, -0.3, 0], focus: 1)],
                title: "Top activating examples")
    r.table(header: ["head", "score", "note"], rows: [["L1H4", "0.95", "induction"], ["L0H0", "0.12", "<decoy>"]])
    return r
}
