import Foundation

/// A byte-level / SentencePiece-style BPE tokenizer that returns exactly the ids of Hugging Face
/// `tokenizers` (as loaded by `transformers.AutoTokenizer`) for the same files.
///
/// Encoding runs the pipeline of `tokenizer.json`: added tokens are cut out of the raw text,
/// the rest is normalized, added tokens that match normalized text are cut out, the remaining
/// pieces are pre-tokenized into words, each word is encoded by BPE (cached), and the
/// post-processor adds special tokens such as BOS.
///
/// Thread-safe: `encode`/`decode` may run concurrently.
public final class Tokenizer: @unchecked Sendable {
    let model: BPEModel
    let normalizer: Normalizer?
    let preTokenizer: PreTokenizer?
    let postProcessor: PostProcessor?
    let decoder: Decoder?
    let added: AddedVocabulary
    /// Set for a tokenizer read from a SentencePiece `tokenizer.model`: it encodes and decodes
    /// (`model` then only serves id/token lookups).
    let sentencePiece: SentencePieceModel?
    private let rawMatcher: TokenMatcher
    private let normalizedMatcher: TokenMatcher

    /// Highest id + 1, counting added tokens.
    public let vocabSize: Int
    public let bosTokenId: Int?
    public let eosTokenId: Int?
    public let padTokenId: Int?
    public let unkTokenId: Int?
    public let bosToken: String?
    public let eosToken: String?
    public let padToken: String?
    public let unkToken: String?
    /// True when `encode(_:addSpecialTokens: true)` itself puts a token (BOS, or CLS) before the
    /// text; when false, callers that want a BOS prepend it (as TransformerLens does for GPT-2).
    /// Agrees with Hugging Face's `len(tok.encode("")) > 0` except for templates that only append
    /// (e.g. `$A </s>`), which add no BOS.
    public let addsBosToken: Bool
    /// True for SentencePiece-style vocabularies, whose word-initial pieces carry a "▁" that
    /// `tokenString` turns into a space or drops ("▁short" and "short" both show as "short").
    public let marksWordStarts: Bool
    /// The file (or directory) the tokenizer was read from, for messages.
    public internal(set) var source = "<memory>"

    // MARK: - Loading

    /// Loads a model directory: `tokenizer.json` if present, else GPT-2's `vocab.json` +
    /// `merges.txt`, else SentencePiece's `tokenizer.model`; plus `tokenizer_config.json` and
    /// `special_tokens_map.json` when present.
    public static func load(directory: URL) throws -> Tokenizer {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw TokenizerError.fileNotFound(path: directory.path)
        }
        let file = { (name: String) -> URL? in
            let url = directory.appendingPathComponent(name)
            return fm.fileExists(atPath: url.path) ? url : nil
        }
        let config = try TokenizerConfig.load(config: file("tokenizer_config.json"), specialTokensMap: file("special_tokens_map.json"))
        if let json = file("tokenizer.json") {
            let components = try TokenizerJSONScan.load(contentsOf: json)
            let tok = try Tokenizer(components: components, config: config, configFile: file("tokenizer_config.json")?.path, gpt2Files: false)
            tok.source = json.path
            return tok
        }
        if let vocab = file("vocab.json"), let merges = file("merges.txt") {
            let components = try GPT2Files.load(vocab: vocab, merges: merges, addPrefixSpace: config.addPrefixSpace ?? false)
            // GPT2Tokenizer's class defaults when no config names them: <|endoftext|> is unk, bos and eos.
            var config = config
            config.bosToken = config.bosToken ?? "<|endoftext|>"
            config.eosToken = config.eosToken ?? "<|endoftext|>"
            config.unkToken = config.unkToken ?? "<|endoftext|>"
            let tok = try Tokenizer(components: components, config: config, configFile: file("tokenizer_config.json")?.path, gpt2Files: true)
            tok.source = vocab.path
            return tok
        }
        if let model = file("tokenizer.model") {
            return try load(sentencePieceModel: model, config: config, configFile: file("tokenizer_config.json")?.path)
        }
        throw TokenizerError.noTokenizerFiles(directory: directory.path)
    }

    /// Loads a `tokenizer.json`, with an optional `tokenizer_config.json` (and the
    /// `special_tokens_map.json` beside it, if any).
    public static func load(tokenizerJSON: URL, config: URL?) throws -> Tokenizer {
        let components = try TokenizerJSONScan.load(contentsOf: tokenizerJSON)
        var settings: TokenizerConfig?
        if let config {
            let map = config.deletingLastPathComponent().appendingPathComponent("special_tokens_map.json")
            settings = try TokenizerConfig.load(config: config, specialTokensMap: FileManager.default.fileExists(atPath: map.path) ? map : nil)
        }
        let tok = try Tokenizer(components: components, config: settings, configFile: config?.path, gpt2Files: false)
        tok.source = tokenizerJSON.path
        return tok
    }

    /// Loads a tokenizer from `path`: a directory (as `load(directory:)`), a `tokenizer.json`
    /// (with the `tokenizer_config.json` beside it, if any), or a SentencePiece `.model` file.
    public static func load(path: URL) throws -> Tokenizer {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path.path, isDirectory: &isDirectory) else {
            throw TokenizerError.fileNotFound(path: path.path)
        }
        if isDirectory.boolValue { return try load(directory: path) }
        let beside = { (name: String) -> URL? in
            let url = path.deletingLastPathComponent().appendingPathComponent(name)
            return FileManager.default.fileExists(atPath: url.path) ? url : nil
        }
        if ["vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"].contains(path.lastPathComponent) {
            return try load(directory: path.deletingLastPathComponent())  // one of a directory's files: the directory
        }
        if path.pathExtension == "model" {
            let config = try TokenizerConfig.load(config: beside("tokenizer_config.json"), specialTokensMap: beside("special_tokens_map.json"))
            return try load(sentencePieceModel: path, config: config, configFile: beside("tokenizer_config.json")?.path)
        }
        guard path.pathExtension == "json" else {
            throw TokenizerError.unsupportedComponent(file: path.path, component: "tokenizer file",
                                                      type: path.pathExtension.isEmpty ? path.lastPathComponent : ".\(path.pathExtension)")
        }
        return try load(tokenizerJSON: path, config: beside("tokenizer_config.json"))
    }

    /// Loads a SentencePiece `tokenizer.model` (BPE, as Llama-2 ships it), with settings from a
    /// `tokenizer_config.json` when given. BOS is added unless the config says `add_bos_token: false`
    /// (`LlamaTokenizer`'s default).
    static func load(sentencePieceModel url: URL, config: TokenizerConfig?, configFile: String?) throws -> Tokenizer {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw TokenizerError.unreadableFile(path: url.path, reason: error.localizedDescription)
        }
        let proto = try SentencePieceModelProto(data: data, file: url.path)
        let sp = try SentencePieceModel(proto: proto, file: url.path)
        if proto.pieces.count > BPEVocabulary.idLimit {   // ids index arrays (as BPEVocabulary(entries:…) checks)
            throw TokenizerError.invalidValue(file: url.path, key: "model.vocab[\(TokenizerError.quoted(proto.pieces[BPEVocabulary.idLimit].piece))]",
                                              value: String(BPEVocabulary.idLimit), expected: "a token id between 0 and 16,000,000")
        }
        let bpe = BPEModel(vocabulary: sp.vocabulary, options: BPEOptions(unkToken: proto.pieces[proto.unkId].piece), byteLevel: false)
        let components = TokenizerComponents(model: bpe, normalizer: nil, preTokenizer: nil,
                                             postProcessor: TemplatePostProcessor(bos: sp.bosId, eos: nil), decoder: nil, addedTokens: [])
        var config = config
        if let c = config, c.addBosToken != nil || c.addEosToken != nil, c.bosEosTemplateDefaults == nil {
            config?.tokenizerClass = "LlamaTokenizer"  // apply add_bos_token / add_eos_token over Llama's defaults
        }
        if config?.bosToken == nil, let id = sp.bosId { config = config ?? TokenizerConfig(); config?.bosToken = proto.pieces[id].piece }
        if config?.eosToken == nil, let id = sp.eosId { config = config ?? TokenizerConfig(); config?.eosToken = proto.pieces[id].piece }
        if config?.padToken == nil, let id = sp.padId { config = config ?? TokenizerConfig(); config?.padToken = proto.pieces[id].piece }
        let tok = try Tokenizer(components: components, config: config, configFile: configFile ?? url.path, gpt2Files: false, sentencePiece: sp)
        tok.source = url.path
        return tok
    }

    init(components: TokenizerComponents, config: TokenizerConfig?, configFile: String?, gpt2Files: Bool,
         sentencePiece: SentencePieceModel? = nil) throws {
        self.sentencePiece = sentencePiece
        model = components.model
        normalizer = components.normalizer
        preTokenizer = components.preTokenizer
        decoder = components.decoder
        let added = AddedVocabulary()
        for token in components.addedTokens { added.add(token) }
        if let config {
            // transformers: `added_tokens_decoder` entries the tokenizer lacks, then the special tokens.
            for token in config.addedTokens where added.token(content: token.content) != token.withId(added.token(content: token.content)?.id) {
                var t = token
                t.special = t.special || config.specialTokens.contains { $0.utf8.elementsEqual(t.content.utf8) }
                added.add(t, modelId: model.id(of: t.content), modelVocabularyCount: model.vocab.count)
            }
            for content in config.specialTokens where added.token(content: content) == nil {
                added.add(AddedToken(content: content, id: -1, special: true, normalized: false),
                          modelId: model.id(of: content), modelVocabularyCount: model.vocab.count)
            }
        }
        added.finish()
        self.added = added
        rawMatcher = added.raw
        normalizedMatcher = added.normalized

        let lookup = { (content: String?) -> Int? in content.flatMap { added.token(content: $0)?.id ?? components.model.id(of: $0) } }
        var bosToken = config?.bosToken
        let eosToken = config?.eosToken
        if bosToken == nil, let template = components.postProcessor as? TemplatePostProcessor,
           let first = template.leadingSpecialIds.first {
            // Without a configured BOS, the token the template puts first is the BOS.
            bosToken = added.token(id: first)?.content ?? components.model.token(of: first)
        }
        let bosId = lookup(bosToken), eosId = lookup(eosToken)
        self.bosToken = bosToken
        self.eosToken = eosToken
        padToken = config?.padToken
        unkToken = config?.unkToken ?? components.model.options.unkToken
        bosTokenId = bosId
        eosTokenId = eosId
        padTokenId = lookup(padToken)
        unkTokenId = lookup(unkToken)

        var post = components.postProcessor
        if let config {
            let file = configFile ?? "tokenizer_config.json"
            func rebuilt(bos addBos: Bool, eos addEos: Bool) throws -> PostProcessor {
                if addBos && bosId == nil {
                    throw TokenizerError.invalidValue(file: file, key: "bos_token", value: bosToken.map(TokenizerError.quoted) ?? "null",
                                                      expected: "a token in the vocabulary, since add_bos_token is true")
                }
                if addEos && eosId == nil {
                    throw TokenizerError.invalidValue(file: file, key: "eos_token", value: eosToken.map(TokenizerError.quoted) ?? "null",
                                                      expected: "a token in the vocabulary, since add_eos_token is true")
                }
                return TemplatePostProcessor(bos: addBos ? bosId : nil, eos: addEos ? eosId : nil)
            }
            if gpt2Files {
                post = config.addBosToken == true ? try rebuilt(bos: true, eos: false) : nil
            } else if let defaults = config.bosEosTemplateDefaults {
                post = try rebuilt(bos: config.addBosToken ?? defaults.bos, eos: config.addEosToken ?? defaults.eos)
            }
        }
        postProcessor = post
        vocabSize = max(model.tokenCount, added.maxId + 1)
        addsBosToken = post?.addsLeadingTokens ?? false
        marksWordStarts = sentencePiece != nil
            || (!model.byteLevel && model.hasToken(startingWith: [0xE2, 0x96, 0x81]))
    }

    // MARK: - Encoding

    /// Token ids of `text`, equal to Hugging Face's `tokenizer(text)["input_ids"]`
    /// (`addSpecialTokens: true`) or `tokenizer.encode(text, add_special_tokens=False)`.
    public func encode(_ text: String, addSpecialTokens: Bool = true) -> [Int] {
        if let sentencePiece {
            let ids = sentencePiece.encode(text)
            if addSpecialTokens, let postProcessor { return postProcessor.process(ids) }
            return ids
        }
        var ids: [Int] = []
        ids.reserveCapacity(text.utf8.count / 3 + 4)
        let cache = model.checkoutCache()
        var text = text
        text.withUTF8 { encodeRaw($0, cache: cache, into: &ids) }
        model.returnCache(cache)
        if addSpecialTokens, let postProcessor { return postProcessor.process(ids) }
        return ids
    }

    private func encodeRaw(_ p: UnsafeBufferPointer<UInt8>, cache: WordCache, into ids: inout [Int]) {
        if rawMatcher.isEmpty {
            encodeText(p, atStart: true, cache: cache, into: &ids)
            return
        }
        rawMatcher.split(p) { start, end, tokenId in
            if tokenId >= 0 {
                ids.append(tokenId)
            } else {
                encodeText(UnsafeBufferPointer(rebasing: p[start..<end]), atStart: start == 0, cache: cache, into: &ids)
            }
        }
    }

    /// Normalizes a piece of raw text and encodes it.
    private func encodeText(_ p: UnsafeBufferPointer<UInt8>, atStart: Bool, cache: WordCache, into ids: inout [Int]) {
        if p.isEmpty { return }
        if let normalizer, let normalized = normalizer.normalize(p) {
            normalized.withUnsafeBufferPointer { encodeNormalized($0, atStart: atStart, cache: cache, into: &ids) }
        } else {
            encodeNormalized(p, atStart: atStart, cache: cache, into: &ids)
        }
    }

    private func encodeNormalized(_ p: UnsafeBufferPointer<UInt8>, atStart: Bool, cache: WordCache, into ids: inout [Int]) {
        if normalizedMatcher.isEmpty {
            encodeWords(p, atStart: atStart, cache: cache, into: &ids)
            return
        }
        normalizedMatcher.split(p) { start, end, tokenId in
            if tokenId >= 0 {
                ids.append(tokenId)
            } else {
                encodeWords(UnsafeBufferPointer(rebasing: p[start..<end]), atStart: atStart && start == 0, cache: cache, into: &ids)
            }
        }
    }

    @inline(__always)
    private func encodeWords(_ p: UnsafeBufferPointer<UInt8>, atStart: Bool, cache: WordCache, into ids: inout [Int]) {
        if p.isEmpty { return }
        guard let preTokenizer else {
            model.encodeWord(p, cache: cache, into: &ids)
            return
        }
        preTokenizer.preTokenize(p, atStart: atStart) { word, _ in model.encodeWord(word, cache: cache, into: &ids) }
    }

    // MARK: - Decoding

    /// Text of `ids`, equal to Hugging Face's `decode(ids, clean_up_tokenization_spaces=False)`.
    /// Unknown ids are skipped.
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = false) -> String {
        if let sentencePiece { return sentencePiece.decode(ids, skipUnknown: skipSpecialTokens) }
        var tokens: [String] = []
        tokens.reserveCapacity(ids.count)
        for id in ids {
            if let a = added.token(id: id) {
                if skipSpecialTokens && a.special { continue }
                tokens.append(a.content)
            } else if let t = model.token(of: id) {
                if skipSpecialTokens, let a = added.token(content: t), a.special { continue }
                tokens.append(t)
            }
        }
        guard let decoder else { return tokens.joined(separator: " ") }
        return decoder.decodeChain(tokens).joined()
    }

    /// The text of one token as Hugging Face's `decode([id])` shows it (what TransformerLens's
    /// `to_str_tokens` prints): "Ġthe" → " the", Llama's "▁the" → "the", "<0x0A>" → "\n".
    public func tokenString(_ id: Int) -> String { decode([id]) }

    /// One token as reports and terminal output show it, so that different tokens never look the
    /// same: the vocabulary string for SentencePiece-style tokenizers ("▁short" vs "short",
    /// "<0x0A>"), else `tokenString` (" short" vs "short" for byte-level BPE).
    public func displayToken(_ id: Int) -> String {
        if marksWordStarts, let raw = token(of: id) { return raw }
        return tokenString(id)
    }

    /// The raw vocabulary string of an id (`convert_ids_to_tokens`), e.g. "Ġthe".
    public func token(of id: Int) -> String? { added.token(id: id)?.content ?? model.token(of: id) }

    /// The id of a raw token string (added tokens first, then the model vocabulary).
    public func id(of token: String) -> Int? { added.token(content: token)?.id ?? model.id(of: token) }

    /// The added tokens (special tokens and extra tokens), in the order they were added.
    public var addedTokens: [AddedToken] { added.tokens }

    /// Ids of the special added tokens.
    public var specialTokenIds: Set<Int> { Set(added.tokens.filter(\.special).map(\.id)) }
}

extension AddedToken {
    func withId(_ id: Int?) -> AddedToken {
        var copy = self
        if let id { copy.id = id }
        return copy
    }
}
