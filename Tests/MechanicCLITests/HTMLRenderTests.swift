import Foundation
import ReportTestSupport
import Testing

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
        ("render-dataset", ["dataset", "--model", model, "--ioi", "--count", "3", "--max-attempts", "40"]),
        ("render-patch", ["patch", "--model", model, "--clean", ioi, "--corrupt", ioi.replacingOccurrences(of: "John gave", with: "Mary gave"),
                          "--answer", " Mary", "--wrong", " John", "--act", "block_every"]),
        ("render-patch-path", ["patch", "--model", model, "--clean", ioi, "--corrupt", ioi.replacingOccurrences(of: "John gave", with: "Mary gave"),
                               "--answer", " Mary", "--wrong", " John", "--path-receivers", "logits"]),
    ]

    @Test(.enabled(if: Chromium.executable != nil, "SKIPPED: chromium is not installed (apt-get install -y chromium) — no report was rendered"),
          arguments: kinds.indices)
    func reportRendersInHeadlessChromium(_ index: Int) throws {
        let kind = Self.kinds[index]
        // The tiny vocabulary keeps no IOI pair: dataset fails after writing the report of its drops.
        let run = try HTMLRun.run(kind.name, kind.args, json: false, failing: kind.name == "render-dataset")
        let png = try screenshot(run.path, width: 1280, height: 1400)
        let size = try #require(Chromium.pngSize(png))
        #expect(size.width == 1280 && size.height == 1400)
        let blankHTML = HTMLRun.dir.appendingPathComponent("\(kind.name)-blank.html")
        try Data("<!DOCTYPE html><html><body></body></html>".utf8).write(to: blankHTML)
        let blank = try screenshot(blankHTML, width: 1280, height: 1400)
        #expect(png.count > 30_000 && png.count > 5 * blank.count, "\(kind.name): screenshot \(png.count) bytes vs blank \(blank.count)")
        print("\(kind.name) screenshot: \(run.path.deletingPathExtension().path).png (\(png.count) bytes)")
    }
}
