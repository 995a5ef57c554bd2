import Foundation
import Mechanic

/// A patching result with what it was measured on, for a report: the prompts' tokens (position
/// labels), the mode, and for path patching the senders and receivers.
public struct PatchingReport: Sendable {
    public var result: PatchingResult
    /// The clean and corrupted prompt of the first pair, as token pieces (nil: positions are numbered).
    public var cleanTokens: [String]?
    public var corruptTokens: [String]?
    public var mode: String
    public var pairs: Int
    public var senders: [String]?
    public var receivers: [String]?

    public init(result: PatchingResult, cleanTokens: [String]? = nil, corruptTokens: [String]? = nil, mode: String = "patch clean → corrupted",
                pairs: Int = 1, senders: [String]? = nil, receivers: [String]? = nil) {
        self.result = result
        self.cleanTokens = cleanTokens
        self.corruptTokens = corruptTokens
        self.mode = mode
        self.pairs = pairs
        self.senders = senders
        self.receivers = receivers
    }
}

extension PatchingResult: HTMLReportable {
    public func html(into report: inout Report) { PatchingReport(result: self).html(into: &report) }
}

extension PatchingReport: HTMLReportable {
    /// What the patch types of an `_every` result are, in order.
    static func components(_ act: String) -> [String]? {
        switch act {
        case "attn_head_all_pos_every", "attn_head_by_pos_every": return ["output (z)", "query", "key", "value", "pattern"]
        case "block_every": return ["resid_pre", "attn_out", "mlp_out"]
        default: return nil
        }
    }

    /// What an unpatched run scores: the corrupted run when clean activations are patched into it,
    /// the clean run for ablations and path patching (which change the clean run).
    var baseline: Double {
        mode.hasPrefix("patch clean") && !result.act.hasPrefix("path") ? result.corruptMetric : result.cleanMetric
    }

    /// Position labels `3 " Mary"` (the clean token), or the index alone.
    func positionLabels(_ n: Int) -> [String] {
        (0..<n).map { p in cleanTokens.flatMap { p < $0.count ? "\(p) \($0[p])" : nil } ?? "\(p)" }
    }

    public func html(into report: inout Report) {
        let r = result
        let metricName = r.metric.rawValue.replacingOccurrences(of: "_", with: " ")
        let isPath = r.act.hasPrefix("path")
        report.heading(isPath ? "Path patching" : "Activation patching: \(r.act)")
        let how = isPath
            ? "The clean run with the sender heads' outputs (hook_z) set to their corrupted values, reaching the receivers only through the "
                + "direct paths (every other head frozen at its clean value\(senders == nil ? "; each head alone as the sender" : "")). "
                + "The clean run is the baseline: the further a value is from it, the more the path matters."
            : "\(mode.prefix(1).uppercased() + mode.dropFirst())\(pairs > 1 ? ", averaged over \(pairs) prompt pairs" : ""), one activation "
                + "at a time. The unpatched run is the baseline."
        report.paragraph(how + " Each value is the \(metricName) at the final position"
            + (r.metric == .normalizedLogitDiff ? " (1 = the clean run's logit difference, 0 = the corrupted run's)" : "")
            + ". Clean run: \(HTMLText.format(r.cleanMetric)); corrupted run: \(HTMLText.format(r.corruptMetric)); colours are centred on the "
            + "baseline \(HTMLText.format(baseline)).")
        if let clean = cleanTokens {
            var strips: [(label: String, pieces: [String], ids: [Int]?, marks: [Int: TokenMark], focus: Set<Int>)] = []
            let corrupt = corruptTokens ?? []
            var marks: [Int: TokenMark] = [:]
            for i in clean.indices where i < corrupt.count && corrupt[i] != clean[i] { marks[i] = .changed }
            strips.append(("clean", clean, nil, marks, [clean.count - 1]))
            // Zero and mean ablation run the clean prompt alone (the corrupted prompt is the clean one).
            let alone = corrupt.isEmpty || corrupt == clean
            if !alone { strips.append(("corrupted", corrupt, nil, marks, [corrupt.count - 1])) }
            report.tokenStrips(strips, title: alone ? "The prompt" : (pairs > 1 ? "The first prompt pair" : "The prompt pair"),
                               caption: (alone ? "" : "Yellow: tokens that differ; ") + "outlined: the position the metric reads.")
        }
        report.table(header: ["", "value"], rows: [
            ["metric", r.metric.rawValue], ["clean run", HTMLText.format(r.cleanMetric)], ["corrupted run", HTMLText.format(r.corruptMetric)],
            ["clean logit difference", HTMLText.format(r.cleanLogitDiff)], ["corrupted logit difference", HTMLText.format(r.corruptLogitDiff)],
        ] + (senders.map { [["senders", $0.joined(separator: ", ")]] } ?? []) + (receivers.map { [["receivers", $0.joined(separator: ", ")]] } ?? []),
                     caption: "The runs")
        grids(into: &report)
    }

    /// The result's grids: one per part of an `_every` kind, else one.
    func grids(into report: inout Report) {
        let r = result
        let metricName = r.metric.rawValue.replacingOccurrences(of: "_", with: " ")
        let scale = colorScale()
        if let parts = Self.components(r.act), r.values.rank >= 3 {
            let inner = Array(r.values.shape.dropFirst()), size = inner.reduce(1, *)
            for (i, name) in parts.enumerated() where i < r.values.shape[0] {
                let slice = Tensor(shape: inner, data: Array(r.values.data[(i * size)..<((i + 1) * size)]))
                grid(slice, axes: Array(r.axes.dropFirst()), title: "\(name)", scale: scale, into: &report)
            }
        } else if r.values.rank == 0 {
            report.paragraph("Result: \(HTMLText.format(r.values.data.first ?? .nan)) (\(metricName)).")
        } else {
            grid(r.values, axes: r.axes, title: r.act, scale: scale, into: &report)
        }
    }

    /// Diverging around the baseline (the unpatched run's metric), symmetric, saturating at the
    /// largest distance from it (at least 1 for the normalised logit difference).
    func colorScale() -> ColorScale {
        let center = Float(baseline)
        let m = result.values.data.filter(\.isFinite).map { abs($0 - center) }.max() ?? 1
        return .diverging(maxAbs: result.metric == .normalizedLogitDiff ? max(1, m) : (m > 0 ? m : 1), center: center)
    }

    /// One result tensor drawn by its axes: heatmaps for two axes, one heatmap per layer (or head)
    /// for three or four, ranked bars for neurons.
    func grid(_ t: Tensor, axes: [String], title: String, scale: ColorScale, into report: inout Report) {
        let legend = result.metric.rawValue
        let label = { (axis: String, i: Int) -> String in
            switch axis {
            case "layer": return "L\(i)"
            case "head", "head_index": return "H\(i)"
            default: return "\(i)"
            }
        }
        switch axes {
        case ["layer", "pos"]:
            report.heatmap(t, rowLabels: (0..<t.shape[0]).map { "L\($0)" }, colLabels: positionLabels(t.shape[1]), title: "\(title): layer × position",
                           scale: scale, xLabel: "position", yLabel: "layer", legendLabel: legend)
        case ["layer", "head"], ["layer", "head_index"]:
            report.heatmap(t, rowLabels: (0..<t.shape[0]).map { "L\($0)" }, colLabels: (0..<t.shape[1]).map { "H\($0)" }, title: "\(title): layer × head",
                           scale: scale, xLabel: "head", yLabel: "layer", legendLabel: legend)
            rankHeads(t, title: title, into: &report)
        case ["layer", "pos", "head"]:
            // Rows: every head (L{l}H{h}); columns: positions.
            let (L, P, H) = (t.shape[0], t.shape[1], t.shape[2])
            let rows = (0..<L).flatMap { l in (0..<H).map { h in (0..<P).map { p in t.data[(l * P + p) * H + h] } } }
            report.heatmap(rows, rowLabels: (0..<L).flatMap { l in (0..<H).map { "L\(l)H\($0)" } }, colLabels: positionLabels(P),
                           title: "\(title): head × position", scale: scale, xLabel: "position", yLabel: "head", legendLabel: legend)
        case ["layer", "head_index", "dest_pos"]:
            let (L, H, P) = (t.shape[0], t.shape[1], t.shape[2])
            let rows = (0..<(L * H)).map { i in Array(t.data[(i * P)..<((i + 1) * P)]) }
            report.heatmap(rows, rowLabels: (0..<L).flatMap { l in (0..<H).map { "L\(l)H\($0)" } }, colLabels: positionLabels(P),
                           title: "\(title): head × destination position", scale: scale, xLabel: "destination position", yLabel: "head", legendLabel: legend)
        case ["layer", "head_index", "dest_pos", "src_pos"]:
            let (L, H, P) = (t.shape[0], t.shape[1], t.shape[2])
            // One destination × source grid per head, the heads whose patches move the metric most first.
            let effect = (0..<(L * H)).map { i in t.data[(i * P * P)..<((i + 1) * P * P)].map { abs($0 - Float(baseline)) }.max() ?? 0 }
            let shown = effect.indices.sorted { effect[$0] > effect[$1] }.prefix(12)
            if shown.count < L * H { report.paragraph("The \(shown.count) heads with the largest effect of \(L * H); the JSON holds them all.", note: true) }
            for i in shown {
                let rows = (0..<P).map { d in Array(t.data[((i * P + d) * P)..<((i * P + d) * P + P)]) }
                report.heatmap(rows, rowLabels: positionLabels(P), colLabels: positionLabels(P), title: "\(title): L\(i / H)H\(i % H), destination × source",
                               scale: scale, xLabel: "source position", yLabel: "destination position", legendLabel: legend,
                               maskUpperTriangle: true)
            }
        case ["layer", "neuron"]:
            let N = t.shape[1]
            var all: [(label: String, value: Float)] = []
            for l in 0..<t.shape[0] { for n in 0..<N { all.append(("L\(l)N\(n)", t.data[l * N + n])) } }
            let base = Float(baseline)
            all.sort { abs($0.value - base) > abs($1.value - base) }
            report.rankedBars(Array(all.prefix(30)), title: "\(title): the neurons whose patch moves the metric most", valueLabel: legend,
                              caption: "Ranked by |value − unpatched run| (\(HTMLText.format(base))); \(all.count) neurons in all.", limit: 30)
        default:
            // Any other 2-D shape as a plain heatmap.
            guard t.rank == 2, axes.count == 2 else { report.paragraph("(\(axes.joined(separator: " × ")) results are in the JSON output)", note: true); return }
            report.heatmap(t, rowLabels: (0..<t.shape[0]).map { label(axes[0], $0) }, colLabels: (0..<t.shape[1]).map { label(axes[1], $0) },
                           title: title, scale: scale, xLabel: axes[1], yLabel: axes[0], legendLabel: legend)
        }
    }

    /// The heads of a `[layer, head]` result as a table, largest effect first (path patching's senders).
    func rankHeads(_ t: Tensor, title: String, into report: inout Report) {
        let H = t.shape[1], base = Float(baseline)
        let heads = t.data.indices.filter { t.data[$0].isFinite }.sorted { abs(t.data[$0] - base) > abs(t.data[$1] - base) }.prefix(10)
        report.table(header: ["head", "value", "change from the unpatched run"], rows: heads.map { i in
            ["L\(i / H)H\(i % H)", HTMLText.format(t.data[i]), HTMLText.format(t.data[i] - base)]
        }, caption: "\(title): the heads with the largest effect")
    }
}
