import Foundation

/// A small SVG writer: elements are appended as escaped XML, so a figure is well-formed by
/// construction. Coordinates are in CSS pixels.
struct SVG {
    var width: Double
    var height: Double
    private(set) var parts: [String] = []
    private var defs: [String] = []

    init(width: Double, height: Double) {
        self.width = width
        self.height = height
    }

    private static func attrs(_ list: [(String, String?)]) -> String {
        list.compactMap { k, v in v.map { " \(k)=\"\(HTMLText.escape($0))\"" } }.joined()
    }

    private static func titled(_ tag: String, _ attributes: String, title: String?) -> String {
        guard let title else { return "<\(tag)\(attributes)/>" }
        return "<\(tag)\(attributes)><title>\(HTMLText.escape(title))</title></\(tag)>"
    }

    mutating func rect(x: Double, y: Double, w: Double, h: Double, fill: String, stroke: String? = nil,
                       strokeWidth: Double? = nil, opacity: Double? = nil, cls: String? = nil, title: String? = nil) {
        let a = Self.attrs([("x", HTMLText.num(x)), ("y", HTMLText.num(y)), ("width", HTMLText.num(max(w, 0))),
                            ("height", HTMLText.num(max(h, 0))), ("fill", fill), ("stroke", stroke),
                            ("stroke-width", strokeWidth.map(HTMLText.num)), ("fill-opacity", opacity.map(HTMLText.num)),
                            ("class", cls)])
        parts.append(Self.titled("rect", a, title: title))
    }

    mutating func circle(cx: Double, cy: Double, r: Double, fill: String, stroke: String? = nil,
                         opacity: Double? = nil, title: String? = nil) {
        let a = Self.attrs([("cx", HTMLText.num(cx)), ("cy", HTMLText.num(cy)), ("r", HTMLText.num(r)),
                            ("fill", fill), ("stroke", stroke), ("fill-opacity", opacity.map(HTMLText.num))])
        parts.append(Self.titled("circle", a, title: title))
    }

    mutating func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, stroke: String = "#444",
                       width: Double = 1, dash: String? = nil) {
        parts.append("<line" + Self.attrs([("x1", HTMLText.num(x1)), ("y1", HTMLText.num(y1)), ("x2", HTMLText.num(x2)),
                                            ("y2", HTMLText.num(y2)), ("stroke", stroke), ("stroke-width", HTMLText.num(width)),
                                            ("stroke-dasharray", dash)]) + "/>")
    }

    enum Anchor: String { case start, middle, end }

    /// Text at (x, y); `rotate` in degrees around the anchor point. `title` adds a hover label.
    mutating func text(_ s: String, x: Double, y: Double, anchor: Anchor = .start, size: Double = 12,
                       weight: String? = nil, fill: String? = nil, rotate: Double? = nil, cls: String? = nil,
                       baseline: String? = nil, title: String? = nil) {
        let transform = rotate.map { "rotate(\(HTMLText.num($0)) \(HTMLText.num(x)) \(HTMLText.num(y)))" }
        let a = Self.attrs([("x", HTMLText.num(x)), ("y", HTMLText.num(y)), ("text-anchor", anchor.rawValue),
                            ("font-size", HTMLText.num(size)), ("font-weight", weight), ("fill", fill),
                            ("transform", transform), ("class", cls), ("dominant-baseline", baseline)])
        let inner = HTMLText.escape(s) + (title.map { "<title>\(HTMLText.escape($0))</title>" } ?? "")
        parts.append("<text\(a)>\(inner)</text>")
    }

    /// A vertical linear gradient from `stops` (bottom = first) under `id`.
    mutating func verticalGradient(id: String, stops: [(offset: Double, color: String)]) {
        var g = "<linearGradient id=\"\(HTMLText.escape(id))\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">"
        for s in stops { g += "<stop offset=\"\(HTMLText.num(s.offset))\" stop-color=\"\(s.color)\"/>" }
        defs.append(g + "</linearGradient>")
    }

    /// Raw, already well-formed SVG markup.
    mutating func raw(_ markup: String) { parts.append(markup) }

    func render(label: String) -> String {
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(HTMLText.num(width))\" height=\"\(HTMLText.num(height))\""
        s += " viewBox=\"0 0 \(HTMLText.num(width)) \(HTMLText.num(height))\" role=\"img\" aria-label=\"\(HTMLText.escape(label))\">"
        if !defs.isEmpty { s += "<defs>" + defs.joined() + "</defs>" }
        return s + parts.joined() + "</svg>"
    }
}

/// "Nice" axis ticks (1, 2, 5 × 10^k steps) covering `lo...hi`.
enum AxisTicks {
    static func nice(_ lo: Double, _ hi: Double, count: Int = 6) -> [Double] {
        guard lo.isFinite, hi.isFinite else { return [] }
        if hi <= lo { return [lo] }
        let raw = (hi - lo) / Double(max(count - 1, 1))
        let mag = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 2.5, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? 10 * mag
        let first = ceil(lo / step - 1e-9), last = floor(hi / step + 1e-9)
        guard last >= first else { return [] }
        // Multiples of the step, rounded to its precision (no 0.6000000000000001).
        let digits = max(0, -Int(floor(log10(step))) + 2)
        let unit = pow(10, Double(digits))
        return (Int(first)...Int(last)).map { (Double($0) * step * unit).rounded() / unit }
    }

    /// Tick label: compact, without float noise.
    static func label(_ v: Double) -> String {
        if v == 0 { return "0" }
        if abs(v) >= 1e5 || abs(v) < 1e-3 { return String(format: "%.1e", v) }
        return String(format: "%.6g", (v * 1e6).rounded() / 1e6)
    }
}

/// A linear map from data values to pixels.
struct LinearScale {
    var domain: (Double, Double)
    var range: (Double, Double)
    func callAsFunction(_ v: Double) -> Double {
        let d = domain.1 - domain.0
        guard d != 0 else { return (range.0 + range.1) / 2 }
        return range.0 + (v - domain.0) / d * (range.1 - range.0)
    }
}

extension SVG {
    /// Draws x and y axes of a plot area with nice ticks, grid lines and axis labels.
    mutating func axes(plot: (x: Double, y: Double, w: Double, h: Double), x: LinearScale, y: LinearScale,
                       xTicks: [Double], yTicks: [Double], xLabel: String?, yLabel: String?) {
        for t in yTicks {
            let py = y(t)
            line(plot.x, py, plot.x + plot.w, py, stroke: "#e6e6e6")
            line(plot.x - 4, py, plot.x, py, stroke: "#555")
            text(AxisTicks.label(t), x: plot.x - 7, y: py + 4, anchor: .end, size: 11, fill: "#444")
        }
        for t in xTicks {
            let px = x(t)
            line(px, plot.y, px, plot.y + plot.h, stroke: "#f0f0f0")
            line(px, plot.y + plot.h, px, plot.y + plot.h + 4, stroke: "#555")
            text(AxisTicks.label(t), x: px, y: plot.y + plot.h + 17, anchor: .middle, size: 11, fill: "#444")
        }
        line(plot.x, plot.y + plot.h, plot.x + plot.w, plot.y + plot.h, stroke: "#555")
        line(plot.x, plot.y, plot.x, plot.y + plot.h, stroke: "#555")
        if let xLabel {
            text(xLabel, x: plot.x + plot.w / 2, y: plot.y + plot.h + 36, anchor: .middle, size: 12.5, weight: "600", fill: "#222")
        }
        if let yLabel {
            let cx = plot.x - 48, cy = plot.y + plot.h / 2
            text(yLabel, x: cx, y: cy, anchor: .middle, size: 12.5, weight: "600", fill: "#222", rotate: -90)
        }
    }
}
