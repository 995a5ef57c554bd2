import Foundation

/// A token and its probability (and logit) — one cell of a logit-lens table.
public struct TokenProbability: Sendable, Equatable {
    public var token: String
    public var probability: Float
    public var logit: Float?
    public init(token: String, probability: Float, logit: Float? = nil) {
        self.token = token
        self.probability = probability
        self.logit = logit
    }
}

/// One row of a logit-lens table: where in the model (a layer), its top tokens, and optionally
/// the rank and probability of a target token.
public struct LensTableRow: Sendable {
    public var label: String
    public var top: [TokenProbability]
    public var targetRank: Int?
    public var targetProbability: Float?
    public init(label: String, top: [TokenProbability], targetRank: Int? = nil, targetProbability: Float? = nil) {
        self.label = label
        self.top = top
        self.targetRank = targetRank
        self.targetProbability = targetProbability
    }
}

extension Report {
    /// Layers × top tokens, each cell shaded by its probability; the target token (if any) is
    /// outlined wherever it appears, and its rank and probability get their own columns.
    public mutating func logitLensTable(_ rows: [LensTableRow], title: String, target: String? = nil, caption: String? = nil) {
        let k = rows.map(\.top.count).max() ?? 0
        let scale = ColorScale.sequential(min: 0, max: 1).resolved(for: [])
        var s = "<div class=\"tablewrap\"><table class=\"lens\"><thead><tr><th>layer</th>"
        s += (0..<k).map { "<th>#\($0 + 1)</th>" }.joined()
        if let target { s += "<th>rank of \(HTMLText.escape(HTMLText.displayToken(target)))</th><th>p(target)</th>" }
        s += "</tr></thead><tbody>"
        for row in rows {
            s += "<tr><th>\(HTMLText.escape(row.label))</th>"
            for i in 0..<k {
                guard i < row.top.count else { s += "<td></td>"; continue }
                let t = row.top[i]
                let isTarget = target.map { $0 == t.token } ?? false
                let tip = "\(row.label) #\(i + 1) \"\(HTMLText.displayToken(t.token))\": p = \(HTMLText.format(t.probability))"
                    + (t.logit.map { ", logit = \(HTMLText.format($0))" } ?? "")
                s += "<td class=\"tokcell\(isTarget ? " target" : "")\" style=\"background:\(scale.color(t.probability));color:\(scale.textColor(t.probability))\""
                s += " title=\"\(HTMLText.escape(tip))\">\(HTMLText.escape(HTMLText.displayToken(t.token)))"
                s += "<small>\(HTMLText.percent(t.probability))</small></td>"
            }
            if target != nil {
                s += "<td class=\"num\">\(row.targetRank.map { String($0) } ?? "")</td>"
                s += "<td class=\"num\">\(row.targetProbability.map { $0 >= 0.001 || $0 == 0 ? HTMLText.percent($0) : HTMLText.format($0) } ?? "")</td>"
            }
            s += "</tr>"
        }
        s += "</tbody></table></div>"
        figure(title: title, caption: caption, body: s, wide: true)
    }
}
