import Foundation
import ReportTestSupport
import Testing

/// `--html` of lens, attribute, predict and diff: the report is well-formed and carries the numbers
/// of the same command's `--json` output, formatted as the report formats them.
@Suite struct HTMLReportLensTests {
    static let model = CLI.model("gpt2-tiny")
    static let ioi = "When John and Mary went to the store, John gave a drink to"

    @Test func lensReportCarriesEveryTopTokenAndTheAnswerPerLayer() throws {
        let run = try HTMLRun.run("lens", ["lens", "--model", Self.model, "--prompt", Self.ioi, "--answer", " Mary", "--top", "4"])
        run.expectWellFormed()
        let rows = try #require(run.json["rows"] as? [[String: Any]])
        #expect(rows.map { $0["label"] as? String } == ["0_pre", "0_mid", "1_pre", "1_mid", "final_post"])
        // Every table cell's hover: "<layer> #<i> "<token>": p = <prob>, logit = <logit>".
        var cellTips: [String] = [], answerProbs: [String] = [], answerRanks: [String] = []
        for row in rows {
            let label = row["label"] as? String ?? ""
            for (i, t) in (row["top"] as? [[String: Any]] ?? []).enumerated() {
                cellTips.append("\(label) #\(i + 1) \"\(shown(t["token"] as? String ?? ""))\": p = \(fmt(t["prob"])), logit = \(fmt(t["logit"]))")
            }
            let answer = try #require(row["answer"] as? [String: Any])
            answerProbs.append("\(label): \(fmt(answer["prob"]))")
            answerRanks.append("\(label): \(fmt(answer["rank"]))")
            #expect(run.cells.contains(String(answer["rank"] as? Int ?? -1)))
        }
        #expect(cellTips.count == 20)
        HTMLRun.expectAll(cellTips, in: run.titleAttributes, "lens cells")
        HTMLRun.expectAll(answerProbs + answerRanks, in: run.titles, "answer probability and rank points")
        // The top token's probability at the final layer, as the cell prints it (one decimal percent).
        let final = try #require((rows.last?["top"] as? [[String: Any]])?.first)
        let percent = String(format: "%.1f%%", 100 * Double(Float((final["prob"] as? Double) ?? 0)))
        #expect(run.html.contains("<small>\(percent)</small>"))
        #expect(run.meta["model"] == Self.model && run.meta["prompt"] == Self.ioi && run.meta["mode"] == "own")
        #expect(run.meta["answer"] == "\" Mary\" (id \(run.json["answer_id"] as? Int ?? -1))")
    }

    @Test func attributionReportCarriesEveryEntryAndTheHeadGrid() throws {
        let run = try HTMLRun.run("attribute", ["attribute", "--model", Self.model, "--prompt", Self.ioi, "--answer", " Mary",
                                                "--wrong", " John", "--top", "6"])
        run.expectWellFormed()
        let entries = try #require(run.json["entries"] as? [[String: Any]])
        #expect(entries.count == 6)
        HTMLRun.expectAll(entries.map { "\($0["label"] as? String ?? ""): \(fmt($0["value"]))" }, in: run.titles, "ranked bars")
        // The heatmap holds every head, not only the --top ones: compare with the full JSON.
        let full = try CLI.json(CLI.run(["attribute", "--model", Self.model, "--prompt", Self.ioi, "--answer", " Mary", "--wrong", " John",
                                         "--top", "1000", "--json"]))
        let heads = (full["entries"] as? [[String: Any]] ?? []).filter { $0["kind"] as? String == "head" }
        #expect(heads.count == 8)
        HTMLRun.expectAll(heads.map { "L\($0["layer"] as? Int ?? -1) · H\($0["head"] as? Int ?? -1): \(fmt($0["value"]))" }, in: run.titles, "head cells")
        for key in ["logit_diff", "total", "constant"] { #expect(run.cells.contains(fmt(run.json[key])), "\(key)") }
    }

    @Test func componentAttributionReportHasALayerByComponentGrid() throws {
        let run = try HTMLRun.run("attribute-component", ["attribute", "--model", CLI.model("pythia-tiny"), "--tokens", "3,17,42,9,100",
                                                          "--answer-id", "5", "--by", "component"])
        run.expectWellFormed()
        let entries = try #require(run.json["entries"] as? [[String: Any]])
        let layered = entries.filter { $0["layer"] is Int }
        #expect(!layered.isEmpty)
        HTMLRun.expectAll(layered.map { e in
            "L\(e["layer"] as? Int ?? -1) · \(e["kind"] as? String == "attn" ? "attn_out" : "mlp_out"): \(fmt(e["value"]))"
        }, in: run.titles, "layer × component cells")
    }

    @Test func testPromptReportCarriesRanksProbabilitiesAndTopTokens() throws {
        let run = try HTMLRun.run("predict", ["predict", "--model", Self.model, "--prompt", "The cat sat on the", "--answer", " mat and", "--top", "5"])
        run.expectWellFormed()
        let positions = try #require(run.json["positions"] as? [[String: Any]])
        #expect(positions.count == 2)
        for p in positions {
            let a = try #require(p["answer"] as? [String: Any])
            for v in [String(a["rank"] as? Int ?? -1), fmt(a["logit"]), fmt(a["prob"]), String(p["position"] as? Int ?? -1)] {
                #expect(run.cells.contains(v), "answer cell \(v)")
            }
            for t in p["top"] as? [[String: Any]] ?? [] {
                #expect(run.cells.contains("\"\(shown(t["token"] as? String ?? ""))\"") && run.cells.contains(fmt(t["prob"])) && run.cells.contains(fmt(t["logit"])))
            }
        }
        #expect(run.html.contains(fmt(run.json["answer_log_prob"])))
        // The answer tokens are marked in the prompt strip.
        #expect(HTMLCheck.matches(#"class="t answer""#, in: run.html, group: 0).count == 2)
    }

    @Test func plainPredictReportListsTheTopTokens() throws {
        let run = try HTMLRun.run("predict-plain", ["predict", "--model", Self.model, "--tokens", "499,279,410", "--top", "4"])
        run.expectWellFormed()
        let top = try #require(run.json["top"] as? [[String: Any]])
        HTMLRun.expectAll(top.map { "\($0["rank"] as? Int ?? -1). \(String(reflecting: $0["token"] as? String ?? "")): \(fmt($0["prob"]))" },
                          in: run.titles, "probability bars")
    }

    @Test func diffReportCarriesRankingLayersUnembeddingAndVerification() throws {
        let run = try HTMLRun.run("diff", ["diff", "--model", Self.model, "--a-tokens", "499,50,337,68,259,273", "--b-tokens", "499,50,337,68,259,474",
                                           "--verify", "3"])
        run.expectWellFormed()
        let components = try #require(run.json["components"] as? [[String: Any]])
        // Default ranking: relative norm.
        HTMLRun.expectAll(components.prefix(25).map { "\($0["label"] as? String ?? ""): \(fmt($0["relative_norm"]))" }, in: run.titles, "ranked bars")
        let byLayer = try #require(run.json["by_layer"] as? [[String: Any]])
        HTMLRun.expectAll(byLayer.map { "\($0["kind"] as? String ?? "") · L\($0["layer"] as? Int ?? -1): \(fmt($0["norm"]))" }, in: run.titles, "norm chart points")
        // Unembedded tokens as chips with their logit change.
        let up = byLayer.flatMap { ($0["up"] as? [[String: Any]] ?? []).prefix(8) }
        HTMLRun.expectAll(up.map { "\"\(shown($0["token"] as? String ?? ""))\": \(fmt($0["value"]))" }, in: run.titleAttributes, "unembedded tokens")
        let v = try #require(run.json["verification"] as? [String: Any])
        let results = v["results"] as? [[String: Any]] ?? []
        #expect(results.count == 3)
        for r in results { #expect(run.cells.contains(fmt(r["patched_metric"])) && run.cells.contains(fmt(r["fraction_restored"]))) }
        #expect(run.html.contains("\(fmt(v["metric_a"])) in A, \(fmt(v["metric_b"])) in B"))
        // Both tokenizations, the differing last token shaded on each side.
        #expect(HTMLCheck.matches(#"class="t changed focus""#, in: run.html, group: 0).count == 2)
    }
}
