import Foundation

/// The plain-text ending of a diff report: where the difference lives and what it unembeds to.
enum DiffSummary {
    static func lines(_ r: ActivationDiffReport, nLayers: Int) -> [String] {
        var out: [String] = []
        let fmt = { (x: Float) in String(format: "%.3g", Double(x)) }
        let tokens = { (ts: [DiffToken]?) in (ts ?? []).prefix(5).map { $0.token.debugDescription }.joined(separator: ", ") }
        let resid = r.byLayer.filter { $0.kind.hasPrefix("resid") }
        guard let maxNorm = r.components.map(\.norm).max(), maxNorm > 0 else {
            return ["The two runs are identical at the compared positions: every component's difference is zero."]
        }
        if let first = resid.first(where: { ($0.relativeNorm ?? 0) > 1e-4 }) {
            out.append("The residual stream first differs at \(first.label) (relative norm \(fmt(first.relativeNorm ?? 0))).")
        }
        let outputs = r.components.filter { ["attn_out", "mlp_out", "result"].contains($0.kind) }.sorted { $0.norm > $1.norm }
        if !outputs.isEmpty {
            let total = outputs.filter { $0.kind != "result" }.map(\.norm).reduce(0, +)
            let layerOutputs = outputs.filter { $0.kind != "result" }.prefix(3).map { c in
                "\(c.label.replacingOccurrences(of: "blocks.", with: "L").replacingOccurrences(of: ".hook_", with: " ")) (\(fmt(c.norm))\(total > 0 ? String(format: ", %.0f%%", Double(100 * c.norm / total)) : ""))"
            }
            out.append("Layer outputs carrying the largest differences (‖a−b‖, share of the layer-output total): \(layerOutputs.joined(separator: ", ")).")
            let heads = outputs.filter { $0.kind == "result" }.prefix(3).map { "\($0.label) (\(fmt($0.norm)))" }
            if !heads.isEmpty { out.append("Heads with the largest output differences: \(heads.joined(separator: ", ")).") }
        }
        let ranked = r.components.prefix(3).map { "\($0.label) (\(r.rankBy.rawValue) \(fmt(rankValue($0, r.rankBy))))" }
        out.append("Top-ranked components: \(ranked.joined(separator: ", ")).")
        if let last = resid.last, last.norm > 0 {
            out.append("The final residual difference (\(last.label)) raises \(tokens(last.up)) and lowers \(tokens(last.down)).")
        }
        if let v = r.verification, let best = v.results.max(by: { ($0.fractionRestored ?? -.infinity) < ($1.fractionRestored ?? -.infinity) }),
           let f = best.fractionRestored {
            out.append(String(format: "Patching %@ from A into B restores %.0f%% of the logit difference %@ − %@.",
                              best.label, Double(100 * f), v.answerToken.debugDescription, v.wrongToken.debugDescription))
        }
        return out
    }

    static func rankValue(_ c: DiffComponent, _ by: DiffRanking) -> Float {
        switch by {
        case .norm: return c.norm
        case .relativeNorm: return c.relativeNorm ?? 0
        case .angle: return 1 - (c.cosine ?? 1)
        }
    }
}
