import Foundation
import Testing
import FixtureSupport
import ReportTestSupport
import MechanicAnalysis

/// `mechanic circuit` end to end: pairs file → MIB JSON, text and HTML report.
@Suite struct CircuitCLITests {
    /// Three induction pairs for the planted model (first half corrupted), as token ids.
    static func plantedPairs() throws -> URL {
        let lines = [
            #"{"clean": [47, 3, 17, 29, 8, 40, 12, 21, 5, 3, 17, 29, 8, 40, 12, 21], "corrupt": [47, 33, 1, 19, 44, 7, 26, 14, 38, 3, 17, 29, 8, 40, 12, 21], "answer": 5, "wrong": 30}"#,
            #"{"clean": [47, 9, 2, 36, 22, 15, 41, 6, 28, 9, 2, 36, 22, 15, 41, 6], "corrupt": [47, 11, 43, 20, 0, 35, 16, 24, 10, 9, 2, 36, 22, 15, 41, 6], "answer": 28, "wrong": 13}"#,
        ]
        let url = HTMLRun.dir.appendingPathComponent("circuit-pairs.jsonl")
        try (lines.joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    @Test func eapOnThePlantedModel() throws {
        let run = try HTMLRun.run("circuit-eap", ["circuit", "--model", "planted:induction", "--dataset", try Self.plantedPairs().path,
                                                  "--top-n", "5", "--evaluate"])
        run.expectWellFormed()
        let edges = run.json["edges"] as? [String: [String: Any]] ?? [:]
        let inGraph = Set(edges.filter { ($0.value["in_graph"] as? Bool) == true }.map(\.key))
        // Only 4 edges score non-zero on the planted model: --top-n 5 leaves the zero-score edges out.
        #expect(inGraph.count == 4 && inGraph.contains("a0.h0->a1.h0<k>") && inGraph.contains("a1.h0->logits"))
        #expect(edges.filter { ($0.value["score"] as? Double) != 0 }.count == 4)
        #expect((run.json["cfg"] as? [String: Any])?["n_layers"] as? Int == 2)
        let evaluation = run.json["evaluation"] as? [String: Any] ?? [:]
        #expect(abs(((evaluation["faithfulness"] as? Double) ?? 0) - 1) < 1e-3)
        // Every circuit edge is drawn with its score on hover, and listed in the table.
        HTMLRun.expectAll(inGraph.map { "\($0): \(fmt(edges[$0]?["score"]))" }, in: run.titles, "edge curves")
        HTMLRun.expectAll(Array(inGraph), in: run.cells, "table rows")
        #expect(run.html.contains("Faithfulness of the top edges"))
    }

    @Test func strongestLeftOutEdgesAreDrawnFaintly() throws {
        let run = try HTMLRun.run("circuit-faint", ["circuit", "--model", "planted:induction", "--dataset", try Self.plantedPairs().path,
                                                    "--top-n", "2", "--eap-metric", "loss"])
        run.expectWellFormed()
        let edges = run.json["edges"] as? [String: [String: Any]] ?? [:]
        #expect(run.json["metric"] as? String == "loss")
        let left = edges.filter { ($0.value["in_graph"] as? Bool) == false && ($0.value["score"] as? Double ?? 0) != 0 }
        #expect(!left.isEmpty && edges.filter { ($0.value["in_graph"] as? Bool) == true }.count == 2)
        let strongest = left.sorted { abs($0.value["score"] as? Double ?? 0) > abs($1.value["score"] as? Double ?? 0) }.prefix(20)
        HTMLRun.expectAll(strongest.map { "\($0.key): \(fmt($0.value["score"])) (not in the circuit)" }, in: run.titles, "faint edges")
    }

    @Test func acdcTextOutput() throws {
        let r = try CLI.run(["circuit", "--model", "planted:induction", "--dataset", try Self.plantedPairs().path,
                             "--method", "acdc", "--threshold", "0.05"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.hasPrefix("acdc: 4 of 52 edges in the circuit, 2 pairs"))
        #expect(r.stdout.contains("a0.h0->a1.h0<k>") && r.stdout.contains("a1.h0->logits") && !r.stdout.contains("a1.h1"))
    }

    @Test func badInputIsOneSentence() throws {
        let pairs = try Self.plantedPairs().path
        for (args, needle) in [(["--top-n", "-3"], "--top-n -3"), (["--method", "eap-ig", "--ig-steps", "0"], "--ig-steps 0"),
                               (["--method", "acdc", "--top-n", "3"], "--top-n applies to eap")] {
            let r = try CLI.run(["circuit", "--model", "planted:induction", "--dataset", pairs] + args)
            #expect(r.status != 0)
            #expect(r.stderr.contains(needle), "\(args): \(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1, "\(args): \(r.stderr)")
        }
        let missing = try CLI.run(["circuit", "--model", "planted:induction", "--dataset", "/nonexistent/pairs.jsonl"])
        #expect(missing.status != 0 && missing.stderr.contains("/nonexistent/pairs.jsonl"))
    }
}
