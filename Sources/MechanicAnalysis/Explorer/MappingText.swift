import Foundation
import Mechanic

extension TokenMapping {
    /// A mapping typed on a page: pairs `source:target` separated by commas or newlines, each
    /// side a bare word (taken as written, outer spaces trimmed), a double-quoted string (spaces
    /// kept: `" hot":" cold"` for GPT-2's mid-sentence tokens) or a token id. `resolve` turns a
    /// text into its single token id (`HookedTransformer.toSingleToken`).
    ///
    /// `hot:cold, big:small` → `[(hot, cold), (big, small)]`.
    public static func parse(text: String, resolve: (String) throws -> Int) throws -> TokenMapping {
        var pairs: [(source: Int, target: Int)] = [], labels: [(source: String, target: String)] = []
        var sides: [(String, quoted: Bool)] = []
        var current = "", quoted = false, inQuotes = false
        func endSide() throws {
            let word = quoted ? current : current.trimmingCharacters(in: .whitespaces)
            guard !word.isEmpty || quoted else {
                throw MechanicError.invalidArgument("mapping pair \(pairs.count + 1) has an empty side; write pairs as source:target, e.g. hot:cold")
            }
            sides.append((word, quoted))
            (current, quoted) = ("", false)
        }
        func endPair() throws {
            if sides.isEmpty && current.trimmingCharacters(in: .whitespaces).isEmpty && !quoted { return }  // blank entry
            try endSide()
            guard sides.count == 2 else {
                throw MechanicError.invalidArgument("mapping pair \(pairs.count + 1) ('\(sides.map(\.0).joined(separator: ":"))') must be source:target")
            }
            var ids: [Int] = []
            for (word, q) in sides {
                if !q, let id = Int(word) { ids.append(id) } else { ids.append(try resolve(word)) }
            }
            pairs.append((ids[0], ids[1]))
            labels.append((sides[0].0, sides[1].0))
            sides = []
        }
        for ch in text {
            if inQuotes {
                if ch == "\"" { inQuotes = false } else { current.append(ch) }
            } else if ch == "\"" {
                guard current.trimmingCharacters(in: .whitespaces).isEmpty else {
                    throw MechanicError.invalidArgument("mapping: a quote opens in the middle of '\(current)'")
                }
                (current, quoted, inQuotes) = ("", true, true)
            } else if ch == ":" {
                try endSide()
            } else if ch == "," || ch.isNewline {
                try endPair()
            } else if !(quoted && ch.isWhitespace) {
                current.append(ch)
            }
        }
        guard !inQuotes else { throw MechanicError.invalidArgument("mapping: a quoted token is not closed") }
        try endPair()
        guard !pairs.isEmpty else { throw MechanicError.emptyInput("the mapping holds no pairs; write source:target pairs, e.g. hot:cold, big:small") }
        return TokenMapping(pairs: pairs, labels: labels)
    }
}
