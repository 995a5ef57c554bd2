import Foundation
import Mechanic

extension Report {
    /// A heatmap of `values[row][col]` (layer × position, layer × head, …) with labelled axes, a
    /// colour legend and each cell's value on hover (`<title>`). Values are printed in the cells
    /// only when the grid is small (at most `maxPrintedGrid` × `maxPrintedGrid`) and the cells hold
    /// them (`showValues` forces either way); dense grids rely on the hover titles.
    /// `maskUpperTriangle` (destination × source grids of a causal model) draws the cells whose
    /// column is after their row as masked: light grey, no value, "masked" on hover.
    public mutating func heatmap(_ values: [[Float]], rowLabels: [String], colLabels: [String], title: String,
                                 scale: ColorScale = .diverging(), xLabel: String? = nil, yLabel: String? = nil,
                                 legendLabel: String? = nil, caption: String? = nil, showValues: Bool? = nil,
                                 highlight: Set<[Int]> = [], maskUpperTriangle: Bool = false) {
        let rows = values.count, cols = values.map(\.count).max() ?? 0
        guard rows > 0, cols > 0 else {
            figure(title: title, caption: caption, body: "<p class=\"note\">(no data)</p>")
            return
        }
        let isMasked = { (r: Int, c: Int) in maskUpperTriangle && c > r }
        let resolved = scale.resolved(for: values.enumerated().flatMap { r, row in row.enumerated().filter { !isMasked(r, $0.offset) }.map(\.element) })
        let rowL = (0..<rows).map { $0 < rowLabels.count ? HTMLText.displayToken(rowLabels[$0]) : "\($0)" }
        let colL = (0..<cols).map { $0 < colLabels.count ? HTMLText.displayToken(colLabels[$0]) : "\($0)" }

        // Layout: cells between 14 and 54 px, aiming at ~820 px of plot width.
        let cell = min(54, max(14, min(820 / Double(cols), 460 / Double(rows) * 1.6)))
        let cw = cell, ch = min(max(cell * 0.8, 16), 40)
        let fontSize = 11.5
        let maxRow = rowL.map { HTMLText.textWidth(HTMLText.truncate($0, 24), fontSize: fontSize) }.max() ?? 0
        let maxCol = colL.map { HTMLText.textWidth(HTMLText.truncate($0, 18), fontSize: fontSize) }.max() ?? 0
        let rotateCols = maxCol > cw - 4
        // Room on the left for the row labels, and for the first column's label when it is rotated.
        let firstCol = HTMLText.textWidth(HTMLText.truncate(colL.first ?? "", 18), fontSize: fontSize)
        let left = max(maxRow + 14 + (yLabel == nil ? 0 : 22), rotateCols ? firstCol * 0.72 - cw / 2 + 4 : 0)
        let top = 8.0
        let plotW = cw * Double(cols), plotH = ch * Double(rows)
        let colLabelH = rotateCols ? min(maxCol, 130) * 0.72 + 16 : 20
        let bottom = colLabelH + (xLabel == nil ? 6 : 26)
        let legendX = left + plotW + 20
        let width = legendX + 80 + (legendLabel == nil ? 0 : 16)
        // The legend is at least as tall as its rotated label.
        let legendH = max(min(max(plotH, 90), 260), legendLabel.map { HTMLText.textWidth($0, fontSize: 11.5) + 8 } ?? 0)
        let height = max(top + plotH + bottom, top + legendH + 10)
        var svg = SVG(width: width, height: height)

        let printValues = showValues ?? (cw >= 28 && ch >= 16 && rows <= Self.maxPrintedGrid && cols <= Self.maxPrintedGrid)
        for r in 0..<rows {
            for c in 0..<cols {
                let v = c < values[r].count ? values[r][c] : .nan
                let x = left + Double(c) * cw, y = top + Double(r) * ch
                if isMasked(r, c) {
                    svg.rect(x: x, y: y, w: cw, h: ch, fill: Self.maskedColor, stroke: "#fff", strokeWidth: 0.5,
                             title: "\(rowL[r]) · \(colL[c]): masked")
                    continue
                }
                svg.rect(x: x, y: y, w: cw, h: ch, fill: resolved.color(v), stroke: "#fff", strokeWidth: 0.5,
                         title: "\(rowL[r]) · \(colL[c]): \(HTMLText.format(v))")
                if printValues {
                    svg.text(HTMLText.compact(v), x: x + cw / 2, y: y + ch / 2 + 4, anchor: .middle,
                             size: min(10.5, cw / 4.2), fill: resolved.textColor(v))
                }
            }
        }
        for cellIndex in highlight where cellIndex.count == 2 && cellIndex[0] < rows && cellIndex[1] < cols {
            svg.rect(x: left + Double(cellIndex[1]) * cw + 1, y: top + Double(cellIndex[0]) * ch + 1, w: cw - 2, h: ch - 2,
                     fill: "none", stroke: "#111", strokeWidth: 2)
        }
        svg.rect(x: left, y: top, w: plotW, h: plotH, fill: "none", stroke: "#98a2b3", strokeWidth: 0.8)
        for r in 0..<rows {
            svg.text(HTMLText.truncate(rowL[r], 24), x: left - 6, y: top + (Double(r) + 0.5) * ch + 4, anchor: .end,
                     size: fontSize, fill: "#222", cls: "tok", title: rowL[r])
        }
        let step = max(1, Int((14 / cw).rounded(.up)))  // thin out labels when cells are narrow
        for c in stride(from: 0, to: cols, by: step) {
            let x = left + (Double(c) + 0.5) * cw, y = top + plotH + 14
            if rotateCols {
                svg.text(HTMLText.truncate(colL[c], 18), x: x + 3, y: y - 4, anchor: .end, size: fontSize, fill: "#222",
                         rotate: -45, cls: "tok", title: colL[c])
            } else {
                svg.text(colL[c], x: x, y: y, anchor: .middle, size: fontSize, fill: "#222", cls: "tok")
            }
        }
        if let xLabel {
            svg.text(xLabel, x: left + plotW / 2, y: top + plotH + colLabelH + 18, anchor: .middle, size: 12.5, weight: "600", fill: "#222")
        }
        if let yLabel {
            svg.text(yLabel, x: 14, y: top + plotH / 2, anchor: .middle, size: 12.5, weight: "600", fill: "#222", rotate: -90)
        }
        svg.colorLegend(resolved, id: nextID("g"), x: legendX, y: top, height: legendH, label: legendLabel)
        figure(title: title, caption: caption, body: svg.render(label: title))
    }

    /// The largest grid side whose values are printed in the cells by default.
    public static let maxPrintedGrid = 12
    /// The fill of masked cells (distinct from the grey of NaN, "not scored").
    static let maskedColor = "#f1f1f1"

    /// A heatmap of a rank-2 tensor `[rows, cols]`.
    public mutating func heatmap(_ t: Tensor, rowLabels: [String], colLabels: [String], title: String,
                                 scale: ColorScale = .diverging(), xLabel: String? = nil, yLabel: String? = nil,
                                 legendLabel: String? = nil, caption: String? = nil) {
        let cols = t.shape.last ?? 0
        let rows = t.rank == 2 ? t.shape[0] : (cols == 0 ? 0 : t.count / cols)
        let m = (0..<rows).map { Array(t.data[($0 * cols)..<(($0 + 1) * cols)]) }
        heatmap(m, rowLabels: rowLabels, colLabels: colLabels, title: title, scale: scale, xLabel: xLabel,
                yLabel: yLabel, legendLabel: legendLabel, caption: caption)
    }
}
