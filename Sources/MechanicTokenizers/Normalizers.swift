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

/// `NFC`, `NFD`, `NFKC`, `NFKD` through Foundation. Runs of characters that no normalization form
/// can change are copied as they are: ASCII for every form, and everything below U+0300 for NFC
/// (the first combining mark is U+0300, and no character below it composes with what precedes it).
final class UnicodeNormalizer: Normalizer {
    enum Form: String { case nfc = "NFC", nfd = "NFD", nfkc = "NFKC", nfkd = "NFKD" }
    let form: Form

    init(form: Form) { self.form = form }

    private func apply(_ s: String) -> String {
        switch form {
        case .nfc: return s.precomposedStringWithCanonicalMapping
        case .nfd: return s.decomposedStringWithCanonicalMapping
        case .nfkc: return s.precomposedStringWithCompatibilityMapping
        case .nfkd: return s.decomposedStringWithCompatibilityMapping
        }
    }

    @inline(__always)
    private func isStable(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> Bool {
        let b = p[i]
        if b < 0x80 { return true }
        guard form == .nfc else { return false }
        // Scalars below U+0300 are two bytes with a lead byte below 0xCC.
        return b < 0xCC
    }

    func normalize(_ p: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        var i = 0
        while i < p.count, isStable(p, i) { i += utf8Length(p[i]) }
        if i >= p.count { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(p.count + 16)
        var copied = 0
        while i < p.count {
            // Unstable run [runStart, runEnd), extended back by one character: a combining mark
            // composes with the character before it.
            let runStart = i > 0 ? previousScalarStart(p, i) : 0
            var runEnd = i
            while runEnd < p.count, !isStable(p, runEnd) { runEnd += utf8Length(p[runEnd]) }
            runEnd = min(runEnd, p.count)
            out.append(contentsOf: UnsafeBufferPointer(rebasing: p[copied..<runStart]))
            let piece = String(decoding: UnsafeBufferPointer(rebasing: p[runStart..<runEnd]), as: UTF8.self)
            out.append(contentsOf: apply(piece).utf8)
            copied = runEnd
            i = runEnd
            while i < p.count, isStable(p, i) { i += utf8Length(p[i]) }
        }
        out.append(contentsOf: UnsafeBufferPointer(rebasing: p[copied..<p.count]))
        return out
    }
}

/// `Lowercase`: each scalar's full lowercase mapping (no context, like Rust's `char::to_lowercase`).
final class LowercaseNormalizer: Normalizer {
    func normalize(_ p: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(p.count)
        var changed = false
        var i = 0
        while i < p.count {
            let b = p[i]
            if b < 0x80 {
                if b >= 0x41 && b <= 0x5A { out.append(b | 0x20); changed = true } else { out.append(b) }
                i += 1
                continue
            }
            let (v, length) = decodeScalar(p, i)
            if let scalar = UnicodeScalar(v), scalar.properties.changesWhenLowercased {
                out.append(contentsOf: scalar.properties.lowercaseMapping.utf8)
                changed = true
            } else {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: p[i..<min(i + length, p.count)]))
            }
            i += length
        }
        return changed ? out : nil
    }
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
        var out: [UInt8] = []
        out.reserveCapacity(p.count)
        var changed = false
        var i = 0
        while i < p.count {
            let (v, length) = decodeScalar(p, i)
            if v >= 0x300, let s = UnicodeScalar(v), [.nonspacingMark, .spacingMark, .enclosingMark].contains(s.properties.generalCategory) {
                changed = true
            } else {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: p[i..<min(i + length, p.count)]))
            }
            i += length
        }
        return changed ? out : nil
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
