import Foundation
import Mechanic

/// An attention head, `L{layer}H{head}`.
public struct HeadIndex: Hashable, Sendable, Codable, CustomStringConvertible {
    public var layer: Int
    public var head: Int
    public init(layer: Int, head: Int) { self.layer = layer; self.head = head }
    public var description: String { "L\(layer)H\(head)" }
}

extension HeadIndex {
    /// The one spelling of a head on the command line and in requests: `L9H6`, `l9h6`, `9.6`
    /// (and the older `9:6`). Layers and heads are not range-checked here — the analysis that
    /// uses the head says when it does not exist — so `-1:0` parses.
    public init(parsing text: String) throws {
        let s = text.trimmingCharacters(in: .whitespaces)
        let upper = s.uppercased()
        let parts: [Substring]
        if upper.hasPrefix("L") {
            parts = upper.dropFirst().split(separator: "H", omittingEmptySubsequences: false)
        } else {
            parts = s.split(whereSeparator: { $0 == "." || $0 == ":" }).count == 2
                ? s.split(whereSeparator: { $0 == "." || $0 == ":" }) : []
        }
        guard parts.count == 2, let layer = Int(parts[0]), let head = Int(parts[1]) else {
            throw MechanicError.invalidArgument("'\(s)' is not a head; write L<layer>H<head>, e.g. L9H6 (or 9.6)")
        }
        self.init(layer: layer, head: head)
    }

    /// A comma-separated list of heads: `L9H6,L9H9` or `9.6,9.9`.
    public static func parseList(_ text: String) throws -> [HeadIndex] {
        try text.split(separator: ",").map { try HeadIndex(parsing: String($0)) }
    }
}
