import Foundation
import MechanicTokenizers

/// Attaching a tokenizer to a model, checking that it fits, and the BOS a model without one uses.
extension HookedTransformer {
    /// Replaces the model's tokenizer (nil removes it), after checking that its ids fit `d_vocab`.
    public func setTokenizer(_ tokenizer: Tokenizer?) throws {
        if let tokenizer {
            try Self.checkTokenizer(tokenizer, fits: config.dVocab,
                                    configFile: URL(fileURLWithPath: source).appendingPathComponent("config.json").path)
        }
        self.tokenizer = tokenizer
    }

    /// Loads and attaches the tokenizer at `path` (a tokenizer.json, a directory or a tokenizer.model).
    public func setTokenizer(path: URL) throws { try setTokenizer(Tokenizer.load(path: path)) }

    /// A tokenizer whose ids do not fit the model would run and decode every token as "": an
    /// error naming both files instead. Fits: a non-empty vocabulary, every id below `d_vocab`
    /// (a model may have more rows than tokens, e.g. Pythia pads to a multiple of 128).
    public static func checkTokenizer(_ tokenizer: Tokenizer, fits dVocab: Int, configFile: String) throws {
        if tokenizer.vocabSize == 0 {
            throw MechanicError.tokenizerDoesNotFit(tokenizer: tokenizer.source, config: configFile,
                                                    reason: "the tokenizer has an empty vocabulary while the model has d_vocab = \(dVocab)")
        }
        if tokenizer.vocabSize > dVocab {
            throw MechanicError.tokenizerDoesNotFit(tokenizer: tokenizer.source, config: configFile,
                                                    reason: "the tokenizer has ids up to \(tokenizer.vocabSize - 1) but the model has d_vocab = \(dVocab) (ids 0…\(dVocab - 1))")
        }
    }

    /// `config.json`'s `bos_token_id` when it is an integer id below `d_vocab`.
    static func configBOS(_ hf: HFConfig, dVocab: Int) -> Int? {
        guard let id = try? hf.int("bos_token_id"), id >= 0, id < dVocab else { return nil }
        return id
    }

    /// The BOS token a run prepends: the tokenizer's BOS (else its EOS, TransformerLens's fallback
    /// for GPT-2-style tokenizers), else `config.json`'s `bos_token_id` for a model shipped
    /// without tokenizer files. Nil when none is known.
    public var bosTokenId: Int? {
        if let tokenizer { return tokenizer.bosTokenId ?? tokenizer.eosTokenId ?? configBosTokenId }
        return configBosTokenId
    }
}
