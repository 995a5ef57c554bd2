import Foundation

/// One head's attention pattern for `Report.attentionGrid`.
public struct AttentionPanel: Sendable {
    /// `L1H0` and the like.
    public var label: String
    /// `pattern[query][key]`, rows summing to 1 over the keys a query can see.
    public var pattern: [[Float]]
    /// A short note shown beside the label (a score, a role).
    public var note: String?

    public init(label: String, pattern: [[Float]], note: String? = nil) {
        self.label = label
        self.pattern = pattern
        self.note = note
    }
}

extension Report {
    /// Attention patterns of several heads side by side (query rows × key columns, white → blue
    /// from 0 to 1), with the tokens on the axes and every weight on hover. Future keys
    /// (key > query) are drawn in light grey. `cell` is the largest cell size in pixels (a panel
    /// stays within about 13 × `cell` pixels).
    public mutating func attentionGrid(_ panels: [AttentionPanel], tokens: [String], title: String, caption: String? = nil,
                                       cell maxCell: Double = 18) {
        guard !panels.isEmpty else {
            figure(title: title, caption: caption, body: "<p class=\"note\">(no heads)</p>")
            return
        }
        let scale = ColorScale.sequential(min: 0, max: 1).resolved(for: [])
        let toks = tokens.map(HTMLText.displayToken)
        let n = panels.map(\.pattern.count).max() ?? 0
        let cell = min(maxCell, max(3, maxCell * 12.8 / Double(max(n, 1))))
        let labelled = n <= 32 && cell >= 7
        let fontSize = min(10.5, cell * 0.85)
        let labelW = labelled ? min(Double(toks.map { HTMLText.truncate($0, 10).count }.max() ?? 0) * fontSize * 0.62 + 8, 80) : 4
        var body = "<div class=\"grid\">"
        for panel in panels {
            let plot = cell * Double(n)
            var svg = SVG(width: labelW + plot + 6, height: plot + (labelled ? labelW * 0.75 + 8 : 6))
            svg.rect(x: labelW, y: 0, w: plot, h: plot, fill: "#f2f2f2")
            for (q, row) in panel.pattern.enumerated() {
                for (k, w) in row.enumerated() where k <= q {
                    let qt = q < toks.count ? toks[q] : "\(q)", kt = k < toks.count ? toks[k] : "\(k)"
                    svg.rect(x: labelW + Double(k) * cell, y: Double(q) * cell, w: cell, h: cell, fill: scale.color(w),
                             title: "\(panel.label) · query \(q) \"\(qt)\" → key \(k) \"\(kt)\": \(HTMLText.format(w))")
                }
            }
            svg.rect(x: labelW, y: 0, w: plot, h: plot, fill: "none", stroke: "#98a2b3", strokeWidth: 0.6)
            if labelled {
                for i in 0..<min(n, toks.count) {
                    let t = HTMLText.truncate(toks[i], 10)
                    svg.text(t, x: labelW - 3, y: (Double(i) + 0.5) * cell + fontSize * 0.35, anchor: .end,
                             size: fontSize, fill: "#333", cls: "tok")
                    let kx = labelW + (Double(i) + 0.5) * cell
                    svg.text(t, x: kx + fontSize * 0.3, y: plot + 4, anchor: .end, size: fontSize, fill: "#333",
                             rotate: -60, cls: "tok")
                }
            }
            let note = panel.note.map { "<span>\(HTMLText.escape($0))</span>" } ?? ""
            body += "<div class=\"panel\"><div class=\"panel-title\">\(HTMLText.escape(panel.label))\(note)</div>"
            body += svg.render(label: "attention pattern of \(panel.label)") + "</div>"
        }
        var legend = SVG(width: 64, height: 150)
        legend.colorLegend(scale, id: nextID("g"), x: 4, y: 6, height: 136, label: nil)
        body += "<div class=\"panel\"><div class=\"panel-title\">weight</div>"
        body += legend.render(label: "attention weight legend") + "</div></div>"
        let how = "Rows are queries, columns keys (grey: future positions a query cannot see); hover a cell for its weight."
        figure(title: title, caption: [caption, how].compactMap { $0 }.joined(separator: " "), body: body, wide: true)
    }
}
