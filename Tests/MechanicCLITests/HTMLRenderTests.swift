import Foundation
import Testing

/// Width and height from a PNG's IHDR chunk (nil when `data` is not a PNG).
func pngSize(_ data: Data) -> (width: Int, height: Int)? {
    let bytes = [UInt8](data.prefix(24))
    guard bytes.count == 24, bytes[0..<8] == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A],
          bytes[12..<16] == [0x49, 0x48, 0x44, 0x52] else { return nil }  // "IHDR"
    let be = { (o: Int) in bytes[o..<(o + 4)].reduce(0) { $0 << 8 | Int($1) } }
    return (be(16), be(20))
}

/// One Chromium render per report kind: the page draws (a blank page of the same size compresses
/// to a few KB; figures and tables make it many times larger). The PNGs stay in the temporary
/// directory for a person to look at.
@Suite struct HTMLRenderTests {
    static let model = CLI.model("gpt2-tiny")
    static let ioi = "When John and Mary went to the store, John gave a drink to"

    static let kinds: [(name: String, args: [String])] = [
        ("render-lens", ["lens", "--model", model, "--prompt", ioi, "--answer", " Mary"]),
        ("render-attribute", ["attribute", "--model", model, "--prompt", ioi, "--answer", " Mary", "--wrong", " John"]),
        ("render-predict", ["predict", "--model", model, "--prompt", "The cat sat on the", "--answer", " mat and"]),
        ("render-diff", ["diff", "--model", model, "Save the baby", "Save the adult", "--verify", "3"]),
        ("render-heads-detect", ["heads", "--model", model, "--prompt", ioi, "--detect", "previous_token"]),
        ("render-heads-pattern", ["heads", "--model", model, "--prompt", ioi, "--pattern", "1:1"]),
        ("render-heads-composition", ["heads", "--model", model, "--composition", "K"]),
        ("render-heads-name-movers", ["heads", "--model", model, "--prompt", ioi, "--name-movers", "--answer", " Mary", "--wrong", " John"]),
        ("render-dataset", ["dataset", "--model", model, "--ioi", "--count", "3", "--max-attempts", "40", "--out", "/dev/null"]),
    ]

    @Test(.enabled(if: Chromium.executable != nil, "SKIPPED: chromium is not installed (apt-get install -y chromium) — no report was rendered"),
          arguments: kinds.indices)
    func reportRendersInHeadlessChromium(_ index: Int) throws {
        let kind = Self.kinds[index]
        let run = try HTMLRun.run(kind.name, kind.args, json: false)
        let png = try Chromium.screenshot(run.path, width: 1280, height: 1400)
        let size = try #require(pngSize(png))
        #expect(size.width == 1280 && size.height == 1400)
        let blankHTML = HTMLRun.dir.appendingPathComponent("\(kind.name)-blank.html")
        try Data("<!DOCTYPE html><html><body></body></html>".utf8).write(to: blankHTML)
        let blank = try Chromium.screenshot(blankHTML, width: 1280, height: 1400)
        #expect(png.count > 30_000 && png.count > 5 * blank.count, "\(kind.name): screenshot \(png.count) bytes vs blank \(blank.count)")
        print("\(kind.name) screenshot: \(run.path.deletingPathExtension().path).png (\(png.count) bytes)")
    }
}
