import Foundation

/// Text helpers shared by the report components: escaping, number formatting, token display.
public enum HTMLText {
    /// Escapes text for HTML/XML content and attribute values (`& < > " '`), and replaces the
    /// control characters XML forbids so that every report stays well-formed.
    public static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for scalar in s.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\t", "\n", "\r": out.unicodeScalars.append(scalar)
            default:
                // XML 1.0 allows #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF].
                let v = scalar.value
                if v < 0x20 || (0xFFFE...0xFFFF).contains(v) || v == 0x7F {
                    out += String(format: "\\x%02X", v)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }

    /// A value as the reports print it: 4 significant digits (`%.4g`), "n/a" for NaN.
    public static func format(_ v: Float) -> String { format(Double(v)) }

    public static func format(_ v: Double) -> String {
        if v.isNaN { return "n/a" }
        if v.isInfinite { return v > 0 ? "inf" : "-inf" }
        if v == 0 { return "0" }
        return String(format: "%.4g", v)
    }

    /// A value short enough to print inside a heatmap cell: 3 significant digits, `0` below 5e-4
    /// in magnitude, integers from 1000 on (the cell's hover title keeps the full value).
    public static func compact(_ v: Float) -> String {
        if v.isNaN { return "n/a" }
        if v.isInfinite { return v > 0 ? "inf" : "-inf" }
        if abs(v) < 5e-4 { return "0" }
        if abs(v) >= 1000 { return String(format: "%.0f", Double(v)) }
        return String(format: "%.3g", Double(v))
    }

    /// A percentage with one decimal (`0.1234` → `12.3%`).
    public static func percent(_ p: Float) -> String {
        p.isNaN ? "n/a" : String(format: "%.1f%%", Double(p) * 100)
    }

    /// A token string made visible: newlines and tabs become `↵` and `⇥`, and other control
    /// characters `\xNN`. Spaces are kept (the reports render them with `white-space: pre`).
    public static func displayToken(_ token: String) -> String {
        var out = ""
        for scalar in token.unicodeScalars {
            switch scalar {
            case "\n": out += "↵"
            case "\r": out += "⏎"
            case "\t": out += "⇥"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    out += String(format: "\\x%02X", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }

    /// A coordinate or size for SVG: at most two decimals, no trailing zeros.
    static func num(_ v: Double) -> String {
        guard v.isFinite else { return "0" }
        let r = (v * 100).rounded() / 100
        if r == r.rounded() { return String(Int(r)) }
        var s = String(format: "%.2f", r)
        while s.hasSuffix("0") { s.removeLast() }
        return s
    }

    /// An approximate rendered width in pixels of `s` at `fontSize` (for layout of labels).
    static func textWidth(_ s: String, fontSize: Double) -> Double {
        Double(s.count) * fontSize * 0.6
    }

    /// `s` shortened to `max` characters with an ellipsis.
    static func truncate(_ s: String, _ max: Int) -> String {
        s.count <= max ? s : String(s.prefix(Swift.max(max - 1, 1))) + "…"
    }
}
