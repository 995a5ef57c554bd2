import Foundation
import MechanicIO

extension CongruenceResult: HTMLReportable {
    public func html(into report: inout Report) {
        let metricName = metric == .cosine ? "cosine similarity" : "dot product"
        report.heading("Token congruence (\(metricName))")
        report.paragraph("\(tokens.count) tokens, \(ProgressBar.grouped(tokens.count * (tokens.count - 1) / 2)) unordered pairs "
            + "(each pair once, no token with itself). Effective embedding: the token alone through block 0 with the positional "
            + "embedding removed, so attention can only attend to the token itself; \"MLP0 out\" is blocks.0.hook_mlp_out, "
            + "\"after block 0\" is blocks.0.hook_resid_post.")
        report.histogram(series.map { HistogramSeries(name: $0.kind.title, histogram: $0.histogram) },
                         title: "Distribution of pairwise \(metricName)", xLabel: metricName, yLabel: "token pairs")
        if series.count >= 2 {
            let (x, y) = (series[0], series[1])
            let annotated = Set(sampledPairs.indices.sorted { sampledPairs[$0].values[1] > sampledPairs[$1].values[1] }.prefix(6))
            let points = sampledPairs.enumerated().map { i, p in
                ScatterPoint(x: p.values[0], y: p.values[1], label: "\(strings[p.a]) / \(strings[p.b])", annotate: annotated.contains(i))
            }
            report.scatter(points, title: "\(y.kind.title) vs \(x.kind.title), \(points.count) sampled pairs",
                           xLabel: "\(metricName) (\(x.kind.title))", yLabel: "\(metricName) (\(y.kind.title))",
                           caption: "Points above the dashed line y = x are more similar after block 0 than in W_E.", diagonal: true)
        }
        report.table(header: ["embedding", "pairs", "mean", "std", "min", "max"], rows: series.map { s in
            [s.kind.title, ProgressBar.grouped(s.pairCount), HTMLText.format(s.stats.mean), HTMLText.format(s.stats.standardDeviation),
             HTMLText.format(s.stats.minimum), HTMLText.format(s.stats.maximum)]
        }, caption: "Summary")
        for s in series where !s.mostSimilar.isEmpty {
            report.table(header: ["token", "token", metricName], rows: s.mostSimilar.map { p in
                [HTMLText.displayToken(strings[p.a]), HTMLText.displayToken(strings[p.b]), HTMLText.format(p.value)]
            }, caption: "Most similar pairs — \(s.kind.title)")
        }
        for s in series {
            guard let m = s.matrix else { continue }
            report.heatmap(m, rowLabels: strings, colLabels: strings, title: "\(metricName): \(s.kind.title)",
                           scale: metric == .cosine ? .diverging(maxAbs: 1) : .diverging(), legendLabel: metricName,
                           showValues: tokens.count <= 12)
        }
    }
}
