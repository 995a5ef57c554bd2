import Foundation
import Testing
import FixtureSupport
import Mechanic
@testable import MechanicAnalysis

/// Head analyses (detection, induction, OV/QK circuits, composition, copy and mapping scores,
/// name movers), neuron search, congruence on a streamed model give the resident
/// model's numbers.
@Suite struct StreamingHeadsTests {
    @Test(arguments: Streamed.models)
    func headAnalysesMatchResident(_ name: String) throws {
        let (r, s) = try Streamed.load(name)
        let pair = try PatchingFixtures.pair(name)
        var same = SameNumbers("\(name) heads")
        let repeated = try r.repeatedRandomTokens(seqLen: 6, batch: 2, seed: 3, bos: 0)
        for kind in HeadKind.allCases {
            same.tensor("detect \(kind.rawValue)", try s.detectHead(tokens: repeated[0], pattern: .head(kind)).scores,
                        try r.detectHead(tokens: repeated[0], pattern: .head(kind)).scores)
            same.tensor("detect \(kind.rawValue) over sequences", try s.detectHead(sequences: repeated, kind: kind).scores,
                        try r.detectHead(sequences: repeated, kind: kind).scores)
        }
        same.tensor("induction", try s.inductionScores(seqLen: 6, batch: 2, seed: 3, bos: 0).scores,
                    try r.inductionScores(seqLen: 6, batch: 2, seed: 3, bos: 0).scores)
        let (ovS, ovR, qkS, qkR) = (try s.OV, try r.OV, try s.QK, try r.QK)
        for l in 0..<r.config.nLayers {
            for h in 0..<r.config.nHeads {
                for (kind, a, b) in [("OV", ovS[l][h], ovR[l][h]), ("QK", qkS[l][h], qkR[l][h])] {
                    same.tensor("\(kind) L\(l)H\(h) A", a.A, b.A)
                    same.tensor("\(kind) L\(l)H\(h) B", a.B, b.B)
                }
            }
        }
        same.tensor("OV(1, 1)", try s.OV(layer: 1, head: 1).AB, try r.OV(layer: 1, head: 1).AB)
        same.tensor("QK(0, 2)", try s.QK(layer: 0, head: 2).AB, try r.QK(layer: 0, head: 2).AB)
        for mode in CompositionMode.allCases {
            same.tensor("composition \(mode)", try s.allCompositionScores(mode), try r.allCompositionScores(mode))
        }
        for embedding in CopyEmbedding.allCases {
            let options = CopyScoreOptions(embedding: embedding, topK: 3)
            let (a, b) = (try s.copyScores(options), try r.copyScores(options))
            same.tensor("copy top-3 \(embedding)", a.topKFraction, b.topKFraction)
            same.tensor("copy eigen \(embedding)", a.eigenScore, b.eigenScore)
            same.tensor("copy positive eigen \(embedding)", a.positiveEigenFraction, b.positiveEigenFraction)
            same.tensor("OV input \(embedding)", try s.ovInputEmbeddings(embedding), try r.ovInputEmbeddings(embedding))
            let mapping = TokenMapping(pairs: [(3, 7), (11, 2), (pair.answer, pair.wrong)])
            let (ms, mr) = (try s.mappingScores(mapping, embedding: embedding, k: 3), try r.mappingScores(mapping, embedding: embedding, k: 3))
            same.same("mapping \(embedding) ranks", ms.heads.map(\.ranks), mr.heads.map(\.ranks))
            same.values("mapping \(embedding) logits", ms.heads.flatMap(\.logits), mr.heads.flatMap(\.logits))
            same.values("mapping \(embedding) mean ranks", ms.heads.map(\.meanRank), mr.heads.map(\.meanRank))
        }
        let (ns, nr) = (try s.nameMoverScatter(tokens: pair.clean, answer: pair.answer, wrong: pair.wrong, answerPosition: 1, wrongPosition: 2),
                        try r.nameMoverScatter(tokens: pair.clean, answer: pair.answer, wrong: pair.wrong, answerPosition: 1, wrongPosition: 2))
        same.values("name movers: direct effect", ns.points.map(\.directEffect), nr.points.map(\.directEffect))
        same.values("name movers: attention to answer", ns.points.map(\.attnToAnswer), nr.points.map(\.attnToAnswer))
        same.check()
    }

    @Test(arguments: Streamed.models)
    func neuronSearchAndCongruenceMatchResident(_ name: String) throws {
        let (r, s) = try Streamed.load(name)
        var same = SameNumbers("\(name) neurons")
        let documents = [[3, 9, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9], [2, 7, 1, 8, 2, 8, 1, 8, 2, 8, 4, 5, 9], [1, 4, 1, 4, 2, 1, 3, 5, 6, 2]]
        let options = NeuronSearchOptions(topK: 6, chunkLength: 8, bos: 0)
        for probe in [ActivationProbe.neuron(layer: 1, index: 5),
                      .direction(hook: "blocks.0.hook_resid_post", vector: (0..<r.config.dModel).map { Float($0 % 7) - 3 })] {
            func search(_ m: HookedTransformer) throws -> NeuronSearchResult {
                var corpus = DocumentList(tokens: documents)
                return try m.topActivatingExamples(probe, corpus: &corpus, options: options, display: { "t\($0)" })
            }
            let (a, b) = (try search(s), try search(r))
            same.values("top values", a.examples.map(\.value), b.examples.map(\.value))
            same.values("example windows", a.examples.flatMap(\.values), b.examples.flatMap(\.values))
            same.same("example places", a.examples.map { [$0.document, $0.position] }, b.examples.map { [$0.document, $0.position] })
            same.values("stats", [a.stats.mean, a.stats.minimum, a.stats.maximum], [b.stats.mean, b.stats.minimum, b.stats.maximum])
        }
        let tokens = Array(0..<24)
        let kinds = EmbeddingKind.allCases
        let (cs, cr) = (try s.congruence(tokens: tokens, kinds: kinds, options: CongruenceOptions(bins: 20)),
                        try r.congruence(tokens: tokens, kinds: kinds, options: CongruenceOptions(bins: 20)))
        for (a, b) in zip(cs.series, cr.series) {
            same.values("congruence \(b.kind) stats", [a.stats.mean, a.stats.minimum, a.stats.maximum], [b.stats.mean, b.stats.minimum, b.stats.maximum])
            same.values("congruence \(b.kind) most similar", a.mostSimilar.map(\.value), b.mostSimilar.map(\.value))
        }
        same.values("congruence sampled pairs", cs.sampledPairs.flatMap(\.values), cr.sampledPairs.flatMap(\.values))
        same.tensor("token embeddings mlp0", try s.tokenEmbeddings(tokens, kind: .mlp0), try r.tokenEmbeddings(tokens, kind: .mlp0))
        same.check()
    }
}
