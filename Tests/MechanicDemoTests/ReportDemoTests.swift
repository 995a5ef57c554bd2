import Foundation
import FixtureSupport
import ReportTestSupport
import Testing
@testable import Mechanic
@testable import MechanicAnalysis
@testable import MechanicDemo

@Suite struct ReportDemoTests {
    static let planted: Result<DemoResult, Error> = Result { try Demo.run(try Demo.plantedSubject()) }

    func result() throws -> DemoResult { try Self.planted.get() }

    @Test func plantedHeadsRankFirstInTheHeadScores() throws {
        let r = try result()
        #expect(r.previousToken.ranked.first?.head == "L0H0")
        #expect(r.induction.ranked.first?.head == "L1H0")
        #expect(r.copying.ranked.first?.head == "L1H0")
        // The construction makes these scores ≈ 1 and every other head's ≈ 0 on the same key.
        #expect((r.previousToken.ranked.first?.score ?? 0) > 0.99 && (r.induction.ranked.first?.score ?? 0) > 0.99)
        #expect(r.previousToken.ranked.dropFirst().allSatisfy { $0.score < 0.1 })
        #expect(r.induction.ranked.dropFirst().allSatisfy { $0.score < 0.01 })
        // L1H0 copies every token. The other heads write nothing the unembedding reads, so every logit of
        // their OV rows ties and argmax's tie rule (the smaller id wins, as in `copyScores`) credits
        // token 0 alone: 1 of the 47 non-BOS tokens scored.
        #expect(r.copying.values[1][0] == 1)
        for (l, h) in [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2)] { #expect(abs(r.copying.values[l][h] - 1 / 47) < 1e-7, "L\(l)H\(h)") }
        let ids = r.identified
        #expect(ids["previous_token_heads"] == ["L0H0"])
        #expect(ids["induction_heads"] == ["L1H0"])
        #expect(ids["copy_heads"] == ["L1H0"])
        // Decoys are recognised for what they are.
        #expect(ids["duplicate_token_heads"] == ["L1H1"])
        #expect(Set(ids["bos_heads"] ?? []) == ["L0H1", "L1H2"])
    }

    @Test func plantedHeadsRankFirstInThePatchingResults() throws {
        let pair = try #require(try result().pair)
        let ranked = pair.headPatching.ranked
        #expect(Set(ranked.prefix(2).map(\.head)) == ["L0H0", "L1H0"])
        #expect(ranked.prefix(2).allSatisfy { abs($0.score - 1) < 0.01 })
        #expect(ranked.dropFirst(2).allSatisfy { abs($0.score) < 0.01 })
        #expect(try result().identified["patching_heads"] == ["L0H0", "L1H0"])
        #expect(abs(pair.cleanMetric - 10) < 0.01 && pair.corruptedMetric < 1)
        // Residual patching: the information sits on the corrupted token (position 6) before layer 0
        // and on the token after it (position 7) before layer 1, where the induction head's key reads it.
        let r0 = pair.residPatching[0], r1 = pair.residPatching[1]
        #expect(abs(r0[6] - 1) < 0.01 && r0.enumerated().allSatisfy { $0.offset == 6 || abs($0.element) < 0.01 })
        #expect(abs(r1[7] - 1) < 0.01 && r1.enumerated().allSatisfy { $0.offset == 7 || abs($0.element) < 0.01 })
    }

    @Test func logitLensShowsTheAnswerOnlyAfterTheInductionLayer() throws {
        let pair = try #require(try result().pair)
        // TransformerLens's accumulated_resid labels (attention-only: no _mid entries).
        #expect(pair.logitLens.map(\.label) == ["0_pre", "1_pre", "final_post"])
        // Nothing writes to the unembedding's subspace before L1H0: a uniform distribution over 48 tokens.
        for row in pair.logitLens.prefix(2) { #expect(abs((row.targetProbability ?? 0) - 1 / 48) < 1e-4) }
        let last = try #require(pair.logitLens.last)
        #expect(last.top.first?.token == pair.answerLabel && last.targetRank == 0 && (last.targetProbability ?? 0) > 0.99)
    }

    @Test func plantedHeadsRankFirstForOtherSeeds() throws {
        for seed in [UInt64(3), 11] {
            let r = try Demo.run(try Demo.plantedSubject(seed: seed), options: DemoOptions(seqLen: 12, batch: 4, seed: seed))
            #expect(r.identified["previous_token_heads"]?.first == "L0H0", "seed \(seed)")
            #expect(r.identified["induction_heads"]?.first == "L1H0", "seed \(seed)")
            #expect(Set(r.pair?.headPatching.ranked.prefix(2).map(\.head) ?? []) == ["L0H0", "L1H0"], "seed \(seed)")
        }
    }

    @Test func attentionScoresAreMeansOverTheTargetKeys() {
        // One layer, one head, 4 positions: pattern rows chosen by hand.
        let p: [Float] = [1, 0, 0, 0,
                          0.25, 0.75, 0, 0,
                          0.5, 0.5, 0, 0,
                          0, 0.2, 0.3, 0.5]
        let s = TargetAttention.scores([Tensor(shape: [1, 1, 4, 4], data: p)]) { q in q >= 1 ? q - 1 : nil }
        #expect(abs(s[0, 0] - (0.25 + 0.5 + 0.3) / 3) < 1e-6)
    }

    @Test func jsonListsTheHeadsByRole() throws {
        let json = try #require(try JSONSerialization.jsonObject(with: ResultJSON.data(result().summary)) as? [String: Any])
        #expect(JSONSerialization.isValidJSONObject(json))
        #expect(json["previous_token_heads"] as? [String] == ["L0H0"])
        #expect(json["induction_heads"] as? [String] == ["L1H0"])
        let scores = try #require(json["scores"] as? [String: Any])
        let induction = try #require(scores["induction_score"] as? [String: Double])
        #expect(induction.count == 6 && (induction["L1H0"] ?? 0) > 0.99)
        #expect((json["planted"] as? [String: [String]])?["induction"] == ["L1H0"])
    }

    @Test func anyModelRunsWithoutAPromptPairWhenItCannotTokenize() throws {
        let m = try CongruenceModels.random(seed: 4)
        let r = try Demo.run(Demo.modelSubject(m, name: "random"), options: DemoOptions(seqLen: 3, batch: 2))
        #expect(r.pair == nil && !r.notes.isEmpty)
        #expect(r.induction.values.count == 2 && r.induction.values.allSatisfy { $0.count == 2 })
        #expect(r.induction.values.flatMap { $0 }.allSatisfy { $0 >= 0 && $0 <= 1 })
        #expect(JSONSerialization.isValidJSONObject(try JSONSerialization.jsonObject(with: ResultJSON.data(r.summary))))
    }

    func demoReport() throws -> Report {
        var report = Report(title: "mechanic demo — planted induction model")
        report.add(try result())
        return report
    }

    @Test func demoReportIsWellFormedAndCarriesTheNumbers() throws {
        let html = try demoReport().html
        if let err = HTMLCheck.xmlError(HTMLCheck.withoutDoctype(html)) { Issue.record("not well-formed: \(err)") }
        #expect(HTMLCheck.count("✓ ranked first", in: html) == 2)
        let titles = Set(HTMLCheck.titles(html))
        let pair = try #require(try result().pair)
        for (l, row) in pair.headPatching.values.enumerated() {
            for (h, v) in row.enumerated() { #expect(titles.contains("L\(l) · H\(h): \(HTMLText.format(v))")) }
        }
        #expect(titles.contains("L1H0 · query 11 \"\(try result().repeatedLabels[11])\" → key 2 \"\(try result().repeatedLabels[2])\": \(HTMLText.format(try result().patterns[1][0][11][2]))"))
    }

    @Test(.enabled(if: Chromium.executable != nil,
                   "SKIPPED: chromium is not installed (apt-get install -y chromium) — the demo report was not rendered"))
    func demoReportRendersInHeadlessChromium() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mechanic-report-render")   // ReportRenderTests.outDir
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let html = dir.appendingPathComponent("demo.html")
        try writeReport(try demoReport(), to: html)
        let png = try Chromium.screenshot(html, png: dir.appendingPathComponent("demo.png"), width: 1280, height: 2400)
        let size = try #require(Chromium.pngSize(png))
        #expect(size.width == 1280 && size.height == 2400)
        #expect(png.count > 60_000, "the screenshot is only \(png.count) bytes")
        print("demo screenshot: \(dir.appendingPathComponent("demo.png").path) (\(png.count) bytes)")
    }
}
