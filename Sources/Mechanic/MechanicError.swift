/// Errors a user can cause through the model API or the command line. Each message says what was
/// wrong (naming the file, key, hook, token or value) and, where possible, what to do.
public enum MechanicError: Error, CustomStringConvertible, Equatable {
    case fileMissing(path: String, what: String)
    case badConfig(file: String, reason: String)
    case missingConfigKey(file: String, key: String)
    case unsupportedModelType(file: String, modelType: String)
    case unsupportedConfig(file: String, key: String, value: String, reason: String)
    case unexpectedTensor(file: String, tensor: String)
    case unknownHook(name: String, suggestion: String?)
    case promptTooLong(tokens: Int, nCtx: Int)
    case tokenOutOfRange(id: Int, dVocab: Int)
    case emptyInput(String)
    case raggedBatch(String)
    case noTokenizer(model: String)
    /// The tokenizer's vocabulary does not fit the model's `d_vocab` (names both files).
    case tokenizerDoesNotFit(tokenizer: String, config: String, reason: String)
    case notSingleToken(text: String, pieces: [String])
    case tokenNotFound(token: String, inPrompt: [String])
    case invalidArgument(String)
    /// Caching the requested hook points would need `bytes` of the `available` memory (more
    /// than 80%); `residPostBytes` is what caching only `hook_resid_post` would need.
    case cacheTooLarge(bytes: Int, available: Int, residPostBytes: Int)
    /// Long work stopped because its `CancellationToken` was cancelled (Ctrl-C), after `done` of
    /// `total` units (`unit`, e.g. "patches").
    case cancelled(done: Int, total: Int, unit: String)

    public var description: String {
        switch self {
        case let .fileMissing(path, what):
            return "\(path) does not exist (expected \(what))"
        case let .badConfig(file, reason):
            return "\(file): \(reason)"
        case let .missingConfigKey(file, key):
            return "\(file): required key \"\(key)\" is missing"
        case let .unsupportedModelType(file, t):
            return "\(file): model_type \"\(t)\" is not supported (supported: gpt2, gpt_neox, llama, mistral, qwen2)"
        case let .unsupportedConfig(file, key, value, reason):
            return "\(file): \"\(key)\": \(value) cannot be honoured: \(reason)"
        case let .unexpectedTensor(file, tensor):
            return "\(file): unexpected tensor '\(tensor)' — the checkpoint does not match the architecture in config.json"
        case let .unknownHook(name, suggestion):
            return "unknown hook point '\(name)'" + (suggestion.map { " (did you mean '\($0)'?)" } ?? "")
        case let .promptTooLong(tokens, nCtx):
            return "the input has \(tokens) positions but the model's context (n_ctx) is \(nCtx)"
        case let .tokenOutOfRange(id, dVocab):
            return "token id \(id) is outside the vocabulary (d_vocab = \(dVocab))"
        case let .emptyInput(what):
            return "empty input: \(what)"
        case let .raggedBatch(what):
            return "ragged batch: \(what)"
        case let .tokenizerDoesNotFit(tokenizer, config, reason):
            return "the tokenizer \(tokenizer) does not fit the model of \(config): \(reason); pass the model's own tokenizer with --tokenizer PATH"
        case let .noTokenizer(model):
            return "\(model) has no tokenizer files (tokenizer.json, or vocab.json + merges.txt); pass token ids instead"
        case let .notSingleToken(text, pieces):
            return "\"\(text)\" is \(pieces.count) tokens, not one: \(pieces.map { "\"\($0)\"" }.joined(separator: " + "))"
        case let .tokenNotFound(token, prompt):
            return "token \"\(token)\" does not occur in the prompt \(prompt.map { "\"\($0)\"" }.joined(separator: ","))"
        case let .invalidArgument(what):
            return what
        case let .cacheTooLarge(bytes, available, resid):
            return String(format: "the cache would need about %.1f GB but only %.1f GB of memory is available; "
                          + "cache fewer hook points (hook_resid_post alone is about %.1f GB) or fewer/shorter prompts",
                          Double(bytes) / 1e9, Double(available) / 1e9, Double(resid) / 1e9)
        case let .cancelled(done, total, unit):
            return "interrupted after \(done) of \(total) \(unit)"
        }
    }
}
