import Foundation
import Testing
import FixtureSupport
@testable import Mechanic
@testable import MechanicAnalysis

/// The head page's mean ablation (over the prompt's positions or a corpus) and user mapping
/// score, against direct computations from the cache and the weights.
@Suite struct ExplorerHeadTests {
    /// `hook_z` of head `h` set at every position to `mean` (`[d_head]`).
    static func setHead(_ layer: Int, _ h: Int, to mean: [Float]) -> Hook {
        Hook("blocks.\(layer).attn.hook_z") { act, _ in  // [1, pos, head, d_head]
            let (n, H, dh) = (act.shape[1], act.shape[2], act.shape[3])
            for p in 0..<n { for j in 0..<dh { act.data[(p * H + h) * dh + j] = mean[j] } }
        }
    }

    /// Mean of head `h`'s `z` over every position of `prompts`, summed in double precision.
    static func meanZ(_ m: HookedTransformer, _ layer: Int, _ h: Int, _ prompts: [[Int]]) throws -> [Float] {
        let name = "blocks.\(layer).attn.hook_z"
        var sum: [Double] = [], count = 0
        for prompt in prompts {
            let z = try m.runWithCache(TokenBatch(prompt), names: .names([name])).1.require(name)  // [1, pos, head, d_head]
            let (n, H, dh) = (z.shape[1], z.shape[2], z.shape[3])
            if sum.isEmpty { sum = [Double](repeating: 0, count: dh) }
            for p in 0..<n { for j in 0..<dh { sum[j] += Double(z.data[(p * H + h) * dh + j]) } }
            count += n
        }
        return sum.map { Float($0 / Double(count)) }
    }

    @Test func meanAblationSetsTheHeadToItsMeanOverThePromptOrTheCorpus() throws {
        let m = try TestFixtures.load("gpt2-tiny")
        let tokens = try m.toTokens("The cat sat on the mat and the dog")
        let corpus = [try m.toTokens("A dog ran in the park."), try m.toTokens("The cat and the dog were friends")]
        let batch = TokenBatch(tokens)
        for (over, prompts) in [("prompt", [tokens]), ("corpus", corpus)] {
            let h = try HeadOverview.run(model: m, layer: 1, head: 2, tokens: tokens, sources: nil, meanCorpus: over == "corpus" ? corpus : nil)
            let on = try #require(h.prompt)
            #expect(on.meanOver == over && on.meanPositions == prompts.map(\.count).reduce(0, +))
            let want = Loss.perToken(logits: try m.runWithHooks(batch, hooks: [Self.setHead(1, 2, to: try Self.meanZ(m, 1, 2, prompts))]), batch: batch).data
            #expect(Float32Rounding.mismatch("mean-ablated loss over the \(over)", on.meanLossAfter, want) == nil)
            // Not the zero ablation, not the clean run.
            #expect(zip(on.meanLossAfter, on.lossAfter).contains { abs($0 - $1) > 1e-4 })
            #expect(zip(on.meanLossAfter, on.lossBefore).contains { abs($0 - $1) > 1e-4 })
            let last = try m.runWithHooks(batch, hooks: [Self.setHead(1, 2, to: try Self.meanZ(m, 1, 2, prompts))])
            let V = m.config.dVocab, n = tokens.count
            #expect(on.meanTopAfter.map(\.id) == LogitRow(Array(last.data[((n - 1) * V)..<(n * V)])).top(5, model: m).map(\.id))
        }
    }

    @Test func browseMeanModeAblatesWithTheDocumentsMean() throws {
        // Before: `mean` averaged over the one document position by position, which is the
        // document itself, so every delta was 0.
        let p = try PlantedInductionModel.build()
        let doc = ExplorerOverviewTests.repeated(p)
        var corpus = DocumentList(tokens: [doc])
        let b = try AblationBrowse.run(model: p.model, layer: 1, head: 0, corpus: &corpus, mode: .mean, top: 3)
        let batch = TokenBatch(doc)
        let want = Loss.perToken(logits: try p.model.runWithHooks(batch, hooks: [Self.setHead(1, 0, to: try Self.meanZ(p.model, 1, 0, [doc]))]),
                                 batch: batch).data
        #expect(b.helps.count == 3)
        for e in b.helps + b.hurts { #expect(Float32Rounding.agree(Double(e.lossAfter), Double(want[e.position - 1]))) }
        #expect(b.helps[0].delta > 1, "\(b.helps[0])")
    }

    @Test func mappingScoreIsTheRankOfEachTargetInTheFullOVCircuit() throws {
        let m = try TestFixtures.load("gpt2-tiny")
        let (D, V) = (m.config.dModel, m.config.dVocab)
        let pairs = [(5, 9), (17, 17), (100, 3), (250, 499)]
        let k = 20
        let h = try HeadOverview.run(model: m, layer: 1, head: 2, tokens: nil, sources: nil,
                                     mapping: TokenMapping(pairs: pairs.map { ($0.0, $0.1) }), mappingK: k)
        let score = try #require(h.mapping)
        // Directly: W_E[s] · W_V[1, 2] · W_O[1, 2] · W_U in double precision.
        let b = m.weights.blocks[1], dh = m.config.dHead
        var ranks: [Int] = []
        for (i, (s, t)) in pairs.enumerated() {
            let e = (0..<D).map { Double(m.weights.W_E.data[s * D + $0]) }
            let v = (0..<dh).map { j in (0..<D).reduce(0.0) { $0 + e[$1] * Double(b.W_V.data[(2 * D + $1) * dh + j]) } }       // W_V [H, D, dh]
            let o = (0..<D).map { c in (0..<dh).reduce(0.0) { $0 + v[$1] * Double(b.W_O.data[(2 * dh + $1) * D + c]) } }      // W_O [H, dh, D]
            let logits = (0..<V).map { u in (0..<D).reduce(0.0) { $0 + o[$1] * Double(m.weights.W_U.data[$1 * V + u]) } }   // W_U [D, V]
            let rank = 1 + logits.indices.filter { logits[$0] > logits[t] || (logits[$0] == logits[t] && $0 < t) }.count
            let maxAbs = logits.map(abs).max() ?? 1
            #expect(abs(Double(score.pairs[i].logit) - logits[t]) <= 1e-4 * maxAbs, "pair \(i)")
            #expect(score.pairs[i].rank == rank, "pair \(i): \(score.pairs[i].rank) vs \(rank)")
            #expect(score.pairs[i].source == s && score.pairs[i].target == t)
            ranks.append(rank)
        }
        #expect(score.k == k)
        #expect(score.topKFraction == Double(ranks.filter { $0 <= k }.count) / Double(ranks.count))
        #expect(abs(score.meanRank - Double(ranks.reduce(0, +)) / Double(ranks.count)) < 1e-12)
        // The planted induction model's L1H0 copies: each source is its own top output.
        let p = try PlantedInductionModel.build()
        let copy = try #require(try HeadOverview.run(model: p.model, layer: 1, head: 0, tokens: nil, sources: [3],
                                                     mapping: TokenMapping(pairs: [(3, 3), (17, 17)]), mappingK: 1).mapping)
        #expect(copy.pairs.map(\.rank) == [1, 1] && copy.topKFraction == 1 && copy.meanRank == 1)
    }

    @Test func mappingTextParsesWordsQuotedTokensAndIds() throws {
        let vocab = ["hot": 1, "cold": 2, "big": 3, "small": 4, " hot": 5, " cold": 6]
        let resolve = { (s: String) throws -> Int in
            guard let id = vocab[s] else { throw MechanicError.invalidArgument("'\(s)' is not one token") }
            return id
        }
        let m = try TokenMapping.parse(text: "hot:cold, big:small", resolve: resolve)
        #expect(m.pairs.map { [$0.source, $0.target] } == [[1, 2], [3, 4]])
        #expect(m.labels.map { [$0.source, $0.target] } == [["hot", "cold"], ["big", "small"]])
        let q = try TokenMapping.parse(text: "\" hot\" : \" cold\"\n 7:big,", resolve: resolve)
        #expect(q.pairs.map { [$0.source, $0.target] } == [[5, 6], [7, 3]])
        #expect(throws: MechanicError.self) { try TokenMapping.parse(text: "hot", resolve: resolve) }
        #expect(throws: MechanicError.self) { try TokenMapping.parse(text: "hot:cold:big", resolve: resolve) }
        #expect(throws: MechanicError.self) { try TokenMapping.parse(text: "warm:cold", resolve: resolve) }
        #expect(throws: MechanicError.self) { try TokenMapping.parse(text: "\"hot:cold", resolve: resolve) }
        #expect(throws: MechanicError.self) { try TokenMapping.parse(text: " , ", resolve: resolve) }
    }
}
