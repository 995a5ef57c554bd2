import Foundation
import Testing
@testable import Mechanic
@testable import MechanicAnalysis

/// `testPrompt` against TransformerLens's `utils.test_prompt` (the fixture's prompt and answer
/// tokens, including Llama's leading empty `▁` token) and against ranks/probabilities computed
/// independently from the logits of a teacher-forced run.
@Suite struct TestPromptTests {
    @Test(arguments: LensFixtures.models)
    func matchesTransformerLensTestPrompt(name: String) throws {
        let m = try LensFixtures.load(name)
        let ref = try #require((try LensFixtures.analysis(name))["test_prompt"] as? [String: Any])
        let rows = try #require(ref["per_answer_token"] as? [[String: Any]])
        let r = try testPrompt(model: m, promptTokens: LensFixtures.ints(ref["prompt_tokens"]),
                               answerTokens: LensFixtures.ints(ref["answer_tokens"]), top: 10)
        #expect(r.positions.count == rows.count)
        let logits = try m.runWithHooks(TokenBatch(r.promptTokens + r.answerTokens), hooks: [])
        for (ours, theirs) in zip(r.positions, rows) {
            #expect(ours.position == LensFixtures.ints([theirs["position"] as Any])[0])
            #expect(ours.answer.id == LensFixtures.ints([theirs["answer_token"] as Any])[0])
            #expect(ours.answer.rank == LensFixtures.ints([theirs["rank"] as Any])[0], "\(name) rank")
            lensExpectClose(ours.answer.logit, LensFixtures.floats([theirs["logit"] as Any])[0], scale: logits.maxAbs, "\(name) logit")
            lensExpectClose(ours.answer.prob, LensFixtures.floats([theirs["prob"] as Any])[0], scale: 1, "\(name) prob")
            #expect(ours.top.map(\.id) == LensFixtures.ints(theirs["top10_tokens"]), "\(name) top10")
            for (t, p) in zip(ours.top, LensFixtures.floats(theirs["top10_probs"])) { lensExpectClose(t.prob, p, scale: 1, "\(name) top prob") }
        }
    }

    /// A three-token answer scored by teacher forcing: each position's rank, logit and probability
    /// equal those read from one run over prompt + answer (computed here in double precision).
    @Test(arguments: LensFixtures.models)
    func multiTokenAnswerIsTeacherForced(name: String) throws {
        let m = try LensFixtures.load(name)
        let a = try LensFixtures.analysis(name)
        let all = LensFixtures.ints(a["clean_tokens"])
        let (prompt, answer) = (Array(all.prefix(5)), Array(all[5..<8]))
        let r = try testPrompt(model: m, promptTokens: prompt, answerTokens: answer, top: 3)
        let logits = try m.runWithHooks(TokenBatch(prompt + answer), hooks: [])
        let V = m.config.dVocab
        var logProb = 0.0
        #expect(r.positions.map(\.position) == [4, 5, 6])
        for (i, pos) in r.positions.enumerated() {
            let row = (0..<V).map { Double(logits.data[(4 + i) * V + $0]) }
            let mx = row.max() ?? 0
            let lse = mx + log(row.map { exp($0 - mx) }.reduce(0, +))
            let id = answer[i]
            #expect(pos.answer.id == id)
            #expect(pos.answer.rank == row.filter { $0 > row[id] }.count)
            lensExpectClose(pos.answer.prob, Float(exp(row[id] - lse)), scale: 1, "\(name) prob \(i)")
            lensExpectClose(pos.answer.logit, Float(row[id]), scale: Float(mx), "\(name) logit \(i)")
            let order = row.indices.sorted { row[$0] != row[$1] ? row[$0] > row[$1] : $0 < $1 }
            #expect(pos.top.map(\.id) == Array(order.prefix(3)))
            logProb += row[id] - lse
        }
        lensExpectClose(r.answerLogProb, Float(logProb), scale: Float(abs(logProb)), "\(name) answer log prob")
        // Scoring token by token is not the same as scoring the first token only: position 1
        // sees answer token 0 in its input.
        let alone = try testPrompt(model: m, promptTokens: prompt + [answer[0]], answerTokens: [answer[1]], top: 1)
        lensExpectClose(alone.positions[0].answer.logit, r.positions[1].answer.logit, scale: logits.maxAbs, "\(name) teacher forcing")
    }

    /// The text path on the fixture's prompt: GPT-2 scores " mat" as TransformerLens does; Llama
    /// scores "▁mat" (the token that follows the prompt in "The cat sat on the mat") where
    /// TransformerLens scores an empty "▁" first. Needs the real tokenizer.
    @Test(.enabled(if: (try? LensFixtures.load("gpt2-tiny").tokenizer?.vocabSize ?? 0) ?? 0 > 0), arguments: LensFixtures.models)
    func textPromptSpaceAndBoundaryRules(name: String) throws {
        let m = try LensFixtures.load(name)
        let ref = try #require((try LensFixtures.analysis(name))["test_prompt"] as? [String: Any])
        let tlAnswer = LensFixtures.ints(ref["answer_tokens"])
        let r = try testPrompt(model: m, prompt: "The cat sat on the", answer: "mat", top: 10)
        #expect(r.promptTokens == LensFixtures.ints(ref["prompt_tokens"]))
        #expect(r.answer == " mat" && r.tokenization == "joint")
        if name == "llama-tiny" {
            #expect(tlAnswer.count == 2 && r.answerTokens == [tlAnswer[1]], "\(r.answerTokens) vs TL \(tlAnswer)")
            #expect(r.transformerLensAnswerTokens == tlAnswer && !r.warnings.isEmpty)
        } else {
            #expect(r.answerTokens == tlAnswer && r.transformerLensAnswerTokens == nil && r.warnings.isEmpty)
        }
    }

    @Test func spaceRules() {
        #expect(answerText(prompt: "The cat sat on the", answer: "mat", prependSpace: true) == (" mat", []))
        #expect(answerText(prompt: "The cat sat on the", answer: " mat", prependSpace: true) == (" mat", []))
        let trailing = answerText(prompt: "The cat sat on the ", answer: "mat", prependSpace: true)
        #expect(trailing.text == "mat" && trailing.warnings.count == 1)
        let glued = answerText(prompt: "The cat sat on the", answer: "mat", prependSpace: false)
        #expect(glued.text == "mat" && glued.warnings.first?.contains("continuation") == true)
        let double = answerText(prompt: "on the ", answer: " mat", prependSpace: true)
        #expect(double.text == " mat" && double.warnings.first?.contains("two spaces") == true)
    }

    @Test func refusesEmptyInputs() throws {
        let m = try LensFixtures.load("gpt2-tiny")
        #expect(throws: MechanicError.self) { try testPrompt(model: m, promptTokens: [], answerTokens: [1]) }
        #expect(throws: MechanicError.self) { try testPrompt(model: m, promptTokens: [1], answerTokens: []) }
        #expect(throws: MechanicError.self) { try testPrompt(model: m, promptTokens: [1], answerTokens: [m.config.dVocab]) }
    }
}
