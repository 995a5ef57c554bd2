import Foundation
import MechanicIO

/// A Hugging Face `config.json`, read as a JSON object with typed accessors whose errors name the
/// file and the key.
public struct HFConfig: Sendable {
    public let path: String
    let values: [String: any Sendable]
    /// The same values as parsed, for exact integers and messages that quote what the file says.
    let json: [String: JSONValue]

    public init(url: URL) throws {
        path = url.path
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw MechanicError.fileMissing(path: url.path, what: "a Hugging Face config.json")
        }
        let data = try InputFile.read(url.path, what: "a Hugging Face config.json", limit: InputFile.configLimit)
        let parsed: JSONValue
        do { parsed = try JSONValue.parse(data) } catch {
            throw MechanicError.badConfig(file: url.path, reason: "not valid JSON at \(error)")
        }
        guard case let .object(obj) = parsed else {
            throw MechanicError.badConfig(file: url.path, reason: "the top level is \(parsed.brief), not a JSON object")
        }
        let dictionary = obj.dictionary
        values = dictionary.mapValues { $0.plain }
        json = dictionary
    }

    /// JSON `null`.
    struct Null: Sendable {}

    /// A plain value as JSON would spell it, for messages (`null`, `2.5`, `"12"`, `[…]`).
    static func describe(_ v: any Sendable) -> String {
        switch v {
        case is Null: return "null"
        case let d as Double: return Int(exactly: d).map(String.init) ?? "\(d)"
        case let s as String: return "\"\(s)\""
        case let b as Bool: return "\(b)"
        case is [any Sendable]: return "a list"
        default: return "an object"
        }
    }

    public func has(_ key: String) -> Bool {
        guard let v = values[key] else { return false }
        return !(v is Null)
    }

    public func raw(_ key: String) -> (any Sendable)? { has(key) ? values[key] : nil }

    /// An integer (`12`, or `12.0`); anything else (`2.5`, `"12"`, `null`) is an error naming the key and value.
    public func int(_ key: String) throws -> Int { try int(key, "an integer") }

    public func int(_ key: String, default value: Int) throws -> Int { has(key) ? try int(key) : value }

    /// A positive integer (layer, head, width, vocabulary and context counts).
    public func positiveInt(_ key: String) throws -> Int {
        let i = try int(key, "a positive integer")
        guard i > 0 else { throw bad(key, "a positive integer") }
        return i
    }

    public func positiveInt(_ key: String, default value: Int) throws -> Int { has(key) ? try positiveInt(key) : value }

    /// The first present key among several spellings (`n_positions` / `n_ctx`), a positive integer.
    public func positiveInt(anyOf keys: [String]) throws -> Int {
        for k in keys where has(k) { return try positiveInt(k) }
        if let k = keys.first(where: { values[$0] != nil }) { return try positiveInt(k) }  // present but null
        throw MechanicError.missingConfigKey(file: path, key: keys.joined(separator: "\" or \""))
    }

    private func int(_ key: String, _ what: String) throws -> Int {
        guard let v = json[key] else { throw MechanicError.missingConfigKey(file: path, key: key) }
        guard let i = v.intValue, !(v.isBool) else { throw bad(key, what) }
        return i
    }

    /// "config.json: n_layer must be a positive integer, found null" (with the file's path).
    func bad(_ key: String, _ what: String) -> MechanicError {
        MechanicError.badConfig(file: path, reason: "\(key) must be \(what), found \(json[key]?.brief ?? "nothing")")
    }

    public func double(_ key: String) throws -> Double {
        guard let v = values[key] else { throw MechanicError.missingConfigKey(file: path, key: key) }
        guard let d = v as? Double else { throw bad(key, "a number") }
        return d
    }

    public func double(_ key: String, default value: Double) throws -> Double { has(key) ? try double(key) : value }

    /// A finite number ≥ 0 (norm epsilons).
    public func nonNegativeDouble(_ key: String, default value: Double) throws -> Double {
        let d = try double(key, default: value)
        guard d.isFinite, d >= 0, Float(d).isFinite else { throw bad(key, "a finite number ≥ 0") }
        return d
    }

    /// A finite number > 0 (rotary bases).
    public func positiveDouble(_ key: String, default value: Double) throws -> Double {
        let d = try double(key, default: value)
        guard d.isFinite, d > 0 else { throw bad(key, "a finite number > 0") }
        return d
    }

    public func string(_ key: String) throws -> String {
        guard let v = values[key] else { throw MechanicError.missingConfigKey(file: path, key: key) }
        guard let s = v as? String else {
            throw bad(key, "a string")
        }
        return s
    }

    public func string(_ key: String, default value: String) throws -> String { has(key) ? try string(key) : value }

    public func bool(_ key: String, default value: Bool) throws -> Bool {
        guard has(key), let v = values[key] else { return value }
        guard let b = v as? Bool else {
            throw bad(key, "true or false")
        }
        return b
    }

    public func dictionary(_ key: String) -> [String: any Sendable]? { raw(key) as? [String: any Sendable] }

    /// Throws when `key` is present with a value other than the allowed ones — for options the
    /// code cannot honour (sliding windows, MoE, ALiBi…), so a different model is never run silently.
    public func reject(_ key: String, unless allowed: (any Sendable) -> Bool, reason: String) throws {
        guard let v = raw(key) else { return }
        if !allowed(v) {
            throw MechanicError.unsupportedConfig(file: path, key: key, value: json[key]?.brief ?? "\(v)", reason: reason)
        }
    }
}

extension JSONValue {
    var isBool: Bool { if case .bool = self { return true } else { return false } }

    /// Bool, Double, String, [any Sendable], [String: any Sendable] or `HFConfig.Null`.
    var plain: any Sendable {
        switch self {
        case .null: return HFConfig.Null()
        case let .bool(b): return b
        case let .int(i): return Double(i)
        case let .double(d): return d
        case let .string(s): return s
        case .array, .pair: return (arrayValue ?? []).map(\.plain)
        case let .object(o): return o.dictionary.mapValues(\.plain)
        }
    }
}
