/// The pieces of a tokenizer, as read from `tokenizer.json` (or built from GPT-2's files).
struct TokenizerComponents {
    var model: BPEModel
    var normalizer: Normalizer?
    var preTokenizer: PreTokenizer?
    var postProcessor: PostProcessor?
    var decoder: Decoder?
    var addedTokens: [AddedToken]
}

/// Typed access to JSON objects with errors that name the file and the key path.
struct JSONReader {
    let file: String

    func object(_ value: JSONValue?, _ key: String) throws -> JSONObject {
        guard let value else { throw TokenizerError.missingKey(file: file, key: key) }
        guard let o = value.objectValue else {
            throw TokenizerError.invalidValue(file: file, key: key, value: value.brief, expected: "an object")
        }
        return o
    }

    /// The value of `k` as `get` reads it; nil when absent or null, an error naming `expected`
    /// when it is of another kind.
    private func optional<T>(_ o: JSONObject, _ k: String, in path: String, _ expected: String,
                             _ get: (JSONValue) -> T?) throws -> T? {
        guard let v = o[k], !v.isNull else { return nil }
        guard let x = get(v) else {
            throw TokenizerError.invalidValue(file: file, key: join(path, k), value: v.brief, expected: expected)
        }
        return x
    }

    func string(_ o: JSONObject, _ k: String, in path: String) throws -> String? {
        try optional(o, k, in: path, "a string", \.stringValue)
    }

    func requiredString(_ o: JSONObject, _ k: String, in path: String) throws -> String {
        guard let s = try string(o, k, in: path) else { throw TokenizerError.missingKey(file: file, key: join(path, k)) }
        return s
    }

    func bool(_ o: JSONObject, _ k: String, in path: String, default d: Bool) throws -> Bool {
        try optional(o, k, in: path, "true or false", \.boolValue) ?? d
    }

    func int(_ o: JSONObject, _ k: String, in path: String) throws -> Int? {
        try optional(o, k, in: path, "an integer", \.intValue)
    }

    func type(_ o: JSONObject, in path: String) throws -> String {
        try requiredString(o, "type", in: path)
    }

    func join(_ path: String, _ k: String) -> String { path.isEmpty ? k : "\(path).\(k)" }
}

/// Reads `tokenizer.json` (Hugging Face `tokenizers` format).
enum TokenizerJSONLoader {
    /// `scan`, when given, supplies the vocabulary and merges (`TokenizerJSONScan`; the root's
    /// `model.vocab` and `model.merges` are then empty) for a `continuing_subword_prefix` length.
    static func load(_ root: JSONValue, file: String, scan: ((Int) -> BPEVocabulary?)? = nil) throws -> TokenizerComponents {
        let r = JSONReader(file: file)
        let top = try r.object(root, "(top level)")
        // Pre-tokenizer first: whether it is byte-level decides how the model reads words.
        let preTokenizer = try top["pre_tokenizer"].flatMap { $0.isNull ? nil : try Self.preTokenizer($0, r, "pre_tokenizer") }
        let normalizer = try top["normalizer"].flatMap { $0.isNull ? nil : try Self.normalizer($0, r, "normalizer") }
        let model = try Self.model(top["model"], r, byteLevel: preTokenizer?.isByteLevel ?? false, scan: scan)
        let decoder = try top["decoder"].flatMap { $0.isNull ? nil : try Self.decoder($0, r, "decoder") }
        var added: [AddedToken] = []
        if let list = top["added_tokens"], !list.isNull {
            guard let array = list.arrayValue else {
                throw TokenizerError.invalidValue(file: file, key: "added_tokens", value: list.brief, expected: "an array")
            }
            for (i, item) in array.enumerated() {
                let path = "added_tokens[\(i)]"
                let o = try r.object(item, path)
                guard let id = try r.int(o, "id", in: path) else { throw TokenizerError.missingKey(file: file, key: path + ".id") }
                let content = try r.requiredString(o, "content", in: path)
                try AddedToken.check(id: id, content: content, file: file, path: path)
                added.append(AddedToken(content: content, id: id,
                                        special: try r.bool(o, "special", in: path, default: false),
                                        lstrip: try r.bool(o, "lstrip", in: path, default: false),
                                        rstrip: try r.bool(o, "rstrip", in: path, default: false),
                                        singleWord: try r.bool(o, "single_word", in: path, default: false),
                                        normalized: try r.bool(o, "normalized", in: path, default: true)))
            }
        }
        let postProcessor = try top["post_processor"].flatMap { $0.isNull ? nil : try Self.postProcessor($0, r, "post_processor") }
        return TokenizerComponents(model: model, normalizer: normalizer, preTokenizer: preTokenizer,
                                   postProcessor: postProcessor, decoder: decoder, addedTokens: added)
    }

    static func model(_ value: JSONValue?, _ r: JSONReader, byteLevel: Bool, scan: ((Int) -> BPEVocabulary?)? = nil) throws -> BPEModel {
        let o = try r.object(value, "model")
        let type = try r.string(o, "type", in: "model") ?? (o["merges"] != nil ? "BPE" : "")
        guard type == "BPE" else { throw TokenizerError.unsupportedComponent(file: r.file, component: "model", type: type) }
        if let dropout = o["dropout"], let d = dropout.doubleValue, d != 0 {
            throw TokenizerError.invalidValue(file: r.file, key: "model.dropout", value: dropout.brief,
                                              expected: "null (BPE dropout makes encoding random)")
        }
        if let scan {
            let options = try modelOptions(o, r)
            guard let vocabulary = scan(options.continuingSubwordPrefix?.utf8.count ?? 0) else { throw TokenizerJSONScan.GaveUp() }
            return BPEModel(vocabulary: vocabulary, options: options, byteLevel: byteLevel)
        }
        let vocabObject = try r.object(o["vocab"], "model.vocab")
        var vocab: [(String, Int)] = []
        vocab.reserveCapacity(vocabObject.keys.count)
        for (k, v) in zip(vocabObject.keys, vocabObject.values) {
            guard let id = v.intValue else {
                throw TokenizerError.invalidValue(file: r.file, key: "model.vocab[\(TokenizerError.quoted(k))]", value: v.brief, expected: "an integer id")
            }
            vocab.append((k, id))
        }
        try BPEModel.checkDistinctIds(vocab, file: r.file, key: { "model.vocab[\(TokenizerError.quoted($0))]" })
        guard let mergeList = o["merges"]?.arrayValue else {
            throw o["merges"] == nil ? TokenizerError.missingKey(file: r.file, key: "model.merges")
                : TokenizerError.invalidValue(file: r.file, key: "model.merges", value: o["merges"]?.brief ?? "", expected: "an array")
        }
        var merges: [(String, String)] = []
        merges.reserveCapacity(mergeList.count)
        for (i, m) in mergeList.enumerated() {
            switch m {
            case .string(let s):
                if s.hasPrefix("#version") { continue }
                // Split on the byte: a space followed by a combining character is one `Character`.
                let parts = s.utf8.split(separator: 0x20, omittingEmptySubsequences: false)
                guard parts.count == 2 else {
                    throw TokenizerError.invalidValue(file: r.file, key: "model.merges[\(i)]", value: m.brief, expected: "two tokens separated by one space")
                }
                merges.append((String(decoding: parts[0], as: UTF8.self), String(decoding: parts[1], as: UTF8.self)))
            case .pair(let a, let b):
                merges.append((a, b))
            case .array(let pair):
                guard pair.count == 2, let a = pair[0].stringValue, let b = pair[1].stringValue else {
                    throw TokenizerError.invalidValue(file: r.file, key: "model.merges[\(i)]", value: m.brief, expected: "a pair of token strings")
                }
                merges.append((a, b))
            default:
                throw TokenizerError.invalidValue(file: r.file, key: "model.merges[\(i)]", value: m.brief, expected: "\"a b\" or [\"a\", \"b\"]")
            }
        }
        return try BPEModel(vocab: vocab, merges: merges, options: modelOptions(o, r), byteLevel: byteLevel, file: r.file)
    }

    static func modelOptions(_ o: JSONObject, _ r: JSONReader) throws -> BPEOptions {
        var options = BPEOptions()
        options.unkToken = try r.string(o, "unk_token", in: "model")
        options.byteFallback = try r.bool(o, "byte_fallback", in: "model", default: false)
        options.fuseUnk = try r.bool(o, "fuse_unk", in: "model", default: false)
        options.ignoreMerges = try r.bool(o, "ignore_merges", in: "model", default: false)
        options.continuingSubwordPrefix = try r.string(o, "continuing_subword_prefix", in: "model").flatMap { $0.isEmpty ? nil : $0 }
        options.endOfWordSuffix = try r.string(o, "end_of_word_suffix", in: "model").flatMap { $0.isEmpty ? nil : $0 }
        return options
    }

    static func normalizer(_ value: JSONValue, _ r: JSONReader, _ path: String) throws -> Normalizer {
        let o = try r.object(value, path)
        let type = try r.type(o, in: path)
        switch type {
        case "Sequence":
            guard let list = o["normalizers"]?.arrayValue else { throw TokenizerError.missingKey(file: r.file, key: path + ".normalizers") }
            return SequenceNormalizer(steps: try list.enumerated().map { try normalizer($1, r, "\(path).normalizers[\($0)]") })
        case "NFC", "NFD", "NFKC", "NFKD":
            return UnicodeNormalizer(form: UnicodeNormalizer.Form(rawValue: type) ?? .nfc)
        case "Lowercase":
            return LowercaseNormalizer()
        case "Strip":
            return StripNormalizer(left: try r.bool(o, "strip_left", in: path, default: true),
                                   right: try r.bool(o, "strip_right", in: path, default: true))
        case "StripAccents":
            return StripAccentsNormalizer()
        case "Prepend":
            return PrependNormalizer(prefix: try r.requiredString(o, "prepend", in: path))
        case "Replace":
            return ReplaceNormalizer(pattern: try SplitPattern.make(o["pattern"], file: r.file, key: path + ".pattern"),
                                     content: try r.requiredString(o, "content", in: path))
        default:
            throw TokenizerError.unsupportedComponent(file: r.file, component: "normalizer", type: type)
        }
    }

    static func preTokenizer(_ value: JSONValue, _ r: JSONReader, _ path: String) throws -> PreTokenizer {
        let o = try r.object(value, path)
        let type = try r.type(o, in: path)
        switch type {
        case "Sequence":
            guard let list = o["pretokenizers"]?.arrayValue else { throw TokenizerError.missingKey(file: r.file, key: path + ".pretokenizers") }
            let steps = try list.enumerated().map { try preTokenizer($1, r, "\(path).pretokenizers[\($0)]") }
            if let k = steps.firstIndex(where: { $0.isByteLevel }), k != steps.count - 1 {
                throw TokenizerError.invalidValue(file: r.file, key: "\(path).pretokenizers[\(k)]", value: "ByteLevel",
                                                  expected: "ByteLevel only as the last pre-tokenizer of a Sequence")
            }
            return SequencePreTokenizer(steps: steps)
        case "ByteLevel":
            return ByteLevelPreTokenizer(addPrefixSpace: try r.bool(o, "add_prefix_space", in: path, default: true),
                                         useRegex: try r.bool(o, "use_regex", in: path, default: true))
        case "Split":
            let behaviorName = try r.requiredString(o, "behavior", in: path)
            guard let behavior = SplitBehavior(rawValue: behaviorName) else {
                throw TokenizerError.invalidValue(file: r.file, key: path + ".behavior", value: TokenizerError.quoted(behaviorName),
                                                  expected: "Removed, Isolated, MergedWithPrevious, MergedWithNext or Contiguous")
            }
            return SplitPreTokenizer(pattern: try SplitPattern.make(o["pattern"], file: r.file, key: path + ".pattern"),
                                     behavior: behavior, invert: try r.bool(o, "invert", in: path, default: false))
        case "Metaspace":
            let replacement = try r.string(o, "replacement", in: path) ?? "\u{2581}"
            return MetaspacePreTokenizer(replacement: replacement, prependScheme: try prependScheme(o, r, path),
                                         split: try r.bool(o, "split", in: path, default: true))
        case "Digits":
            return CharacterSplitPreTokenizer(classes: .number,
                                              behavior: try r.bool(o, "individual_digits", in: path, default: false) ? .isolated : .contiguous)
        case "Whitespace":
            return WhitespacePreTokenizer()
        case "WhitespaceSplit":
            return CharacterSplitPreTokenizer(classes: .whitespace, behavior: .removed)
        case "Punctuation":
            let name = try r.string(o, "behavior", in: path) ?? "Isolated"
            guard let behavior = SplitBehavior(rawValue: name) else {
                throw TokenizerError.invalidValue(file: r.file, key: path + ".behavior", value: TokenizerError.quoted(name), expected: "a split behavior")
            }
            return CharacterSplitPreTokenizer(classes: .punctuation, behavior: behavior)
        case "BertPreTokenizer":
            return SequencePreTokenizer(steps: [CharacterSplitPreTokenizer(classes: .whitespace, behavior: .removed),
                                                CharacterSplitPreTokenizer(classes: .punctuation, behavior: .isolated)])
        default:
            throw TokenizerError.unsupportedComponent(file: r.file, component: "pre_tokenizer", type: type)
        }
    }

    static func prependScheme(_ o: JSONObject, _ r: JSONReader, _ path: String) throws -> MetaspacePreTokenizer.PrependScheme {
        if let name = try r.string(o, "prepend_scheme", in: path) {
            guard let scheme = MetaspacePreTokenizer.PrependScheme(rawValue: name) else {
                throw TokenizerError.invalidValue(file: r.file, key: path + ".prepend_scheme", value: TokenizerError.quoted(name),
                                                  expected: "always, first or never")
            }
            return scheme
        }
        return try r.bool(o, "add_prefix_space", in: path, default: true) ? .always : .never
    }

    static func decoder(_ value: JSONValue, _ r: JSONReader, _ path: String) throws -> Decoder {
        let o = try r.object(value, path)
        let type = try r.type(o, in: path)
        switch type {
        case "Sequence":
            guard let list = o["decoders"]?.arrayValue else { throw TokenizerError.missingKey(file: r.file, key: path + ".decoders") }
            return SequenceDecoder(steps: try list.enumerated().map { try decoder($1, r, "\(path).decoders[\($0)]") })
        case "ByteLevel":
            return ByteLevelDecoder()
        case "Replace":
            return ReplaceDecoder(pattern: try SplitPattern.make(o["pattern"], file: r.file, key: path + ".pattern"),
                                  content: try r.requiredString(o, "content", in: path))
        case "ByteFallback":
            return ByteFallbackDecoder()
        case "Fuse":
            return FuseDecoder()
        case "Strip":
            let content = try r.requiredString(o, "content", in: path)
            guard let c = content.first, content.count == 1 else {
                throw TokenizerError.invalidValue(file: r.file, key: path + ".content", value: TokenizerError.quoted(content), expected: "one character")
            }
            return StripDecoder(content: c, start: max(0, try r.int(o, "start", in: path) ?? 0),
                                stop: max(0, try r.int(o, "stop", in: path) ?? 0))
        case "Metaspace":
            let replacement = try r.string(o, "replacement", in: path) ?? "\u{2581}"
            guard let scalar = replacement.unicodeScalars.first, replacement.unicodeScalars.count == 1 else {
                throw TokenizerError.invalidValue(file: r.file, key: path + ".replacement", value: TokenizerError.quoted(replacement), expected: "one character")
            }
            return MetaspaceDecoder(replacement: scalar, prependScheme: try prependScheme(o, r, path))
        case "BPEDecoder":
            return BPESuffixDecoder(suffix: try r.string(o, "suffix", in: path) ?? "</w>")
        default:
            throw TokenizerError.unsupportedComponent(file: r.file, component: "decoder", type: type)
        }
    }

    static func postProcessor(_ value: JSONValue, _ r: JSONReader, _ path: String) throws -> PostProcessor? {
        let o = try r.object(value, path)
        let type = try r.type(o, in: path)
        switch type {
        case "Sequence":
            guard let list = o["processors"]?.arrayValue else { throw TokenizerError.missingKey(file: r.file, key: path + ".processors") }
            let steps = try list.enumerated().compactMap { try postProcessor($1, r, "\(path).processors[\($0)]") }
            return steps.isEmpty ? nil : SequencePostProcessor(steps: steps)
        case "ByteLevel":
            return nil   // only adjusts offsets
        case "TemplateProcessing":
            return try template(o, r, path)
        case "RobertaProcessing", "BertProcessing":
            func token(_ key: String) throws -> Int {
                guard let pair = o[key]?.arrayValue, pair.count == 2, let id = pair[1].intValue else {
                    throw TokenizerError.invalidValue(file: r.file, key: "\(path).\(key)", value: o[key]?.brief ?? "null", expected: "[token, id]")
                }
                return id
            }
            return WrapPostProcessor(cls: try token("cls"), sep: try token("sep"))
        default:
            throw TokenizerError.unsupportedComponent(file: r.file, component: "post_processor", type: type)
        }
    }

    static func template(_ o: JSONObject, _ r: JSONReader, _ path: String) throws -> TemplatePostProcessor {
        guard let single = o["single"]?.arrayValue else { throw TokenizerError.missingKey(file: r.file, key: path + ".single") }
        let specials = o["special_tokens"]?.objectValue ?? JSONObject()
        var pieces: [TemplatePostProcessor.Piece] = []
        for (i, item) in single.enumerated() {
            let p = "\(path).single[\(i)]"
            let entry = try r.object(item, p)
            if let special = entry["SpecialToken"]?.objectValue {
                let name = try r.requiredString(special, "id", in: p + ".SpecialToken")
                guard let spec = specials[name]?.objectValue, let ids = spec["ids"]?.arrayValue else {
                    throw TokenizerError.unknownToken(file: r.file, key: p + ".SpecialToken", token: name)
                }
                pieces.append(.special(try ids.map { v in
                    guard let id = v.intValue else {
                        throw TokenizerError.invalidValue(file: r.file, key: "\(path).special_tokens.\(name).ids", value: v.brief, expected: "an integer id")
                    }
                    return id
                }))
            } else if let sequence = entry["Sequence"]?.objectValue {
                if try r.string(sequence, "id", in: p + ".Sequence") != "B" { pieces.append(.sequence) }
            } else {
                throw TokenizerError.invalidValue(file: r.file, key: p, value: item.brief, expected: "{\"SpecialToken\": …} or {\"Sequence\": …}")
            }
        }
        return TemplatePostProcessor(pieces: pieces)
    }
}
