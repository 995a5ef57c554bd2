import Foundation
import MechanicAnalysis
import ReportTestSupport
import Testing

/// Runs a subcommand with `--json` and `--html FILE` and returns both, with checks for the HTML.
struct HTMLRun {
    var json: [String: Any]
    var html: String
    var path: URL

    static let dir: URL = {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("mechanic-cli-html")
        try? FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }()

    /// `mechanic ARGS --json --html DIR/NAME.html`; the JSON from stdout (nil for commands that
    /// print none), the report from the file.
    /// `failing`: the command must exit non-zero after writing its report (a dataset that kept no pair).
    static func run(_ name: String, _ args: [String], json: Bool = true, failing: Bool = false) throws -> HTMLRun {
        let path = dir.appendingPathComponent("\(name).html")
        try? FileManager.default.removeItem(at: path)
        let r = try CLI.run(args + (json ? ["--json"] : []) + ["--html", path.path])
        #expect(failing ? r.status != 0 : r.status == 0, "\(args.joined(separator: " ")): \(r.stderr)")
        #expect(r.stderr.contains("wrote the HTML report to \(path.path)"))
        let html = try String(contentsOf: path, encoding: .utf8)
        return HTMLRun(json: json ? try CLI.json(r) : [:], html: html, path: path)
    }

    /// The whole document parses as XML (bar the doctype), and so does every SVG figure on its own.
    func expectWellFormed(_ sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(html.hasPrefix("<!DOCTYPE html>\n"), sourceLocation: sourceLocation)
        if let err = HTMLCheck.xmlError(HTMLCheck.withoutDoctype(html)) {
            Issue.record("\(path.lastPathComponent) is not well-formed: \(err)", sourceLocation: sourceLocation)
        }
        for svg in HTMLCheck.svgFragments(html) {
            if let err = HTMLCheck.xmlError(svg) { Issue.record("an SVG figure is not well-formed: \(err)", sourceLocation: sourceLocation) }
        }
        #expect(!html.contains("http://") || html.components(separatedBy: "http://").dropFirst().allSatisfy { $0.hasPrefix("www.w3.org/2000/svg") },
                "the report must not load anything from the network", sourceLocation: sourceLocation)
        #expect(!html.contains("<script"), sourceLocation: sourceLocation)
    }

    /// SVG `<title>` texts (hover values of cells, bars, points).
    var titles: Set<String> { Set(HTMLCheck.titles(html)) }
    /// HTML `title="…"` attributes (hover values of table cells and tokens).
    var titleAttributes: Set<String> { Set(HTMLCheck.titleAttributes(html)) }
    /// The text of every table cell.
    var cells: Set<String> { Set(HTMLCheck.cells(html)) }
    /// The text of the header's meta entries, key → value.
    var meta: [String: String] {
        let keys = HTMLCheck.matches(#"<dt>([^<]*)</dt><dd>"#, in: html, group: 1).map(HTMLCheck.unescape)
        let values = HTMLCheck.matches(#"</dt><dd>([^<]*)</dd>"#, in: html, group: 1).map(HTMLCheck.unescape)
        return Dictionary(zip(keys, values), uniquingKeysWith: { a, _ in a })
    }

    /// Checks that every expected string is among `have`, naming the first few that are not.
    static func expectAll(_ expected: [String], in have: Set<String>, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let missing = expected.filter { !have.contains($0) }
        #expect(!expected.isEmpty, "no \(what) to check", sourceLocation: sourceLocation)
        #expect(missing.isEmpty, "\(missing.count) of \(expected.count) \(what) missing, e.g. \(missing.prefix(3))", sourceLocation: sourceLocation)
    }
}

/// A number from the JSON output as the reports print it (`HTMLText.format`, 4 significant
/// digits) — of the Float it was (of the Double itself with `double: true`, for statistics kept
/// in double precision).
func fmt(_ x: Any?, double: Bool = false) -> String {
    guard let d = (x as? Double) ?? (x as? NSNumber)?.doubleValue else { return "n/a" }
    return double ? HTMLText.format(d) : HTMLText.format(Float(d))
}

/// A token as the reports show it (newlines as ↵, control characters as \xNN).
func shown(_ token: String) -> String { HTMLText.displayToken(token) }

/// A screenshot of `html` beside it, as `NAME.png`.
func screenshot(_ html: URL, width: Int, height: Int) throws -> Data {
    try Chromium.screenshot(html, png: html.deletingPathExtension().appendingPathExtension("png"), width: width, height: height)
}
