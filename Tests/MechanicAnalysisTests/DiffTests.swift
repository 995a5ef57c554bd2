import Foundation
import Testing
@testable import Mechanic
@testable import MechanicAnalysis

/// Activation differences against ground truth: identical prompts, differences computed by hand
/// from two caches, set means, length alignment, and patches that must restore exactly 100%.
@Suite struct DiffTests {
    static let cases: [(String, Bool)] = LensFixtures.models.flatMap { [($0, true), ($0, false)] }

    func prompts(_ name: String) throws -> (clean: [Int], corrupt: [Int]) {
        let a = try LensFixtures.analysis(name)
        return (LensFixtures.ints(a["clean_tokens"]), LensFixtures.ints(a["corrupted_tokens"]))
    }

    @Test(arguments: LensFixtures.models)
    func identicalPromptsHaveZeroDifference(name: String) throws {
        let m = try LensFixtures.load(name)
        let p = try prompts(name)
        let r = try ActivationDiff.run(model: m, a: [p.clean], b: [p.clean], verify: 2)
        #expect(!r.components.isEmpty && r.skipped.isEmpty)
        // The only warning: A and B predict the same token, so verify's wrong token is B's runner-up.
        #expect(r.warnings.count == 1 && r.warnings[0].contains("both predict"))
        for c in r.components {
            #expect(c.norm == 0 && c.normA == c.normB, "\(c.label)")
            if c.normA > 0 {
                #expect(c.relativeNorm == 0)
                #expect(abs((c.cosine ?? 0) - 1) < 1e-6, "\(c.label) cosine \(String(describing: c.cosine))")
            }
        }
        #expect(r.summary == ["The two runs are identical at the compared positions: every component's difference is zero."])
        #expect(r.verification?.results.isEmpty == true)  // nothing differs, so nothing is patched
    }

    /// Norms, cosines and the unembedded direction equal values computed here from two caches.
    @Test(arguments: cases)
    func differenceEqualsCacheSubtraction(name: String, processed: Bool) throws {
        let m = try LensFixtures.load(name, processed: processed)
        let p = try prompts(name)
        let r = try ActivationDiff.run(model: m, a: [p.clean], b: [p.corrupt], top: 5)
        let opts = HookOptions(attnResult: true)
        let ca = try m.runWithCache(TokenBatch(p.clean), names: .all, hookOptions: opts).cache
        let cb = try m.runWithCache(TokenBatch(p.corrupt), names: .all, hookOptions: opts).cache
        let P = p.clean.count, L = m.config.nLayers, D = m.config.dModel, H = m.config.nHeads
        func at(_ c: ActivationCache, _ hook: String) throws -> [Double] {
            let t = try c.require(hook)
            let inner = t.shape.dropFirst(2).reduce(1, *)
            return t.data[((P - 1) * inner)..<(P * inner)].map(Double.init)
        }
        func check(_ label: String, _ a: [Double], _ b: [Double]) throws {
            let c = try #require(r.components.first { $0.label == label }, "\(label) missing")
            let d: [Double] = zip(a, b).map { $0 - $1 }
            let norm: Double = d.map { $0 * $0 }.reduce(0, +).squareRoot()
            let na: Double = a.map { $0 * $0 }.reduce(0, +).squareRoot()
            let nb: Double = b.map { $0 * $0 }.reduce(0, +).squareRoot()
            let cos: Double = zip(a, b).map { $0 * $1 }.reduce(0, +) / (na * nb)
            lensExpectClose(c.norm, Float(norm), scale: Float(na), "\(name) \(label) norm")
            lensExpectClose(c.relativeNorm ?? .nan, Float(norm / na), scale: 1, "\(name) \(label) relative")
            lensExpectClose(c.cosine ?? .nan, Float(cos), scale: 1, "\(name) \(label) cosine")
        }
        let residPost = "blocks.\(L - 1).hook_resid_post"
        try check(residPost, try at(ca, residPost), try at(cb, residPost))
        try check("blocks.0.attn.hook_z", try at(ca, "blocks.0.attn.hook_z"), try at(cb, "blocks.0.attn.hook_z"))
        let ra = try at(ca, "blocks.1.attn.hook_result"), rb = try at(cb, "blocks.1.attn.hook_result")
        try check("L1H\(H - 1)", Array(ra[((H - 1) * D)...]), Array(rb[((H - 1) * D)...]))
        // Pattern row of the final query: [head, key] at q = P - 1.
        func patternRow(_ c: ActivationCache) throws -> [Double] {
            let t = try c.require("blocks.1.attn.hook_pattern")  // [1, head, q, k]
            var row: [Double] = []
            for h in 0..<H {
                let start: Int = (h * P + P - 1) * P
                row += t.data[start..<(start + P)].map(Double.init)
            }
            return row
        }
        try check("blocks.1.attn.hook_pattern", try patternRow(ca), try patternRow(cb))

        // The final residual difference through the frozen final norm and W_U.
        let d = zip(try at(ca, residPost), try at(cb, residPost)).map { Float($0 - $1) }
        let scale = try ca.require("ln_final.hook_scale").data[P - 1]
        var u = m.config.usesLayerNorm ? d.map { $0 - d.reduce(0, +) / Float(D) } : d
        u = u.enumerated().map { $1 / scale * (m.weights.lnFinalW?.data[$0] ?? 1) }
        let vocab = Tensor(shape: [1, D], data: u).linear(m.weights.W_U).data.map(Double.init)
        let order = vocab.indices.sorted { vocab[$0] != vocab[$1] ? vocab[$0] > vocab[$1] : $0 < $1 }
        let c = try #require(r.components.first { $0.label == residPost })
        #expect(c.up?.map(\.id) == Array(order.prefix(5)), "\(name) up tokens")
        #expect(c.down?.map(\.id) == Array(order.reversed().prefix(5)).sorted { vocab[$0] != vocab[$1] ? vocab[$0] < vocab[$1] : $0 < $1 })
        for t in c.up ?? [] { lensExpectClose(t.value, Float(vocab[t.id]), scale: Float(vocab.map(abs).max() ?? 1), "\(name) up value") }
        // Layer view in firing order; ranking sorted by relative norm.
        #expect(r.byLayer.first?.label == "blocks.0.hook_resid_pre" && r.byLayer.last?.label == residPost)
        let rel = r.components.map { $0.relativeNorm ?? .infinity }
        #expect(rel == rel.sorted(by: >))
    }

    /// Two-prompt sets compare means: ‖mean(A) − mean(B)‖.
    @Test func setsCompareMeans() throws {
        let m = try LensFixtures.load("gpt2-tiny")
        let p = try prompts("gpt2-tiny")
        let a2 = p.clean.enumerated().map { $0.offset == 3 ? 100 : $0.element }
        let r = try ActivationDiff.run(model: m, a: [p.clean, a2], b: [p.corrupt, p.corrupt])
        let hook = "blocks.1.hook_mlp_out"
        let P = p.clean.count, D = m.config.dModel
        func last(_ t: [Int]) throws -> [Float] {
            let c = try m.runWithCache(TokenBatch(t), names: .names([hook])).cache
            return Array(try c.require(hook).data[((P - 1) * D)..<(P * D)])
        }
        let (x, y, z) = (try last(p.clean), try last(a2), try last(p.corrupt))
        let diff = (0..<D).map { Double((x[$0] + y[$0]) / 2 - z[$0]) }
        let c = try #require(r.components.first { $0.label == hook })
        lensExpectClose(c.norm, Float(diff.map { $0 * $0 }.reduce(0, +).squareRoot()), "mean difference norm")
        #expect(r.a.positions == [P - 1, P - 1])
    }

    @Test func differentLengthsAlignOnTheFinalToken() throws {
        let m = try LensFixtures.load("llama-tiny")
        let p = try prompts("llama-tiny")
        let shorter = [p.corrupt[0]] + Array(p.corrupt.dropFirst(2))
        let r = try ActivationDiff.run(model: m, a: [p.clean], b: [shorter])
        #expect(r.a.positions == [p.clean.count - 1] && r.b.positions == [shorter.count - 1])
        #expect(r.warnings.contains { $0.contains("different token lengths") })
        #expect(r.skipped.contains { $0.hasPrefix("blocks.0.attn.hook_pattern") })
        #expect(!r.components.contains { $0.kind == "pattern" || $0.kind == "attn_scores" })
        #expect(r.components.contains { $0.label == "blocks.1.hook_resid_post" && $0.norm > 0 })
        // An explicit position is read in each prompt (negative from each end).
        let r2 = try ActivationDiff.run(model: m, a: [p.clean], b: [shorter], position: .index(-2))
        #expect(r2.a.positions == [p.clean.count - 2] && r2.b.positions == [shorter.count - 2])
    }

    /// Patching the final residual stream at the final position makes B's output A's: 100%.
    /// With prompts differing only in their last token, so does patching `resid_pre` of layer 0 there.
    @Test(arguments: cases)
    func verifyRestoresEverythingThroughADeterminingComponent(name: String, processed: Bool) throws {
        let m = try LensFixtures.load(name, processed: processed)
        let p = try prompts(name)
        let L = m.config.nLayers
        let r = try ActivationDiff.run(model: m, a: [p.clean], b: [p.corrupt], verify: 3)
        let v = try #require(r.verification)
        #expect(v.results.count == 3)
        let target = try #require(r.components.first { $0.label == "blocks.\(L - 1).hook_resid_post" })
        var warnings: [String] = []
        let P = p.clean.count
        let full = try DiffVerify.run(model: m, a: [p.clean], b: [p.corrupt], posA: [P - 1], posB: [P - 1], components: [target],
                                      answer: v.answerId, wrong: v.wrongId, warnings: &warnings)
        lensExpectClose(full.results[0].fractionRestored ?? .nan, 1, scale: 1, "\(name) resid_post fraction")
        lensExpectClose(full.results[0].patchedMetric, full.metricA, scale: abs(full.metricA), "\(name) patched = A")

        var lastOnly = p.clean
        lastOnly[P - 1] = p.clean[P - 1] == 7 ? 8 : 7
        let r2 = try ActivationDiff.run(model: m, a: [p.clean], b: [lastOnly])
        let pre0 = try #require(r2.components.first { $0.label == "blocks.0.hook_resid_pre" })
        let early = try DiffVerify.run(model: m, a: [p.clean], b: [lastOnly], posA: [P - 1], posB: [P - 1], components: [pre0],
                                       answer: v.answerId, wrong: v.wrongId, warnings: &warnings)
        lensExpectClose(early.results[0].fractionRestored ?? .nan, 1, scale: 1, "\(name) resid_pre 0 fraction")
    }

    /// `--verify` runs on the patching engine when prompts share a length and the components sit
    /// at the final position; the numbers equal one forward of B per component and pair.
    @Test(arguments: cases)
    func verifyOnTheEngineEqualsOneForwardPerPatch(name: String, processed: Bool) throws {
        let m = try LensFixtures.load(name, processed: processed)
        let p = try prompts(name)
        var other = p.clean
        other[other.count - 1] = p.clean[other.count - 1] == 7 ? 8 : 7
        let r = try ActivationDiff.run(model: m, a: [p.clean, other], b: [p.corrupt, p.corrupt], top: 1000)
        let components = r.components.filter(DiffVerify.patchable)
        #expect(components.count > 10)
        #expect(components.contains { $0.head != nil } && components.contains { $0.layer == nil })
        let P = p.clean.count
        let args = (a: [p.clean, other], b: [p.corrupt, p.corrupt], pos: [P - 1, P - 1])
        let engine = try DiffVerify.patchedMetrics(model: m, a: args.a, b: args.b, posA: args.pos, posB: args.pos, components: components,
                                                   answer: 5, wrong: 9, progress: nil)
        let forwards = try DiffVerify.patchedMetrics(model: m, a: args.a, b: args.b, posA: args.pos, posB: args.pos, components: components,
                                                     answer: 5, wrong: 9, progress: nil, forceForwards: true)
        let scale = forwards.map(abs).max() ?? 1
        for (c, (x, y)) in zip(components, zip(engine, forwards)) {
            #expect(abs(x - y) <= 1e-5 + 1e-4 * scale, "\(name) \(c.label): engine \(x) vs forwards \(y)")
        }
    }

    @Test func patchSpansAddressOnePositionOrHead() {
        let (a, b) = DiffVerify.span([1, 5, 4, 8], head: 2, posA: 1, posB: 3)
        #expect(a == (32 + 16)..<(32 + 24) && b == (96 + 16)..<(96 + 24))
        let (c, d) = DiffVerify.span([1, 5, 8], head: nil, posA: 4, posB: 0)
        #expect(c == 32..<40 && d == 0..<8)
    }

    @Test func reportEncodesAsJSON() throws {
        let m = try LensFixtures.load("gpt2-tiny")
        let p = try prompts("gpt2-tiny")
        let r = try ActivationDiff.run(model: m, a: [p.clean], b: [p.corrupt], top: 2)
        let data = try JSONEncoder().encode(r)
        let back = try JSONDecoder().decode(ActivationDiffReport.self, from: data)
        #expect(back.components.map(\.label) == r.components.map(\.label))
        #expect(back.summary == r.summary && !r.summary.isEmpty)
    }
}

/// Issue 10 §4 traps 8 and 9: zero differences say so; sets whose lengths match pairwise are aligned.
@Suite struct DiffAlignmentTests {
    func prompts(_ name: String) throws -> (clean: [Int], corrupt: [Int]) {
        let a = try LensFixtures.analysis(name)
        return (LensFixtures.ints(a["clean_tokens"]), LensFixtures.ints(a["corrupted_tokens"]))
    }

    /// A zero difference unembeds to nothing (not the lowest ids), and the report says "no difference".
    @Test func zeroDifferenceIsReportedAsNoDifference() throws {
        let m = try LensFixtures.load("gpt2-tiny")
        let p = try prompts("gpt2-tiny")
        var changed = p.clean
        changed[changed.count - 1] = p.clean[changed.count - 1] == 7 ? 8 : 7
        // Only the final token differs, so resid_pre 0 at the final position differs but at
        // position 0 (BOS) nothing does.
        let r = try ActivationDiff.run(model: m, a: [p.clean], b: [changed], position: .index(0))
        for c in r.byLayer {
            #expect(c.noDifference && c.norm == 0, "\(c.label)")
            #expect(c.up == [] && c.down == [], "\(c.label) lists tokens for a zero difference")
        }
        var report = Report(title: "d")
        report.add(r)
        let html = report.html
        #expect(html.contains("no difference"))
        let json = String(decoding: try JSONEncoder().encode(r), as: UTF8.self)
        #expect(json.contains("\"noDifference\":true"))
        let final = try ActivationDiff.run(model: m, a: [p.clean], b: [changed])
        let post = try #require(final.byLayer.last)
        #expect(!post.noDifference && post.up?.count == 10)
    }

    /// Sets `A: [n, n−1, n−1]`, `B: [n, n−1, n−1]` are aligned pair by pair: no length warning, and the
    /// attention patterns are compared as zero-padded means (what a right-padded batch holds).
    @Test func pairwiseEqualLengthsKeepPatterns() throws {
        let m = try LensFixtures.load("gpt2-tiny")
        let p = try prompts("gpt2-tiny")
        let shortA = Array(p.clean.dropLast()), shortB = Array(p.corrupt.dropLast())
        var shortA2 = shortA
        shortA2[1] = shortA[1] == 3 ? 4 : 3
        let a = [p.clean, shortA, shortA2], b = [p.corrupt, shortB, shortB]
        let r = try ActivationDiff.run(model: m, a: a, b: b)
        #expect(!r.warnings.contains { $0.contains("different token lengths") }, "\(r.warnings)")
        #expect(!r.skipped.contains { $0.contains("hook_pattern") }, "\(r.skipped)")
        let hook = "blocks.1.attn.hook_pattern"
        let c = try #require(r.components.first { $0.label == hook })
        // By hand: every head's final-query row, zero-padded to n keys, averaged per side.
        let n = p.clean.count, H = m.config.nHeads
        func rows(_ t: [Int]) throws -> [Double] {
            let pat = try m.runWithCache(TokenBatch(t), names: .names([hook])).cache.require(hook)  // [1, H, q, k]
            let q = t.count - 1
            return (0..<H).flatMap { h in (0..<n).map { k in k < t.count ? Double(pat.data[(h * t.count + q) * t.count + k]) : 0 } }
        }
        func mean(_ ts: [[Int]]) throws -> [Double] {
            let all = try ts.map(rows)
            return (0..<(H * n)).map { i in all.map { $0[i] }.reduce(0, +) / Double(ts.count) }
        }
        let (ma, mb) = (try mean(a), try mean(b))
        let norm = zip(ma, mb).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot()
        #expect(abs(Double(c.norm) - norm) <= 1e-5 + 1e-4 * norm, "pattern diff \(c.norm) vs \(norm)")
        #expect(c.norm > 0)
        // A pair of different lengths still warns and leaves patterns out, saying why.
        let r2 = try ActivationDiff.run(model: m, a: [p.clean], b: [shortB])
        #expect(r2.warnings.contains { $0.contains("different token lengths") })
        #expect(r2.skipped.contains { $0.hasPrefix("blocks.0.attn.hook_pattern") && $0.contains("keys") })
    }
}
