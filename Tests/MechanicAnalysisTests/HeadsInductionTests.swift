import Foundation
import Testing
@testable import Mechanic
@testable import MechanicAnalysis

/// The planted previous-token + induction model: every score has a known answer.
@Suite struct HeadsInductionTests {
    static let planted: PlantedInductionModel? = try? PlantedInductionModel.build()

    func model() throws -> PlantedInductionModel { try #require(Self.planted) }

    @Test func inductionScoreIsOneForThePlantedHeadAndZeroForTheOthers() throws {
        let p = try model()
        let r = try p.model.inductionScores(seqLen: 20, batch: 3, seed: 7, bos: p.bos, distinct: true)
        #expect(r.tokens.count == 3 && r.tokens.allSatisfy { $0.count == 41 && $0[0] == p.bos })
        #expect(r.tokens.allSatisfy { Array($0[1...20]) == Array($0[21...40]) && Set($0[1...20]).count == 20 })
        for l in 0..<2 {
            for h in 0..<3 {
                let s = r.scores[l, h]
                if (l, h) == PlantedInductionModel.inductionHead {
                    #expect(s > 0.999, "induction head L\(l)H\(h): \(s)")
                } else {
                    #expect(s < 0.01, "L\(l)H\(h) is not an induction head: \(s)")
                }
            }
        }
        // The model predicts the second half: top logit = the next token of the repeat.
        let logits = try #require(try p.model.forward(TokenBatch(r.tokens[0])).logits)  // [1, 41, V]
        for pos in 21..<40 {
            let row = Array(logits.data[(pos * p.vocabSize)..<((pos + 1) * p.vocabSize)])
            #expect(row.indices.max { row[$0] < row[$1] } == r.tokens[0][pos + 1])
        }
    }

    @Test func detectHeadFindsThePlantedHeads() throws {
        let p = try model()
        let tokens = try p.model.repeatedRandomTokens(seqLen: 15, batch: 1, seed: 3, bos: p.bos, distinct: true)[0]
        let n = Float(tokens.count)
        let prev = try p.model.detectHead(tokens: tokens, pattern: .head(.previousToken)).scores
        // L0H0 puts all attention on the previous token, except position 0 (only itself): (n−1)/n.
        #expect(abs(prev[0, 0] - (n - 1) / n) < 1e-4)
        let ind = try p.model.detectHead(tokens: tokens, pattern: .head(.induction), options: HeadDetectionOptions(excludeBOS: true)).scores
        // L1H0: each of the 15 second-half queries puts all attention on its induction target. The
        // first-half query at position i (1…15) finds no match and spreads evenly over 0…i; without
        // the BOS column that row sums to i/(i+1). BOS's own row is then empty.
        let firstHalf = (1...15).reduce(Float(0)) { $0 + Float($1) / Float($1 + 1) }
        #expect(abs(ind[1, 0] - 15 / (15 + firstHalf)) < 1e-3, "\(ind[1, 0])")
        // (The BOS decoys are left out: without the BOS column their rows hold only e^-16-sized
        // leftovers, and mul divides one by the other.)
        #expect(ind[0, 0] < 0.01 && ind[1, 1] < 0.01)
        // The duplicate-token decoy L1H1: a second-half query matches itself and its earlier copy
        // (0.5 each); the other 16 queries only themselves. mul = 15·0.5 / 31; without the diagonal 1.
        let dup = try p.model.detectHead(tokens: tokens, pattern: .head(.duplicateToken)).scores
        #expect(abs(dup[1, 1] - 7.5 / 31) < 1e-3, "\(dup[1, 1])")
        let dupNoDiag = try p.model.detectHead(tokens: tokens, pattern: .head(.duplicateToken),
                                               options: HeadDetectionOptions(excludeCurrentToken: true)).scores
        #expect(abs(dupNoDiag[1, 1] - 1) < 1e-3, "\(dupNoDiag[1, 1])")
        // abs on the previous-token head: |diff| only in row 0 (1 at [0,0]) → 1 − round(1/n, 3).
        let absPrev = try p.model.detectHead(tokens: tokens, pattern: .head(.previousToken), options: HeadDetectionOptions(errorMeasure: .abs)).scores
        #expect(abs(absPrev[0, 0] - Float(1 - HeadDetector.pythonRound(1 / Double(n), 3))) < 1e-6)
    }

    @Test func compositionScoresSeeOnlyThePlantedKComposition() throws {
        let p = try model()
        let k = try p.model.allCompositionScores(.K)
        let V = Float(p.vocabSize)
        #expect(abs(k[0, 0, 1, 0] - 1 / V.squareRoot()) < 1e-5)
        var others = k
        others[0, 0, 1, 0] = 0
        #expect(others.maxAbs < 1e-6)
        #expect(try p.model.allCompositionScores(.Q).maxAbs < 1e-6)
        #expect(try p.model.allCompositionScores(.V).maxAbs < 1e-6)
    }

    @Test func theInductionHeadCopiesAndTheOthersDoNot() throws {
        let p = try model()
        let s = try p.model.copyScores()
        #expect(s.topKFraction[1, 0] == 1)
        #expect(s.eigenScore[1, 0] == 1)
        // Heads writing outside W_U's subspace have an all-zero circuit: only token 0 "wins" its row.
        #expect(s.topKFraction[0, 0] == 1 / Float(p.vocabSize))
        #expect(s.eigenScore[0, 0].isNaN)  // 0 / 0: no eigenvalue mass
        let attention = try p.model.attentionPattern(tokens: [p.bos, 3, 4, 5], layer: 0, head: 0)
        #expect(attention.shape == [4, 4])
        #expect(attention[2, 1] > 0.999 && attention[3, 2] > 0.999 && attention[0, 0] == 1)
    }

    @Test func repeatedRandomTokensAreReproducibleAndSkipBOS() throws {
        let p = try model()
        let a = try p.model.repeatedRandomTokens(seqLen: 30, batch: 4, seed: 42, bos: p.bos)
        let b = try p.model.repeatedRandomTokens(seqLen: 30, batch: 4, seed: 42, bos: p.bos)
        let c = try p.model.repeatedRandomTokens(seqLen: 30, batch: 4, seed: 43, bos: p.bos)
        #expect(a == b && a != c)
        #expect(a.allSatisfy { row in row.dropFirst().allSatisfy { (0..<p.bos).contains($0) } })
        // Pinned values: the SplitMix64 stream and the Lemire bound are fixed on every platform.
        var rng = PortableRandom(seed: 0)
        #expect((0..<6).map { _ in rng.below(1000) } == Self.pinned)
        #expect(throws: MechanicError.self) { try p.model.inductionScores(seqLen: 40, bos: p.bos) }  // 81 > n_ctx 64
        #expect(throws: MechanicError.self) { try p.model.repeatedRandomTokens(seqLen: 48, batch: 1, seed: 0, bos: p.bos, distinct: true) }
    }

    /// `below(1000)` from SplitMix64(seed: 0): ⌊next() · 1000 / 2⁶⁴⌋ for SplitMix64's published stream
    /// 0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4, 0x06c45d188009454f, 0xf88bb8a8724c81ec, 0x1b39896a51a8749b,
    /// 0x53cb9f0c747ea2ea (computed independently in Python)
    static let pinned: [Int] = [883, 431, 26, 970, 106, 327]
}

/// The induction stripe on a real model against TransformerLens's patterns.
@Suite(.enabled(if: HeadsFixtures.modelsAvailable, "fixture models not generated (set MECHANIC_FIXTURES)"))
struct HeadsInductionReferenceTests {
    @Test(arguments: ["gpt2-tiny", "pythia-tiny", "llama-tiny"])
    func inductionStripeMatchesTransformerLens(name: String) throws {
        let model = try HeadsFixtures.load(name)
        let ref = try HeadsFixtures.manifest(name)["induction"] as? [String: Any] ?? [:]
        let tokens = HeadsFixtures.ints(ref["tokens"])
        let r = try model.inductionScores(tokens: [tokens], seqLen: ref["seq_len"] as? Int ?? 0)
        expectHeadsClose(r.scores, HeadsFixtures.tensor(ref["scores"]), "\(name) induction stripe")
    }
}
