import Foundation

/// A dataset of prompt pairs with the report of how it was made, for an HTML report.
public struct PromptPairDataset: Sendable {
    public var pairs: [PromptPair]
    public var report: DatasetReport
    /// Pairs listed in the table (the rest are counted).
    public var listed: Int

    public init(pairs: [PromptPair], report: DatasetReport, listed: Int = 200) {
        self.pairs = pairs
        self.report = report
        self.listed = listed
    }

    /// How often each key (the answer, say) occurs, most frequent first (ties by first appearance).
    public func completionCounts(_ key: (PromptPair) -> String) -> [(label: String, count: Int)] {
        var counts: [String: Int] = [:], order: [String] = []
        for p in pairs {
            let k = key(p)
            if counts[k] == nil { order.append(k) }
            counts[k, default: 0] += 1
        }
        return order.enumerated().sorted { (counts[$0.element] ?? 0, -$0.offset) > (counts[$1.element] ?? 0, -$1.offset) }
            .map { ($0.element, counts[$0.element] ?? 0) }
    }
}

extension PromptPairDataset: HTMLReportable {
    /// `" Mary"` with its spaces non-breaking, so that a table cell does not wrap inside it.
    static func quoted(_ token: String) -> String {
        "\"\(HTMLText.displayToken(token).replacingOccurrences(of: " ", with: "\u{00A0}"))\""
    }

    public func html(into out: inout Report) {
        let r = report
        out.heading("Prompt pairs")
        out.paragraph("Kept \(r.kept) of \(r.attempts) candidate pairs (\(r.requested) requested). Every pair kept has clean and corrupt prompts "
            + "of the same token length and single-token answer and wrong completions.")
        if r.kept < r.requested {
            out.paragraph("Only \(r.kept) of \(r.requested) pairs could be made; widen the lists or templates.", note: true)
        }
        out.table(header: ["outcome", "candidates", "share", "first example"],
                  rows: [["kept", String(r.kept), HTMLText.percent(Float(r.kept) / Float(max(r.attempts, 1))), ""]]
                    + r.dropped.keys.sorted().map { reason in
                        let n = r.dropped[reason] ?? 0
                        return ["dropped: \(reason.rawValue.replacingOccurrences(of: "_", with: " "))", String(n),
                                HTMLText.percent(Float(n) / Float(max(r.attempts, 1))), r.examples[reason] ?? ""]
                    }, caption: "What happened to the candidates")
        if !r.templateLengths.isEmpty {
            out.table(header: ["template", "tokens per prompt", "pairs"],
                      rows: r.templateLengths.keys.sorted().map { [String($0), String(r.templateLengths[$0] ?? 0), String(r.templateCounts[$0] ?? 0)] },
                      caption: "Every pair of a template has that template's length: patching kinds without a position axis combine the "
                      + "length groups; position-indexed kinds need one length (dataset --lengths one)")
        }
        guard !pairs.isEmpty else { return }
        let lengths = pairs.map(\.cleanTokens.count)
        if let lo = lengths.min(), let hi = lengths.max(), hi > lo {
            // One bin per token count.
            out.histogram(values: lengths.map(Float.init), bins: hi - lo + 1, title: "Prompt lengths", xLabel: "tokens per prompt",
                          yLabel: "pairs", range: (Double(lo) - 0.5)...(Double(hi) + 0.5))
        }
        let answers = completionCounts { $0.answer }
        out.rankedBars(answers.prefix(20).map { ($0.label, Float($0.count)) }, title: "How often each answer occurs",
                       valueLabel: "pairs", caption: "\(answers.count) distinct answers, \(completionCounts { "\($0.answer)|\($0.wrong)" }.count) "
                       + "distinct (answer, wrong) pairs; an even spread keeps the metric from rewarding one token.", limit: 20)
        let shown = pairs.prefix(max(listed, 0))
        out.table(header: ["#", "clean", "corrupt", "answer", "wrong", "tokens", "answer id", "wrong id"],
                  rows: shown.enumerated().map { i, p in
                      [String(i + 1), p.clean, p.corrupt, Self.quoted(p.answer), Self.quoted(p.wrong),
                       String(p.cleanTokens.count), String(p.answerId), String(p.wrongId)]
                  }, caption: shown.count < pairs.count ? "The first \(shown.count) of \(pairs.count) pairs" : "All \(pairs.count) pairs")
    }
}
