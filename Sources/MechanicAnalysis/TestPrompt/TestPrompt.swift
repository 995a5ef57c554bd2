// MechanicAnalysis/TestPrompt: TransformerLens's utils.test_prompt — the rank and probability of
// each answer token, teacher-forced, and its HTML.

import Mechanic

/// How the model did at one answer position (teacher forcing: the earlier answer tokens are in the input).
public struct TestPromptPosition: Codable, Sendable {
    /// Index of the position whose logits predict this answer token (in prompt + answer).
    public var position: Int
    /// The answer token's id, text, rank (0 = top), logit and probability.
    public var answer: ScoredToken
    /// The `top` most likely tokens at the position, best first.
    public var top: [ScoredToken]
}

/// TransformerLens's `utils.test_prompt` as a value: the tokenized prompt and answer, and for
/// each answer token (multi-token answers scored token by token) its rank, logit and probability
/// and the top k.
public struct TestPromptResult: Codable, Sendable {
    /// The prompt and the answer text scored (after the space rule), when given as text.
    public var prompt: String?
    public var answer: String?
    public var promptTokens: [Int]
    public var promptStrTokens: [String]
    public var answerTokens: [Int]
    public var answerStrTokens: [String]
    /// `ids` (given as ids), `joint` (the tokens that follow the prompt's in `prompt + answer`,
    /// what the model would really see) or `separate` (the answer tokenized on its own, as
    /// TransformerLens does, because the joint tokenization changes the prompt's tokens).
    public var tokenization: String
    /// What TransformerLens's `test_prompt` would score, when it differs from `answerTokens`.
    public var transformerLensAnswerTokens: [Int]?
    /// Everything surprising about spaces, BOS and token boundaries, in words.
    public var warnings: [String]
    public var positions: [TestPromptPosition]
    /// `Σ log p(answer token)`: the log probability of the whole answer.
    public var answerLogProb: Float
}

/// TransformerLens's `test_prompt` on token ids: scores `answerTokens` after `promptTokens`,
/// appending the answer (teacher forcing) so position `len(prompt) − 1 + i` predicts answer token i.
public func testPrompt(model: HookedTransformer, promptTokens: [Int], answerTokens: [Int], top: Int = 10) throws -> TestPromptResult {
    guard !promptTokens.isEmpty else { throw MechanicError.emptyInput("the prompt has no tokens (nothing predicts the first answer token)") }
    guard !answerTokens.isEmpty else { throw MechanicError.emptyInput("the answer has no tokens") }
    let tokens = promptTokens + answerTokens
    let logits = try model.runWithHooks(TokenBatch(tokens), hooks: [])  // [1, pos, d_vocab]
    let V = model.config.dVocab
    var positions: [TestPromptPosition] = []
    var logProb: Float = 0
    for (i, id) in answerTokens.enumerated() {
        let p = promptTokens.count - 1 + i
        let row = LogitRow(Array(logits.data[(p * V)..<((p + 1) * V)]))
        let scored = row.score(id, model: model)
        logProb += row.logits[id] - row.logSumExp
        positions.append(TestPromptPosition(position: p, answer: scored, top: row.top(top, model: model)))
    }
    return TestPromptResult(prompt: nil, answer: nil, promptTokens: promptTokens, promptStrTokens: model.pieceStrings(promptTokens),
                            answerTokens: answerTokens, answerStrTokens: model.pieceStrings(answerTokens), tokenization: "ids",
                            transformerLensAnswerTokens: nil, warnings: [], positions: positions, answerLogProb: logProb)
}

/// TransformerLens's `test_prompt(prompt, answer, model, prepend_space_to_answer, prepend_bos, top_k)`
/// with its traps made explicit:
/// - **Space rule.** With `prependSpaceToAnswer` (the default, as TransformerLens) a space is put
///   before an answer that lacks one — unless the prompt already ends in whitespace, where that
///   would make the model see two spaces (TransformerLens adds it anyway; here it is a warning).
///   Without it, an answer that does not start with a space after a prompt that does not end with
///   one is scored glued to the last word, with a warning.
/// - **Token boundary.** The answer tokens are those that follow the prompt's tokens in the
///   tokenization of `prompt + answer` — what the model would really read. When the prompt's
///   trailing whitespace merges into the answer's first token ("The mouse is " + "short" →
///   … "▁is" "▁short"), that token is scored after the prompt without its whitespace token.
///   Any other change of the prompt's own tokens (a merge across the boundary) scores the answer
///   tokenized on its own, as TransformerLens does, with a warning — as a continuation (no
///   SentencePiece dummy-prefix space) when that is what reads as prompt + answer.
/// - **What the model reads.** When the scored ids decode to anything but prompt + answer, a
///   warning quotes both.
/// - **No empty first token.** Tokenized on its own, a SentencePiece answer can start with a
///   lone `▁` that decodes to nothing (TransformerLens then scores an empty token first); such
///   pieces are dropped, with a warning.
/// - **BOS.** `prependBOS` (default: the model's) is applied to the prompt only.
public func testPrompt(model: HookedTransformer, prompt: String, answer: String, prependBOS: Bool? = nil,
                       prependSpaceToAnswer: Bool = true, top: Int = 10) throws -> TestPromptResult {
    // An empty answer would be scored as the lone space the space rule puts before it.
    guard !answer.isEmpty else { throw MechanicError.emptyInput("the answer is an empty string; give the text to score, e.g. \" Paris\"") }
    guard let tok = model.tokenizer else { throw MechanicError.noTokenizer(model: model.source) }
    let t = try AnswerTokenization(prompt: prompt, answer: answer, tokenizer: tok,
                                   prependBOS: prependBOS ?? (model.config.defaultPrependBOS && tok.bosTokenId != nil),
                                   prependSpaceToAnswer: prependSpaceToAnswer)
    var result = try testPrompt(model: model, promptTokens: t.promptTokens, answerTokens: t.answerTokens, top: top)
    result.prompt = prompt
    result.answer = t.text
    result.tokenization = t.method
    result.transformerLensAnswerTokens = t.answerTokens == t.transformerLensAnswerTokens ? nil : t.transformerLensAnswerTokens
    result.warnings = t.warnings
    return result
}

/// The answer text to score and the warnings the space rule raises (see `testPrompt`).
public func answerText(prompt: String, answer: String, prependSpace: Bool) -> (text: String, warnings: [String]) {
    let promptEndsInSpace = prompt.last?.isWhitespace ?? false
    let answerStartsWithSpace = answer.first?.isWhitespace ?? false
    var warnings: [String] = []
    var text = answer
    if prependSpace && !answerStartsWithSpace {
        if promptEndsInSpace {
            warnings.append("the prompt ends with whitespace, so no space is prepended to the answer (TransformerLens would prepend one and the model would see two)")
        } else {
            text = " " + answer
        }
    } else if !prependSpace && !answerStartsWithSpace && !promptEndsInSpace && !prompt.isEmpty {
        warnings.append("the answer \(answer.debugDescription) does not start with a space and the prompt does not end with one: it is scored as a continuation of the prompt's last word")
    }
    if promptEndsInSpace && answerStartsWithSpace {
        warnings.append("the prompt ends with whitespace and the answer starts with a space: the model sees two spaces")
    }
    return (text, warnings)
}

/// `separateAnswerTokens(tokenizer:text:)` with the model's tokenizer.
public func separateAnswerTokens(model: HookedTransformer, text: String) throws -> (tokens: [Int], warnings: [String]) {
    guard let tok = model.tokenizer else { throw MechanicError.noTokenizer(model: model.source) }
    return try separateAnswerTokens(tokenizer: tok, text: text)
}
