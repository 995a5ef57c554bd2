/// The one JSON string quoter: error messages (`ErrorText`, `TokenizerError.quoted`) and the
/// dataset JSONL writer (MechanicAnalysis).
public enum JSONQuoting {
    /// `s` as a JSON string literal: `"` and `\\` escaped, `\n \t \r` spelled, every other C0 or C1
    /// control and U+FFFD as `\u00xx` (lowercase hex), everything else as is (valid JSON that
    /// reads back to `s`). With `limit`, cut to that many characters ("…", for messages).
    public static func quoted(_ s: String, limit: Int? = nil) -> String {
        var out = "\""
        var count = 0
        for scalar in s.unicodeScalars {
            if let limit, count == limit { out += "…"; break }
            count += 1
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                let v = scalar.value
                if v < 0x20 || (0x7F..<0xA0).contains(v) || v == 0xFFFD {
                    let hex = String(v, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}

/// Quoting of file content in messages: `JSONQuoting.quoted`, cut to 60 characters by default.
public enum ErrorText {
    public static func quoted(_ s: String, limit: Int = 60) -> String { JSONQuoting.quoted(s, limit: limit) }
}
