import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// Helpers for checking generated HTML reports: well-formedness through XMLParser, `<title>`
/// texts and `title="…"` attributes (the hover values), table cells and the SVG fragments.
public enum HTMLCheck {
    /// Parses `xml` and returns the parser's error (nil when well-formed).
    public static func xmlError(_ xml: String) -> String? {
        let parser = XMLParser(data: Data(xml.utf8))
        if parser.parse() { return nil }
        return "\(parser.parserError.map { "\($0)" } ?? "unknown error") at line \(parser.lineNumber), column \(parser.columnNumber)"
    }

    /// The document without its `<!DOCTYPE html>` line (which XML parsers reject as incomplete).
    public static func withoutDoctype(_ html: String) -> String {
        html.replacingOccurrences(of: "<!DOCTYPE html>\n", with: "")
    }

    /// Every `<svg …>…</svg>` fragment.
    public static func svgFragments(_ html: String) -> [String] {
        matches(#"<svg[\s\S]*?</svg>"#, in: html, group: 0)
    }

    /// The unescaped text of every `<title>` element (SVG hover values).
    public static func titles(_ html: String) -> [String] {
        matches(#"<title>([\s\S]*?)</title>"#, in: html, group: 1).map(unescape)
    }

    /// The unescaped values of every `title="…"` attribute (HTML hover values).
    public static func titleAttributes(_ html: String) -> [String] {
        matches(#" title="([^"]*)""#, in: html, group: 1).map(unescape)
    }

    /// The unescaped text of every table cell that holds only text.
    public static func cells(_ html: String) -> [String] {
        matches(#"<td[^>]*>([^<]*)</td>"#, in: html, group: 1).map(unescape)
    }

    public static func unescape(_ s: String) -> String {
        s.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&#39;", with: "'")
            .replacingOccurrences(of: "&amp;", with: "&")
    }

    /// Group `group` of every match of `pattern` in `s`.
    public static func matches(_ pattern: String, in s: String, group: Int) -> [String] {
        guard let re = try? NSRegularExpression(pattern: pattern) else { return [] }
        let ns = s as NSString
        return re.matches(in: s, range: NSRange(location: 0, length: ns.length)).map { ns.substring(with: $0.range(at: group)) }
    }

    /// Count of non-overlapping occurrences of `needle`.
    public static func count(_ needle: String, in s: String) -> Int {
        s.components(separatedBy: needle).count - 1
    }
}
