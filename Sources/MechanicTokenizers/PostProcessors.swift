/// Adds special tokens around an encoded sequence (`post_processor` in `tokenizer.json`). Only
/// runs for `encode(_:addSpecialTokens: true)`; single sequences only (no pairs).
protocol PostProcessor: AnyObject {
    func process(_ ids: [Int]) -> [Int]
    /// True when `process` puts tokens before the sequence (a BOS / CLS).
    var addsLeadingTokens: Bool { get }
}

/// `TemplateProcessing` (its `single` template): special tokens and the sequence `$A` in order.
final class TemplatePostProcessor: PostProcessor {
    enum Piece: Equatable {
        case special([Int])
        case sequence
    }
    let pieces: [Piece]
    init(pieces: [Piece]) { self.pieces = pieces }

    /// `[bos] $A [eos]`, as `transformers` builds it from `add_bos_token` / `add_eos_token`.
    convenience init(bos: Int?, eos: Int?) {
        var pieces: [Piece] = []
        if let bos { pieces.append(.special([bos])) }
        pieces.append(.sequence)
        if let eos { pieces.append(.special([eos])) }
        self.init(pieces: pieces)
    }

    func process(_ ids: [Int]) -> [Int] {
        var out: [Int] = []
        out.reserveCapacity(ids.count + 4)
        for piece in pieces {
            switch piece {
            case .special(let s): out.append(contentsOf: s)
            case .sequence: out.append(contentsOf: ids)
            }
        }
        return out
    }

    var addsLeadingTokens: Bool { !leadingSpecialIds.isEmpty }

    /// The ids the template puts before the sequence.
    var leadingSpecialIds: [Int] {
        var out: [Int] = []
        for piece in pieces {
            if case .special(let s) = piece { out.append(contentsOf: s) } else { break }
        }
        return out
    }
}

/// `RobertaProcessing` / `BertProcessing`: `cls $A sep`.
final class WrapPostProcessor: PostProcessor {
    let cls: Int, sep: Int
    init(cls: Int, sep: Int) { self.cls = cls; self.sep = sep }
    func process(_ ids: [Int]) -> [Int] { [cls] + ids + [sep] }
    var addsLeadingTokens: Bool { true }
}

/// `Sequence`: processors applied in order.
final class SequencePostProcessor: PostProcessor {
    let steps: [PostProcessor]
    init(steps: [PostProcessor]) { self.steps = steps }
    func process(_ ids: [Int]) -> [Int] { steps.reduce(ids) { $1.process($0) } }
    var addsLeadingTokens: Bool { steps.contains { $0.addsLeadingTokens } }
}
