import Testing
import FixtureSupport
import Mechanic
@testable import MechanicAnalysis

/// A small patching run caches every activation in the forwards its metrics need
/// (`PatchingRun.prefetchBytes`), with the values of forwards that cache only what is asked.
@Suite struct PatchingPrefetchTests {
    @Test(arguments: PatchingFixtures.models)
    func smallRunCachesEveryActivationInItsFirstForwards(_ name: String) throws {
        let model = try PatchingFixtures.model(name)
        let c = model.config
        let pair = try PatchingFixtures.pair(name)
        let run = try PatchingRun(model: model, pairs: [pair])
        let all = c.hookNames()
        #expect(Set(run.cleanCache.keys) == Set(all))
        #expect(Set(run.corruptCache.keys) == Set(all))
        let names = ["blocks.0.hook_resid_pre", "blocks.1.attn.hook_pattern", "blocks.\(c.nLayers - 1).hook_mlp_out",
                     "blocks.\(c.nLayers - 1).hook_resid_post"]
        for (tokens, cache) in [(pair.clean, run.cleanCache), (pair.corrupt, run.corruptCache)] {
            for n in names {   // as `ensure` computes it: a forward caching that name only
                let want = try model.forward(TokenBatch(tokens), options: ForwardOptions(cache: .names([n]), logits: .none)).cache.require(n)
                #expect(cache[n]?.shape == want.shape)
                #expect(cache[n]?.data == want.data, "\(name): \(n)")
            }
        }
        // The metrics are those of plain forwards (no cache).
        func logitDiff(_ tokens: [Int]) throws -> Double {
            let logits = try #require(try model.forward(TokenBatch(tokens), options: ForwardOptions(logits: .last)).logits)
            return Double(logits.data[pair.answer]) - Double(logits.data[pair.wrong])
        }
        #expect(run.cleanMetric == (try logitDiff(pair.clean)))
        #expect(run.corruptMetric == (try logitDiff(pair.corrupt)))
    }

    /// Past the budget nothing is cached up front: activations come when a sweep asks for them.
    @Test func largeRunCachesNothingUpFront() throws {
        let model = try PatchingFixtures.model("gpt2-tiny")
        let c = model.config
        let pair = try PatchingFixtures.pair("gpt2-tiny")
        let P = pair.clean.count
        var n = 1
        while c.cacheBytes(c.hookNames(), batch: n, pos: P, keys: P) <= PatchingRun.prefetchBytes { n += 1 }
        let run = try PatchingRun(model: model, pairs: [PatchingPair](repeating: pair, count: n))
        #expect(run.cleanCache.isEmpty && run.corruptCache.isEmpty)
        let name = "blocks.0.hook_resid_pre"
        try run.ensure([name])
        #expect(Array(run.cleanCache.keys) == [name])
        #expect(Array(run.corruptCache.keys) == [name])
    }
}
