// MechanicAnalysis/Reports: the HTML report and its inline-SVG components (heatmaps, attention
// grids, charts, token strips); each analysis adopts HTMLReportable in a `*HTML.swift` beside it.

import Foundation
import Mechanic

/// A self-contained HTML report: headings, text, tables and figures drawn as inline SVG by this
/// module. No network, no JavaScript libraries, inline CSS only; hovering a cell, bar or point
/// shows its exact value (SVG `<title>` elements). The document is well-formed XML apart from
/// the doctype, so it can be checked with any XML parser.
///
///     var report = Report(title: "Induction heads in the planted model")
///     report.paragraph("Scores on repeated random tokens.")
///     report.heatmap(scores, rowLabels: ["L0", "L1"], colLabels: ["H0", "H1", "H2"], title: "Induction score")
///     try writeReport(report, to: URL(fileURLWithPath: "report.html"))
public struct Report: Sendable {
    public var title: String
    /// Key–value lines under the title (model, prompt, settings).
    public var meta: [(key: String, value: String)] = []
    /// The body, as HTML fragments in order.
    public private(set) var fragments: [String] = []
    private var sections: [(id: String, title: String)] = []
    private var idCounter = 0

    public init(title: String, meta: [(key: String, value: String)] = []) {
        self.title = title
        self.meta = meta
    }

    /// A fresh id for SVG definitions and anchors, unique within this report.
    mutating func nextID(_ prefix: String) -> String {
        idCounter += 1
        return "\(prefix)\(idCounter)"
    }

    /// Appends already-escaped, well-formed HTML.
    public mutating func raw(_ html: String) { fragments.append(html) }

    /// Adds a result that knows how to present itself.
    public mutating func add(_ item: some HTMLReportable) { item.html(into: &self) }

    /// A section heading (level 2, listed in the contents) or a sub-heading (level 3).
    public mutating func heading(_ text: String, level: Int = 2) {
        let l = min(max(level, 2), 4)
        if l == 2 {
            let id = nextID("s")
            sections.append((id, text))
            fragments.append("<h2 id=\"\(id)\">\(HTMLText.escape(text))</h2>")
        } else {
            fragments.append("<h\(l)>\(HTMLText.escape(text))</h\(l)>")
        }
    }

    /// A paragraph of plain text (escaped). `note: true` renders it smaller and grey.
    public mutating func paragraph(_ text: String, note: Bool = false) {
        fragments.append(note ? "<p class=\"note\">\(HTMLText.escape(text))</p>" : "<p>\(HTMLText.escape(text))</p>")
    }

    /// A bulleted list of plain-text items.
    public mutating func list(_ items: [String]) {
        fragments.append("<ul>" + items.map { "<li>\(HTMLText.escape($0))</li>" }.joined() + "</ul>")
    }

    /// A table; cells that parse as numbers are right-aligned in a monospaced font. Rows whose
    /// index is in `highlight` are shaded (the answer among the top tokens, say).
    public mutating func table(header: [String], rows: [[String]], caption: String? = nil, highlight: Set<Int> = []) {
        var s = "<div class=\"tablewrap\"><table>"
        if let caption { s += "<caption>\(HTMLText.escape(caption))</caption>" }
        s += "<thead><tr>" + header.map { "<th>\(HTMLText.escape($0))</th>" }.joined() + "</tr></thead><tbody>"
        for (i, row) in rows.enumerated() {
            s += (highlight.contains(i) ? "<tr class=\"hl\">" : "<tr>") + row.map { cell in
                let numeric = Double(cell.replacingOccurrences(of: "%", with: "")) != nil
                return numeric ? "<td class=\"num\">\(HTMLText.escape(cell))</td>" : "<td>\(HTMLText.escape(cell))</td>"
            }.joined() + "</tr>"
        }
        fragments.append(s + "</tbody></table></div>")
    }

    /// A table whose body cells are already-escaped, well-formed HTML fragments (token chips, say).
    public mutating func htmlTable(header: [String], rows: [[String]], caption: String? = nil) {
        var s = "<div class=\"tablewrap\"><table>"
        if let caption { s += "<caption>\(HTMLText.escape(caption))</caption>" }
        s += "<thead><tr>" + header.map { "<th>\(HTMLText.escape($0))</th>" }.joined() + "</tr></thead><tbody>"
        for row in rows {
            s += "<tr>" + row.map { Double($0) != nil ? "<td class=\"num\">\($0)</td>" : "<td>\($0)</td>" }.joined() + "</tr>"
        }
        fragments.append(s + "</tbody></table></div>")
    }

    /// Wraps a figure (SVG or HTML) with its title and an optional caption.
    mutating func figure(title: String?, caption: String?, body: String, wide: Bool = false) {
        var s = "<figure class=\"fig\(wide ? " wide" : "")\">"
        if let title { s += "<div class=\"figtitle\">\(HTMLText.escape(title))</div>" }
        s += "<div class=\"figbody\">\(body)</div>"
        if let caption { s += "<figcaption>\(HTMLText.escape(caption))</figcaption>" }
        fragments.append(s + "</figure>")
    }

    /// The complete HTML document.
    public var html: String {
        var s = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/>"
        s += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>"
        s += "<title>\(HTMLText.escape(title))</title><style>\(ReportStyle.css)</style></head><body>"
        s += "<header><h1>\(HTMLText.escape(title))</h1>"
        if !meta.isEmpty {
            s += "<dl class=\"meta\">" + meta.map {
                "<div><dt>\(HTMLText.escape($0.key))</dt><dd>\(HTMLText.escape($0.value))</dd></div>"
            }.joined() + "</dl>"
        }
        s += "</header>"
        if sections.count >= 3 {
            s += "<nav><span>Contents</span>" + sections.map {
                "<a href=\"#\($0.id)\">\(HTMLText.escape($0.title))</a>"
            }.joined() + "</nav>"
        }
        s += "<main>" + fragments.joined(separator: "\n") + "</main>"
        s += "<footer>Generated by mechanic · self-contained: no network, no scripts · hover a cell, bar or point for its value</footer>"
        return s + "</body></html>\n"
    }
}

/// A result that can present itself in a report — every analysis result adopts this so that its
/// subcommand can take `--html FILE`.
public protocol HTMLReportable {
    func html(into report: inout Report)
}

/// Writes `report` as one self-contained HTML file (UTF-8), atomically; a directory, device or
/// input file at the path is refused, never replaced (`OutputFile`).
public func writeReport(_ report: Report, to url: URL) throws {
    try writeReport(report, to: OutputFile(url.path, option: "the HTML report", refusesInputs: false))
}

/// Writes `report` to a checked output file.
public func writeReport(_ report: Report, to output: OutputFile) throws {
    try output.write(Data(report.html.utf8))
}

/// Writes a report holding one result.
public func writeReport(_ item: some HTMLReportable, title: String, meta: [(key: String, value: String)] = [], to url: URL) throws {
    var report = Report(title: title, meta: meta)
    report.add(item)
    try writeReport(report, to: url)
}
