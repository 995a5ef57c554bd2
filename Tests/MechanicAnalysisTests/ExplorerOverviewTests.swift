import Foundation
import Testing
import FixtureSupport
@testable import Mechanic
@testable import MechanicAnalysis

/// What the explorer's pages compute: the prompt overview, the head overview and the
/// ablation browse, against the model's own forward and the planted circuit.
@Suite struct ExplorerOverviewTests {
    /// [BOS] + r + r on the planted model: r has 8 distinct tokens.
    static func repeated(_ p: PlantedInductionModel) -> [Int] {
        let r = [3, 17, 5, 29, 11, 40, 23, 8]
        return [p.bos] + r + r
    }

    @Test func promptOverviewMatchesTheForward() throws {
        let m = try TestFixtures.load("gpt2-tiny")
        let tokens = try m.toTokens("The cat sat on the mat")
        let o = try PromptOverview.run(model: m, tokens: tokens, top: 3)
        let loss = try m.lossPerToken(TokenBatch(tokens)).data
        #expect(o.positions.count == tokens.count)
        for (p, l) in loss.enumerated() { #expect(o.positions[p].loss == l) }
        #expect(o.positions.last?.loss == nil)
        // The lens grid's final row is the model's own prediction of the answer at every position.
        let logits = try #require(try m.forward(TokenBatch(tokens)).logits)  // [1, n, V]
        let V = m.config.dVocab, answer = try #require(o.answer)
        let lens = try #require(o.lens)
        #expect(lens.labels.last == "final_post" && lens.labels.count == 2 * m.config.nLayers + 1)
        for p in tokens.indices {
            let row = LogitRow(Array(logits.data[(p * V)..<((p + 1) * V)]))
            #expect(abs(lens.prob[lens.labels.count - 1][p] - row.prob(answer.id)) <= 1e-5)
            #expect(lens.rank[lens.labels.count - 1][p] == row.rank(of: answer.id))
            #expect(o.positions[p].top.map(\.id) == row.top(3, model: m).map(\.id))
        }
        #expect(answer.rank == 0)  // default answer: the top prediction at the last position
        // Every cell is the logit lens at its position (one product for all positions here, one
        // per position there: equal to float32 rounding), in both modes.
        let (_, cache) = try m.runWithCache(TokenBatch(tokens), names: .names(LogitLens.cacheNames(m.config)))
        for mode in [LensMode.own, .final] {
            let grid = try #require(try PromptOverview.run(model: m, tokens: tokens, top: 3, mode: mode).lens)
            var got: [Double] = [], want: [Double] = []
            for p in tokens.indices {
                let (labels, logits) = try LogitLens.logits(model: m, cache: cache, position: p, mode: mode)  // [entries, V]
                #expect(labels == grid.labels)
                for i in labels.indices {
                    got.append(Double(grid.logit[i][p]))
                    want.append(Double(logits.data[i * V + answer.id]))
                    #expect(grid.rank[i][p] == LogitRow(Array(logits.data[(i * V)..<((i + 1) * V)])).rank(of: answer.id))
                }
            }
            #expect(Float32Rounding.mismatch("lens grid \(mode)", got, want) == nil)
        }
        // Patterns: every head's, equal to attentionPattern.
        let p12 = try m.attentionPattern(tokens: tokens, layer: 1, head: 2)
        let shown = try #require(o.patterns?[1][2])
        for q in tokens.indices { for k in tokens.indices { #expect(shown[q][k] == p12[q, k]) } }
    }

    @Test func headOverviewFindsThePlantedInductionHeadAndItsCopying() throws {
        let p = try PlantedInductionModel.build()
        let tokens = Self.repeated(p)
        let h = try HeadOverview.run(model: p.model, layer: 1, head: 0, tokens: tokens, sources: [3, 17])
        // The OV circuit of L1H0 is logitScale · identity: each source token boosts itself most.
        #expect(h.ov.map { $0.top[0].id } == [3, 17])
        #expect(h.copyScore == 1)
        let on = try #require(h.prompt)
        // Second half: the head attends to the token after the previous occurrence, and zeroing it
        // raises the loss of every repeated token.
        for q in 9..<16 {
            let best = on.pattern[q].indices.max { on.pattern[q][$0] < on.pattern[q][$1] } ?? -1
            #expect(best == q - 7, "query \(q)")
            #expect(on.lossAfter[q] > on.lossBefore[q] + 1, "position \(q)")
            #expect(on.dla[q] > 1, "DLA at \(q): \(on.dla[q])")
        }
        #expect(throws: MechanicError.self) { try HeadOverview.run(model: p.model, layer: 2, head: 0, tokens: nil, sources: nil) }
        // The lens before layer 1 is the logit lens's 1_pre row.
        let lens = try LogitLens.run(model: p.model, tokens: tokens, position: -1, top: 5)
        #expect(on.lensBefore.map(\.id) == lens.rows.first { $0.label == "1_pre" }?.top.map(\.id))
        #expect(on.lensBefore.count == 5)
    }

    @Test func browseSortsTheTokensTheInductionHeadHelps() throws {
        let p = try PlantedInductionModel.build()
        var corpus = DocumentList(tokens: [Self.repeated(p), [p.bos, 3, 17, 5, 29]])
        let b = try AblationBrowse.run(model: p.model, layer: 1, head: 0, corpus: &corpus, top: 5)
        #expect(b.documents == 2 && b.tokens == 16 + 4)
        // The head helps most on the repeated half of document 0 (positions 10...16 are predictable).
        #expect(b.helps.count == 5)
        for e in b.helps {
            #expect(e.document == 0 && e.position >= 10, "\(e.document):\(e.position)")
            #expect(e.delta == e.lossAfter - e.lossBefore && e.delta > 1)
        }
        #expect(zip(b.helps, b.helps.dropFirst()).allSatisfy { $0.delta >= $1.delta })
        #expect(zip(b.hurts, b.hurts.dropFirst()).allSatisfy { $0.delta <= $1.delta })
        // The losses are the model's own per-token losses.
        let loss = try p.model.lossPerToken(TokenBatch(Self.repeated(p))).data
        for e in b.helps { #expect(e.lossBefore == loss[e.position - 1]) }
        #expect(b.helps[0].ids.last == Self.repeated(p)[b.helps[0].position])
    }
}
