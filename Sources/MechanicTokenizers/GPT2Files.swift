import Foundation

/// GPT-2's original tokenizer files, `vocab.json` + `merges.txt`, turned into the tokenizer that
/// `transformers`' `GPT2TokenizerFast` builds from them: byte-level BPE with the GPT-2 split,
/// byte-level decoding, and `<|endoftext|>`-style special tokens from the config.
enum GPT2Files {
    static func load(vocab vocabURL: URL, merges mergesURL: URL, addPrefixSpace: Bool) throws -> TokenizerComponents {
        let model = try scannedModel(vocab: vocabURL, merges: mergesURL) ?? parsedModel(vocab: vocabURL, merges: mergesURL)
        return TokenizerComponents(model: model, normalizer: nil,
                                   preTokenizer: ByteLevelPreTokenizer(addPrefixSpace: addPrefixSpace, useRegex: true),
                                   postProcessor: nil, decoder: ByteLevelDecoder(), addedTokens: [])
    }

    /// The fast path (`VocabularyScanner`); nil on any problem, which `parsedModel` then reports.
    static func scannedModel(vocab vocabURL: URL, merges mergesURL: URL) -> BPEModel? {
        scannedVocabulary(vocab: vocabURL, merges: mergesURL).map { BPEModel(vocabulary: $0, options: BPEOptions(), byteLevel: true) }
    }

    static func scannedVocabulary(vocab vocabURL: URL, merges mergesURL: URL) -> BPEVocabulary? {
        guard let vocabData = try? readFile(vocabURL), let mergesData = try? readFile(mergesURL) else { return nil }
        return vocabData.withUnsafeBytes { rawVocab -> BPEVocabulary? in
            let vocabBytes = rawVocab.bindMemory(to: UInt8.self)
            return VocabularyScanner.with(vocabBytes, at: 0) { s -> BPEVocabulary? in
                s.skipByteOrderMark()
                guard let (table, spans) = s.vocabulary(expectedCount: vocabBytes.count / 16) else { return nil }
                s.skipWhitespace()
                guard s.atEnd else { return nil }
                return mergesData.withUnsafeBytes { rawMerges in
                    let mergesBytes = rawMerges.bindMemory(to: UInt8.self)
                    var merges = MergeText(input: mergesBytes, expected: mergesBytes.count / 8)
                    guard VocabularyScanner.textMerges(mergesBytes, into: &merges) else { return nil }
                    return BPEVocabulary.scanned(table: table, spans: spans, merges: merges, input: mergesBytes, prefixLength: 0)
                }
            }
        }
    }

    /// The general path: `JSONValue.parse` and strings, with typed errors naming file and key.
    static func parsedModel(vocab vocabURL: URL, merges mergesURL: URL) throws -> BPEModel {
        let vocabFile = vocabURL.path
        let r = JSONReader(file: vocabFile)
        let object = try r.object(try JSONParser.parse(contentsOf: vocabURL), "(top level)")
        var vocab: [(String, Int)] = []
        vocab.reserveCapacity(object.keys.count)
        for (k, v) in zip(object.keys, object.values) {
            guard let id = v.intValue else {
                throw TokenizerError.invalidValue(file: vocabFile, key: TokenizerError.quoted(k), value: v.brief, expected: "an integer id")
            }
            vocab.append((k, id))
        }
        try BPEModel.checkDistinctIds(vocab, file: vocabFile, key: TokenizerError.quoted)
        let merges = try parseMerges(readFile(mergesURL), file: mergesURL.path)
        return try BPEModel(vocab: vocab, merges: merges, options: BPEOptions(), byteLevel: true, file: mergesURL.path)
    }

    /// One merge per line, "left right"; a first line starting with `#version` and blank lines are skipped.
    static func parseMerges(_ data: Data, file: String) throws -> [(String, String)] {
        var merges: [(String, String)] = []
        var lineNumber = 0
        for rawLine in data.split(separator: 0x0A, omittingEmptySubsequences: false) {
            lineNumber += 1
            var line = rawLine[...]
            if line.last == 0x0D { line = line.dropLast() }
            if line.isEmpty || (lineNumber == 1 && line.starts(with: Array("#version".utf8))) { continue }
            // Split on the byte: a space followed by a combining character is one `Character`.
            let parts = line.split(separator: 0x20, omittingEmptySubsequences: true)
            guard parts.count == 2 else {
                throw TokenizerError.malformedMerges(file: file, line: lineNumber, content: String(decoding: line, as: UTF8.self))
            }
            merges.append((String(decoding: parts[0], as: UTF8.self), String(decoding: parts[1], as: UTF8.self)))
        }
        return merges
    }
}
