import Foundation
import Testing
@testable import Mechanic
@testable import MechanicAnalysis

/// Copy scores: TransformerLens's `W_E @ OV @ W_U` (ARENA's top-1 accuracy and eigenvalue score)
/// on the fixtures, and ground truth on models whose OV circuit is written by hand.
@Suite(.enabled(if: HeadsFixtures.modelsAvailable, "fixture models not generated (set MECHANIC_FIXTURES)"))
struct HeadsCopyScoresTests {
    @Test(arguments: ["gpt2-tiny", "pythia-tiny", "llama-tiny"])
    func fullOVCircuitScoresMatchTransformerLens(name: String) throws {
        let model = try HeadsFixtures.load(name)
        let ref = try HeadsFixtures.manifest(name)["copy"] as? [String: Any] ?? [:]
        let scores = try model.copyScores(CopyScoreOptions(blockRows: 37))  // odd block size: exercises the tail block
        expectHeadsClose(scores.topKFraction, HeadsFixtures.tensor(ref["top1"]), "\(name) top-1")
        expectHeadsClose(scores.eigenScore, HeadsFixtures.tensor(ref["eigen_score"]), "\(name) eigen score")
        expectHeadsClose(scores.positiveEigenFraction, HeadsFixtures.tensor(ref["positive_eigen_fraction"]), "\(name) positive fraction")

        let pairs = HeadsFixtures.tensor(ref["pairs"])
        let mapping = TokenMapping(pairs: (0..<pairs.shape[0]).map { (Int(pairs[$0, 0]), Int(pairs[$0, 1])) })
        let mapped = try model.mappingScores(mapping)
        let ranks = HeadsFixtures.tensor(ref["pair_ranks"]), logits = HeadsFixtures.tensor(ref["pair_logits"])
        for s in mapped.heads {
            let expectedRanks = (0..<mapping.pairs.count).map { Int(ranks[s.layer, s.head, $0]) }
            #expect(s.ranks == expectedRanks, "\(name) L\(s.layer)H\(s.head) ranks")
            expectHeadsClose(Tensor(shape: [s.logits.count], data: s.logits),
                             Tensor(shape: [s.logits.count], data: (0..<s.logits.count).map { logits[s.layer, s.head, $0] }), "\(name) pair logits")
        }
    }

    @Test func effectiveEmbeddingAddsTheFirstMLP() throws {
        let model = try HeadsFixtures.load("gpt2-tiny")
        // effective(x) = x + MLP₀(ln2₀(x)): the forward pass of block 0 computes the same when the
        // position embedding and the attention output are zeroed by hooks.
        let tokens = [3, 17, 250]
        let zero = { (t: inout Tensor, _: HookPoint) in t = Tensor(zeros: t.shape) }
        let (_, cache) = try model.runWithCache(TokenBatch(tokens), names: .names(["blocks.0.hook_mlp_out", "hook_embed"]),
                                                hooks: [Hook("hook_pos_embed", zero), Hook("blocks.0.hook_attn_out", zero)])
        let embed = try cache.require("hook_embed").reshaped([3, 64])
        let expected = try embed + cache.require("blocks.0.hook_mlp_out").reshaped([3, 64])
        expectHeadsClose(try model.effectiveEmbedding(embed), expected, "effective embedding")
        let scores = try model.copyScores(CopyScoreOptions(embedding: .effective, topK: 5, heads: [(1, 2)]))
        #expect(scores.topKFraction[0, 0].isNaN && scores.eigenScore[0, 0].isNaN && scores.topKFraction[1, 2] >= 0)
    }
}

/// Ground truth: tiny attention-only models whose OV circuits are the identity or a permutation.
@Suite struct HeadsCopyScoresGroundTruthTests {
    /// One layer, two heads, vocab = d_model = 8, one-hot embeddings and unembedding; head 0's OV
    /// maps token t to `map[t]`, head 1's OV is `scale ·` identity.
    static func model(map: [Int], scale: Float = 1) throws -> HookedTransformer {
        let V = map.count, E = V
        let config = ModelConfig(modelType: "test", dModel: V, nLayers: 1, nHeads: 2, dHead: E, dMLP: 0, dVocab: V, nCtx: 8,
                                 normalization: .none, attnOnly: true)
        var eye = Tensor(zeros: [V, V])
        for i in 0..<V { eye[i, i] = 1 }
        var perm = Tensor(zeros: [E, V])
        for t in 0..<V { perm[t, map[t]] = 1 }
        var scaled = eye
        scaled.scale(by: scale)
        let block = BlockWeights(ln1W: nil, ln1B: nil, W_Q: .stack([eye, eye]), W_K: .stack([eye, eye]), W_V: .stack([eye, eye]),
                                 b_Q: Tensor(zeros: [2, E]), b_K: Tensor(zeros: [2, E]), b_V: Tensor(zeros: [2, E]),
                                 W_O: .stack([perm, scaled]), b_O: Tensor(zeros: [V]), ln2W: nil, ln2B: nil,
                                 W_in: nil, W_gate: nil, b_in: nil, W_out: nil, b_out: nil)
        let weights = ModelWeights(W_E: eye, W_pos: Tensor(zeros: [8, V]), blocks: [block], lnFinalW: nil, lnFinalB: nil,
                                   W_U: eye, b_U: Tensor(zeros: [V]))
        return try HookedTransformer(config: config, weights: weights)
    }

    static let permutation = [3, 0, 1, 2, 7, 6, 5, 4]  // a → b; no fixed points

    @Test func identityOVCopiesEveryTokenAndPermutationNone() throws {
        let m = try Self.model(map: Self.permutation, scale: 2)
        let s = try m.copyScores()
        #expect(s.topKFraction[0, 1] == 1.0)   // identity: every token's top output is itself
        #expect(s.topKFraction[0, 0] == 0.0)   // derangement: never itself
        #expect(s.eigenScore[0, 1] == 1.0)     // all eigenvalues +2
        #expect(abs(s.positiveEigenFraction[0, 1] - 1) < 1e-6)
        // A permutation matrix's eigenvalues are roots of unity: cycles (0 3 2 1), (4 7), (5 6) give
        // {1, i, −1, −i}, {1, −1}, {1, −1}: Σλ = 0 + 0 + 0 → score 0; positive mass 3 of |λ| total 8.
        #expect(abs(s.eigenScore[0, 0]) < 1e-6)
        #expect(abs(s.positiveEigenFraction[0, 0] - 3.0 / 8.0) < 1e-6)
        // Top-2: token t is ranked behind map[t] and behind the tied zeros at smaller ids, so only
        // t = 0 and t = 1 (whose image is 0) make the top 2.
        let top2 = try m.copyScores(CopyScoreOptions(topK: 2))
        #expect(top2.topKFraction[0, 0] == 2.0 / 8.0)
    }

    @Test func mappingScoresFindThePermutation() throws {
        let m = try Self.model(map: Self.permutation)
        let mapping = TokenMapping(pairs: Self.permutation.enumerated().map { ($0.offset, $0.element) })
        let r = try m.mappingScores(mapping, k: 1)
        let perm = try #require(r.heads.first { $0.head == 0 })
        #expect(perm.ranks == [Int](repeating: 1, count: 8))
        #expect(perm.logits == [Float](repeating: 1, count: 8))
        #expect(perm.top1 == 1 && perm.topK == 1 && perm.meanRank == 1)
        #expect(perm.sourceRanks.allSatisfy { $0 > 1 })
        let copy = try #require(r.heads.first { $0.head == 1 })
        #expect(copy.sourceRanks == [Int](repeating: 1, count: 8))
        #expect(copy.top1 == 0)
        // Among 7 tied zeros, the target's rank counts the tied smaller ids ahead of it.
        let expectedCopyRanks = Self.permutation.enumerated().map { s, t in 2 + (0..<t).filter { $0 != s }.count }
        #expect(copy.ranks == expectedCopyRanks)
        #expect(throws: MechanicError.self) { try m.mappingScores(TokenMapping(pairs: [(0, 8)])) }
    }

    @Test func mappingFilesParse() throws {
        let words = ["tall": 1, "short": 2, "hot": 3, "cold": 4]
        let resolve: (String) throws -> Int = { s in
            guard let id = words[s] else { throw MechanicError.notSingleToken(text: s, pieces: [s, s]) }
            return id
        }
        let list = try TokenMapping.parse(json: Data(#"[["tall", "short"], ["hot", 4], [5, 6]]"#.utf8), resolve: resolve)
        #expect(list.pairs.map { [$0.source, $0.target] } == [[1, 2], [3, 4], [5, 6]])
        #expect(list.labels.map { [$0.source, $0.target] } == [["tall", "short"], ["hot", "#4"], ["#5", "#6"]])
        let object = try TokenMapping.parse(json: Data(#"{"tall": "short", "hot": "cold"}"#.utf8), resolve: resolve)
        #expect(object.pairs.map { [$0.source, $0.target] } == [[3, 4], [1, 2]])  // sorted by key
        let wrapped = try TokenMapping.parse(json: Data(#"{"pairs": [["cold", "hot"]]}"#.utf8), resolve: resolve)
        #expect(wrapped.pairs.map { [$0.source, $0.target] } == [[4, 3]])
        #expect(throws: MechanicError.self) { try TokenMapping.parse(json: Data(#"[["tall"]]"#.utf8), resolve: resolve) }
        #expect(throws: MechanicError.self) { try TokenMapping.parse(json: Data(#"[["tall", "giant"]]"#.utf8), resolve: resolve) }
        #expect(throws: MechanicError.self) { try TokenMapping.parse(json: Data("[]".utf8), resolve: resolve) }
        #expect(throws: MechanicError.self) { try TokenMapping.parse(json: Data("nope".utf8), resolve: resolve) }
    }
}
