import Foundation
import Testing
@testable import Mechanic
@testable import MechanicAnalysis

/// `detect_head` against TransformerLens 2.18: every named pattern × `mul`/`abs` × BOS/diagonal
/// exclusion, on prompts with repeated tokens, for GPT-2 (processed and not), Pythia and Llama (GQA).
@Suite(.enabled(if: HeadsFixtures.modelsAvailable, "fixture models not generated (set MECHANIC_FIXTURES)"))
struct HeadsDetectorTests {
    static let cases: [(String, Bool)] = [("gpt2-tiny", true), ("gpt2-tiny", false), ("pythia-tiny", true), ("llama-tiny", true)]

    @Test(arguments: cases)
    func detectHeadMatchesTransformerLens(name: String, processed: Bool) throws {
        let model = try HeadsFixtures.load(name, processed: processed)
        let manifest = try HeadsFixtures.manifest(name, processed: processed)
        let cases = manifest["detect"] as? [[String: Any]] ?? []
        #expect(cases.count == 50, "\(name): expected 48 + 2 detect cases, found \(cases.count)")
        var combos = Set<String>()
        for c in cases {
            let kind = try #require(HeadKind(rawValue: c["pattern"] as? String ?? ""))
            let measure = try #require(ErrorMeasure(rawValue: c["measure"] as? String ?? ""))
            let heads = (c["heads"] as? [[Any]])?.map { pair -> (layer: Int, head: Int) in
                let p = HeadsFixtures.ints(pair)
                return (p[0], p[1])
            }
            let options = HeadDetectionOptions(heads: heads, excludeBOS: c["exclude_bos"] as? Bool ?? false,
                                               excludeCurrentToken: c["exclude_current_token"] as? Bool ?? false,
                                               errorMeasure: measure)
            let expected = HeadsFixtures.tensor(c["scores"])
            let what = "\(name) \(processed ? "processed" : "unprocessed") \(kind.rawValue) \(measure) bos=\(options.excludeBOS) cur=\(options.excludeCurrentToken)"
            let result: HeadDetectionResult
            if let lists = c["token_lists"] as? [Any] {
                result = try model.detectHead(sequences: lists.map(HeadsFixtures.ints), kind: kind, options: options)
            } else {
                result = try model.detectHead(tokens: HeadsFixtures.ints(c["tokens"]), pattern: .head(kind), options: options)
            }
            #expect(result.warnings.isEmpty)
            if measure == .abs {
                try expectAbsScores(result.scores, expected, model: model, tokens: HeadsFixtures.ints(c["tokens"]), kind: kind,
                                    options: options, what: what)
            } else {
                expectHeadsClose(result.scores, expected, what)
            }
            combos.insert("\(kind)-\(measure)")
        }
        #expect(combos.count == 6)
    }

    /// `abs` scores are rounded to 3 decimals: equal to the reference, except that an unrounded value
    /// within float noise of a rounding boundary may land one step (0.001) away.
    func expectAbsScores(_ ours: Tensor, _ theirs: Tensor, model: HookedTransformer, tokens: [Int], kind: HeadKind,
                         options: HeadDetectionOptions, what: String) throws {
        #expect(ours.shape == theirs.shape)
        let detection = HeadDetector.detectionPattern(kind, tokens: tokens)
        let (_, cache) = try model.runWithCache(TokenBatch(tokens), names: .regex("hook_pattern"))
        for l in 0..<model.config.nLayers {
            let pattern = try cache.require("blocks.\(l).attn.hook_pattern").slice0(0)  // [head, q, k]
            for h in 0..<model.config.nHeads {
                let (a, b) = (ours[l, h], theirs[l, h])
                if abs(a - b) <= 1e-6 { continue }
                let raw = HeadDetector.absErrorUnrounded(attention: pattern.slice0(h), detection: detection,
                                                         excludeBOS: options.excludeBOS, excludeCurrentToken: options.excludeCurrentToken)
                let nearBoundary = abs((raw * 1000).truncatingRemainder(dividingBy: 1) - 0.5) < 1e-3
                #expect(nearBoundary && abs(a - b) < 0.0011, "\(what) L\(l)H\(h): \(a) vs \(b) (unrounded \(raw))")
            }
        }
    }

    @Test(arguments: ["gpt2-tiny", "llama-tiny"])
    func detectionPatternsMatchTransformerLens(name: String) throws {
        let p = try HeadsFixtures.manifest(name)["detection_patterns"] as? [String: Any] ?? [:]
        let tokens = HeadsFixtures.ints(p["tokens"])
        #expect(tokens.count > 5)
        for kind in HeadKind.allCases {
            let ours = HeadDetector.detectionPattern(kind, tokens: tokens)
            let theirs = HeadsFixtures.tensor(p[kind.rawValue])
            #expect(ours == theirs, "\(name) \(kind.rawValue)")
        }
    }

    @Test func shortAndLongSequencesAreRefusedAsInTransformerLens() throws {
        let model = try HeadsFixtures.load("gpt2-tiny")
        #expect(throws: MechanicError.self) { try model.detectHead(tokens: [499], pattern: .head(.induction)) }
        let full = [Int](repeating: 5, count: model.config.nCtx)  // seq_len == n_ctx: TL asserts seq_len < n_ctx
        #expect(throws: MechanicError.self) { try model.detectHead(tokens: full, pattern: .head(.duplicateToken)) }
        let ok = try model.detectHead(tokens: Array(full.dropLast()), pattern: .head(.duplicateToken))
        #expect(ok.scores.data.allSatisfy { $0 > 0 && $0 < 1 })
    }

    @Test func customPatternsAreValidatedAndNonBinaryMulWarns() throws {
        let model = try HeadsFixtures.load("gpt2-tiny")
        let tokens = [499, 279, 410, 358]
        var upper = Tensor(zeros: [4, 4])
        upper[0, 3] = 1
        #expect(throws: MechanicError.self) { try model.detectHead(tokens: tokens, pattern: .custom(upper)) }
        #expect(throws: MechanicError.self) { try model.detectHead(tokens: tokens, pattern: .custom(Tensor(zeros: [3, 3]))) }
        var half = HeadDetector.detectionPattern(.previousToken, tokens: tokens)
        half.scale(by: 0.5)
        let r = try model.detectHead(tokens: tokens, pattern: .custom(half))
        #expect(r.warnings == ["Using detection pattern with values other than 0 or 1 with error_measure 'mul'"])
        // Half the pattern gives half the mul score.
        let full = try model.detectHead(tokens: tokens, pattern: .head(.previousToken))
        expectHeadsClose(r.scores, { var s = full.scores; s.scale(by: 0.5); return s }(), "half pattern")
        let absNoWarning = try model.detectHead(tokens: tokens, pattern: .custom(half), options: HeadDetectionOptions(errorMeasure: .abs))
        #expect(absNoWarning.warnings.isEmpty)
    }

    @Test func cachedPatternsGiveTheSameScoresAndAreNotModified() throws {
        let model = try HeadsFixtures.load("pythia-tiny")
        let tokens = [0, 5, 9, 5, 9, 5]
        let (_, cache) = try model.runWithCache(TokenBatch(tokens), names: .regex("hook_pattern"))
        let before = try cache.require("blocks.0.attn.hook_pattern")
        let options = HeadDetectionOptions(excludeBOS: true, excludeCurrentToken: true)
        let a = try model.detectHead(tokens: tokens, pattern: .head(.induction), options: options, cache: cache)
        let b = try model.detectHead(tokens: tokens, pattern: .head(.induction), options: options)
        #expect(a.scores == b.scores)
        #expect(try cache.require("blocks.0.attn.hook_pattern") == before)
    }
}

/// Ground truth on hand-made attention patterns.
@Suite struct HeadsDetectorGroundTruthTests {
    @Test func mulIsTheFractionOfAttentionOnTheDetectedPairs() {
        // 3 positions; row 0 all on itself, row 1 splits 0.25 / 0.75, row 2 = 0.1 / 0.6 / 0.3.
        let attention = Tensor(shape: [3, 3], data: [1, 0, 0, 0.25, 0.75, 0, 0.1, 0.6, 0.3])
        let prev = HeadDetector.detectionPattern(.previousToken, tokens: [1, 2, 3])
        // previous-token pairs: (1,0) 0.25 and (2,1) 0.6 out of a total of 3.
        let mul = HeadDetector.similarity(attention: attention, detection: prev, excludeBOS: false, excludeCurrentToken: false, measure: .mul)
        #expect(abs(mul - 0.85 / 3) < 1e-6)
        // exclude BOS: column 0 removed from both sums → 0.6 / (0.75 + 0.6 + 0.3)
        let noBOS = HeadDetector.similarity(attention: attention, detection: prev, excludeBOS: true, excludeCurrentToken: false, measure: .mul)
        #expect(abs(noBOS - 0.6 / 1.65) < 1e-6)
        // exclude the diagonal: 0.85 / (0.25 + 0.1 + 0.6)
        let noDiag = HeadDetector.similarity(attention: attention, detection: prev, excludeBOS: false, excludeCurrentToken: true, measure: .mul)
        #expect(abs(noDiag - 0.85 / 0.95) < 1e-6)
        // abs: Σ|a − d| = 1 + (0.75 + 0.75) + (0.1 + 0.4 + 0.3) = 3.3 → 1 − round(3.3 / 3, 3) = 1 − 1.1
        let absScore = HeadDetector.similarity(attention: attention, detection: prev, excludeBOS: false, excludeCurrentToken: false, measure: .abs)
        #expect(abs(absScore - (1 - 1.1)) < 1e-6)
    }

    @Test func inductionPatternIsTheDuplicatePatternShiftedRight() {
        // tokens A B A B: duplicates (2,0), (3,1); induction marks the token after: (2,1), (3,2).
        let dup = HeadDetector.detectionPattern(.duplicateToken, tokens: [7, 8, 7, 8])
        let ind = HeadDetector.detectionPattern(.induction, tokens: [7, 8, 7, 8])
        #expect(dup.data == [0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0])
        #expect(ind.data == [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0])
        // A A: the induction target of position 1 is position 1 itself (kept on the diagonal).
        #expect(HeadDetector.detectionPattern(.induction, tokens: [4, 4]).data == [0, 0, 0, 1])
        #expect(HeadKind(name: "previous_token") == .previousToken && HeadKind(name: "induction_head") == .induction)
        #expect(HeadKind(name: "copy") == nil)
    }

    @Test func pythonRoundingIsHalfEvenOnTheBinaryValue() {
        #expect(HeadDetector.pythonRound(0.0625, 3) == 0.062)   // exact tie → even
        #expect(HeadDetector.pythonRound(0.1875, 3) == 0.188)
        #expect(HeadDetector.pythonRound(2.675, 2) == 2.67)     // 2.675 is stored below the tie
        #expect(HeadDetector.pythonRound(-0.0004, 3) == 0)
    }
}
