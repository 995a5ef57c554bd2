import Foundation
import FixtureSupport
import ReportTestSupport
import Testing
@testable import Mechanic
@testable import MechanicAnalysis

@Suite struct CongruenceTests {
    @Test func rawCosineHistogramCountsEachUnorderedPairOnce() throws {
        let m = try CongruenceModels.geometric()
        let r = try m.congruence(tokens: [0, 1, 2, 3, 4, 1, 0], kinds: [.raw], options: CongruenceOptions(bins: 4))
        #expect(r.tokens == [0, 1, 2, 3, 4])  // duplicates dropped, order kept
        let s = r.series[0]
        #expect(s.pairCount == 10 && s.histogram.total == 10)
        // cos: (0,1) .707 (0,2) −1 (0,3) 0 (0,4) 1 (1,2) −.707 (1,3) 0 (1,4) .707 (2,3) 0 (2,4) −1 (3,4) 0
        #expect(s.histogram.counts == [3, 0, 4, 3])
        #expect(s.histogram.below == 0 && s.histogram.above == 0)
        #expect(s.mostSimilar.prefix(3).map { [$0.a, $0.b] } == [[0, 4], [0, 1], [1, 4]])
        #expect(abs(s.mostSimilar[1].value - 0.70710678) < 1e-6)
        #expect(abs(s.stats.mean - (0.70710678 - 1) / 10) < 1e-6)  // .707 − 1 + 1 − .707 + .707 − 1 over 10 pairs
        #expect(s.matrix?[1][1] ?? 0 > 0.9999)  // the displayed matrix keeps its diagonal
    }

    @Test func rawDotProductHistogramUsesTheObservedRange() throws {
        let m = try CongruenceModels.geometric()
        let r = try m.congruence(tokens: [0, 1, 2, 3, 4], kinds: [.raw], options: CongruenceOptions(metric: .dot, bins: 4))
        let h = r.series[0].histogram
        #expect(h.lower == -2 && h.upper == 2)
        #expect(h.counts == [1, 2, 4, 3])
    }

    @Test func pairCountIsNChooseTwoForLargerSetsAndBlockSizes() throws {
        let m = try CongruenceModels.random(seed: 3)
        let tokens = TokenSample.draw(count: 37, from: 40, seed: 11)
        #expect(tokens.count == 37 && Set(tokens).count == 37 && tokens == tokens.sorted())
        #expect(TokenSample.draw(count: 37, from: 40, seed: 11) == tokens)
        let a = try m.congruence(tokens: tokens, kinds: [.raw, .mlp0, .block0], options: CongruenceOptions(bins: 20, blockRows: 5))
        let b = try m.congruence(tokens: tokens, kinds: [.raw, .mlp0, .block0], options: CongruenceOptions(bins: 20, blockRows: 256))
        for (x, y) in zip(a.series, b.series) {
            #expect(x.pairCount == 37 * 36 / 2 && x.histogram.total == 666)
            #expect(x.histogram.counts == y.histogram.counts)
        }
        #expect(a.sampledPairs.count == 666 && a.sampledPairs.allSatisfy { $0.a < $0.b && $0.values.count == 3 })
        let fewer = try m.congruence(tokens: tokens, kinds: [.raw], options: CongruenceOptions(scatterPairs: 50))
        #expect(fewer.sampledPairs.count == 50 && Set(fewer.sampledPairs.map { [$0.a, $0.b] }).count == 50)
    }

    /// The effective embedding written out by hand: LayerNormPre, self-attention only, ReLU MLP.
    func manualEffective(_ m: HookedTransformer, token t: Int) throws -> (mlpOut: [Float], residPost: [Float]) {
        let c = m.config, w = try m.block(0)
        let (D, H, E, M) = (c.dModel, c.nHeads, c.dHead, c.dMLP)
        func lnPre(_ x: [Float]) -> [Float] {
            let mean = x.reduce(0, +) / Float(D)
            let centred = x.map { $0 - mean }
            let scale = (centred.map { $0 * $0 }.reduce(0, +) / Float(D) + c.eps).squareRoot()
            return centred.map { $0 / scale }
        }
        let x = (0..<D).map { m.weights.W_E[t, $0] }
        let xn = lnPre(x)
        var attn = (0..<D).map { w.b_O[$0] }
        for h in 0..<H {
            let v = (0..<E).map { e in (0..<D).reduce(w.b_V[h, e]) { $0 + xn[$1] * w.W_V[h, $1, e] } }
            for d in 0..<D { attn[d] += (0..<E).reduce(0) { $0 + v[$1] * w.W_O[h, $1, d] } }
        }
        let mid = zip(x, attn).map { $0 + $1 }
        let mn = lnPre(mid)
        let post = (0..<M).map { j in max(0, (0..<D).reduce(w.b_in?[j] ?? 0) { $0 + mn[$1] * (w.W_in?[$1, j] ?? 0) }) }
        let out = (0..<D).map { d in (0..<M).reduce(w.b_out?[d] ?? 0) { $0 + post[$1] * (w.W_out?[$1, d] ?? 0) } }
        return (out, zip(mid, out).map { $0 + $1 })
    }

    @Test func effectiveEmbeddingIsBlockZeroOnTheTokenAlone() throws {
        let m = try CongruenceModels.random(seed: 5)
        let tokens = [0, 7, 39, 12]
        let mlp0 = try m.tokenEmbeddings(tokens, kind: .mlp0, batchSize: 3)
        let block0 = try m.tokenEmbeddings(tokens, kind: .block0)
        let raw = try m.tokenEmbeddings(tokens, kind: .raw)
        for (i, t) in tokens.enumerated() {
            let (out, post) = try manualEffective(m, token: t)
            for d in 0..<m.config.dModel {
                #expect(abs(mlp0[i, d] - out[d]) < 1e-5, "mlp0 token \(t) dim \(d)")
                #expect(abs(block0[i, d] - post[d]) < 1e-5, "block0 token \(t) dim \(d)")
                #expect(raw[i, d] == m.weights.W_E[t, d])
            }
        }
    }

    @Test func attentionOnlyModelsHaveNoMLP0() throws {
        let m = try CongruenceModels.random(seed: 9, attnOnly: true)
        #expect(throws: MechanicError.self) { _ = try m.tokenEmbeddings([1, 2], kind: .mlp0) }
        #expect(try m.tokenEmbeddings([1, 2], kind: .block0).shape == [2, 8])
        #expect(throws: MechanicError.self) { _ = try m.congruence(tokens: [3, 3]) }
        #expect(throws: MechanicError.self) { _ = try m.tokenEmbeddings([40], kind: .raw) }
    }

    @Test func congruenceReportCarriesTheCounts() throws {
        let m = try CongruenceModels.random(seed: 3)
        let r = try m.congruence(tokens: [0, 1, 2, 3, 4, 5], kinds: [.raw, .mlp0], options: CongruenceOptions(bins: 4))
        var report = Report(title: "congruence")
        report.add(r)
        let html = report.html
        #expect(HTMLCheck.xmlError(HTMLCheck.withoutDoctype(html)) == nil)
        let titles = HTMLCheck.titles(html)
        for s in r.series {
            let edges = s.histogram.edges
            for (i, c) in s.histogram.counts.enumerated() where c > 0 {
                let close = i == s.histogram.counts.count - 1 ? "]" : ")"
                let label = "\(s.kind.title): [\(HTMLText.format(edges[i])), \(HTMLText.format(edges[i + 1]))\(close): \(c)"
                #expect(titles.contains(label), "missing \(label)")
            }
        }
        #expect(html.contains("15 unordered pairs"))
        #expect(HTMLCheck.svgFragments(html).count == 4)  // histogram, scatter, two 6×6 heatmaps
    }
}
