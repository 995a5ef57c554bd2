import Foundation
import ReportTestSupport
import Testing
@testable import MechanicAnalysis

@Suite struct ReportRenderTests {
    static let outDir = FileManager.default.temporaryDirectory.appendingPathComponent("mechanic-report-render")

    @Test(.enabled(if: Chromium.executable != nil,
                   "SKIPPED: chromium is not installed (apt-get install -y chromium) — the report was not rendered"))
    func sampleReportRendersInHeadlessChromium() throws {
        try FileManager.default.createDirectory(at: Self.outDir, withIntermediateDirectories: true)
        let html = Self.outDir.appendingPathComponent("sample.html")
        try writeReport(sampleReport(), to: html)
        let png = try Chromium.screenshot(html, png: Self.outDir.appendingPathComponent("sample.png"))
        let size = try #require(Chromium.pngSize(png))
        #expect(size.width == 1200 && size.height == 900)
        // A blank page of the same size compresses to a few KB; the figures make it far larger.
        let blankHTML = Self.outDir.appendingPathComponent("blank.html")
        try Data("<!DOCTYPE html><html><body></body></html>".utf8).write(to: blankHTML)
        let blank = try Chromium.screenshot(blankHTML, png: Self.outDir.appendingPathComponent("blank.png"))
        #expect(png.count > 30_000, "the screenshot is only \(png.count) bytes")
        #expect(png.count > 5 * blank.count, "screenshot \(png.count) bytes vs blank page \(blank.count) bytes")
        print("report screenshot: \(Self.outDir.appendingPathComponent("sample.png").path) (\(png.count) bytes)")
    }
}
