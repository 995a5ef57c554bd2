import Foundation

extension CircuitResult: HTMLReportable {
    /// The circuit as a layered graph, the faithfulness curve (with `--evaluate`) and the top edges.
    public func html(into report: inout Report) {
        report.heading("Circuit")
        let kept = edges.values.filter(\.inGraph).count
        report.paragraph("\(method): \(kept) of \(edges.count) edges in the circuit; \(pairs) prompt pair\(pairs == 1 ? "" : "s"); scores: \(metric).")
        if !notes.isEmpty { report.list(notes) }
        report.raw(graphFigure())
        if let e = evaluation {
            report.heading("Faithfulness")
            report.paragraph(String(format: "f = (m(C) − m(∅)) / (m(N) − m(∅)) of the circuit: %.4f (%d edges; logit difference clean %.4f, circuit %.4f, all edges patched %.4f). CPR %.4f, CMD %.4f.",
                                    e.faithfulness, e.circuitEdges, e.cleanMetric, e.circuitMetric, e.emptyMetric, e.cpr, e.cmd))
            report.lineChart([LineSeries(name: "faithfulness", values: e.curve.map { Float($0.faithfulness) })],
                             xLabels: e.curve.map { "\(HTMLText.format($0.percent))%" }, title: "Faithfulness of the top edges by |score|",
                             xLabel: "edges kept", yLabel: "f", caption: "Edges outside each circuit patched to their corrupted values; exact runs.")
        }
        report.heading("Top edges")
        let top = rankedEdges.prefix(40)
        report.table(header: ["edge", "score", "in circuit"], rows: top.map { [$0.name, HTMLText.format($0.entry.score), $0.entry.inGraph ? "yes" : "no"] },
                     caption: "Largest |score| first")
    }

    /// Nodes by layer (input at the bottom, logits at the top), the circuit's edges as curves whose
    /// width follows |score| and colour its sign (blue positive, red negative); the receiving
    /// input of a head is marked by where the edge enters it (q left, k middle, v right) and its dash.
    func graphFigure() -> String {
        let L = cfg.nLayers, H = cfg.nHeads
        let rowsPerLayer = parallel ? 1 : 2
        let levels = 2 + L * rowsPerLayer
        let (dx, dy, pad) = (46.0, 70.0, 30.0)
        let width = pad * 2 + dx * Double(max(H + (parallel ? 1 : 0), 1))
        let height = pad * 2 + dy * Double(levels - 1)
        func level(_ name: String) -> (level: Int, index: Int, count: Int)? {
            if name == "input" { return (0, 0, 1) }
            if name == "logits" { return (levels - 1, 0, 1) }
            if name.hasPrefix("m"), let l = Int(name.dropFirst()) { return parallel ? (1 + l, H, H + 1) : (2 + 2 * l, 0, 1) }
            let parts = name.dropFirst().split(separator: ".")
            guard parts.count == 2, let l = Int(parts[0]), let h = Int(parts[1].dropFirst()) else { return nil }
            return (1 + l * rowsPerLayer, h, parallel ? H + 1 : H)
        }
        func point(_ name: String) -> (Double, Double)? {
            guard let p = level(name) else { return nil }
            let x = width / 2 + (Double(p.index) - Double(p.count - 1) / 2) * dx
            return (x, height - pad - Double(p.level) * dy)
        }
        var svg = SVG(width: width, height: height)
        let inCircuit = edges.filter(\.value.inGraph)
        let maxAbs = Double(inCircuit.values.map { abs($0.score) }.max() ?? 1)
        func draw(_ name: String, _ e: CircuitResult.EdgeEntry, opacity: Double, note: String) {
            let parts = name.components(separatedBy: "->")
            guard parts.count == 2 else { return }
            var target = parts[1], offset = 0.0, dash: String?
            for (port, o, d) in [("<q>", -8.0, nil as String?), ("<k>", 0.0, "5 3"), ("<v>", 8.0, "1.5 2.5")] where target.hasSuffix(port) {
                target = String(target.dropLast(3)); offset = o; dash = d
            }
            guard let (x1, y1) = point(parts[0]), let (x2, y2) = point(target) else { return }
            let w = 0.6 + 5 * min(1, Double(abs(e.score)) / max(maxAbs, 1e-30))
            let colour = e.score >= 0 ? "#2b6cb0" : "#c53030"
            let midY = (y1 + y2) / 2
            let d = "M \(HTMLText.num(x1)) \(HTMLText.num(y1 - 9)) C \(HTMLText.num(x1)) \(HTMLText.num(midY)), \(HTMLText.num(x2 + offset)) \(HTMLText.num(midY)), \(HTMLText.num(x2 + offset)) \(HTMLText.num(y2 + 9))"
            svg.raw("<path d=\"\(d)\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"\(HTMLText.num(w))\" stroke-opacity=\"\(HTMLText.num(opacity))\""
                    + (dash.map { " stroke-dasharray=\"\($0)\"" } ?? "") + "><title>\(HTMLText.escape("\(name): \(HTMLText.format(e.score))\(note)"))</title></path>")
        }
        // The strongest edges left out of the circuit, faint, under the circuit's own.
        let faint = rankedEdges.lazy.filter { !$0.entry.inGraph && $0.entry.score != 0 }.prefix(Self.faintEdges)
        for (name, e) in faint.reversed() { draw(name, e, opacity: 0.18, note: " (not in the circuit)") }
        for (name, e) in inCircuit.sorted(by: { abs($0.value.score) < abs($1.value.score) }) { draw(name, e, opacity: 0.75, note: "") }
        for (name, node) in nodes.sorted(by: { $0.key < $1.key }) {
            guard let (x, y) = point(name) else { continue }
            let on = node.inGraph
            svg.rect(x: x - 17, y: y - 9, w: 34, h: 18, fill: on ? "#fefcbf" : "#f7fafc", stroke: on ? "#744210" : "#cbd5e0",
                     strokeWidth: 1, title: "\(name)\(on ? " (in circuit)" : "")")
            svg.text(name, x: x, y: y + 4, anchor: .middle, size: 10, fill: on ? "#1a202c" : "#a0aec0")
        }
        let body = svg.render(label: "circuit graph")
        return "<figure class=\"fig wide\"><div class=\"figtitle\">Circuit graph</div><div class=\"figbody\">\(body)</div>"
            + "<figcaption>Edges in the circuit: width ∝ |score|, blue positive, red negative; into a head: q solid (left), k dashed (middle), v dotted (right). Faint: the \(Self.faintEdges) strongest edges left out. Hover for names and scores.</figcaption></figure>"
    }

    private var parallel: Bool { cfg.parallelAttnMLP }
    /// How many of the strongest out-of-circuit edges the graph draws faintly.
    static let faintEdges = 20
}
