import Foundation
import Testing
import FixtureSupport
@testable import Mechanic
@testable import MechanicAnalysis

/// The prompt page's fast paths give the library's numbers and the encoder's bytes: the blocked
/// answer lens against full logits, the overview's hand-written JSON against `JSONEncoder`.
@Suite struct ExplorerFastPathTests {
    /// Random `[rows, cols]` values in ±scale.
    static func random(_ rows: Int, _ cols: Int, scale: Float, seed: UInt64) -> Tensor {
        var g = SplitMix64(seed: seed)
        return Tensor(shape: [rows, cols], data: (0..<(rows * cols)).map { _ in Float.random(in: -scale...scale, using: &g) })
    }

    @Test func answerLensEqualsTheFullLogitsRowByRow() throws {
        let (R, D, V) = (37, 16, 1003)
        let x = Self.random(R, D, scale: 1, seed: 1), W_U = Self.random(D, V, scale: 2, seed: 2)
        for bias in [Tensor(zeros: [V]), Self.random(1, V, scale: 0.5, seed: 3).reshaped([V])] {
            let logits = x.linear(W_U, bias: bias)  // [R, V]
            // Blocks of 7 and 64 columns (the answer's block first, then every other), one block of all.
            for (answer, block) in [(0, 7), (500, 64), (1002, 64), (321, 4096)] {
                let scores = AnswerLens.scores(x, W_U: W_U, b_U: bias, answer: answer, blockColumns: block)
                #expect(scores.count == R)
                for r in 0..<R {
                    let row = LogitRow(Array(logits.data[(r * V)..<((r + 1) * V)]))
                    #expect(Float32Rounding.agree(Double(scores[r].logit), Double(row.logits[answer]), scale: 10), "row \(r)")
                    #expect(abs(scores[r].prob - row.prob(answer)) <= 1e-6 * max(1, row.prob(answer)) + 1e-7, "row \(r) block \(block)")
                    #expect(scores[r].rank == row.rank(of: answer), "row \(r) answer \(answer) block \(block)")
                }
            }
        }
    }

    @Test func promptOverviewWritesTheEncodersBytes() throws {
        let m = try TestFixtures.load("gpt2-tiny")
        let encoder = ResultJSON.encoder(.snakeCase)
        for text in ["The cat sat on the mat", "\"Quoted\" / slashes \\ and é ü 日本"] {
            let o = try PromptOverview.run(model: m, tokens: try m.toTokens(text), top: 4)
            let want = String(decoding: try encoder.encode(o), as: UTF8.self)
            #expect(try o.resultJSON(keys: .snakeCase) == want)
            #expect(try ResultJSON.string(o, keys: .snakeCase) == want)
            var bare = o
            (bare.patterns, bare.lens, bare.answer) = (nil, nil, nil)
            #expect(try bare.resultJSON(keys: .snakeCase) == String(decoding: try encoder.encode(bare), as: UTF8.self))
            #expect(try o.resultJSON(keys: .asDeclared) == String(decoding: try ResultJSON.encoder().encode(o), as: UTF8.self))
        }
        // Every kind of float: integers, -0, tiny and huge exponents, non-finite values.
        let specials: [Float] = [0, -0.0, 1, -3, 0.1, 1e-7, 1.5e-5, 123456792, 1e20, 3.4028235e38, 1e-45, 100, 1e16, .nan, .infinity, -.infinity,
                                 0.33333334, 2.5e-3]
        var o = try PromptOverview.run(model: m, tokens: [1, 2], top: 1)
        o.patterns = [[[Array(specials[0..<6]), Array(specials[6..<12]), Array(specials[12...])]]]
        o.tokens = [0, -1, Int(Int32.max), 7]
        #expect(try o.resultJSON(keys: .snakeCase) == String(decoding: try encoder.encode(o), as: UTF8.self))
    }
}
