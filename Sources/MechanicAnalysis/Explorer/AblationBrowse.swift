import Foundation
import Mechanic

/// The explorer's "Browse examples": for one head, the change of every corpus token's loss when
/// the head is ablated, sorted to show the tokens it helps most (loss rises without it) and hurts
/// most (loss falls).
public struct AblationBrowse: Codable, Sendable {
    /// One predicted token of the corpus.
    public struct Example: Codable, Sendable {
        public var document: Int
        /// Index of the predicted token in the document's run (BOS included).
        public var position: Int
        public var token: String
        /// Loss of this token without and with the head ablated; `delta = after − before`.
        public var lossBefore: Float
        public var lossAfter: Float
        public var delta: Float
        /// The tokens before it (at most `context`) as pieces.
        public var context: [String]
        /// The run's ids up to and including the token (at most `HeadOverview.maxTokens`), to open
        /// the example on the head page.
        public var ids: [Int]
    }

    public var layer: Int
    public var head: Int
    public var mode: AblationMode
    public var documents: Int
    public var tokens: Int
    public var meanDelta: Float
    /// Largest `delta` first: the tokens the head helps most.
    public var helps: [Example]
    /// Smallest `delta` first: the tokens the head hurts most.
    public var hurts: [Example]

    /// Runs each document (BOS + its tokens, cut at n_ctx) with and without the head (`zero`, or
    /// `mean`: its `z` at every position set to its mean over the document's positions) and keeps the `top` largest changes each way.
    public static func run(model: HookedTransformer, layer: Int, head: Int, corpus: inout some DocumentSource, mode: AblationMode = .zero,
                           top: Int = 20, context: Int = 10, maxDocuments: Int = 1000, bos: Int? = nil) throws -> AblationBrowse {
        let c = model.config
        _ = try model.OV(layer: layer, head: head)  // checks that the head exists
        guard mode != .resample else { throw MechanicError.invalidArgument("browse ablates with zero or mean; resample needs a second prompt") }
        guard (1...1000).contains(top) else { throw MechanicError.invalidArgument("top \(top): give 1 to 1000") }
        let hook = "blocks.\(layer).attn.hook_z"
        var all: [Example] = []
        var documents = 0, total = 0
        var sum = 0.0
        while documents < maxDocuments, let doc = try corpus.next() {
            var ids = try doc.tokens ?? model.toTokens(doc.text ?? "", prependBOS: false)
            if let bos { ids.insert(bos, at: 0) }
            ids = Array(ids.prefix(c.nCtx))
            documents += 1
            guard ids.count >= 2 else { continue }
            let batch = TokenBatch(ids)
            let before = try model.forward(batch).logits ?? Tensor(zeros: [1, ids.count, c.dVocab])
            let ablation = mode == .zero ? Ablation.zero(hook, .head(head))
                : try Ablation.positionMean(hook, .head(head), model: model, prompts: [ids]).hook
            let after = try model.runWithHooks(batch, hooks: [ablation])
            let lb = Loss.perToken(logits: before, batch: batch).data, la = Loss.perToken(logits: after, batch: batch).data  // [n − 1]
            let pieces = model.pieceStrings(ids)
            for p in 0..<lb.count {
                let d = la[p] - lb[p]
                sum += Double(d)
                total += 1
                all.append(Example(document: doc.index, position: p + 1, token: pieces[p + 1], lossBefore: lb[p], lossAfter: la[p], delta: d,
                                   context: Array(pieces[max(0, p + 1 - context)...p]),
                                   ids: Array(ids[max(0, p + 2 - HeadOverview.maxTokens)...(p + 1)])))
            }
            // Keep memory bounded by the kept examples, not the corpus.
            if all.count > 8 * top { all = keep(all, top) }
        }
        let kept = keep(all, top)
        return AblationBrowse(layer: layer, head: head, mode: mode, documents: documents, tokens: total,
                              meanDelta: total == 0 ? 0 : Float(sum / Double(total)),
                              helps: Array(kept.sorted(by: larger).prefix(top)), hurts: Array(kept.sorted(by: larger).reversed().prefix(top)))
    }

    static func larger(_ a: Example, _ b: Example) -> Bool {
        a.delta != b.delta ? a.delta > b.delta : (a.document, a.position) < (b.document, b.position)
    }

    /// The `top` largest and the `top` smallest changes.
    static func keep(_ xs: [Example], _ top: Int) -> [Example] {
        let sorted = xs.sorted(by: larger)
        if sorted.count <= 2 * top { return sorted }
        return Array(sorted.prefix(top)) + Array(sorted.suffix(top))
    }
}

extension AblationBrowse: HTMLReportable {
    public func html(into report: inout Report) {
        let name = "L\(layer)H\(head)"
        report.paragraph("\(documents) documents, \(tokens) predicted tokens; mean change of loss with \(name) \(mode.rawValue)-ablated: \(HTMLText.format(meanDelta))")
        for (title, rows) in [("Tokens \(name) helps most (loss rises without it)", helps), ("Tokens \(name) hurts most (loss falls without it)", hurts)] {
            report.heading(title)
            report.htmlTable(header: ["doc", "pos", "context → token", "loss", "ablated", "change"], rows: rows.map { e in
                let link = "/head/\(layer)/\(head)?tokens=" + e.ids.map(String.init).joined(separator: ",")
                return ["\(e.document)", "<a href=\"\(HTMLText.escape(link))\">\(e.position)</a>", HTMLText.escape(e.context.joined()) + "<b>" + HTMLText.escape(HTMLText.displayToken(e.token)) + "</b>",
                 HTMLText.format(e.lossBefore), HTMLText.format(e.lossAfter), "<span class=\"delta\">\(HTMLText.format(e.delta))</span>"]
            })
        }
    }
}
