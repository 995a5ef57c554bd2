import MechanicTokenizers

/// TransformerLens's tokenization helpers (`to_tokens`, `to_str_tokens`, `to_single_token`,
/// `get_token_position`, `to_string`) with its BOS rule: prepend BOS when the tokenizer does not
/// add it itself, never twice; `prependBOS: false` removes one the tokenizer adds.
extension HookedTransformer {
    func requireTokenizer() throws -> Tokenizer {
        guard let tokenizer else { throw MechanicError.noTokenizer(model: source) }
        return tokenizer
    }

    /// Token ids of `text` (one sequence), BOS handled as TransformerLens does.
    /// Unlike TransformerLens (which silently truncates to n_ctx), a prompt longer than the
    /// context is an error at forward time.
    public func toTokens(_ text: String, prependBOS: Bool? = nil) throws -> [Int] {
        let tok = try requireTokenizer()
        // TransformerLens's default: prepend BOS (not for Qwen2), and only if the tokenizer has one.
        return try Self.tokens(text, tokenizer: tok, prependBOS: prependBOS ?? (config.defaultPrependBOS && tok.bosTokenId != nil))
    }

    /// TransformerLens's `to_tokens` rule for any tokenizer, without a model (for `mechanic tokenize`).
    public static func tokens(_ text: String, tokenizer tok: Tokenizer, prependBOS bos: Bool) throws -> [Int] {
        var ids = tok.encode(text, addSpecialTokens: true)
        if tok.addsBosToken {
            if !bos, let b = tok.bosTokenId, ids.first == b { ids.removeFirst() }
        } else if bos {
            guard let b = tok.bosTokenId else {
                throw MechanicError.invalidArgument("the tokenizer has no BOS token to prepend; use --no-bos")
            }
            ids.insert(b, at: 0)
        }
        return ids
    }

    /// Several texts as one padded batch (right padding by default, as TransformerLens).
    public func toTokens(_ texts: [String], prependBOS: Bool? = nil, paddingSide: TokenBatch.PaddingSide = .right) throws -> TokenBatch {
        let seqs = try texts.map { try toTokens($0, prependBOS: prependBOS) }
        let tok = try requireTokenizer()
        let pad = tok.padTokenId ?? tok.eosTokenId ?? tok.bosTokenId ?? 0
        return try TokenBatch.padding(seqs, padId: pad, side: paddingSide)
    }

    /// Each token decoded on its own (`to_str_tokens`).
    public func toStrTokens(_ ids: [Int]) throws -> [String] {
        let tok = try requireTokenizer()
        return ids.map { tok.tokenString($0) }
    }

    public func toStrTokens(_ text: String, prependBOS: Bool? = nil) throws -> [String] {
        try toStrTokens(toTokens(text, prependBOS: prependBOS))
    }

    /// The id of a string that must be exactly one token (no BOS); an error names the pieces otherwise.
    public func toSingleToken(_ text: String) throws -> Int {
        let tok = try requireTokenizer()
        guard !text.isEmpty else { throw MechanicError.emptyInput("the token text is an empty string; give one token such as \" Paris\" (mind the leading space)") }
        var ids = tok.encode(text, addSpecialTokens: false)
        if tok.addsBosToken, let b = tok.bosTokenId, ids.first == b { ids.removeFirst() }
        guard ids.count == 1, let id = ids.first else {
            throw MechanicError.notSingleToken(text: text, pieces: ids.map { tok.tokenString($0) })
        }
        return id
    }

    /// Decodes ids to text (`to_string`).
    public func toString(_ ids: [Int]) throws -> String { try requireTokenizer().decode(ids) }

    public enum TokenPositionMode: String, Sendable { case first, last }

    /// Position of `token` (a single-token string or an id) in the tokenized prompt
    /// (`get_token_position`), counting the BOS when it is prepended.
    public func tokenPosition(of token: String, in prompt: String, mode: TokenPositionMode = .first,
                              prependBOS: Bool? = nil) throws -> Int {
        let id = try toSingleToken(token)
        let ids = try toTokens(prompt, prependBOS: prependBOS)
        let found = mode == .first ? ids.firstIndex(of: id) : ids.lastIndex(of: id)
        guard let found else { throw MechanicError.tokenNotFound(token: token, inPrompt: try toStrTokens(ids)) }
        return found
    }
}
