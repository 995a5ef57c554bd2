import Foundation
import Mechanic

/// The one JSON encoding of result types, shared by the command line (`--json`) and the server:
/// sorted keys, slashes unescaped, non-finite numbers as `null` (JSON has no NaN).
public enum ResultJSON {
    public static func data(_ value: some Encodable) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }

    public static func string(_ value: some Encodable) throws -> String {
        String(decoding: try data(value), as: UTF8.self)
    }

    /// A float as JSON wants it: nil (`null`) when not finite.
    public static func number(_ x: Float) -> Double? { x.isFinite ? Double(x) : nil }

    /// `[n_layers, n_heads]` as nested arrays (`null` for non-finite values).
    public static func layerHead(_ t: Tensor) -> [[Double?]] {
        (0..<t.shape[0]).map { l in (0..<t.shape[1]).map { number(t[l, $0]) } }
    }
}
