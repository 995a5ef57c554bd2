// MechanicJSON: the one JSON reader (strict, linear-time, line/column errors, repeated keys
// refused) and the one JSON string quoter, for safetensors headers, shard indexes, config.json,
// the hub's replies (MechanicIO, Mechanic) and tokenizer files (MechanicTokenizers).

import Foundation

/// A parsed JSON document, decoded strictly: a number stays a number and a boolean a boolean
/// (unlike `JSONSerialization` on Linux, where `0` and `1` also pass `is Bool`), an integer
/// literal that fits `Int` stays `.int`, and objects keep their keys in file order (a vocabulary
/// is read in order and an error can name the first offending entry).
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)
    /// An array of exactly two strings (a BPE merge), stored without an array allocation;
    /// `arrayValue` and `==` treat it as the array it is.
    case pair(String, String)

    /// Parses `data` in one linear pass (`JSONByteParser`); throws a `JSONParseError` with the
    /// line and column when it is not JSON or an object repeats a key.
    public static func parse(_ data: some ContiguousBytes) throws -> JSONValue {
        try JSONByteParser.parse(data)
    }

    public var objectValue: JSONObject? { if case let .object(o) = self { return o } else { return nil } }
    public var stringValue: String? { if case let .string(s) = self { return s } else { return nil } }
    public var boolValue: Bool? { if case let .bool(b) = self { return b } else { return nil } }
    public var isNull: Bool { if case .null = self { return true } else { return false } }

    public var arrayValue: [JSONValue]? {
        switch self {
        case let .array(a): return a
        case let .pair(a, b): return [.string(a), .string(b)]
        default: return nil
        }
    }

    /// An integer, also from a float that holds an exact integer (`3.0`, `3e2`), never from a boolean.
    public var intValue: Int? {
        switch self {
        case let .int(i): return i
        case let .double(d): return d == d.rounded() ? Int(exactly: d) : nil
        default: return nil
        }
    }

    /// Any number, as a `Double`.
    public var doubleValue: Double? {
        switch self {
        case let .int(i): return Double(i)
        case let .double(d): return d
        default: return nil
        }
    }

    /// A compact rendering for messages (`"F32"`, `[1, 2]`, `an object with keys [a, b]`).
    public var brief: String {
        switch self {
        case .null: return "null"
        case let .bool(b): return b ? "true" : "false"
        case let .int(i): return "\(i)"
        case let .double(d): return "\(d)"
        case let .string(s): return ErrorText.quoted(s)
        case let .array(a): return a.count > 8 ? "an array of \(a.count) elements" : "[" + a.map(\.brief).joined(separator: ", ") + "]"
        case let .pair(a, b): return "[\(ErrorText.quoted(a)), \(ErrorText.quoted(b))]"
        case let .object(o): return "an object with keys [\(o.keys.prefix(8).joined(separator: ", "))\(o.keys.count > 8 ? ", …" : "")]"
        }
    }

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.int(x), .int(y)): return x == y
        case let (.double(x), .double(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        case let (.object(x), .object(y)): return x == y
        case (.array, .array), (.array, .pair), (.pair, .array), (.pair, .pair): return a.arrayValue == b.arrayValue
        default: return false
        }
    }
}
