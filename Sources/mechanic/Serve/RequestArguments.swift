import Foundation
import Mechanic
import MechanicIO

/// A request body (a JSON object whose keys are a command's long option names) as the command
/// line that the command's own parser reads, so that a request means exactly what the same
/// options mean to `mechanic <command>`.
///
/// `{"prompt": "The cat", "pos": -1, "no-bos": true, "a": ["x", "y"], "tokens": [1, 2]}` becomes
/// `--prompt=The cat --pos=-1 --no-bos --a=x --a=y --tokens=1,2`: a string or number is one
/// `--key=value` (so a value may start with a dash), `true` a flag (`false` and `null` leave the
/// key out), an array of strings a repeated option and an array of numbers one comma-separated
/// value. Keys may be written with `_` for `-`. Positional arguments (`tokenize`'s text,
/// `diff`'s two prompts) follow `--`.
enum RequestArguments {
    /// Options that choose or load the model, write files or print progress: the server has
    /// loaded its model once, and writes nothing.
    static let refused: Set<String> = ["model", "revision", "no-processing", "streaming", "tokenizer", "no-weight-cache",
                                       "html", "json", "quiet", "no-progress", "help", "version",
                                       "out", "shard", "shard-from-env", "shard-count"]

    static let maxKeys = 64

    /// The arguments of `body`; `positional` names the keys that are positional arguments.
    static func argv(_ body: Data, positional: [String] = []) throws -> [String] {
        let value: JSONValue
        do { value = try JSONValue.parse(body.isEmpty ? Data("{}".utf8) : body) } catch {
            throw MechanicError.invalidArgument("the request body is not JSON (\(error))")
        }
        guard let object = value.objectValue?.dictionary else { throw MechanicError.invalidArgument("the request body must be a JSON object of option names and values") }
        return try argv(object: object, positional: positional)
    }

    /// The arguments of a parsed request object (a body, or a page's query turned into one).
    static func argv(object: [String: JSONValue], positional: [String] = []) throws -> [String] {
        guard object.count <= maxKeys else { throw MechanicError.invalidArgument("the request body has \(object.count) keys; at most \(maxKeys)") }
        var options: [String] = [], positionals: [String] = []
        for key in object.keys.sorted() {
            let name = key.replacingOccurrences(of: "_", with: "-")
            guard name.first?.isLetter == true, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }) else {
                throw MechanicError.invalidArgument("'\(key)' is not an option name")
            }
            if refused.contains(name) {
                throw MechanicError.invalidArgument("'\(key)' cannot be given to the server: it serves one loaded model and writes no files")
            }
            let v = object[key] ?? .null
            if positional.contains(name) {
                positionals += try strings(v, key: key)
                continue
            }
            switch v {
            case .null, .bool(false): continue
            case .bool(true): options.append("--\(name)")
            case .array, .pair:
                let items = v.arrayValue ?? []
                if items.allSatisfy({ $0.stringValue != nil }) {
                    options += items.compactMap(\.stringValue).map { "--\(name)=\($0)" }
                    continue
                }
                options.append("--\(name)=" + (try items.map { try scalar($0, key: key) }).joined(separator: ","))
            default: options.append("--\(name)=" + (try scalar(v, key: key)))
            }
        }
        return options + (positionals.isEmpty ? [] : ["--"] + positionals)
    }

    /// A string or number as the text the command line would hold.
    static func scalar(_ v: JSONValue, key: String) throws -> String {
        switch v {
        case .string(let s): return s
        case .int(let i): return String(i)
        case .double(let d): return String(d)
        default: throw MechanicError.invalidArgument("'\(key)' must be a string, a number or a list of them")
        }
    }

    static func strings(_ v: JSONValue, key: String) throws -> [String] {
        if let items = v.arrayValue { return try items.map { try scalar($0, key: key) } }
        return [try scalar(v, key: key)]
    }
}
