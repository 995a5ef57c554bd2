import Foundation
import Mechanic

/// An attribution-patching result for a report: the estimates drawn like a patching grid (as the
/// metric each patch is estimated to give), then the top components' estimates beside their
/// exact patching effects.
public struct AttributionPatchingReport: Sendable {
    public var result: AttributionPatchingResult
    public var cleanTokens: [String]?
    public var corruptTokens: [String]?
    public var mode: String
    public var pairs: Int

    public init(result: AttributionPatchingResult, cleanTokens: [String]? = nil, corruptTokens: [String]? = nil,
                mode: String = "patch clean → corrupted", pairs: Int = 1) {
        self.result = result
        self.cleanTokens = cleanTokens
        self.corruptTokens = corruptTokens
        self.mode = mode
        self.pairs = pairs
    }

    /// The estimates as a patching result: target-run metric + estimated change.
    public var asPatching: PatchingResult {
        let r = result
        var values = r.estimates
        for i in 0..<values.count { values.data[i] += Float(r.targetMetric) }
        return PatchingResult(act: r.act, axes: r.axes, values: values, metric: r.metric, cleanMetric: r.cleanMetric,
                              corruptMetric: r.corruptMetric, cleanLogitDiff: r.cleanLogitDiff, corruptLogitDiff: r.corruptLogitDiff)
    }
}

extension AttributionPatchingResult: HTMLReportable {
    public func html(into report: inout Report) { AttributionPatchingReport(result: self).html(into: &report) }
}

extension AttributionPatchingReport: HTMLReportable {
    public func html(into report: inout Report) {
        let r = result
        let metricName = r.metric.rawValue.replacingOccurrences(of: "_", with: " ")
        report.heading("Attribution patching (\(r.method.rawValue == "atp" ? "AtP" : "AtP*")): \(r.act)")
        report.paragraph("One forward pass and one backward pass of the \(metricName) estimate the effect of every patch at once: "
            + "(patched − unpatched activation) · gradient"
            + (r.method == .atpStar ? ", with the attention pattern recomputed exactly for query and key patches (AtP*)" : "")
            + ". Each cell shows the metric the patch is estimated to give (\(mode)\(pairs > 1 ? ", \(pairs) prompt pairs" : "")); "
            + "the unpatched run scores \(HTMLText.format(r.targetMetric)). The estimate is linear: check the components that matter "
            + "against exact patching below.")
        let grid = PatchingReport(result: asPatching, cleanTokens: cleanTokens, corruptTokens: corruptTokens, mode: mode, pairs: pairs)
        grid.grids(into: &report)
        guard !r.checks.isEmpty else { return }
        let rows = r.checks.map { c in
            [label(c), HTMLText.format(c.estimate), HTMLText.format(c.exact), HTMLText.format(c.exact - c.estimate)]
        }
        let total = r.estimates.count
        let which = r.checks.count >= total ? "All \(total) components" : "The \(r.checks.count) of \(total) components with the largest estimated effect"
        report.table(header: ["component", "estimated change", "exact change", "exact − estimate"], rows: rows,
                     caption: "\(which), each patched exactly")
        let correlation = r.exactCorrelation.map { "Pearson r (estimate, exact) = \(HTMLText.format(Float($0))) over \(r.checks.count) components. " }
            ?? "Pearson r needs at least two components with varying values. "
        report.paragraph(correlation + (r.checks.count < total ? "Patch every component exactly with --exact-all." : ""))
        // Labels beside the 12 points with the largest exact effect; every point's label on hover.
        let labelled = Set(r.checks.indices.sorted { abs(r.checks[$0].exact) > abs(r.checks[$1].exact) }.prefix(12))
        report.scatter(r.checks.enumerated().map { i, c in
                           ScatterPoint(x: Float(c.estimate), y: Float(c.exact), label: shortLabel(c), annotate: labelled.contains(i))
                       },
                       title: "Estimate against exact patching effect" + (r.exactCorrelation.map { " (r = \(HTMLText.format(Float($0))))" } ?? ""),
                       xLabel: "estimated change", yLabel: "exact change",
                       caption: "Points on the diagonal are estimated exactly; hover a point for its component.", diagonal: true)
    }

    /// A point label short enough to sit beside its point: `L9H6` (a head), `L2 p5` (a layer at a
    /// position), `L1N40` (a neuron), prefixed by the part (`q L9H6`) in an `_every` result.
    public func shortLabel(_ c: AttributionCheck) -> String {
        var head = "", rest: [String] = []
        for (axis, i) in zip(c.kind.axes(), c.index) {
            switch axis {
            case "layer": head += "L\(i)"
            case "head", "head_index": head += "H\(i)"
            case "neuron": head += "N\(i)"
            case "pos": rest.append("p\(i)")
            case "dest_pos": rest.append("d\(i)")
            case "src_pos": rest.append("s\(i)")
            default: rest.append("\(i)")
            }
        }
        let core = ([head] + rest).filter { !$0.isEmpty }.joined(separator: " ")
        guard c.kind.rawValue != result.act else { return core }
        return (c.kind.act == "z" ? "out" : c.kind.act) + " " + core
    }

    /// `attn_head_out_all_pos L3H7`, `resid_pre L2 pos 5`, `mlp_neuron L1N40`.
    public func label(_ c: AttributionCheck) -> String {
        let names = c.kind.axes()
        var parts: [String] = []
        for (axis, i) in zip(names, c.index) {
            switch axis {
            case "layer": parts.append("L\(i)")
            case "head", "head_index": parts.append("H\(i)")
            case "neuron": parts.append("N\(i)")
            case "pos": parts.append("pos \(i)" + (cleanTokens.flatMap { i < $0.count ? " \($0[i])" : nil } ?? ""))
            default: parts.append("\(axis) \(i)")
            }
        }
        return c.kind.rawValue + " " + parts.joined(separator: " ")
    }
}

extension AttributionPatchingResult {
    /// `{"act", "axes", "shape", "method", "metric", "estimates" (nested, the change of the metric),
    /// "target_metric", "clean_metric", "corrupt_metric", "clean_logit_diff", "corrupt_logit_diff", "exact_correlation" (Pearson r of the checks' estimates
    /// and exact changes, null when undefined), "checks": [{"kind", "index", "hook", "estimate", "exact"}]}`.
    public func jsonObject() throws -> [String: Any] {
        if let bad = estimates.data.first(where: { !$0.isFinite }) {
            throw MechanicError.invalidArgument("the \(act) attribution holds a non-finite estimate (\(bad)); JSON cannot carry it")
        }
        return [
            "act": act, "axes": axes, "shape": estimates.shape, "method": method.rawValue, "metric": metric.rawValue,
            "estimates": PatchingResult.nested(estimates), "target_metric": targetMetric,
            "clean_metric": cleanMetric, "corrupt_metric": corruptMetric,
            "clean_logit_diff": cleanLogitDiff, "corrupt_logit_diff": corruptLogitDiff,
            "exact_correlation": exactCorrelation.map { $0 as Any } ?? NSNull(),
            "checks": checks.map { ["kind": $0.kind.rawValue, "index": $0.index, "hook": $0.site.hook,
                                    "estimate": $0.estimate, "exact": $0.exact] as [String: Any] },
        ]
    }
}
