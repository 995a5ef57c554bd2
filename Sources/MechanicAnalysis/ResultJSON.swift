// MechanicAnalysis: the analyses (one folder each: Attribution, Datasets, Diff, Heads, Lens,
// Neurons, Patching, TestPrompt), their Codable result types, and Reports/ (HTML). ResultJSON is
// the one `--json` encoding.

import Foundation
import Mechanic

/// The one JSON encoding of result types, shared by the command line (`--json`) and the server:
/// sorted keys, slashes unescaped. Result types write non-finite scores as `null` (JSON has no
/// NaN) through `number(_:)`; a raw non-finite Float left in a type is written `"nan"`/`"inf"`.
public enum ResultJSON {
    /// How property names become keys: as the type's coding keys declare them, or converted to
    /// snake_case (the lens and attribution reports, whose Swift names are camelCase).
    public enum Keys: Sendable { case asDeclared, snakeCase }

    public static func encoder(_ keys: Keys = .asDeclared) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        if keys == .snakeCase { encoder.keyEncodingStrategy = .convertToSnakeCase }
        return encoder
    }

    public static func data(_ value: some Encodable, keys: Keys = .asDeclared) throws -> Data {
        if let fast = value as? any FastResultJSON { return Data(try fast.resultJSON(keys: keys).utf8) }
        return try encoder(keys).encode(value)
    }

    public static func string(_ value: some Encodable, keys: Keys = .asDeclared) throws -> String {
        if let fast = value as? any FastResultJSON { return try fast.resultJSON(keys: keys) }
        return String(decoding: try encoder(keys).encode(value), as: UTF8.self)
    }

    /// A float as JSON wants it: nil (`null`) when not finite.
    public static func number(_ x: Float) -> Double? { x.isFinite ? Double(x) : nil }

    /// `[n_layers, n_heads]` as nested arrays (`null` for non-finite values).
    public static func layerHead(_ t: Tensor) -> [[Double?]] {
        (0..<t.shape[0]).map { l in (0..<t.shape[1]).map { number(t[l, $0]) } }
    }
}
