import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
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
    static func run(_ name: String, _ args: [String], json: Bool = true) throws -> HTMLRun {
        let path = dir.appendingPathComponent("\(name).html")
        try? FileManager.default.removeItem(at: path)
        let r = try CLI.run(args + (json ? ["--json"] : []) + ["--html", path.path])
        #expect(r.status == 0, "\(args.joined(separator: " ")): \(r.stderr)")
        #expect(r.stderr.contains("wrote the HTML report to \(path.path)"))
        let html = try String(contentsOf: path, encoding: .utf8)
        return HTMLRun(json: json ? try CLI.json(r) : [:], html: html, path: path)
    }

    /// The whole document parses as XML (bar the doctype), and so does every SVG figure on its own.
    func expectWellFormed(_ sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(html.hasPrefix("<!DOCTYPE html>\n"), sourceLocation: sourceLocation)
        if let err = HTMLCheck.xmlError(html.replacingOccurrences(of: "<!DOCTYPE html>\n", with: "")) {
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
    var titles: Set<String> { Set(HTMLCheck.matches(#"<title>([\s\S]*?)</title>"#, in: html, group: 1).map(HTMLCheck.unescape)) }
    /// HTML `title="…"` attributes (hover values of table cells and tokens).
    var titleAttributes: Set<String> { Set(HTMLCheck.matches(#" title="([^"]*)""#, in: html, group: 1).map(HTMLCheck.unescape)) }
    /// The text of every table cell.
    var cells: Set<String> { Set(HTMLCheck.matches(#"<td[^>]*>([^<]*)</td>"#, in: html, group: 1).map(HTMLCheck.unescape)) }
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

/// A number as the reports print it: 4 significant digits (`%.4g`) of the Float value (of the
/// Double itself with `double: true`, for statistics kept in double precision).
func fmt(_ x: Any?, double: Bool = false) -> String {
    guard let d = (x as? Double) ?? (x as? NSNumber)?.doubleValue else { return "n/a" }
    let f = double ? d : Double(Float(d))
    return f == 0 ? "0" : String(format: "%.4g", f)
}

/// A token as the reports show it: newlines and tabs as ↵ and ⇥, other control characters as \xNN.
func shown(_ token: String) -> String {
    var out = ""
    for s in token.unicodeScalars {
        switch s {
        case "\n": out += "↵"
        case "\r": out += "⏎"
        case "\t": out += "⇥"
        default: out += s.value < 0x20 || s.value == 0x7F ? String(format: "\\x%02X", s.value) : String(s)
        }
    }
    return out
}

enum HTMLCheck {
    static func xmlError(_ xml: String) -> String? {
        let parser = XMLParser(data: Data(xml.utf8))
        if parser.parse() { return nil }
        return "\(parser.parserError.map { "\($0)" } ?? "unknown error") at line \(parser.lineNumber), column \(parser.columnNumber)"
    }

    static func svgFragments(_ html: String) -> [String] { matches(#"<svg[\s\S]*?</svg>"#, in: html, group: 0) }

    static func unescape(_ s: String) -> String {
        s.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&#39;", with: "'")
            .replacingOccurrences(of: "&amp;", with: "&")
    }

    static func matches(_ pattern: String, in s: String, group: Int) -> [String] {
        guard let re = try? NSRegularExpression(pattern: pattern) else { return [] }
        let ns = s as NSString
        return re.matches(in: s, range: NSRange(location: 0, length: ns.length)).map { ns.substring(with: $0.range(at: group)) }
    }
}

/// Headless Chromium (Debian's `chromium`), when installed.
enum Chromium {
    static let executable: String? = {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            for name in ["chromium", "chromium-browser", "google-chrome"] where FileManager.default.isExecutableFile(atPath: "\(dir)/\(name)") {
                return "\(dir)/\(name)"
            }
        }
        return nil
    }()

    /// Renders `html` at `width × height` and returns the PNG bytes.
    static func screenshot(_ html: URL, width: Int = 1280, height: Int = 1600) throws -> Data {
        guard let exe = executable else { throw CocoaError(.fileNoSuchFile) }
        let png = html.deletingPathExtension().appendingPathExtension("png")
        try? FileManager.default.removeItem(at: png)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--screenshot=\(png.path)",
                       "--window-size=\(width),\(height)", html.absoluteString]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        return try Data(contentsOf: png)
    }
}
