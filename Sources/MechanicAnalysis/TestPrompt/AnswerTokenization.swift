import Mechanic

/// Which ids `testPrompt` scores for a text prompt and answer, and the warnings that say why —
/// decided from the tokenizer alone (see `testPrompt(model:prompt:answer:…)` for the rules).
public struct AnswerTokenization: Sendable, Equatable {
    /// The answer text after the space rule.
    public var text: String
    public var promptTokens: [Int]
    public var answerTokens: [Int]
    /// `joint` or `separate` (see `TestPromptResult.tokenization`).
    public var method: String
    /// The answer tokenized on its own without BOS (TransformerLens's `test_prompt` tokens).
    public var transformerLensAnswerTokens: [Int]
    public var warnings: [String]

    public init(prompt: String, answer: String, tokenizer tok: Tokenizer, prependBOS: Bool,
                prependSpaceToAnswer: Bool = true) throws {
        let (text, spaceWarnings) = answerText(prompt: prompt, answer: answer, prependSpace: prependSpaceToAnswer)
        self.text = text
        warnings = spaceWarnings
        let ids = { (s: String, bos: Bool) throws -> [Int] in try HookedTransformer.tokens(s, tokenizer: tok, prependBOS: bos) }
        let show = { (ids: [Int]) -> String in ids.map { tok.displayToken($0).debugDescription }.joined(separator: " + ") }
        /// The text the model reads from prompt + answer ids (special tokens such as BOS left out).
        let reads = { (p: [Int], a: [Int]) -> String in tok.decode(p + a, skipSpecialTokens: true) }
        let intended = prompt + text

        promptTokens = try ids(prompt, prependBOS)
        let joint = try ids(intended, prependBOS)
        transformerLensAnswerTokens = try ids(text, false)
        let k = zip(promptTokens, joint).prefix { $0 == $1 }.count
        if joint.count > promptTokens.count, k == promptTokens.count {
            answerTokens = Array(joint.dropFirst(k))
            method = "joint"
        } else if k >= 1, k < promptTokens.count, joint.count > k, prompt.last?.isWhitespace == true,
                  tok.decode(Array(promptTokens[k...]), skipSpecialTokens: true).allSatisfy(\.isWhitespace) {
            // The prompt's trailing whitespace token (Llama's lone "▁", GPT-2's " ") merges into the
            // answer's first token ("▁short"): score that token after the rest of the prompt, which is
            // exactly how the model reads prompt + answer (scoring the answer after the lone "▁" would
            // put two spaces before it with a SentencePiece tokenizer).
            let dropped = Array(promptTokens[k...])
            promptTokens = Array(joint[..<k])
            answerTokens = Array(joint[k...])
            method = "joint"
            warnings.append("the prompt's trailing whitespace (\(show(dropped))) is part of the answer's first token in \(intended.debugDescription): "
                            + "scoring \(show(answerTokens)) after the prompt without it")
        } else {
            method = "separate"
            warnings.append("prompt + answer tokenizes the prompt differently (\(show(joint))); scoring the answer tokenized on its own")
            let separate = try separateAnswerTokens(tokenizer: tok, text: text)
            answerTokens = separate.tokens
            if reads(promptTokens, answerTokens) != intended, let continuation = try Self.continuationTokens(text, ids: ids),
               reads(promptTokens, continuation) == intended {
                // Tokenized on its own a SentencePiece answer gains a dummy-prefix space ("s" → "▁s").
                warnings.append("tokenized on its own the answer reads with a leading space (\(show(answerTokens))); "
                                + "scoring its pieces as a continuation instead (\(show(continuation)))")
                answerTokens = continuation
            } else {
                warnings += separate.warnings
            }
        }
        guard !answerTokens.isEmpty else { throw MechanicError.emptyInput("the answer \(answer.debugDescription) has no tokens") }
        let seen = reads(promptTokens, answerTokens)
        if !seen.utf8.elementsEqual(intended.utf8) {
            warnings.append("the scored tokens read \(seen.debugDescription), not \(intended.debugDescription)")
        }
        if answerTokens != transformerLensAnswerTokens {
            warnings.append("TransformerLens's test_prompt would score \(show(transformerLensAnswerTokens)) (\(transformerLensAnswerTokens)); "
                            + "scoring \(show(answerTokens)) (\(answerTokens))")
        }
    }

    /// The answer `text` tokenized on its own to follow `promptTokens` (a prompt given as ids):
    /// `separateAnswerTokens`, or — when that reads with a space the text lacks (SentencePiece's
    /// dummy prefix: "mat" → "▁mat" after `--no-prepend-space`) — its continuation pieces; a
    /// warning quotes the text whenever the ids still read otherwise.
    public static func answer(after promptTokens: [Int], text: String, tokenizer tok: Tokenizer) throws -> (tokens: [Int], warnings: [String]) {
        let ids = { (s: String, bos: Bool) throws -> [Int] in try HookedTransformer.tokens(s, tokenizer: tok, prependBOS: bos) }
        let intended = tok.decode(promptTokens, skipSpecialTokens: true) + text
        let reads = { (a: [Int]) -> String in tok.decode(promptTokens + a, skipSpecialTokens: true) }
        var (tokens, warnings) = try separateAnswerTokens(tokenizer: tok, text: text)
        if reads(tokens) != intended, let continuation = try continuationTokens(text, ids: ids), reads(continuation) == intended {
            warnings = ["tokenized on its own the answer reads with a leading space (\(tokens.map { tok.displayToken($0).debugDescription }.joined(separator: " + "))); "
                        + "scoring its pieces as a continuation instead (\(continuation.map { tok.displayToken($0).debugDescription }.joined(separator: " + ")))"]
            tokens = continuation
        }
        let seen = reads(tokens)
        if !seen.utf8.elementsEqual(intended.utf8) {
            warnings.append("the scored tokens read \(seen.debugDescription), not \(intended.debugDescription)")
        }
        return (tokens, warnings)
    }

    /// The ids of `text` as it continues other text (no dummy-prefix space): `"\n" + text` tokenized,
    /// minus the tokens of "\n" — nil when the newline's tokens merge into the text.
    private static func continuationTokens(_ text: String, ids: (String, Bool) throws -> [Int]) throws -> [Int]? {
        let anchor = try ids("\n", false), full = try ids("\n" + text, false)
        guard full.count > anchor.count, Array(full.prefix(anchor.count)) == anchor else { return nil }
        return Array(full.dropFirst(anchor.count))
    }
}

/// The answer tokenized on its own without BOS (TransformerLens's way), minus leading tokens that
/// decode to nothing (a lone SentencePiece `▁`), each dropped with a warning.
public func separateAnswerTokens(tokenizer tok: Tokenizer, text: String) throws -> (tokens: [Int], warnings: [String]) {
    var tokens = try HookedTransformer.tokens(text, tokenizer: tok, prependBOS: false)
    var warnings: [String] = []
    while tokens.count > 1, let first = tokens.first, tok.decode([first]).isEmpty {
        warnings.append("dropped the answer's leading token \(first) (\(tok.displayToken(first).debugDescription)), which decodes to nothing")
        tokens.removeFirst()
    }
    return (tokens, warnings)
}
