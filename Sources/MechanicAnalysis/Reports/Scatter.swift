import Foundation

/// A labelled point of a scatter plot.
public struct ScatterPoint: Sendable {
    public var x: Float
    public var y: Float
    public var label: String
    /// Whether to print the label beside the point (not just on hover).
    public var annotate: Bool
    public init(x: Float, y: Float, label: String, annotate: Bool = false) {
        self.x = x
        self.y = y
        self.label = label
        self.annotate = annotate
    }
}

extension Report {
    /// A scatter plot with axes, grid, each point's label and coordinates on hover, printed
    /// labels for points marked `annotate`, and optionally the line y = x.
    public mutating func scatter(_ points: [ScatterPoint], title: String, xLabel: String, yLabel: String,
                                 caption: String? = nil, diagonal: Bool = false) {
        let pts = points.filter { $0.x.isFinite && $0.y.isFinite }
        guard !pts.isEmpty else {
            figure(title: title, caption: caption, body: "<p class=\"note\">(no data)</p>")
            return
        }
        var x0 = Double(pts.map(\.x).min() ?? 0), x1 = Double(pts.map(\.x).max() ?? 1)
        var y0 = Double(pts.map(\.y).min() ?? 0), y1 = Double(pts.map(\.y).max() ?? 1)
        if diagonal { (x0, x1) = (min(x0, y0), max(x1, y1)); (y0, y1) = (x0, x1) }
        func pad(_ a: inout Double, _ b: inout Double) {
            let s = b - a == 0 ? max(abs(a), 1) : b - a
            a -= s * 0.05; b += s * 0.05
        }
        pad(&x0, &x1); pad(&y0, &y1)
        let plot = (x: 74.0, y: 12.0, w: 520.0, h: 340.0)
        let xs = LinearScale(domain: (x0, x1), range: (plot.x, plot.x + plot.w))
        let ys = LinearScale(domain: (y0, y1), range: (plot.y + plot.h, plot.y))
        var svg = SVG(width: plot.x + plot.w + 110, height: plot.y + plot.h + 48)
        svg.axes(plot: plot, x: xs, y: ys, xTicks: AxisTicks.nice(x0, x1, count: 7), yTicks: AxisTicks.nice(y0, y1, count: 6),
                 xLabel: xLabel, yLabel: yLabel)
        if x0 < 0, x1 > 0 { svg.line(xs(0), plot.y, xs(0), plot.y + plot.h, stroke: "#bbb", dash: "3 3") }
        if y0 < 0, y1 > 0 { svg.line(plot.x, ys(0), plot.x + plot.w, ys(0), stroke: "#bbb", dash: "3 3") }
        if diagonal {
            let a = max(x0, y0), b = min(x1, y1)
            svg.line(xs(a), ys(a), xs(b), ys(b), stroke: "#999", dash: "5 4")
        }
        let r = pts.count > 2000 ? 2.0 : pts.count > 300 ? 3.0 : 4.5
        for p in pts {
            svg.circle(cx: xs(Double(p.x)), cy: ys(Double(p.y)), r: p.annotate ? r + 1.5 : r,
                       fill: p.annotate ? "#d6604d" : "#2f6db5", stroke: p.annotate ? "#7a1f12" : nil, opacity: p.annotate ? 0.95 : 0.6,
                       title: "\(HTMLText.displayToken(p.label)): (\(HTMLText.format(p.x)), \(HTMLText.format(p.y)))")
        }
        // Labels of annotated points, placed beside the point where they overlap no earlier label
        // (skipped when every placement collides; the hover title still names the point).
        var placed: [(x0: Double, y0: Double, x1: Double, y1: Double)] = []
        for p in pts where p.annotate {
            let label = HTMLText.truncate(HTMLText.displayToken(p.label), 24)
            let w = HTMLText.textWidth(label, fontSize: 11), h = 12.0
            let (px, py) = (xs(Double(p.x)), ys(Double(p.y)))
            let candidates: [(Double, Double, SVG.Anchor)] = [(px + 7, py - 5, .start), (px + 7, py + 13, .start),
                                                             (px - 7, py - 5, .end), (px - 7, py + 13, .end)]
            for (tx, ty, anchor) in candidates {
                let x0 = anchor == .start ? tx : tx - w
                let box = (x0: x0, y0: ty - h + 2, x1: x0 + w, y1: ty + 2)
                let overlaps = placed.contains { $0.x0 < box.x1 && box.x0 < $0.x1 && $0.y0 < box.y1 && box.y0 < $0.y1 }
                guard !overlaps, box.x0 >= plot.x, box.x1 <= plot.x + plot.w + 100, box.y0 >= 0 else { continue }
                placed.append(box)
                svg.text(label, x: tx, y: ty, anchor: anchor, size: 11, fill: "#222", cls: "tok")
                break
            }
        }
        figure(title: title, caption: caption, body: svg.render(label: title))
    }
}
