import Foundation
import ReportTestSupport
import Testing

/// `mechanic patch --html`: every value of the `--json` result appears in a heatmap cell's hover
/// title (layer × position, layer × head, one grid per patch type for `_every`), path patching
/// as a grid and a table.
@Suite struct HTMLReportPatchTests {
    static let model = CLI.model("gpt2-tiny")
    static let pair = ["--clean-tokens", "499,50,337,68,259,273,64", "--corrupt-tokens", "499,50,337,68,259,474,64",
                       "--answer-id", "65", "--wrong-id", "88", "--metric", "normalized_logit_diff"]

    /// The cell titles a `[layer, pos]` grid would have (`L{l} · {p} {token}: value`).
    static func layerPosCells(_ values: Any?, tokens: [String]) -> [String] {
        (values as? [[Any]] ?? []).enumerated().flatMap { l, row in
            row.enumerated().map { p, v in "L\(l) · \(p) \(shown(tokens[p])): \(fmt(v))" }
        }
    }

    static func layerHeadCells(_ values: Any?) -> [String] {
        (values as? [[Any]] ?? []).enumerated().flatMap { l, row in row.enumerated().map { h, v in "L\(l) · H\(h): \(fmt(v))" } }
    }

    /// The clean prompt's pieces (from `lens --json`), as the report labels positions.
    static func pieces() throws -> [String] {
        let json = try CLI.json(CLI.run(["lens", "--model", model, "--tokens", "499,50,337,68,259,273,64", "--json"]))
        return json["str_tokens"] as? [String] ?? []
    }

    @Test func residPatchingReportHasEveryLayerPositionCell() throws {
        let run = try HTMLRun.run("patch-resid", ["patch", "--model", Self.model] + Self.pair + ["--act", "resid_pre"])
        run.expectWellFormed()
        #expect(run.json["axes"] as? [String] == ["layer", "pos"])
        let tokens = try Self.pieces()
        #expect(tokens.count == 7)
        let cells = Self.layerPosCells(run.json["values"], tokens: tokens)
        #expect(cells.count == 14)
        HTMLRun.expectAll(cells, in: run.titles, "layer × position cells")
        for key in ["clean_logit_diff", "corrupt_logit_diff"] { #expect(run.cells.contains(fmt(run.json[key], double: true)), "\(key)") }
        // The changed token is shaded in both prompts.
        #expect(HTMLCheck.matches(#"class="t changed""#, in: run.html, group: 0).count == 2)
    }

    @Test func headPatchingReportHasEveryLayerHeadCell() throws {
        let run = try HTMLRun.run("patch-heads", ["patch", "--model", Self.model] + Self.pair + ["--act", "attn_head_out_all_pos"])
        run.expectWellFormed()
        HTMLRun.expectAll(Self.layerHeadCells(run.json["values"]), in: run.titles, "layer × head cells")
    }

    @Test func everyVariantsAreSeveralHeatmaps() throws {
        let run = try HTMLRun.run("patch-block-every", ["patch", "--model", Self.model] + Self.pair + ["--act", "block_every"])
        run.expectWellFormed()
        let parts = try #require(run.json["values"] as? [Any])
        #expect(parts.count == 3)
        let tokens = try Self.pieces()
        for (i, name) in ["resid_pre", "attn_out", "mlp_out"].enumerated() {
            #expect(run.html.contains("<div class=\"figtitle\">\(name): layer × position</div>"))
            HTMLRun.expectAll(Self.layerPosCells(parts[i], tokens: tokens), in: run.titles, "\(name) cells")
        }
        let heads = try HTMLRun.run("patch-heads-every", ["patch", "--model", Self.model] + Self.pair + ["--act", "attn_head_all_pos_every"])
        heads.expectWellFormed()
        let headParts = try #require(heads.json["values"] as? [Any])
        #expect(headParts.count == 5 && HTMLCheck.matches(#"<div class="figtitle">[^<]*: layer × head</div>"#, in: heads.html, group: 0).count == 5)
        // Each part's cells; the same value may be drawn by several parts, so compare per part by order.
        for part in headParts { HTMLRun.expectAll(Self.layerHeadCells(part), in: heads.titles, "head cells") }
    }

    @Test func pathPatchingReportHasAGridAndATable() throws {
        let grid = try HTMLRun.run("patch-path-grid", ["patch", "--model", Self.model] + Self.pair + ["--path-receivers", "logits"])
        grid.expectWellFormed()
        HTMLRun.expectAll(Self.layerHeadCells(grid.json["values"]), in: grid.titles, "sender cells")
        let values = (grid.json["values"] as? [[Double]] ?? []).flatMap { $0 }
        #expect(values.count == 8)
        // The table lists the heads whose patch moves the metric most (path patching changes the clean run).
        let strongest = try #require(values.indices.max { abs(values[$0] - 1) < abs(values[$1] - 1) })
        #expect(grid.cells.contains("L\(strongest / 4)H\(strongest % 4)") && grid.cells.contains(fmt(values[strongest])))

        let one = try HTMLRun.run("patch-path-one", ["patch", "--model", Self.model] + Self.pair + ["--path-senders", "L0H1", "--path-receivers", "L1H2:q"])
        one.expectWellFormed()
        #expect(one.html.contains("Result: \(fmt(one.json["values"]))"))
        #expect(one.cells.contains("L0H1") && one.cells.contains("L1H2:q"))
    }
}
