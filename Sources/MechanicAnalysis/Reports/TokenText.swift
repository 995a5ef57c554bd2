import Foundation

/// A run of tokens with one value per token (a neuron's activation on a dataset example).
public struct TokenTextRow: Sendable {
    public var label: String
    public var tokens: [String]
    public var values: [Float]
    /// The token the row is about (outlined), if any.
    public var focus: Int?
    public init(label: String, tokens: [String], values: [Float], focus: Int? = nil) {
        self.label = label
        self.tokens = tokens
        self.values = values
        self.focus = focus
    }
}

extension Report {
    /// Text with every token's background coloured by its value (Neuroscope-style), one row per
    /// example, the value of each token on hover.
    public mutating func tokenText(_ rows: [TokenTextRow], title: String, scale: ColorScale = .diverging(),
                                   valueHeader: String = "value", caption: String? = nil) {
        let resolved = scale.resolved(for: rows.flatMap(\.values))
        var s = "<div class=\"tablewrap\"><table><thead><tr><th>\(HTMLText.escape(valueHeader))</th><th>text</th></tr></thead><tbody>"
        for row in rows {
            s += "<tr><td class=\"num\">\(HTMLText.escape(row.label))</td><td class=\"toks\">"
            for (i, t) in row.tokens.enumerated() {
                let v = i < row.values.count ? row.values[i] : .nan
                let cls = row.focus == i ? " class=\"focus\"" : ""
                s += "<span\(cls) style=\"background:\(resolved.color(v));color:\(resolved.textColor(v))\""
                s += " title=\"\(HTMLText.escape(HTMLText.displayToken(t))): \(HTMLText.format(v))\">"
                s += HTMLText.escape(HTMLText.displayToken(t)) + "</span>"
            }
            s += "</td></tr>"
        }
        s += "</tbody></table></div>"
        figure(title: title, caption: caption, body: s, wide: true)
    }
}
