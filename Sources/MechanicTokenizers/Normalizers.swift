import Foundation

/// Rewrites text before pre-tokenization (`normalizer` in `tokenizer.json`). Returns nil when the
/// text is unchanged, so the common no-op case costs no copy.
protocol Normalizer: AnyObject {
    func normalize(_ text: UnsafeBufferPointer<UInt8>) -> [UInt8]?
}

extension Normalizer {
    /// Normalizes a whole string (used by tests and for added tokens).
    func normalize(_ text: String) -> String {
        var copy = text
        return copy.withUTF8 { p in normalize(p).map { String(decoding: $0, as: UTF8.self) } ?? text }
    }
}

/// `NFC`, `NFD`, `NFKC`, `NFKD`. Characters that a normalization form cannot change, and that
/// cannot combine with their neighbours, are copied as they are; only the runs between them
/// (with the character before, which may compose with a following mark) go through Foundation.
/// For NFKC/NFD/NFKD the stable characters are ASCII; for NFC they are the "NFC-stable starters"
/// of `NFCStability` — almost all text.
final class UnicodeNormalizer: Normalizer {
    enum Form: String { case nfc = "NFC", nfd = "NFD", nfkc = "NFKC", nfkd = "NFKD" }
    let form: Form
    /// NFC: `NFCStability.bmp`, built on the first non-ASCII character (not at load).
    private let nfc: Bool

    init(form: Form) {
        self.form = form
        nfc = form == .nfc
    }

    private func apply(_ s: String) -> String {
        switch form {
        case .nfc: return s.precomposedStringWithCanonicalMapping
        case .nfd: return s.decomposedStringWithCanonicalMapping
        case .nfkc: return s.precomposedStringWithCompatibilityMapping
        case .nfkd: return s.decomposedStringWithCompatibilityMapping
        }
    }

    /// Whether the scalar at `i` is stable; returns its length too.
    @inline(__always)
    private func isStable(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> (Bool, Int) {
        let b = p[i]
        if b < 0x80 { return (true, 1) }
        guard nfc else { return (false, utf8Length(b)) }
        let (v, length) = decodeScalar(p, i)
        if v < 0x10000 { return (NFCStability.bmp[Int(v)], length) }
        return (NFCStability.isStableAstral(v), length)
    }

    func normalize(_ p: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        var i = 0
        while i < p.count {
            let (ok, length) = isStable(p, i)
            if !ok { break }
            i += length
        }
        if i >= p.count { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(p.count + 16)
        var copied = 0
        while i < p.count {
            // Unstable run, extended back by one character: a mark composes with what precedes it.
            let runStart = i > 0 ? previousScalarStart(p, i) : 0
            var runEnd = i
            while runEnd < p.count {
                let (ok, length) = isStable(p, runEnd)
                if ok { break }
                runEnd += length
            }
            runEnd = min(runEnd, p.count)
            out.append(contentsOf: UnsafeBufferPointer(rebasing: p[copied..<runStart]))
            let piece = String(decoding: UnsafeBufferPointer(rebasing: p[runStart..<runEnd]), as: UTF8.self)
            out.append(contentsOf: apply(piece).utf8)
            copied = runEnd
            i = runEnd
            while i < p.count {
                let (ok, length) = isStable(p, i)
                if !ok { break }
                i += length
            }
        }
        out.append(contentsOf: UnsafeBufferPointer(rebasing: p[copied..<p.count]))
        return out
    }
}

/// NFC-stable starters: canonical combining class 0, not Full_Composition_Exclusion (so NFC keeps
/// them: NFC_Quick_Check is not No), and not one of the characters that compose with a preceding
/// character (NFC_Quick_Check = Maybe). NFC never changes such a character and never moves or
/// merges anything across it, so text can be cut before each one and normalized piece by piece.
enum NFCStability {
    /// NFC_Quick_Check=Maybe (DerivedNormalizationProps.txt), Basic Multilingual Plane.
    static let maybe: [ClosedRange<UInt32>] = [
        0x0300...0x0304, 0x0306...0x030C, 0x030F...0x030F, 0x0311...0x0311, 0x0313...0x0314, 0x031B...0x031B,
        0x0323...0x0328, 0x032D...0x032E, 0x0330...0x0331, 0x0338...0x0338, 0x0342...0x0342, 0x0345...0x0345,
        0x0653...0x0655, 0x093C...0x093C, 0x09BE...0x09BE, 0x09D7...0x09D7, 0x0B3E...0x0B3E, 0x0B56...0x0B57,
        0x0BBE...0x0BBE, 0x0BD7...0x0BD7, 0x0C56...0x0C56, 0x0CC2...0x0CC2, 0x0CD5...0x0CD6, 0x0D3E...0x0D3E,
        0x0D57...0x0D57, 0x0DCA...0x0DCA, 0x0DCF...0x0DCF, 0x0DDF...0x0DDF, 0x102E...0x102E, 0x1161...0x1175,
        0x11A8...0x11C2, 0x1B35...0x1B35, 0x3099...0x309A,
    ]

    /// One flag per BMP scalar, built on first use (a few milliseconds).
    nonisolated(unsafe) static let bmp: UnsafePointer<Bool> = {
        let table = UnsafeMutablePointer<Bool>.allocate(capacity: 0x10000)
        for v in 0..<0x10000 { table[v] = compute(UInt32(v)) }
        return UnsafePointer(table)
    }()

    static func compute(_ v: UInt32) -> Bool {
        if v < 0x80 { return true }
        guard let scalar = UnicodeScalar(v) else { return false }
        let p = scalar.properties
        return p.canonicalCombiningClass.rawValue == 0 && !p.isFullCompositionExclusion && !maybe.contains { $0.contains(v) }
    }

    /// Outside the BMP only emoji/symbols and CJK ideographs count as stable (other planes hold
    /// historic scripts with composing marks; they simply take the slow path).
    static func isStableAstral(_ v: UInt32) -> Bool {
        guard (0x1F000...0x1FAFF).contains(v) || (0x20000...0x3FFFF).contains(v) else { return false }
        return compute(v)
    }
}

/// `Lowercase`: each scalar's full lowercase mapping (no context, like Rust's `char::to_lowercase`).
final class LowercaseNormalizer: Normalizer {
    func normalize(_ p: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        rewriteScalars(p, ascii: { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }) { v in
            guard let scalar = UnicodeScalar(v), scalar.properties.changesWhenLowercased else { return nil }
            return Array(scalar.properties.lowercaseMapping.utf8)
        }
    }
}

/// Rewrites valid UTF-8 scalar by scalar: an ASCII byte becomes `ascii(b)`; any other scalar
/// becomes `replace(v)` (its bytes; empty drops it) or, where that is nil, stays as it is.
/// Nil when nothing changed.
@inline(__always)
func rewriteScalars(_ p: UnsafeBufferPointer<UInt8>, ascii: (UInt8) -> UInt8, _ replace: (UInt32) -> [UInt8]?) -> [UInt8]? {
    var out: [UInt8] = []
    out.reserveCapacity(p.count)
    var changed = false
    var i = 0
    while i < p.count {
        let b = p[i]
        if b < 0x80 {
            let m = ascii(b)
            if m != b { changed = true }
            out.append(m)
            i += 1
            continue
        }
        let (v, length) = decodeScalar(p, i)
        if let bytes = replace(v) {
            out.append(contentsOf: bytes)
            changed = true
        } else {
            out.append(contentsOf: UnsafeBufferPointer(rebasing: p[i..<min(i + length, p.count)]))
        }
        i += length
    }
    return changed ? out : nil
}

/// `Strip`: removes leading and/or trailing whitespace.
final class StripNormalizer: Normalizer {
    let left: Bool, right: Bool
    init(left: Bool, right: Bool) { self.left = left; self.right = right }

    func normalize(_ p: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        var start = 0, end = p.count
        if left {
            while start < end {
                let (v, length) = decodeScalar(p, start)
                if !CharClass.of(v).contains(.whitespace) { break }
                start += length
            }
        }
        if right {
            while end > start {
                let s = previousScalarStart(p, end)
                if !CharClass.of(decodeScalar(p, s).value).contains(.whitespace) { break }
                end = s
            }
        }
        if start == 0 && end == p.count { return nil }
        return Array(UnsafeBufferPointer(rebasing: p[start..<end]))
    }
}

/// `StripAccents`: removes combining marks, categories Mn, Mc and Me (usually after NFD), like
/// `unicode_normalization::char::is_combining_mark`.
final class StripAccentsNormalizer: Normalizer {
    func normalize(_ p: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        rewriteScalars(p, ascii: { $0 }) { v in
            guard v >= 0x300, let s = UnicodeScalar(v),
                  [.nonspacingMark, .spacingMark, .enclosingMark].contains(s.properties.generalCategory) else { return nil }
            return []
        }
    }
}

/// `Prepend`: puts a string in front of non-empty text (Llama's "▁").
final class PrependNormalizer: Normalizer {
    let prefix: [UInt8]
    init(prefix: String) { self.prefix = Array(prefix.utf8) }

    func normalize(_ p: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        if p.isEmpty || prefix.isEmpty { return nil }
        var out = prefix
        out.reserveCapacity(prefix.count + p.count + p.count / 4)
        out.append(contentsOf: p)
        return out
    }
}

/// `Replace`: every match of a string or regex pattern becomes `content`.
final class ReplaceNormalizer: Normalizer {
    let pattern: SplitPattern
    let content: [UInt8]
    init(pattern: SplitPattern, content: String) { self.pattern = pattern; self.content = Array(content.utf8) }

    func normalize(_ p: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        if case .literal(let needle) = pattern, needle.count == 1 {
            // Single-byte pattern (Llama's " " → "▁"): one pass.
            let target = needle[0]
            guard p.contains(target) else { return nil }
            var out: [UInt8] = []
            out.reserveCapacity(p.count + p.count / 2)
            for b in p {
                if b == target { out.append(contentsOf: content) } else { out.append(b) }
            }
            return out
        }
        let matches = pattern.matches(in: p)
        if matches.isEmpty { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(p.count)
        var previous = 0
        for (s, e) in matches {
            out.append(contentsOf: UnsafeBufferPointer(rebasing: p[previous..<s]))
            out.append(contentsOf: content)
            previous = e
        }
        out.append(contentsOf: UnsafeBufferPointer(rebasing: p[previous..<p.count]))
        return out
    }
}

/// `Sequence`: normalizers applied in order.
final class SequenceNormalizer: Normalizer {
    let steps: [Normalizer]
    init(steps: [Normalizer]) { self.steps = steps }

    func normalize(_ p: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        var current: [UInt8]? = nil
        for step in steps {
            let next: [UInt8]?
            if let c = current { next = c.withUnsafeBufferPointer { step.normalize($0) } } else { next = step.normalize(p) }
            if let n = next { current = n }
        }
        return current
    }
}
