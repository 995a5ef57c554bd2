import Foundation

/// How values map to colours in heatmaps, attention grids and token highlights.
public enum ColorScale: Sendable, Equatable {
    /// Signed values: blue (below `center`) – white (`center`, default 0) – red (above),
    /// symmetric around the centre. `maxAbs` fixes the saturation distance from the centre
    /// (default: the largest |value − center|).
    case diverging(maxAbs: Float? = nil, center: Float = 0)
    /// Non-negative values (attention patterns, probabilities): white → dark blue from `min` to
    /// `max` (default: 0 and the largest value).
    case sequential(min: Float = 0, max: Float? = nil)

    /// The concrete range for a set of values.
    func resolved(for values: [Float]) -> ResolvedColorScale {
        let finite = values.filter(\.isFinite)
        switch self {
        case let .diverging(m, center):
            var a = m ?? finite.map { abs($0 - center) }.max() ?? 1
            if !(a > 0) { a = 1 }
            return ResolvedColorScale(kind: .diverging, lo: center - a, hi: center + a)
        case let .sequential(lo, m):
            var hi = m ?? finite.max() ?? 1
            if !(hi > lo) { hi = lo + 1 }
            return ResolvedColorScale(kind: .sequential, lo: lo, hi: hi)
        }
    }
}

/// A colour scale with its numeric range fixed.
struct ResolvedColorScale {
    enum Kind { case diverging, sequential }
    let kind: Kind
    let lo: Float
    let hi: Float

    // ColorBrewer RdBu (reversed: blue = negative) and Blues, as RGB stops.
    static let rdBu: [(Double, Double, Double)] = [
        (33, 102, 172), (67, 147, 195), (146, 197, 222), (209, 229, 240), (247, 247, 247),
        (253, 219, 199), (244, 165, 130), (214, 96, 77), (178, 24, 43)]
    static let blues: [(Double, Double, Double)] = [
        (255, 255, 255), (222, 235, 247), (198, 219, 239), (158, 202, 225), (107, 174, 214),
        (66, 146, 198), (33, 113, 181), (8, 81, 156), (8, 48, 107)]

    var stops: [(Double, Double, Double)] { kind == .diverging ? Self.rdBu : Self.blues }

    /// Position of `v` in [0, 1] along the scale (clamped).
    func unit(_ v: Float) -> Double {
        let t = Double((v - lo) / (hi - lo))
        return min(max(t, 0), 1)
    }

    func rgb(_ v: Float) -> (Double, Double, Double) {
        let s = stops
        let t = unit(v) * Double(s.count - 1)
        let i = min(Int(t), s.count - 2)
        let f = t - Double(i)
        let a = s[i], b = s[i + 1]
        return (a.0 + (b.0 - a.0) * f, a.1 + (b.1 - a.1) * f, a.2 + (b.2 - a.2) * f)
    }

    /// `#rrggbb` for `v`; NaN is mid grey.
    func color(_ v: Float) -> String {
        guard v.isFinite else { return "#bdbdbd" }
        let (r, g, b) = rgb(v)
        return String(format: "#%02x%02x%02x", Int(r.rounded()), Int(g.rounded()), Int(b.rounded()))
    }

    /// Black or white, whichever reads better on `color(v)`.
    func textColor(_ v: Float) -> String {
        guard v.isFinite else { return "#000" }
        let (r, g, b) = rgb(v)
        let luminance = 0.299 * r + 0.587 * g + 0.114 * b
        return luminance < 140 ? "#fff" : "#111"
    }

    /// Gradient stops for a legend bar (bottom = `lo`).
    var gradientStops: [(offset: Double, color: String)] {
        let s = stops
        return s.enumerated().map { i, c in
            (Double(i) / Double(s.count - 1),
             String(format: "#%02x%02x%02x", Int(c.0), Int(c.1), Int(c.2)))
        }
    }

    /// Tick values for the legend: ends and zero (diverging), or nice ticks.
    var legendTicks: [Double] {
        let ticks = AxisTicks.nice(Double(lo), Double(hi), count: 5)
        return ticks.isEmpty ? [Double(lo), Double(hi)] : ticks
    }
}

extension SVG {
    /// A vertical colour bar with ticks at (x, y), `height` tall, labelled with `label`.
    mutating func colorLegend(_ scale: ResolvedColorScale, id: String, x: Double, y: Double, height: Double, label: String?) {
        verticalGradient(id: id, stops: scale.gradientStops)
        let barW = 14.0
        rect(x: x, y: y, w: barW, h: height, fill: "url(#\(id))", stroke: "#999", strokeWidth: 0.5)
        let map = LinearScale(domain: (Double(scale.lo), Double(scale.hi)), range: (y + height, y))
        for t in scale.legendTicks {
            let py = map(t)
            line(x + barW, py, x + barW + 4, py, stroke: "#555")
            text(AxisTicks.label(t), x: x + barW + 7, y: py + 4, size: 11, fill: "#333")
        }
        if let label {
            text(label, x: x + barW + 48, y: y + height / 2, anchor: .middle, size: 11.5, fill: "#333", rotate: 90)
        }
    }
}
