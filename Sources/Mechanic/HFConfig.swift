import Foundation
import MechanicIO

/// A Hugging Face `config.json`, read as a JSON object with typed accessors whose errors name the
/// file and the key.
public struct HFConfig: Sendable {
    public let path: String
    let values: [String: any Sendable]

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
        values = obj.mapValues { $0.plain }
    }

    /// JSON `null`.
    struct Null: Sendable {}

    public func has(_ key: String) -> Bool {
        guard let v = values[key] else { return false }
        return !(v is Null)
    }

    public func raw(_ key: String) -> (any Sendable)? { has(key) ? values[key] : nil }

    public func int(_ key: String) throws -> Int {
        guard let v = values[key] else { throw MechanicError.missingConfigKey(file: path, key: key) }
        guard let d = v as? Double, let i = Int(exactly: d) else {
            throw MechanicError.badConfig(file: path, reason: "\"\(key)\" must be an integer, found \(v)")
        }
        return i
    }

    public func int(_ key: String, default value: Int) throws -> Int { has(key) ? try int(key) : value }

    /// The first present key among several spellings (`n_positions` / `n_ctx`).
    public func int(anyOf keys: [String]) throws -> Int {
        for k in keys where has(k) { return try int(k) }
        throw MechanicError.missingConfigKey(file: path, key: keys.joined(separator: "\" or \""))
    }

    public func double(_ key: String) throws -> Double {
        guard let v = values[key] else { throw MechanicError.missingConfigKey(file: path, key: key) }
        guard let d = v as? Double else {
            throw MechanicError.badConfig(file: path, reason: "\"\(key)\" must be a number, found \(v)")
        }
        return d
    }

    public func double(_ key: String, default value: Double) throws -> Double { has(key) ? try double(key) : value }

    public func string(_ key: String) throws -> String {
        guard let v = values[key] else { throw MechanicError.missingConfigKey(file: path, key: key) }
        guard let s = v as? String else {
            throw MechanicError.badConfig(file: path, reason: "\"\(key)\" must be a string, found \(v)")
        }
        return s
    }

    public func string(_ key: String, default value: String) throws -> String { has(key) ? try string(key) : value }

    public func bool(_ key: String, default value: Bool) throws -> Bool {
        guard has(key), let v = values[key] else { return value }
        guard let b = v as? Bool else {
            throw MechanicError.badConfig(file: path, reason: "\"\(key)\" must be true or false, found \(v)")
        }
        return b
    }

    public func dictionary(_ key: String) -> [String: any Sendable]? { raw(key) as? [String: any Sendable] }

    /// Throws when `key` is present with a value other than the allowed ones — for options the
    /// code cannot honour (sliding windows, MoE, ALiBi…), so a different model is never run silently.
    public func reject(_ key: String, unless allowed: (any Sendable) -> Bool, reason: String) throws {
        guard let v = raw(key) else { return }
        if !allowed(v) {
            throw MechanicError.unsupportedConfig(file: path, key: key, value: "\(v)", reason: reason)
        }
    }
}

extension JSONValue {
    /// Bool, Double, String, [any Sendable], [String: any Sendable] or `HFConfig.Null`.
    var plain: any Sendable {
        switch self {
        case .null: return HFConfig.Null()
        case let .bool(b): return b
        case let .int(i): return Double(i)
        case let .double(d): return d
        case let .string(s): return s
        case let .array(a): return a.map(\.plain)
        case let .object(o): return o.mapValues(\.plain)
        }
    }
}
