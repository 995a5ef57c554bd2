import Foundation

/// A parsed JSON document, decoded strictly: a number stays a number and a boolean a boolean
/// (unlike `JSONSerialization` on Linux, where `0` and `1` also pass `is Bool`), and no object
/// repeats a key. Used for the
/// safetensors header, the shard index and the hub's API replies, so that each field can be
/// checked one by one and a bad one named in the error.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// Parses `data` in one linear pass (`JSONByteParser`); throws a `JSONParseError` with the
    /// line and column when it is not JSON or an object repeats a key.
    public static func parse(_ data: Data) throws -> JSONValue {
        try JSONByteParser.parse(data)
    }

    public var object: [String: JSONValue]? {
        if case let .object(o) = self { return o }
        return nil
    }

    public var array: [JSONValue]? {
        if case let .array(a) = self { return a }
        return nil
    }

    public var string: String? {
        if case let .string(s) = self { return s }
        return nil
    }

    /// An integer, also from a float that holds an exact integer (`3.0`), never from a boolean.
    public var int: Int? {
        switch self {
        case let .int(i): return i
        case let .double(d): return d == d.rounded() ? Int(exactly: d) : nil
        default: return nil
        }
    }

    /// A compact rendering for messages (`"F32"`, `[1, 2]`, `{…}`).
    public var brief: String {
        switch self {
        case .null: return "null"
        case let .bool(b): return "\(b)"
        case let .int(i): return "\(i)"
        case let .double(d): return "\(d)"
        case let .string(s): return ErrorText.quoted(s)
        case let .array(a): return a.count > 8 ? "an array of \(a.count) elements" : "[" + a.map(\.brief).joined(separator: ", ") + "]"
        case .object: return "{…}"
        }
    }
}
