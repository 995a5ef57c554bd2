import Foundation
import ReportTestSupport
import Testing
@testable import MechanicAnalysis

@Suite struct ReportTests {
    @Test func escapingCoversMarkupQuotesAndControlCharacters() {
        #expect(HTMLText.escape("<a href=\"x\">Tom & 'Jerry'</a>") == "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;")
        #expect(HTMLText.escape("a\u{1}b\u{7F}") == "a\\x01b\\x7F")
        #expect(HTMLText.escape("tab\tnew\nline é 🙂") == "tab\tnew\nline é 🙂")
        #expect(HTMLText.displayToken(" the\n\t\u{2}") == " the↵⇥\\x02")
    }

    @Test func numbersAreFormattedWithFourSignificantDigits() {
        #expect(HTMLText.format(Float(0.123456)) == "0.1235")
        #expect(HTMLText.format(Float(-1234.5)) == "-1234")  // %.4g rounds half to even on the binary value
        #expect(HTMLText.format(12346.0) == "1.235e+04")
        #expect(HTMLText.format(Float(0)) == "0")
        #expect(HTMLText.format(Float.nan) == "n/a")
        #expect(HTMLText.percent(0.1234) == "12.3%")
        #expect(HTMLText.compact(1.125e-7) == "0" && HTMLText.compact(0.055012) == "0.055" && HTMLText.compact(-12.345) == "-12.3")
        #expect(HTMLText.compact(1234.6) == "1235" && HTMLText.compact(1) == "1")
        #expect(HTMLText.num(3.14159) == "3.14")
        #expect(HTMLText.num(2.0) == "2")
    }

    @Test func axisTicksAreRoundNumbers() {
        #expect(AxisTicks.nice(0, 1, count: 6) == [0, 0.2, 0.4, 0.6, 0.8, 1])
        #expect(AxisTicks.nice(-3, 7, count: 6) == [-2, 0, 2, 4, 6])
        #expect(AxisTicks.nice(0, 2437, count: 5) == [0, 1000, 2000])
        #expect(AxisTicks.label(0.30000000000000004) == "0.3")
    }

    @Test func colourScalesAreCentredAndOrdered() {
        let d = ColorScale.diverging().resolved(for: [-2, 0.5, 1])
        #expect(d.lo == -2 && d.hi == 2)
        #expect(d.color(0) == "#f7f7f7")
        #expect(d.color(2) == "#b2182b")
        #expect(d.color(-2) == "#2166ac")
        #expect(d.color(5) == "#b2182b")  // clamped
        let s = ColorScale.sequential(min: 0, max: 1).resolved(for: [])
        #expect(s.color(0) == "#ffffff")
        #expect(s.color(1) == "#08306b")
        #expect(s.textColor(1) == "#fff" && s.textColor(0) == "#111")
        #expect(d.color(.nan) == "#bdbdbd")
        // Centred elsewhere (an unpatched run's metric, say): white there, saturating at the largest distance.
        let c = ColorScale.diverging(center: -1.5).resolved(for: [-2, -1, -0.5])
        #expect(c.lo == -2.5 && c.hi == -0.5)
        #expect(c.color(-1.5) == "#f7f7f7" && c.color(-0.5) == "#b2182b" && c.color(-2.5) == "#2166ac")
    }

    @Test func everyHeatmapCellValueAppearsInATitle() throws {
        var r = Report(title: "t")
        let m: [[Float]] = [[0.5, -1.25, 3], [0.001234, -0.75, 10.5]]
        r.heatmap(m, rowLabels: ["L0", "L1"], colLabels: ["<bos>", " A", "&"], title: "heat")
        let titles = Set(HTMLCheck.titles(r.html))
        let expected = Set(["L0 · <bos>: 0.5", "L0 ·  A: -1.25", "L0 · &: 3",
                            "L1 · <bos>: 0.001234", "L1 ·  A: -0.75", "L1 · &: 10.5"])
        #expect(expected.isSubset(of: titles), "missing: \(expected.subtracting(titles))")
        // The cell colours follow the diverging scale centred at 0 with |max| = 10.5.
        #expect(r.html.contains("fill=\"#b2182b\""))  // 10.5 saturates red
        let svgs = HTMLCheck.svgFragments(r.html)
        #expect(svgs.count == 1)
        #expect(HTMLCheck.xmlError(svgs[0]) == nil)
    }

    @Test func wholeSampleReportIsWellFormedXML() throws {
        let html = sampleReport().html
        #expect(html.hasPrefix("<!DOCTYPE html>\n<html"))
        if let err = HTMLCheck.xmlError(HTMLCheck.withoutDoctype(html)) { Issue.record("not well-formed: \(err)") }
        let svgs = HTMLCheck.svgFragments(html)
        #expect(svgs.count >= 8)
        for (i, svg) in svgs.enumerated() {
            if let err = HTMLCheck.xmlError(svg) { Issue.record("SVG \(i) not well-formed: \(err)") }
        }
        // No markup from user text leaks into the document.
        #expect(!html.contains("<all components>"))
        #expect(html.contains("&lt;all components&gt; &amp; &quot;quotes&quot;"))
        #expect(!html.contains("<decoy>"))
        #expect(!html.contains("<script"))
        #expect(!html.contains("http://") || !html.replacingOccurrences(of: "http://www.w3.org/2000/svg", with: "").contains("http://"))
        #expect(!html.contains("https://"))
    }

    @Test func attentionGridHasOneTitlePerVisibleWeight() {
        var r = Report(title: "t")
        let pattern: [[Float]] = [[1, 0, 0], [0.25, 0.75, 0], [0.5, 0.125, 0.375]]
        r.attentionGrid([AttentionPanel(label: "L1H0", pattern: pattern, note: "induction")], tokens: ["<bos>", "A", "B"], title: "grid")
        let titles = HTMLCheck.titles(r.html).filter { $0.hasPrefix("L1H0 · query") }
        #expect(titles.count == 6)  // the causal triangle only
        #expect(titles.contains("L1H0 · query 2 \"B\" → key 1 \"A\": 0.125"))
        #expect(titles.contains("L1H0 · query 1 \"A\" → key 1 \"A\": 0.75"))
        #expect(r.html.contains("<span>induction</span>"))
    }

    @Test func logitLensTableShowsTokensProbabilitiesAndTarget() {
        var r = Report(title: "t")
        r.logitLensTable([LensTableRow(label: "L0", top: [TokenProbability(token: " B", probability: 0.625),
                                                          TokenProbability(token: "<x>", probability: 0.25)],
                                       targetRank: 1, targetProbability: 0.625)],
                         title: "lens", target: " B")
        let html = r.html
        #expect(html.contains("62.5%") && html.contains("25.0%"))
        #expect(html.contains("&lt;x&gt;"))
        #expect(HTMLCheck.count("class=\"tokcell target\"", in: html) == 1)
        #expect(HTMLCheck.titleAttributes(html).contains("L0 #1 \" B\": p = 0.625"))
    }

    @Test func rankedBarsSortByMagnitudeAndCarryValues() {
        var r = Report(title: "t")
        r.rankedBars([("a", 0.5), ("b", -2), ("c", 1)], title: "bars", sortByMagnitude: true)
        let titles = HTMLCheck.titles(r.html).filter { $0.contains(": ") }
        #expect(titles == ["b: -2", "c: 1", "a: 0.5"])
    }

    @Test func histogramCountsAreExact() {
        var h = Histogram(lower: 0, upper: 1, bins: 4)
        for v in [0.0, 0.1, 0.25, 0.3, 0.5, 0.99, 1.0, -0.1, 1.5, .nan] { h.add(v) }
        #expect(h.counts == [2, 2, 1, 2])
        #expect(h.below == 1 && h.above == 1 && h.nan == 1 && h.total == 10)
        #expect(h.edges == [0, 0.25, 0.5, 0.75, 1])
        #expect(h.bin(of: 1.0) == 3 && h.bin(of: 0.25) == 1 && h.bin(of: 2) == nil)
        var r = Report(title: "t")
        r.histogram([HistogramSeries(name: "x", histogram: h)], title: "hist", xLabel: "v")
        let titles = HTMLCheck.titles(r.html)
        #expect(titles.contains("[0, 0.25): 2") && titles.contains("[0.75, 1]: 2") && titles.contains("[0.5, 0.75): 1"))
    }

    @Test func scatterLabelsEveryPoint() {
        var r = Report(title: "t")
        r.scatter([ScatterPoint(x: 1, y: 2, label: "a<b"), ScatterPoint(x: -1, y: 0.5, label: "c", annotate: true)],
                  title: "s", xLabel: "x", yLabel: "y")
        let titles = HTMLCheck.titles(r.html)
        #expect(titles.contains("a<b: (1, 2)") && titles.contains("c: (-1, 0.5)"))
    }

    @Test func reportWritesToDiskAndRefusesBadPaths() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mechanic-report-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let url = dir.appendingPathComponent("r.html")
        try writeReport(sampleReport(), to: url)
        let back = try String(contentsOf: url, encoding: .utf8)
        #expect(back == sampleReport().html)
        #expect(throws: (any Error).self) { try writeReport(sampleReport(), to: dir.appendingPathComponent("missing/dir/r.html")) }
    }
}
