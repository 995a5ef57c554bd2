/// Receives a piece of UTF-8 text and whether it starts at offset 0 of the original input.
typealias PieceSink = (UnsafeBufferPointer<UInt8>, Bool) -> Void

/// Splits normalized text into the words the model encodes (`pre_tokenizer` in `tokenizer.json`).
/// Pieces are passed on through closures, without copying, except where a step rewrites text.
protocol PreTokenizer: AnyObject {
    func preTokenize(_ piece: UnsafeBufferPointer<UInt8>, atStart: Bool, _ emit: PieceSink)
    /// True when the step maps text to GPT-2's byte-level alphabet (the model then works on bytes).
    var isByteLevel: Bool { get }
}

extension PreTokenizer {
    var isByteLevel: Bool { false }
}

/// Runs `piece[start..<end]` through `emit`, marking whether it starts the original input.
@inline(__always)
private func emitRange(_ piece: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, _ atStart: Bool, _ emit: PieceSink) {
    emit(UnsafeBufferPointer(rebasing: piece[start..<end]), atStart && start == 0)
}

/// `ByteLevel`: optional prefix space, then the GPT-2 split; the byte → character mapping is
/// implicit (the model reads raw bytes).
final class ByteLevelPreTokenizer: PreTokenizer {
    let addPrefixSpace: Bool
    let useRegex: Bool
    var isByteLevel: Bool { true }

    init(addPrefixSpace: Bool, useRegex: Bool) {
        self.addPrefixSpace = addPrefixSpace
        self.useRegex = useRegex
    }

    func preTokenize(_ piece: UnsafeBufferPointer<UInt8>, atStart: Bool, _ emit: PieceSink) {
        if piece.isEmpty { return }
        if addPrefixSpace && piece[0] != 0x20 {
            var prefixed: [UInt8] = [0x20]
            prefixed.append(contentsOf: piece)
            prefixed.withUnsafeBufferPointer { split($0, atStart, emit) }
        } else {
            split(piece, atStart, emit)
        }
    }

    @inline(__always)
    private func split(_ piece: UnsafeBufferPointer<UInt8>, _ atStart: Bool, _ emit: PieceSink) {
        guard useRegex else { emit(piece, atStart); return }
        PatternScanner.gpt2.forEachMatch(piece) { s, e in emitRange(piece, s, e, atStart, emit) }
    }
}

/// `Split`: a regex or string pattern with a delimiter behavior.
final class SplitPreTokenizer: PreTokenizer {
    let pattern: SplitPattern
    let behavior: SplitBehavior
    let invert: Bool

    init(pattern: SplitPattern, behavior: SplitBehavior, invert: Bool) {
        self.pattern = pattern
        self.behavior = behavior
        self.invert = invert
    }

    func preTokenize(_ piece: UnsafeBufferPointer<UInt8>, atStart: Bool, _ emit: PieceSink) {
        if piece.isEmpty { return }
        if case .scanner(let scanner) = pattern, behavior == .isolated, !invert {
            // The scanners' matches tile the piece: every match is a piece.
            scanner.forEachMatch(piece) { s, e in emitRange(piece, s, e, atStart, emit) }
            return
        }
        let matches = pattern.matches(in: piece)
        splitRanges(count: piece.count, matches: matches, invert: invert, behavior: behavior) { s, e in
            emitRange(piece, s, e, atStart, emit)
        }
    }
}

/// Splits on characters of a class (`Digits`, `Punctuation`, `WhitespaceSplit`, `BertPreTokenizer`).
final class CharacterSplitPreTokenizer: PreTokenizer {
    let classes: CharClass
    let behavior: SplitBehavior

    init(classes: CharClass, behavior: SplitBehavior) {
        self.classes = classes
        self.behavior = behavior
    }

    func preTokenize(_ piece: UnsafeBufferPointer<UInt8>, atStart: Bool, _ emit: PieceSink) {
        if piece.isEmpty { return }
        let matches = SplitPattern.characters(classes).matches(in: piece)
        splitRanges(count: piece.count, matches: matches, invert: false, behavior: behavior) { s, e in
            emitRange(piece, s, e, atStart, emit)
        }
    }
}

/// `Whitespace`: the words of `\w+|[^\w\s]+`; whitespace is dropped.
final class WhitespacePreTokenizer: PreTokenizer {
    func preTokenize(_ piece: UnsafeBufferPointer<UInt8>, atStart: Bool, _ emit: PieceSink) {
        var i = 0
        let n = piece.count
        @inline(__always) func kind(_ at: Int) -> (Int, Int) {   // 0 space, 1 word, 2 other
            let (v, length) = decodeScalar(piece, at)
            return (CharClass.isWord(v) ? 1 : CharClass.of(v).contains(.whitespace) ? 0 : 2, length)
        }
        while i < n {
            let (k, length) = kind(i)
            if k == 0 { i += length; continue }
            var j = i + length
            while j < n {
                let (kj, lj) = kind(j)
                if kj != k { break }
                j += lj
            }
            emitRange(piece, i, j, atStart, emit)
            i = j
        }
    }
}

/// `Metaspace`: spaces become the replacement character ("▁"), which is prepended according to
/// the prepend scheme; with `split`, the piece is cut before every replacement character.
final class MetaspacePreTokenizer: PreTokenizer {
    enum PrependScheme: String { case always, first, never }
    let replacement: [UInt8]
    let prependScheme: PrependScheme
    let split: Bool

    init(replacement: String, prependScheme: PrependScheme, split: Bool) {
        self.replacement = Array(replacement.utf8)
        self.prependScheme = prependScheme
        self.split = split
    }

    func preTokenize(_ piece: UnsafeBufferPointer<UInt8>, atStart: Bool, _ emit: PieceSink) {
        if piece.isEmpty { return }
        var text: [UInt8] = []
        text.reserveCapacity(piece.count + 8)
        let startsWithReplacement = piece.count >= replacement.count && piece.starts(with: replacement)
            || (piece[0] == 0x20 && !replacement.isEmpty)
        if !startsWithReplacement && (prependScheme == .always || (prependScheme == .first && atStart)) {
            text.append(contentsOf: replacement)
        }
        for b in piece {
            if b == 0x20 { text.append(contentsOf: replacement) } else { text.append(b) }
        }
        text.withUnsafeBufferPointer { t in
            guard split, !replacement.isEmpty else { emit(t, atStart); return }
            var start = 0
            var i = 0
            let r = replacement.count
            while i + r <= t.count {
                var isReplacement = true
                for k in 0..<r where t[i + k] != replacement[k] { isReplacement = false; break }
                if isReplacement {
                    if i > start { emitRange(t, start, i, atStart, emit) }
                    start = i
                    i += r
                } else {
                    i += 1
                }
            }
            if t.count > start { emitRange(t, start, t.count, atStart, emit) }
        }
    }
}

/// `Sequence`: each step splits the pieces of the previous one.
final class SequencePreTokenizer: PreTokenizer {
    let steps: [PreTokenizer]
    var isByteLevel: Bool { steps.contains { $0.isByteLevel } }

    init(steps: [PreTokenizer]) { self.steps = steps }

    func preTokenize(_ piece: UnsafeBufferPointer<UInt8>, atStart: Bool, _ emit: PieceSink) {
        run(0, piece, atStart, emit)
    }

    private func run(_ k: Int, _ piece: UnsafeBufferPointer<UInt8>, _ atStart: Bool, _ emit: PieceSink) {
        if k == steps.count { emit(piece, atStart); return }
        steps[k].preTokenize(piece, atStart: atStart) { sub, subAtStart in run(k + 1, sub, subAtStart, emit) }
    }
}
