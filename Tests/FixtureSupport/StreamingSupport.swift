import Foundation
import Testing
import Mechanic

/// A fixture model loaded twice: blocks resident in memory, and streamed from the checkpoint
/// (how a model whose float32 weights exceed 40% of memory runs: `weights` holds only the
/// globals and every block is read through `HookedTransformer.block(_:)`).
public enum Streamed {
    public static let models = ["gpt2-tiny", "pythia-tiny", "llama-tiny"]

    public static func load(_ name: String, processed: Bool = true) throws -> (resident: HookedTransformer, streamed: HookedTransformer) {
        let streamed = try TestFixtures.load(name, processed: processed, streaming: true)
        let resident = try TestFixtures.load(name, processed: processed)
        guard streamed.streamsWeights, !resident.streamsWeights else {
            throw MechanicError.invalidArgument("\(name): expected one streamed and one resident load")
        }
        return (resident, streamed)
    }
}

/// Collects comparisons of a streamed model's results against the resident model's, each with
/// the project's tolerance (`Comparison`: `|a − b| ≤ 1e-5 + 1e-4 · max|b|` per tensor, the
/// resident result as the reference), and reports every failure by name.
public struct SameNumbers {
    public let context: String
    public private(set) var failures: [String] = []
    public private(set) var compared = 0

    public init(_ context: String) { self.context = context }

    public mutating func tensor(_ name: String, _ streamed: Tensor, _ resident: Tensor) {
        compared += 1
        let c = Comparison("\(context) \(name)", streamed, resident)
        if !c.ok { failures.append(c.description) }
    }

    public mutating func values(_ name: String, _ streamed: [Float], _ resident: [Float]) {
        tensor(name, Tensor(shape: [streamed.count], data: streamed), Tensor(shape: [resident.count], data: resident))
    }

    public mutating func values(_ name: String, _ streamed: [Double], _ resident: [Double]) {
        values(name, streamed.map(Float.init), resident.map(Float.init))
    }

    public mutating func same<T: Equatable>(_ name: String, _ streamed: T, _ resident: T) {
        compared += 1
        if streamed != resident { failures.append("\(context) \(name): \(streamed) vs \(resident)") }
    }

    /// Two `Encodable` results through JSON (non-finite numbers as strings).
    public mutating func json<T: Encodable>(_ name: String, _ streamed: T, _ resident: T) throws {
        let encoder = JSONEncoder()
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let (a, b) = (try encoder.encode(streamed), try encoder.encode(resident))
        tree(name, try JSONSerialization.jsonObject(with: a, options: .fragmentsAllowed),
             try JSONSerialization.jsonObject(with: b, options: .fragmentsAllowed))
    }

    /// Two JSON values (`[String: Any]`, arrays, numbers, strings) compared leaf by leaf: strings
    /// and the structure exactly; numbers grouped by key path (array indices dropped), each group
    /// compared as one tensor.
    public mutating func tree(_ name: String, _ streamed: Any, _ resident: Any) {
        var groups: [String: (a: [Float], b: [Float])] = [:]
        var order: [String] = []
        walk(name, streamed, resident, &groups, &order)
        for key in order {
            guard let g = groups[key] else { continue }
            values(key, g.a, g.b)
        }
    }

    private mutating func walk(_ path: String, _ a: Any, _ b: Any, _ groups: inout [String: (a: [Float], b: [Float])], _ order: inout [String]) {
        switch (a, b) {
        case let (x as [String: Any], y as [String: Any]):
            same("\(path) keys", x.keys.sorted(), y.keys.sorted())
            for key in x.keys.sorted() { if let u = x[key], let v = y[key] { walk("\(path).\(key)", u, v, &groups, &order) } }
        case let (x as [Any], y as [Any]):
            same("\(path) count", x.count, y.count)
            for (u, v) in zip(x, y) { walk(path + "[]", u, v, &groups, &order) }
        case let (x as String, y as String):
            same(path, x, y)
        case let (x as NSNumber, y as NSNumber):
            if groups[path] == nil { order.append(path); groups[path] = ([], []) }
            groups[path]?.a.append(x.floatValue)
            groups[path]?.b.append(y.floatValue)
        case (is NSNull, is NSNull):
            break
        default:
            failures.append("\(context) \(path): \(type(of: a)) vs \(type(of: b))")
        }
    }

    public func check(sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(compared > 0, "\(context): nothing compared", sourceLocation: sourceLocation)
        #expect(failures.isEmpty, "\(failures.prefix(12).joined(separator: "\n"))", sourceLocation: sourceLocation)
    }
}
