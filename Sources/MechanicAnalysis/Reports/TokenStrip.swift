import Foundation

/// How a token of a `Report.tokenStrip` is shaded (the positions an analysis reads are outlined
/// separately, as `focus`).
public enum TokenMark: String, Sendable {
    /// A token being scored (an answer), green.
    case answer
    /// A token that differs from the other prompt, yellow.
    case changed
}

extension Report {
    /// A prompt as a row of token boxes, each with its position (and id) underneath and on hover;
    /// spaces stay visible as the box's width, newlines show as `↵`. `marks` shades tokens by
    /// position; the positions in `focus` are outlined.
    public mutating func tokenStrip(_ pieces: [String], ids: [Int]? = nil, marks: [Int: TokenMark] = [:], focus: Set<Int> = [],
                                    title: String? = nil, caption: String? = nil) {
        figure(title: title, caption: caption, body: Self.tokenStripHTML(pieces, ids: ids, marks: marks, focus: focus), wide: true)
    }

    /// Several prompts side by side (two columns on a wide page), each a labelled token strip.
    public mutating func tokenStrips(_ strips: [(label: String, pieces: [String], ids: [Int]?, marks: [Int: TokenMark], focus: Set<Int>)],
                                     title: String? = nil, caption: String? = nil) {
        var body = "<div class=\"sidebyside\">"
        for s in strips {
            body += "<div><div class=\"panel-title\">\(HTMLText.escape(s.label))</div>"
            body += Self.tokenStripHTML(s.pieces, ids: s.ids, marks: s.marks, focus: s.focus) + "</div>"
        }
        figure(title: title, caption: caption, body: body + "</div>", wide: true)
    }

    static func tokenStripHTML(_ pieces: [String], ids: [Int]?, marks: [Int: TokenMark], focus: Set<Int>) -> String {
        var s = "<div class=\"strip\">"
        for (i, piece) in pieces.enumerated() {
            let id = ids.flatMap { i < $0.count ? $0[i] : nil }
            let shown = HTMLText.displayToken(piece)
            let cls = (marks[i].map { " \($0.rawValue)" } ?? "") + (focus.contains(i) ? " focus" : "")
            let notes = (marks[i].map { [$0.rawValue] } ?? []) + (focus.contains(i) ? ["read here"] : [])
            let tip = "position \(i)" + (id.map { ", id \($0)" } ?? "") + ": \"\(shown)\"" + (notes.isEmpty ? "" : " (\(notes.joined(separator: ", ")))")
            s += "<span class=\"t\(cls)\" title=\"\(HTMLText.escape(tip))\"><b>\(HTMLText.escape(shown.isEmpty ? "∅" : shown))</b>"
            s += "<small>\(i)\(id.map { " · \($0)" } ?? "")</small></span>"
        }
        return s + "</div>"
    }

    /// Tokens with a value each as small chips (`"y" 6.699`), red for `up`, blue otherwise, for
    /// `htmlTable` cells.
    public static func tokenChips(_ items: [(token: String, value: Float)], up: Bool) -> String {
        items.map { t in
            let shown = HTMLText.escape("\"\(HTMLText.displayToken(t.token))\"")
            return "<span class=\"chip \(up ? "up" : "down")\" title=\"\(shown): \(HTMLText.format(t.value))\">\(shown)<small>\(HTMLText.format(t.value))</small></span>"
        }.joined(separator: " ")
    }
}
