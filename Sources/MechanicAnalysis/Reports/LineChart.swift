import Foundation

/// One line of `Report.lineChart`: a value per x position (NaN leaves a gap).
public struct LineSeries: Sendable {
    public var name: String
    public var values: [Float]
    public init(name: String, values: [Float]) {
        self.name = name
        self.values = values
    }
}

/// The y axis of a line chart.
public enum LineChartScale: Sendable, Equatable {
    case linear
    /// `log10(1 + y)`, for ranks and counts (ticks at 0, 1, 10, 100, …).
    case log1p
}

extension Report {
    /// Values over an ordered, labelled x axis (layers, positions): one coloured line per series
    /// with a legend, a dot per value with `series · x: value` on hover, and the value printed
    /// beside each dot when there are few of them.
    public mutating func lineChart(_ series: [LineSeries], xLabels: [String], title: String, xLabel: String, yLabel: String,
                                   scale: LineChartScale = .linear, yRange: ClosedRange<Double>? = nil, caption: String? = nil) {
        let n = max(xLabels.count, series.map(\.values.count).max() ?? 0)
        let finite = series.flatMap(\.values).filter(\.isFinite).map(Double.init)
        guard n > 0, !finite.isEmpty else {
            figure(title: title, caption: caption, body: "<p class=\"note\">(no data)</p>")
            return
        }
        let t: (Double) -> Double = scale == .log1p ? { log10(1 + max($0, 0)) } : { $0 }
        var lo = yRange?.lowerBound ?? min(0, finite.min() ?? 0), hi = yRange?.upperBound ?? (finite.max() ?? 1)
        if scale == .log1p { lo = 0; hi = max(hi, 1) }
        if hi <= lo { hi = lo + 1 }
        let labels = (0..<n).map { $0 < xLabels.count ? HTMLText.displayToken(xLabels[$0]) : "\($0)" }
        // At least ~360 px of plot however few the points, at most 64 px per point.
        let step = Double(n) * 64 < 360 ? 360 / Double(n) : min(64, max(28, 640 / Double(n)))
        let maxLabel = labels.map { HTMLText.textWidth(HTMLText.truncate($0, 16), fontSize: 11) }.max() ?? 0
        let rotate = maxLabel > step - 4
        let plot = (x: 76.0, y: 14.0, w: step * Double(n), h: 240.0)
        let xAt = { (i: Int) in plot.x + (Double(i) + 0.5) * step }
        // On the log scale the axis ends at the power of ten at or above the largest value.
        let decades = scale == .log1p ? Int(ceil(log10(max(hi, 1)) - 1e-9)) : 0
        // On the linear scale the axis ends on a tick at or above the largest value (fixed ranges end where they say).
        var linearTicks = AxisTicks.nice(lo, hi, count: 6)
        if yRange == nil, let last = linearTicks.last, last < hi, linearTicks.count >= 2 {
            linearTicks.append(last + (linearTicks[1] - linearTicks[0]))
        }
        let yTop = scale == .log1p ? t(pow(10, Double(decades))) : max(hi, linearTicks.last ?? hi)
        let ys = LinearScale(domain: (t(lo), yTop), range: (plot.y + plot.h, plot.y))
        let xLabelH = rotate ? min(maxLabel, 110) * 0.72 + 18 : 22
        let legendW = series.count > 1 ? (series.map { HTMLText.textWidth(HTMLText.truncate($0.name, 24), fontSize: 11.5) }.max() ?? 0) + 40 : 10
        var svg = SVG(width: plot.x + plot.w + 14 + legendW, height: plot.y + plot.h + xLabelH + 26)

        // Ticks in data units, placed through `t`: 0, 1, 10, 100, … on the log scale.
        let yTicks = scale == .log1p ? [0] + (0...decades).map { pow(10, Double($0)) }
            : linearTicks
        for tk in yTicks {
            let py = ys(t(tk))
            svg.line(plot.x, py, plot.x + plot.w, py, stroke: "#e6e6e6")
            svg.text(AxisTicks.label(tk), x: plot.x - 7, y: py + 4, anchor: .end, size: 11, fill: "#444")
        }
        svg.line(plot.x, plot.y + plot.h, plot.x + plot.w, plot.y + plot.h, stroke: "#555")
        svg.line(plot.x, plot.y, plot.x, plot.y + plot.h, stroke: "#555")
        let labelStep = max(1, Int((14 / step).rounded(.up)))
        for i in stride(from: 0, to: n, by: labelStep) {
            let x = xAt(i), y = plot.y + plot.h + 15
            svg.line(x, plot.y + plot.h, x, plot.y + plot.h + 4, stroke: "#555")
            if rotate {
                svg.text(HTMLText.truncate(labels[i], 16), x: x + 3, y: y - 3, anchor: .end, size: 11, fill: "#222", rotate: -45,
                         cls: "tok", title: labels[i])
            } else {
                svg.text(labels[i], x: x, y: y, anchor: .middle, size: 11, fill: "#222", cls: "tok")
            }
        }
        svg.text(xLabel, x: plot.x + plot.w / 2, y: plot.y + plot.h + xLabelH + 14, anchor: .middle, size: 12.5, weight: "600", fill: "#222")
        svg.text(scale == .log1p ? "\(yLabel) (log scale)" : yLabel, x: 18, y: plot.y + plot.h / 2, anchor: .middle, size: 12.5,
                 weight: "600", fill: "#222", rotate: -90)

        let printValues = series.count == 1 && n <= 24
        for (si, s) in series.enumerated() {
            let color = Self.seriesColors[si % Self.seriesColors.count]
            var run: [(Double, Double)] = []
            func flush() {
                if run.count > 1 { svg.polyline(run, stroke: color, width: 2) }
                run = []
            }
            for (i, v) in s.values.enumerated() where i < n {
                guard v.isFinite else { flush(); continue }
                run.append((xAt(i), ys(t(Double(v)))))
            }
            flush()
            for (i, v) in s.values.enumerated() where i < n && v.isFinite {
                let (px, py) = (xAt(i), ys(t(Double(v))))
                svg.circle(cx: px, cy: py, r: 3.5, fill: color, stroke: "#fff",
                           title: "\(series.count > 1 ? s.name + " · " : "")\(labels[i]): \(HTMLText.format(v))")
                if printValues {
                    svg.text(HTMLText.compact(v), x: px, y: py - 8, anchor: .middle, size: 10, fill: color)
                }
            }
            if series.count > 1 {
                let y = plot.y + 6 + Double(si) * 20
                svg.line(plot.x + plot.w + 14, y + 6, plot.x + plot.w + 32, y + 6, stroke: color, width: 2.5)
                svg.text(HTMLText.truncate(s.name, 24), x: plot.x + plot.w + 37, y: y + 10, size: 11.5, fill: "#222")
            }
        }
        figure(title: title, caption: caption, body: svg.render(label: title))
    }
}

extension SVG {
    /// An open line through `points`.
    mutating func polyline(_ points: [(Double, Double)], stroke: String, width: Double) {
        let p = points.map { "\(HTMLText.num($0.0)),\(HTMLText.num($0.1))" }.joined(separator: " ")
        raw("<polyline points=\"\(p)\" fill=\"none\" stroke=\"\(HTMLText.escape(stroke))\" stroke-width=\"\(HTMLText.num(width))\" stroke-linejoin=\"round\"/>")
    }
}
