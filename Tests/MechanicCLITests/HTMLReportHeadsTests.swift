import Foundation
import ReportTestSupport
import Testing

/// `--html` of heads (every analysis), dataset, neurons, congruence and demo: well-formed, and
/// carrying the numbers of the same command's `--json` output.
@Suite struct HTMLReportHeadsTests {
    static let model = CLI.model("gpt2-tiny")
    static let ioi = "When John and Mary went to the store, John gave a drink to"

    /// `[[score]]` by layer and head as the heatmap titles `L{l} · H{h}: value`.
    static func headCells(_ scores: Any?) -> [String] {
        (scores as? [[Any]] ?? []).enumerated().flatMap { l, row in row.enumerated().map { h, v in "L\(l) · H\(h): \(fmt(v))" } }
    }

    @Test func detectReportCarriesEveryScoreAndTheDetectionPattern() throws {
        let run = try HTMLRun.run("heads-detect", ["heads", "--model", Self.model, "--tokens", "499,50,337,68,50,337,68", "--detect", "duplicate_token"])
        run.expectWellFormed()
        let cells = Self.headCells(run.json["scores"])
        #expect(cells.count == 8)
        HTMLRun.expectAll(cells, in: run.titles, "score cells")
        // The duplicate-token detection pattern: query 4 (token 50) → key 1 (the earlier 50) is 1, → key 0 is 0.
        #expect(run.titles.contains("detection pattern · query 4 \"S\" → key 1 \"S\": 1"))
        #expect(run.titles.contains("detection pattern · query 4 \"S\" → key 0 \"<|endoftext|>\": 0"))
    }

    @Test func inductionReportOnThePlantedModelRanksL1H0First() throws {
        let run = try HTMLRun.run("heads-induction", ["heads", "--model", "planted:induction", "--induction", "--distinct", "--seq-len", "12"])
        run.expectWellFormed()
        HTMLRun.expectAll(Self.headCells(run.json["scores"]), in: run.titles, "induction cells")
        let scores = run.json["scores"] as? [[Double]] ?? []
        let best = try #require(scores.enumerated().flatMap { l, r in r.enumerated().map { ("L\(l)H\($0)", $1) } }.max { $0.1 < $1.1 })
        #expect(best.0 == "L1H0" && best.1 > 0.99)
        // The first ranked bar is the planted induction head.
        let bar = try #require(HTMLCheck.matches(#"Top heads: induction score[\s\S]*?<title>([^<]*)</title>"#, in: run.html, group: 1).first)
        #expect(bar == "L1H0: \(fmt(best.1))")
    }

    @Test func patternReportCarriesEveryWeight() throws {
        let run = try HTMLRun.run("heads-pattern", ["heads", "--model", Self.model, "--prompt", "The cat sat on the mat", "--pattern", "1:2"])
        run.expectWellFormed()
        let pattern = try #require(run.json["pattern"] as? [[Any]])
        let pieces = run.json["str_tokens"] as? [String] ?? []
        var expected: [String] = []
        for (q, row) in pattern.enumerated() {
            for (k, w) in row.enumerated() where k <= q {
                expected.append("L1H2 · query \(q) \"\(shown(pieces[q]))\" → key \(k) \"\(shown(pieces[k]))\": \(fmt(w))")
            }
        }
        HTMLRun.expectAll(expected, in: run.titles, "attention weights")
    }

    @Test func copyScoreReportCarriesAllThreeScores() throws {
        let run = try HTMLRun.run("heads-copy", ["heads", "--model", Self.model, "--copy-scores", "--top-k", "5"])
        run.expectWellFormed()
        for key in ["copy_fraction", "eigen_score", "positive_eigen_fraction"] {
            HTMLRun.expectAll(Self.headCells(run.json[key]), in: run.titles, key)
        }
        #expect(run.meta["embedding"] == "direct" && run.meta["top-k"] == "5")
    }

    @Test func compositionReportHasOneGridPerLayerPair() throws {
        let run = try HTMLRun.run("heads-composition", ["heads", "--model", CLI.model("llama-tiny"), "--composition", "Q"])
        run.expectWellFormed()
        let s = try #require(run.json["scores"] as? [[[[Double]]]])
        let (L, H) = (s.count, s[0].count)
        var cells: [String] = []
        for a in 0..<L { for b in 0..<H { for c in (a + 1)..<max(a + 1, L) { for d in 0..<H { cells.append("L\(a)H\(b) · L\(c)H\(d): \(fmt(s[a][b][c][d]))") } } } }
        #expect(cells.count == L * (L - 1) / 2 * H * H)
        HTMLRun.expectAll(cells, in: run.titles, "composition cells")
        #expect(HTMLCheck.matches(#"<div class="figtitle">L\d → L\d</div>"#, in: run.html, group: 0).count == L * (L - 1) / 2)
    }

    @Test func nameMoverReportPlotsEveryHead() throws {
        let run = try HTMLRun.run("heads-name-movers", ["heads", "--model", Self.model, "--prompt", Self.ioi, "--name-movers",
                                                        "--answer", " Mary", "--wrong", " John"])
        run.expectWellFormed()
        let heads = try #require(run.json["heads"] as? [[String: Any]])
        HTMLRun.expectAll(heads.map { "L\($0["layer"] as? Int ?? -1)H\($0["head"] as? Int ?? -1): (\(fmt($0["attn_to_answer"])), \(fmt($0["direct_effect"])))" },
                          in: run.titles, "scatter points")
        HTMLRun.expectAll(heads.map { "L\($0["layer"] as? Int ?? -1) · H\($0["head"] as? Int ?? -1): \(fmt($0["direct_effect"]))" },
                          in: run.titles, "direct-effect cells")
    }

    /// GPT-2's real tokenizer files (`shared/data/tokenizers/gpt2` beside the repository).
    static let gpt2Tokenizer = CLI.fixtures.appendingPathComponent("../../../shared/data/tokenizers/gpt2").standardized.path

    @Test(.enabled(if: FileManager.default.fileExists(atPath: gpt2Tokenizer + "/vocab.json"), "SKIPPED: no GPT-2 tokenizer files beside the repository"))
    func datasetReportSummarisesThePairs() throws {
        let out = HTMLRun.dir.appendingPathComponent("pairs.jsonl")
        let run = try HTMLRun.run("dataset", ["dataset", "--model", Self.gpt2Tokenizer,
                                              "--ioi", "--count", "12", "--seed", "3", "--out", out.path])
        run.expectWellFormed()
        #expect(run.json["kept"] as? Int == 12)
        #expect(run.cells.contains(String(run.json["attempts"] as? Int ?? -1)) || run.html.contains("of \(run.json["attempts"] as? Int ?? -1) candidate pairs"))
        let lines = try String(contentsOf: out, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 12)
        for line in lines {
            let pair = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            #expect(run.cells.contains(pair["clean"] as? String ?? "?") && run.cells.contains(pair["corrupt"] as? String ?? "?"))
            #expect(run.cells.contains(String(pair["answer_id"] as? Int ?? -1)))
        }
    }

    @Test func dropsAreListedWithTheirCounts() throws {
        // The tiny model's vocabulary splits most names: every IOI candidate is dropped, so the
        // command fails (issue 10) — after writing the report that lists the drops.
        let run = try HTMLRun.run("dataset-drops", ["dataset", "--model", Self.model, "--ioi", "--count", "5", "--max-attempts", "50",
                                                    "--out", HTMLRun.dir.appendingPathComponent("drops.jsonl").path], failing: true)
        run.expectWellFormed()
        let dropped = try #require(run.json["dropped"] as? [String: Int])
        #expect(!dropped.isEmpty)
        for (reason, n) in dropped {
            #expect(run.cells.contains("dropped: \(reason.replacingOccurrences(of: "_", with: " "))") && run.cells.contains(String(n)))
        }
    }

    @Test func demoReportListsTheIdentifiedHeadsWithTheirScores() throws {
        let run = try HTMLRun.run("demo", ["demo", "--seq-len", "10", "--batch", "4"])
        run.expectWellFormed()
        #expect(run.json["induction_heads"] as? [String] == ["L1H0"])
        let scores = try #require(run.json["scores"] as? [String: [String: Double]])
        let induction = try #require(scores["induction_score"])
        HTMLRun.expectAll(induction.map { head, v in "L\(head.dropFirst().prefix { $0 != "H" }) · H\(head.split(separator: "H").last ?? ""): \(fmt(v))" },
                          in: run.titles, "induction cells")
    }

    @Test func congruenceAndNeuronReportsCarryTheirStatistics() throws {
        let c = try HTMLRun.run("congruence", ["congruence", "--model", Self.model, "--tokens", "10,20,30,40,50,60"])
        c.expectWellFormed()
        for s in c.json["series"] as? [[String: Any]] ?? [] {
            for key in ["mean", "std", "min", "max"] { #expect(c.cells.contains(fmt(s[key], double: true)), "\(key)") }
        }
        let corpus = HTMLRun.dir.appendingPathComponent("corpus.txt")
        try Data("The cat sat on the mat\nJohn and Mary went to the store\n".utf8).write(to: corpus)
        let n = try HTMLRun.run("neurons", ["neurons", "--model", Self.model, "--neuron", "1:7", "--corpus", corpus.path, "--top", "5", "--no-progress"])
        n.expectWellFormed()
        let stats = try #require(n.json["stats"] as? [String: Any])
        for key in ["mean", "std", "min", "max"] { #expect(n.cells.contains(fmt(stats[key], double: true)), "\(key)") }
        let examples = n.json["examples"] as? [[String: Any]] ?? []
        #expect(examples.count == 5)
        for e in examples { #expect(n.html.contains("\(fmt(e["value"])) · doc \(e["document"] as? Int ?? -1):\(e["position"] as? Int ?? -1)")) }
    }
}
