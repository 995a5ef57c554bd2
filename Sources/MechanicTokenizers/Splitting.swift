import Foundation

/// What happens to the matched delimiters when a piece is split (`SplitDelimiterBehavior`).
enum SplitBehavior: String {
    case removed = "Removed"
    case isolated = "Isolated"
    case mergedWithPrevious = "MergedWithPrevious"
    case mergedWithNext = "MergedWithNext"
    case contiguous = "Contiguous"
}

/// Something that finds delimiter matches in a piece of UTF-8 text.
enum SplitPattern {
    /// A hand-written scanner for a well-known regex.
    case scanner(PatternScanner)
    /// Any other regex, through Foundation (ICU); slower.
    case regex(NSRegularExpression)
    /// A literal string.
    case literal([UInt8])
    /// Every character for which the class test holds is one match.
    case characters(CharClass)

    /// Builds the pattern for a `{"Regex": …}` or `{"String": …}` object.
    static func make(_ value: JSONValue?, file: String, key: String) throws -> SplitPattern {
        guard let object = value?.objectValue else { throw TokenizerError.missingKey(file: file, key: key) }
        if let literal = object["String"]?.stringValue { return .literal(Array(literal.utf8)) }
        if let pattern = object["Regex"]?.stringValue {
            if let scanner = PatternScanner.recognizing(pattern) { return .scanner(scanner) }
            do {
                return .regex(try NSRegularExpression(pattern: pattern, options: []))
            } catch {
                throw TokenizerError.invalidRegex(file: file, key: key, pattern: pattern, reason: "the pattern is not valid for NSRegularExpression")
            }
        }
        throw TokenizerError.invalidValue(file: file, key: key, value: value?.brief ?? "null",
                                          expected: "an object with a \"String\" or \"Regex\" key")
    }

    /// All matches as byte ranges, in order, non-overlapping.
    func matches(in p: UnsafeBufferPointer<UInt8>) -> [(Int, Int)] {
        var out: [(Int, Int)] = []
        switch self {
        case .scanner(let scanner):
            scanner.forEachMatch(p) { out.append(($0, $1)) }
        case .literal(let needle):
            guard !needle.isEmpty, needle.count <= p.count else { return out }
            var i = 0
            while i + needle.count <= p.count {
                var equal = true
                for k in 0..<needle.count where p[i + k] != needle[k] { equal = false; break }
                if equal { out.append((i, i + needle.count)); i += needle.count } else { i += 1 }
            }
        case .characters(let cls):
            var i = 0
            while i < p.count {
                let (v, length) = decodeScalar(p, i)
                if !CharClass.of(v).isDisjoint(with: cls) { out.append((i, i + length)) }
                i += length
            }
        case .regex(let regex):
            let string = String(decoding: p, as: UTF8.self)
            // UTF-16 offset → UTF-8 offset.
            var map: [Int] = []
            map.reserveCapacity(p.count + 1)
            var utf8 = 0
            for scalar in string.unicodeScalars {
                let u8 = UTF8.width(scalar)
                map.append(utf8)
                if scalar.value > 0xFFFF { map.append(utf8) }
                utf8 += u8
            }
            map.append(utf8)
            let ns = NSRange(location: 0, length: map.count - 1)
            for m in regex.matches(in: string, options: [], range: ns) {
                let lo = m.range.location, hi = m.range.location + m.range.length
                guard lo >= 0, hi < map.count else { continue }
                out.append((map[lo], map[hi]))
            }
        }
        return out
    }
}

/// Splits `0..<count` at `matches` the way `NormalizedString::split` does, and reports the
/// non-empty pieces in order.
func splitRanges(count: Int, matches: [(Int, Int)], invert: Bool, behavior: SplitBehavior,
                 _ emit: (Int, Int) -> Void) {
    // Segments covering the whole piece, each flagged as a match or not.
    var segments: [(start: Int, end: Int, isMatch: Bool)] = []
    if count == 0 {
        segments.append((0, 0, false))
    } else {
        var previous = 0
        for (s, e) in matches {
            if previous != s { segments.append((previous, s, false)) }
            segments.append((s, e, true))
            previous = e
        }
        if previous != count { segments.append((previous, count, false)) }
    }
    if invert { segments = segments.map { ($0.start, $0.end, !$0.isMatch) } }

    var pieces: [(Int, Int)] = []
    switch behavior {
    case .isolated:
        pieces = segments.map { ($0.start, $0.end) }
    case .removed:
        pieces = segments.filter { !$0.isMatch }.map { ($0.start, $0.end) }
    case .contiguous:
        var previousMatch = false
        for (index, s) in segments.enumerated() {
            if index > 0, s.isMatch == previousMatch, let last = pieces.last {
                pieces[pieces.count - 1] = (last.0, s.end)
            } else {
                pieces.append((s.start, s.end))
            }
            previousMatch = s.isMatch
        }
    case .mergedWithPrevious:
        var previousMatch = false
        for s in segments {
            if s.isMatch, !previousMatch, let last = pieces.last {
                pieces[pieces.count - 1] = (last.0, s.end)
            } else {
                pieces.append((s.start, s.end))
            }
            previousMatch = s.isMatch
        }
    case .mergedWithNext:
        var previousMatch = false
        for s in segments.reversed() {
            if s.isMatch, !previousMatch, let last = pieces.last {
                pieces[pieces.count - 1] = (s.start, last.1)
            } else {
                pieces.append((s.start, s.end))
            }
            previousMatch = s.isMatch
        }
        pieces.reverse()
    }
    for (s, e) in pieces where e > s { emit(s, e) }
}
