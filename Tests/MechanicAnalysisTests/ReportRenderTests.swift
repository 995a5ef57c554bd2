import Foundation
import Testing
@testable import MechanicAnalysis

/// Headless Chromium (Debian's `chromium`), when installed: renders a report to a PNG as a
/// person would see it.
enum Chromium {
    static let executable: String? = {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            for name in ["chromium", "chromium-browser", "google-chrome"] {
                let p = "\(dir)/\(name)"
                if FileManager.default.isExecutableFile(atPath: p) { return p }
            }
        }
        return nil
    }()

    /// Renders `html` at `width × height` and returns the PNG bytes.
    static func screenshot(_ html: URL, png: URL, width: Int = 1200, height: Int = 900) throws -> Data {
        guard let exe = executable else { throw CocoaError(.fileNoSuchFile) }
        try? FileManager.default.removeItem(at: png)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--screenshot=\(png.path)",
                       "--window-size=\(width),\(height)", html.absoluteString]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        return try Data(contentsOf: png)
    }
}

/// Width and height from a PNG's IHDR chunk (nil when `data` is not a PNG).
func pngSize(_ data: Data) -> (width: Int, height: Int)? {
    let bytes = [UInt8](data.prefix(24))
    guard bytes.count == 24, bytes[0..<8] == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A],
          bytes[12..<16] == [0x49, 0x48, 0x44, 0x52] else { return nil }  // "IHDR"
    let be = { (o: Int) in bytes[o..<(o + 4)].reduce(0) { $0 << 8 | Int($1) } }
    return (be(16), be(20))
}

@Suite struct ReportRenderTests {
    static let outDir = FileManager.default.temporaryDirectory.appendingPathComponent("mechanic-report-render")

    @Test(.enabled(if: Chromium.executable != nil,
                   "SKIPPED: chromium is not installed (apt-get install -y chromium) — the report was not rendered"))
    func sampleReportRendersInHeadlessChromium() throws {
        try FileManager.default.createDirectory(at: Self.outDir, withIntermediateDirectories: true)
        let html = Self.outDir.appendingPathComponent("sample.html")
        try writeReport(sampleReport(), to: html)
        let png = try Chromium.screenshot(html, png: Self.outDir.appendingPathComponent("sample.png"))
        let size = try #require(pngSize(png))
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
