import Foundation

extension Report {
    /// Horizontal bars for ranked values (a diff ranking, head scores): labels on the left, a
    /// zero line, red bars to the right for positive values and blue to the left for negative,
    /// the value printed at the end of each bar and on hover. `sortByMagnitude` orders by |value|;
    /// otherwise the given order is kept. At most `limit` bars are drawn.
    public mutating func rankedBars(_ items: [(label: String, value: Float)], title: String, valueLabel: String? = nil,
                                    caption: String? = nil, limit: Int = 25, sortByMagnitude: Bool = false,
                                    highlight: Set<String> = []) {
        var list = items.filter { $0.value.isFinite }
        if sortByMagnitude { list.sort { abs($0.value) > abs($1.value) } }
        let shown = Array(list.prefix(max(limit, 1)))
        guard !shown.isEmpty else {
            figure(title: title, caption: caption, body: "<p class=\"note\">(no data)</p>")
            return
        }
        // All zero (identical runs, no head scoring): zero-width bars would be an empty strip.
        if shown.allSatisfy({ $0.value == 0 }) {
            figure(title: title, caption: caption, body: "<p class=\"note\">Every value is 0 (\(list.count) items): nothing to rank.</p>")
            return
        }
        let labels = shown.map { HTMLText.truncate(HTMLText.displayToken($0.label), 40) }
        let fontSize = 12.0
        let labelW = (labels.map { HTMLText.textWidth($0, fontSize: fontSize) }.max() ?? 0) + 16
        let barH = 20.0, gap = 5.0, plotW = 460.0, top = 6.0
        let lo = Double(min(0, shown.map(\.value).min() ?? 0)), hi = Double(max(0, shown.map(\.value).max() ?? 0))
        let span = hi - lo == 0 ? 1 : hi - lo
        // Room for the printed values beside the bars on both sides.
        let x = LinearScale(domain: (lo - span * 0.02, hi + span * 0.02), range: (labelW + (lo < 0 ? 52 : 0), labelW + plotW))
        let plotH = Double(shown.count) * (barH + gap)
        var svg = SVG(width: labelW + plotW + 70, height: top + plotH + (valueLabel == nil ? 26 : 44))
        let ticks = AxisTicks.nice(lo, hi, count: 5)
        for t in ticks {
            svg.line(x(t), top, x(t), top + plotH, stroke: "#eeeeee")
            svg.text(AxisTicks.label(t), x: x(t), y: top + plotH + 15, anchor: .middle, size: 10.5, fill: "#555")
        }
        for (i, item) in shown.enumerated() {
            let y = top + Double(i) * (barH + gap)
            let v = Double(item.value)
            let x0 = x(min(0, v)), x1 = x(max(0, v))
            let isHighlighted = highlight.contains(item.label)
            svg.rect(x: x0, y: y, w: max(x1 - x0, 1), h: barH, fill: v >= 0 ? "#d6604d" : "#4393c3",
                     stroke: isHighlighted ? "#111" : nil, strokeWidth: isHighlighted ? 1.5 : nil,
                     title: "\(item.label): \(HTMLText.format(item.value))")
            svg.text(labels[i], x: labelW - 8, y: y + barH / 2 + 4, anchor: .end, size: fontSize,
                     weight: isHighlighted ? "700" : nil, fill: "#222", cls: "tok")
            let valueX = v >= 0 ? x1 + 4 : x0 - 4
            svg.text(HTMLText.format(item.value), x: valueX, y: y + barH / 2 + 4, anchor: v >= 0 ? .start : .end,
                     size: 10.5, fill: "#333")
        }
        svg.line(x(0), top - 2, x(0), top + plotH, stroke: "#444", width: 1.2)
        if let valueLabel {
            svg.text(valueLabel, x: labelW + plotW / 2, y: top + plotH + 34, anchor: .middle, size: 12.5, weight: "600", fill: "#222")
        }
        let more = list.count > shown.count ? " (top \(shown.count) of \(list.count))" : ""
        figure(title: title + more, caption: caption, body: svg.render(label: title))
    }
}
