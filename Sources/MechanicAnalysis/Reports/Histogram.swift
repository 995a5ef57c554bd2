import Foundation

/// Counts of values in equal-width bins over `[lower, upper]`, filled one value at a time
/// (bounded memory). A value equal to `upper` falls in the last bin; values outside the range
/// are counted in `below` / `above`, NaNs in `nan`.
public struct Histogram: Sendable, Equatable {
    public let lower: Double
    public let upper: Double
    public private(set) var counts: [Int]
    public private(set) var below = 0
    public private(set) var above = 0
    public private(set) var nan = 0
    /// Sum and extrema of the finite values added (for the mean).
    public private(set) var sum: Double = 0
    public private(set) var minimum: Double = .infinity
    public private(set) var maximum: Double = -.infinity

    /// An empty histogram; `bins ≥ 1` and `upper > lower` (a degenerate range is widened by ±0.5).
    public init(lower: Double, upper: Double, bins: Int) {
        let b = max(bins, 1)
        if upper > lower {
            self.lower = lower
            self.upper = upper
        } else {
            self.lower = lower - 0.5
            self.upper = lower + 0.5
        }
        counts = [Int](repeating: 0, count: b)
    }

    /// A histogram of `values` over `range` (default: their finite min … max).
    public init(values: [Float], bins: Int, range: ClosedRange<Double>? = nil) {
        let finite = values.filter(\.isFinite).map(Double.init)
        let r = range ?? ((finite.min() ?? 0)...(finite.max() ?? 1))
        self.init(lower: r.lowerBound, upper: r.upperBound, bins: bins)
        for v in values { add(Double(v)) }
    }

    public var binCount: Int { counts.count }
    public var binWidth: Double { (upper - lower) / Double(counts.count) }
    /// The `binCount + 1` bin edges.
    public var edges: [Double] { (0...counts.count).map { lower + Double($0) * binWidth } }
    /// Every value added (in range, out of range and NaN).
    public var total: Int { counts.reduce(0, +) + below + above + nan }
    /// Mean of the finite values added (NaN when none).
    public var mean: Double {
        let n = total - nan
        return n > 0 ? sum / Double(n) : .nan
    }

    /// The bin of `v`, or nil when it is outside `[lower, upper]` or not a number.
    public func bin(of v: Double) -> Int? {
        guard !v.isNaN, v >= lower, v <= upper else { return nil }
        return min(Int((v - lower) / binWidth), counts.count - 1)
    }

    public mutating func add(_ v: Double) {
        guard !v.isNaN else { nan += 1; return }
        if v.isFinite {
            sum += v
            minimum = Swift.min(minimum, v)
            maximum = Swift.max(maximum, v)
        }
        if let b = bin(of: v) { counts[b] += 1 } else if v < lower { below += 1 } else { above += 1 }
    }

    /// Adds the counts of another histogram with the same bins.
    public mutating func merge(_ other: Histogram) {
        guard other.lower == lower, other.upper == upper, other.counts.count == counts.count else { return }
        for i in counts.indices { counts[i] += other.counts[i] }
        below += other.below; above += other.above; nan += other.nan
        sum += other.sum
        minimum = Swift.min(minimum, other.minimum)
        maximum = Swift.max(maximum, other.maximum)
    }
}

/// A named histogram for `Report.histogram`.
public struct HistogramSeries: Sendable {
    public var name: String
    public var histogram: Histogram
    public init(name: String, histogram: Histogram) {
        self.name = name
        self.histogram = histogram
    }
}

extension Report {
    static let seriesColors = ["#2f6db5", "#e8590c", "#2b8a3e", "#862e9c", "#c92a2a"]

    /// A histogram (or several overlaid, each in its own colour with a legend), with axes, tick
    /// labels and each bin's range and count on hover. `logScale` uses log10(1 + count) heights.
    public mutating func histogram(_ series: [HistogramSeries], title: String, xLabel: String, yLabel: String = "count",
                                   caption: String? = nil, logScale: Bool = false) {
        let all = series.filter { $0.histogram.binCount > 0 }
        guard !all.isEmpty else {
            figure(title: title, caption: caption, body: "<p class=\"note\">(no data)</p>")
            return
        }
        let lo = all.map(\.histogram.lower).min() ?? 0, hi = all.map(\.histogram.upper).max() ?? 1
        let height = { (c: Int) -> Double in logScale ? log10(1 + Double(c)) : Double(c) }
        let maxH = max(all.flatMap { $0.histogram.counts.map(height) }.max() ?? 1, 1e-9)
        let plot = (x: 72.0, y: 12.0, w: 560.0, h: 250.0)
        let xs = LinearScale(domain: (lo, hi), range: (plot.x, plot.x + plot.w))
        // The y axis ends on a tick at or above the tallest bar.
        var linearTicks = AxisTicks.nice(0, maxH, count: 5)
        if let last = linearTicks.last, last < maxH, linearTicks.count >= 2 { linearTicks.append(last + (linearTicks[1] - linearTicks[0])) }
        let yTop = logScale ? ceil(maxH) : (linearTicks.last.map { max($0, maxH) } ?? maxH)
        let ys = LinearScale(domain: (0, yTop), range: (plot.y + plot.h, plot.y))
        var svg = SVG(width: plot.x + plot.w + 20 + (all.count > 1 ? 150 : 0), height: plot.y + plot.h + 48)
        let yTicks = logScale ? stride(from: 0.0, through: yTop, by: 1).map { $0 } : linearTicks
        svg.axes(plot: plot, x: xs, y: ys, xTicks: AxisTicks.nice(lo, hi, count: 7), yTicks: yTicks,
                 xLabel: xLabel, yLabel: logScale ? "\(yLabel) (log10(1+n))" : yLabel)
        let overlay = all.count > 1
        for (si, s) in all.enumerated() {
            let h = s.histogram, color = Self.seriesColors[si % Self.seriesColors.count]
            let edges = h.edges
            for (i, c) in h.counts.enumerated() where c > 0 {
                let x0 = xs(edges[i]), x1 = xs(edges[i + 1])
                let top = ys(height(c))
                svg.rect(x: x0 + 0.5, y: top, w: max(x1 - x0 - 1, 0.8), h: plot.y + plot.h - top, fill: color,
                         opacity: overlay ? 0.5 : 0.85,
                         title: "\(overlay ? s.name + ": " : "")[\(HTMLText.format(edges[i])), \(HTMLText.format(edges[i + 1]))\(i == h.counts.count - 1 ? "]" : ")"): \(c)")
            }
        }
        if overlay {
            for (si, s) in all.enumerated() {
                let y = plot.y + 8 + Double(si) * 20
                svg.rect(x: plot.x + plot.w + 16, y: y, w: 12, h: 12, fill: Self.seriesColors[si % Self.seriesColors.count], opacity: 0.7)
                svg.text(HTMLText.truncate(s.name, 20), x: plot.x + plot.w + 33, y: y + 10, size: 11.5, fill: "#222")
            }
        }
        let summary = all.map { s -> String in
            let h = s.histogram
            var t = "\(overlay ? s.name + ": " : "")n = \(h.total), mean = \(HTMLText.format(h.mean))"
            if h.below + h.above > 0 { t += ", \(h.below + h.above) outside the range" }
            return t
        }.joined(separator: "; ")
        figure(title: title, caption: [caption, summary].compactMap { $0 }.joined(separator: " "), body: svg.render(label: title))
    }

    /// A histogram of `values` in `bins` equal bins.
    public mutating func histogram(values: [Float], bins: Int, title: String, xLabel: String, yLabel: String = "count",
                                   caption: String? = nil, range: ClosedRange<Double>? = nil) {
        histogram([HistogramSeries(name: title, histogram: Histogram(values: values, bins: bins, range: range))],
                  title: title, xLabel: xLabel, yLabel: yLabel, caption: caption)
    }
}
