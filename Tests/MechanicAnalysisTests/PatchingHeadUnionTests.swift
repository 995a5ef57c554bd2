import Foundation
import Testing
import Mechanic
@testable import MechanicAnalysis

@Suite struct PatchingHeadUnionTests {
    /// Head patches over several heads at once (unions) go through the rank-d_head updates of
    /// each touched head; grouped-query k/v heads touch their whole group.
    @Test func headUnionsMatchTheNaiveEngine() throws {
        let model = try PatchingFixtures.model("llama-tiny")   // 6 query heads, 2 key/value heads, rotary
        let p = try PatchingFixtures.pair("llama-tiny")
        let run = try PatchingRun(model: model, pairs: [p, PatchingPair(clean: p.corrupt, corrupt: p.clean, answer: p.wrong, wrong: p.answer)])
        let sites = [
            PatchSite("z", layer: 0, .union([.head(0), .positionHead(pos: 2, head: 3)])),
            PatchSite("q", layer: 1, .union([.head(5), .positionHead(pos: 7, head: 1)])),
            PatchSite("k", layer: 0, .union([.positionHead(pos: 4, head: 0), .head(1)])),
            PatchSite("v", layer: 1, .positionHead(pos: 6, head: 1)),
            PatchSite("pattern", layer: 0, .union([.patternHead(1), .patternDest(head: 4, dest: 3)])),
            PatchSite("z", layer: 1, .all),
        ]
        let fast = try run.evaluate(sites, engine: .fast)
        let naive = try run.evaluate(sites, engine: .naive)
        for (i, (a, b)) in zip(fast, naive).enumerated() {
            #expect(abs(a - b) <= 1e-5 + 1e-4 * abs(b), "site \(i): fast \(a) naive \(b)")
        }
        #expect(Set(naive.map { Float($0) }).count > 3)   // the patches do different things
    }
}
