import Foundation
import MechanicIO

extension NeuronSearchResult: HTMLReportable {
    /// The focus tokens of the examples with how often each occurs and its best value.
    public var focusTokenCounts: [(token: String, count: Int, best: Float)] {
        var byToken: [String: (count: Int, best: Float)] = [:]
        var seen: [String] = []
        let highest = order == .highest
        for e in examples {
            let t = e.focus < e.strings.count ? e.strings[e.focus] : "#\(e.tokens[e.focus])"
            if byToken[t] == nil { seen.append(t) }
            let best = byToken[t].map { highest ? max($0.best, e.value) : min($0.best, e.value) } ?? e.value
            byToken[t] = ((byToken[t]?.count ?? 0) + 1, best)
        }
        let rows = seen.map { ($0, byToken[$0]?.count ?? 0, byToken[$0]?.best ?? Float.nan) }
        // Most frequent first; ties keep the order of first appearance (best example first).
        return rows.enumerated().sorted { ($0.element.1, -$0.offset) > ($1.element.1, -$1.offset) }.map(\.element)
    }

    public func html(into report: inout Report) {
        report.heading("Top activating examples: \(probe.label)")
        report.paragraph("\(order == .highest ? "Highest" : "Lowest") values of \(probe.label) over \(ProgressBar.grouped(documents)) documents "
            + "(\(ProgressBar.grouped(tokens)) tokens in \(ProgressBar.grouped(chunks)) chunks of up to \(chunkLength) tokens). "
            + "Each row is one token (outlined) with its context; colours show the value at every token of the window.")
        report.table(header: ["tokens scored", "mean", "std", "min", "max", "fraction > 0"],
                     rows: [[ProgressBar.grouped(stats.count), HTMLText.format(stats.mean), HTMLText.format(stats.standardDeviation),
                             HTMLText.format(stats.minimum), HTMLText.format(stats.maximum), HTMLText.percent(Float(stats.fractionPositive))]],
                     caption: "Distribution over the corpus")
        guard !examples.isEmpty else {
            report.paragraph("No tokens were scored (the corpus is empty).", note: true)
            return
        }
        let rows = examples.map { e in
            TokenTextRow(label: "\(HTMLText.format(e.value)) · doc \(e.document):\(e.position)",
                         tokens: e.strings.isEmpty ? e.tokens.map { "#\($0)" } : e.strings, values: e.values, focus: e.focus)
        }
        let maxAbs = examples.flatMap(\.values).map(abs).max() ?? 1
        report.tokenText(rows, title: "Top \(examples.count) examples", scale: .diverging(maxAbs: maxAbs),
                         valueHeader: "value · document:position")
        let counts = focusTokenCounts
        report.table(header: ["token", "examples", order == .highest ? "highest value" : "lowest value"],
                     rows: counts.prefix(20).map { [HTMLText.displayToken($0.token), String($0.count), HTMLText.format($0.best)] },
                     caption: "Tokens at the top examples")
    }
}
