import Foundation
import Testing
import FixtureSupport
import Mechanic
@testable import MechanicAnalysis
@testable import MechanicBench

/// `mechanic bench patch`'s pieces: the prompt pairs both sides run, the floor's multiply-add
/// count, and the timed sweeps' grids (nothing here asserts a speed).
@Suite struct PatchingBenchmarkTests {
    @Test func pairsAreDeterministicAndDifferAtTwoPositions() {
        let pairs = PatchingBenchmark.pairs(count: 4, seq: 6, dVocab: 100)
        #expect(pairs == PatchingBenchmark.pairs(count: 4, seq: 6, dVocab: 100))
        #expect(pairs != PatchingBenchmark.pairs(count: 4, seq: 6, dVocab: 100, seed: 2))
        #expect(pairs.count == 4)
        for p in pairs {
            #expect(p.clean.count == 6 && p.corrupt.count == 6)
            #expect((0..<6).filter { p.clean[$0] != p.corrupt[$0] } == [3, 5])
            #expect(p.answer != p.wrong)
            #expect((p.clean + p.corrupt + [p.answer, p.wrong]).allSatisfy { (0..<100).contains($0) })
        }
        #expect(Set(pairs.map(\.clean)).count == 4)
    }

    /// A model small enough to count by hand: per token q 64, k+v 128, o 64, MLP 256 multiply-adds.
    static let config = ModelConfig(modelType: "gpt2", dModel: 8, nLayers: 3, nHeads: 2, dHead: 4, dMLP: 16, dVocab: 50,
                                    nCtx: 16, normalization: .layerNormPre)

    @Test func floorRowsCountedByHand() {
        let c = Self.config
        // resid_pre at layer 1, position 2 of 4: layer 1 at positions 2, 3 (2 · 512, plus scores and
        // mixing over 3 + 4 keys: 2 · 7 · 8), then the last layer: k, v at both positions (2 · 128),
        // the final query (64), its scores and mixing over 4 keys (2 · 4 · 8), o (64) and MLP (256).
        #expect(PatchFloor.row(PatchSite("resid_pre", layer: 1, .position(2)), kind: .residPre, c, positions: 4) == 1136 + 704)
        // z of head 1 at layer 0, every position: the rank-4 update of o (4 · 4 · 8) and the MLP
        // (4 · 256) at the 4 positions; layer 1 in full (4 · 512 + 2 · 10 · 8); the last layer
        // (4 · 128 + 64 + 64 + 64 + 256).
        #expect(PatchFloor.row(PatchSite("z", layer: 0, .head(1)), kind: .attnHeadOutAllPos, c, positions: 4) == 1152 + 2208 + 960)
        // mlp_out at the last layer needs nothing in the blocks; attn_out at the last layer only
        // the MLP of the final position, and nothing at an earlier position.
        #expect(PatchFloor.row(PatchSite("mlp_out", layer: 2, .position(1)), kind: .mlpOut, c, positions: 4) == 0)
        #expect(PatchFloor.row(PatchSite("attn_out", layer: 2, .position(3)), kind: .attnOut, c, positions: 4) == 256)
        #expect(PatchFloor.row(PatchSite("attn_out", layer: 2, .position(1)), kind: .attnOut, c, positions: 4) == 0)
    }

    @Test func floorOfASweepAddsTheUnembedding() {
        var c = Self.config
        c.nLayers = 1
        // Every resid_pre patch enters the last layer: (4 − p) · 128 + 448 for p = 0..<4 → 3072,
        // plus the unembedding per patch: 2 columns (8 · 2) for the logit difference, 8 · 50 for KL.
        #expect(PatchFloor.multiplyAdds(.residPre, c, positions: 4, pairs: 2, metric: .logitDiff) == 2 * (3072 + 4 * 16))
        #expect(PatchFloor.multiplyAdds(.residPre, c, positions: 4, pairs: 2, metric: .kl) == 2 * (3072 + 4 * 400))
        let every = PatchFloor.multiplyAdds(.blockEvery, c, positions: 4, pairs: 1, metric: .logitDiff)
        let parts = [ActPatchKind.residPre, .attnOut, .mlpOut].map { PatchFloor.multiplyAdds($0, c, positions: 4, pairs: 1, metric: .logitDiff) }
        #expect(every == parts.reduce(0, +))
        // Patches that change nothing cost only their unembedding.
        #expect(PatchFloor.multiplyAdds(.residPre, c, positions: 4, pairs: 2, metric: .logitDiff) { _ in [nil, nil] } == 2 * 4 * 16)
        #expect(PatchFloor.multiplyAdds(.residPre, c, positions: 4, pairs: 1, metric: .logitDiff) { _ in [3] } == 4 * (128 + 448 + 16))
    }

    /// The benchmark's pairs share their first 3 tokens: patches there change nothing (the grid
    /// holds the corrupted run's metric), and head patches start at position 3.
    @Test func patchesStartAtTheFirstDifference() throws {
        let model = try TestFixtures.load("gpt2-tiny")
        let run = try PatchingRun(model: model, pairs: PatchingBenchmark.pairs(count: 2, seq: 6, dVocab: model.config.dVocab))
        #expect(try run.patchStarts(PatchSite("resid_pre", layer: 1, .position(2)), isPattern: false) == [nil, nil])
        #expect(try run.patchStarts(PatchSite("resid_pre", layer: 1, .position(4)), isPattern: false) == [4, 4])
        #expect(try run.patchStarts(PatchSite("z", layer: 0, .head(1)), isPattern: false) == [3, 3])
        #expect(try run.patchStarts(PatchSite("pattern", layer: 1, .patternHead(0)), isPattern: true) == [3, 3])
        #expect(try run.patchStarts(PatchSite("resid_pre", layer: 0, .position(3)), isPattern: false) == [3, 3])
        let grid = try run.run(.residPre).values   // [layer, pos]
        for l in 0..<model.config.nLayers {
            for p in 0..<3 { #expect(abs(Double(grid[l, p]) - run.corruptMetric) <= 1e-5 + 1e-4 * abs(run.corruptMetric)) }
        }
        #expect(abs(Double(grid[0, 3]) - run.corruptMetric) > 1e-3)
    }

    @Test func benchmarkGridsAreTheSweeps() throws {
        let model = try TestFixtures.load("gpt2-tiny")
        let pairs = PatchingBenchmark.pairs(count: 2, seq: 5, dVocab: model.config.dVocab)
        let report = try PatchingBenchmark.run(model: model, pairs: pairs, sweeps: [.residPre, .attnHeadOutAllPos])
        let run = try PatchingRun(model: model, pairs: pairs)
        #expect(report.sweeps.map(\.kind) == [.residPre, .attnHeadOutAllPos])
        for s in report.sweeps {
            let naive = try run.run(s.kind, engine: .naive).values
            #expect(s.grid.shape == naive.shape)
            #expect(Comparison(s.kind.rawValue, s.grid, naive).ok)
            let floor = PatchFloor.multiplyAdds(s.kind, model.config, positions: 5, pairs: 2, metric: .logitDiff) {
                (try? run.patchStarts($0, isPattern: false)) ?? []
            }
            #expect(s.multiplyAdds == floor)
            #expect(floor < PatchFloor.multiplyAdds(s.kind, model.config, positions: 5, pairs: 2, metric: .logitDiff))
            #expect(s.seconds >= 0 && s.multiplyAdds > 0)
        }
    }
}
