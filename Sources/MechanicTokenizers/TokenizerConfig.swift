import Foundation

/// What `transformers` reads from `tokenizer_config.json` and `special_tokens_map.json` on top of
/// the tokenizer files: special tokens, extra added tokens, and whether BOS/EOS are added.
struct TokenizerConfig {
    var bosToken: String?
    var eosToken: String?
    var unkToken: String?
    var padToken: String?
    var additionalSpecialTokens: [String] = []
    var addBosToken: Bool?
    var addEosToken: Bool?
    var addPrefixSpace: Bool?
    var tokenizerClass: String?
    /// `added_tokens_decoder`, sorted by id.
    var addedTokens: [AddedToken] = []

    static let specialKeys = ["bos_token", "eos_token", "unk_token", "pad_token"]

    /// Reads `config` (tokenizer_config.json) and then `specialTokensMap`, whose entries override it
    /// (as in `from_pretrained`). Either may be nil.
    static func load(config: URL?, specialTokensMap: URL?) throws -> TokenizerConfig {
        var result = TokenizerConfig()
        if let config {
            let file = config.path
            let r = JSONReader(file: file)
            let o = try r.object(try JSONParser.parse(contentsOf: config), "(top level)")
            try result.readSpecialTokens(o, r)
            result.addBosToken = o["add_bos_token"]?.isNull == false ? try r.bool(o, "add_bos_token", in: "", default: false) : nil
            result.addEosToken = o["add_eos_token"]?.isNull == false ? try r.bool(o, "add_eos_token", in: "", default: false) : nil
            result.addPrefixSpace = o["add_prefix_space"]?.isNull == false ? try r.bool(o, "add_prefix_space", in: "", default: false) : nil
            result.tokenizerClass = try r.string(o, "tokenizer_class", in: "")
            if let decoderValue = o["added_tokens_decoder"], !decoderValue.isNull {
                let d = try r.object(decoderValue, "added_tokens_decoder")
                for (key, value) in zip(d.keys, d.values) {
                    let path = "added_tokens_decoder.\(key)"
                    guard let id = Int(key) else {
                        throw TokenizerError.invalidValue(file: file, key: path, value: TokenizerError.quoted(key), expected: "an integer id as key")
                    }
                    let t = try r.object(value, path)
                    let content = try r.requiredString(t, "content", in: path)
                    try AddedToken.check(id: id, content: content, file: file, path: path)
                    result.addedTokens.append(AddedToken(
                        content: content, id: id,
                        special: try r.bool(t, "special", in: path, default: false),
                        lstrip: try r.bool(t, "lstrip", in: path, default: false),
                        rstrip: try r.bool(t, "rstrip", in: path, default: false),
                        singleWord: try r.bool(t, "single_word", in: path, default: false),
                        normalized: try r.bool(t, "normalized", in: path, default: true)))
                }
                result.addedTokens.sort { $0.id < $1.id }
            }
        }
        if let specialTokensMap {
            let r = JSONReader(file: specialTokensMap.path)
            let o = try r.object(try JSONParser.parse(contentsOf: specialTokensMap), "(top level)")
            try result.readSpecialTokens(o, r)
        }
        return result
    }

    /// A special token is a string or an `AddedToken` object with a `content` key.
    private static func tokenContent(_ value: JSONValue?, _ r: JSONReader, _ key: String) throws -> String? {
        guard let value, !value.isNull else { return nil }
        if let s = value.stringValue { return s }
        if let o = value.objectValue { return try r.requiredString(o, "content", in: key) }
        throw TokenizerError.invalidValue(file: r.file, key: key, value: value.brief, expected: "a string or an object with \"content\"")
    }

    private mutating func readSpecialTokens(_ o: JSONObject, _ r: JSONReader) throws {
        if let v = try Self.tokenContent(o["bos_token"], r, "bos_token") { bosToken = v }
        if let v = try Self.tokenContent(o["eos_token"], r, "eos_token") { eosToken = v }
        if let v = try Self.tokenContent(o["unk_token"], r, "unk_token") { unkToken = v }
        if let v = try Self.tokenContent(o["pad_token"], r, "pad_token") { padToken = v }
        if let list = o["additional_special_tokens"], !list.isNull {
            guard let array = list.arrayValue else {
                throw TokenizerError.invalidValue(file: r.file, key: "additional_special_tokens", value: list.brief, expected: "an array")
            }
            additionalSpecialTokens = try array.enumerated().compactMap { try Self.tokenContent($1, r, "additional_special_tokens[\($0)]") }
        }
    }

    /// The special tokens in `transformers`' order (`all_special_tokens`).
    var specialTokens: [String] {
        var out: [String] = []
        for t in [bosToken, eosToken, unkToken, padToken] + additionalSpecialTokens.map(Optional.some) {
            if let t, !out.contains(where: { $0.utf8.elementsEqual(t.utf8) }) { out.append(t) }
        }
        return out
    }

    /// `transformers` classes whose fast tokenizer rebuilds the post-processor from
    /// `add_bos_token` / `add_eos_token`, with their defaults.
    var bosEosTemplateDefaults: (bos: Bool, eos: Bool)? {
        guard var name = tokenizerClass else { return nil }
        if name.hasSuffix("Fast") { name.removeLast(4) }
        switch name {
        case "LlamaTokenizer", "CodeLlamaTokenizer", "GemmaTokenizer", "CohereTokenizer": return (true, false)
        case "GPTNeoXTokenizer": return (false, false)
        default: return nil
        }
    }
}
