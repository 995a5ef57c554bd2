import Foundation
import Testing
import FixtureSupport
import Mechanic
import MechanicAnalysis

/// `mechanic patch --attribution`: the JSON carries the library's estimates and exact checks.
@Suite struct PatchAttributionCLITests {
    @Test func attributionJSONMatchesTheLibrary() throws {
        let r = try CLI.run(["patch", "--model", CLI.model("llama-tiny"), "--clean-tokens", "1,5,9,3,7,2,8", "--corrupt-tokens", "1,6,9,3,8,2,8",
                             "--answer-id", "4", "--wrong-id", "11", "--act", "attn_head_k_all_pos", "--attribution", "atp*",
                             "--top-k", "2", "--json", "--quiet"])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try CLI.json(r)
        let model = try TestFixtures.load("llama-tiny")
        let run = try PatchingRun(model: model, clean: [1, 5, 9, 3, 7, 2, 8], corrupt: [1, 6, 9, 3, 8, 2, 8], answer: 4, wrong: 11)
        let want = try run.attribution(.attnHeadKAllPos, method: .atpStar, topK: 2)
        let rows = try #require(json["estimates"] as? [[Double]])
        #expect(rows.count == model.config.nLayers && rows[0].count == model.config.nKeyValueHeads)
        for l in 0..<rows.count {
            for h in 0..<rows[l].count {
                #expect(abs(rows[l][h] - Double(want.estimates.data[l * model.config.nKeyValueHeads + h])) < 1e-6)
            }
        }
        let checks = try #require(json["checks"] as? [[String: Any]])
        #expect(checks.count == 2)
        for (c, w) in zip(checks, want.checks) {
            #expect((c["index"] as? [Int]) == w.index)
            #expect(abs((c["exact"] as? Double ?? .nan) - w.exact) < 1e-6)
            #expect((c["hook"] as? String) == w.site.hook)
        }
        #expect((json["method"] as? String) == "atp*" && (json["act"] as? String) == "attn_head_k_all_pos")
    }

    @Test func attributionNeedsAnActFamily() throws {
        let r = try CLI.run(["patch", "--model", CLI.model("gpt2-tiny"), "--clean-tokens", "1,2,3", "--corrupt-tokens", "1,4,3",
                             "--answer-id", "4", "--wrong-id", "5", "--path-receivers", "logits", "--attribution", "atp"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("--attribution estimates the components of an --act family"))
    }
}
