import Foundation
import Mechanic

/// A result type that writes its own `--json` text: byte for byte what `ResultJSON.encoder`
/// writes for it, faster (the prompt overview's `[layer][head][query][key]` patterns are ~150k
/// floats for 32 tokens on GPT-2 small, which Foundation's encoder takes ~6× longer to write).
public protocol FastResultJSON {
    func resultJSON(keys: ResultJSON.Keys) throws -> String
}

extension PromptOverview: FastResultJSON {
    /// The synthesized encoding's fields in `.sortedKeys` order (nil optionals left out, as
    /// `encodeIfPresent` does); the small ones through the encoder, the patterns and ids by hand.
    public func resultJSON(keys: ResultJSON.Keys) throws -> String {
        let encoder = ResultJSON.encoder(keys)
        func encoded(_ v: some Encodable) throws -> [UInt8] { Array(try encoder.encode(v)) }
        let snake = keys == .snakeCase
        var out: [UInt8] = []
        out.reserveCapacity(64 + 12 * (patterns.map { $0.count * ($0.first?.count ?? 0) } ?? 0) * tokens.count * tokens.count)
        var first = true
        func key(_ name: String) {
            out.append(contentsOf: (first ? "{\"" : ",\"").utf8)
            out.append(contentsOf: name.utf8)
            out.append(contentsOf: "\":".utf8)
            first = false
        }
        if let answer { key("answer"); out += try encoded(answer) }
        if let lens { key("lens"); out += try encoded(lens) }
        key(snake ? "n_heads" : "nHeads"); out.append(contentsOf: String(nHeads).utf8)
        key(snake ? "n_layers" : "nLayers"); out.append(contentsOf: String(nLayers).utf8)
        if let patterns {
            key("patterns")
            FastJSON.nested(patterns, into: &out) { l, o in
                FastJSON.nested(l, into: &o) { h, o in FastJSON.nested(h, into: &o) { q, o in FastJSON.floats(q, into: &o) } }
            }
        }
        key("positions"); out += try encoded(positions)
        key(snake ? "str_tokens" : "strTokens"); out += try encoded(strTokens)
        key("tokens"); FastJSON.ints(tokens, into: &out)
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }
}

/// Arrays of numbers written as `ResultJSON.encoder` writes them: a Float's shortest round-trip
/// `description` without a trailing `.0` (`1`, `-0`, `1e-07`), non-finite values as the strings
/// `"nan"`, `"inf"`, `"-inf"`.
enum FastJSON {
    static func nested<T>(_ xs: [T], into out: inout [UInt8], _ element: (T, inout [UInt8]) -> Void) {
        out.append(UInt8(ascii: "["))
        for (i, x) in xs.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            element(x, &out)
        }
        out.append(UInt8(ascii: "]"))
    }

    static func floats(_ xs: [Float], into out: inout [UInt8]) {
        nested(xs, into: &out) { x, o in float(x, into: &o) }
    }

    static func ints(_ xs: [Int], into out: inout [UInt8]) {
        nested(xs, into: &out) { x, o in o.append(contentsOf: String(x).utf8) }
    }

    static func float(_ x: Float, into out: inout [UInt8]) {
        guard x.isFinite else {
            out.append(contentsOf: (x.isNaN ? "\"nan\"" : x > 0 ? "\"inf\"" : "\"-inf\"").utf8)
            return
        }
        let s = x.description
        if s.hasSuffix(".0") { out.append(contentsOf: s.utf8.dropLast(2)) } else { out.append(contentsOf: s.utf8) }
    }
}
