import Foundation
import ReportTestSupport
import Testing
@testable import MechanicAnalysis

/// Issue 10 §4 trap 14: dense heatmaps rely on hover titles, masked cells look masked, and a
/// ranking of equal scores is said in words instead of drawn as zero-width bars.
@Suite struct ReportGridTests {
    /// The `<text>` elements of the first SVG (cell values, labels).
    static func texts(_ html: String) -> [String] {
        HTMLCheck.matches("<text[^>]*>([^<]*)</text>", in: html, group: 1)
    }

    @Test func valuesArePrintedOnlyInSmallGrids() {
        for (n, printed) in [(4, true), (12, true), (13, false), (24, false)] {
            var r = Report(title: "t")
            let m = (0..<n).map { i in (0..<n).map { j in Float(i * 100 + j) + 0.5 } }
            r.heatmap(m, rowLabels: (0..<n).map { "r\($0)" }, colLabels: (0..<n).map { "c\($0)" }, title: "grid")
            let texts = Set(Self.texts(r.html))
            // 203.5 is cell (2, 3): printed (compactly) in small grids; always in its hover title.
            #expect(texts.contains(HTMLText.compact(203.5)) == printed, "\(n)×\(n)")
            #expect(HTMLCheck.titles(r.html).contains("r2 · c3: 203.5"))
        }
    }

    @Test func maskedCellsAreBlankAndLeftOutOfTheScale() {
        var r = Report(title: "t")
        // Masked cells hold the baseline value 7 (what patching a masked pattern entry gives).
        let m: [[Float]] = [[1, 7, 7], [2, 3, 7], [4, 5, 6]]
        r.heatmap(m, rowLabels: ["d0", "d1", "d2"], colLabels: ["s0", "s1", "s2"], title: "dest × src", scale: .sequential(),
                  maskUpperTriangle: true)
        let titles = HTMLCheck.titles(r.html)
        for (d, s) in [(0, 1), (0, 2), (1, 2)] { #expect(titles.contains("d\(d) · s\(s): masked")) }
        #expect(!titles.contains("d0 · s1: 7") && titles.contains("d2 · s2: 6"))
        #expect(HTMLCheck.count("fill=\"\(Report.maskedColor)\"", in: r.html) == 3)
        #expect(Self.texts(r.html).filter { $0 == "7" }.isEmpty)  // no value printed in a masked cell
        // The scale spans the unmasked values only: the darkest colour is at 6, not 7.
        let dark = ColorScale.sequential().resolved(for: [1, 2, 3, 4, 5, 6]).color(6)
        #expect(r.html.contains("fill=\"\(dark)\""))
    }

    @Test func equalHeadScoresAreSaidInWords() {
        var r = Report(title: "t")
        r.headScores([[0, 0], [0, 0]], title: "Share of pairs with the target in the top 5", scale: .sequential(min: 0, max: 1),
                     legendLabel: "fraction of pairs")
        #expect(r.html.contains("Every head scores 0 (fraction of pairs): there is no ranking to show."))
        #expect(!HTMLCheck.titles(r.html).contains("L0H0: 0"))  // no bars
        var s = Report(title: "t")
        s.headScores([[0, 0.5], [0, 0]], title: "x", scale: .sequential(min: 0, max: 1), legendLabel: "share")
        #expect(HTMLCheck.titles(s.html).contains("L0H1: 0.5"))
        // Ranked bars of zeros (a diff of identical runs) say so instead of drawing an empty strip.
        var z = Report(title: "t")
        z.rankedBars([("hook_embed", 0), ("L0H0", 0)], title: "Components ranked")
        #expect(z.html.contains("Every value is 0 (2 items): nothing to rank.") && !HTMLCheck.titles(z.html).contains("L0H0: 0"))
    }
}
