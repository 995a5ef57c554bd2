import Foundation

/// Calls `body` with the UTF-8 bytes of `s`, without copying native strings.
@inline(__always)
func withBytes<R>(_ s: String, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
    if let r = try s.utf8.withContiguousStorageIfAvailable(body) { return r }
    var copy = s
    return try copy.withUTF8(body)
}

/// Options of a BPE model, as in `tokenizer.json`'s `model` object.
struct BPEOptions {
    var unkToken: String?
    var byteFallback = false
    var fuseUnk = false
    var ignoreMerges = false
    var continuingSubwordPrefix: String?
    var endOfWordSuffix: String?
}

/// A BPE model over integer ids.
///
/// In byte-level mode (a `ByteLevel` pre-tokenizer is present) words arrive as raw UTF-8 bytes and
/// each byte starts as the id of its byte-level character; otherwise words arrive as UTF-8 text
/// and each Unicode scalar starts as its own id (or byte-fallback ids `<0xXX>`, or `unk`).
/// Merges then run on ids only. Results are cached per word.
final class BPEModel: @unchecked Sendable {
    /// Token bytes → id. Keyed by bytes, not `String`: Swift compares strings by canonical
    /// equivalence, and vocabularies hold distinct tokens such as "ό" (U+03CC) and "ό" (U+1F79).
    let vocab: TokenTable
    /// Each id's token: where its bytes lie in `vocab`'s arena (see `BPEVocabulary`).
    private let spans: [UInt64]
    let options: BPEOptions
    let byteLevel: Bool
    let pairs: PairTable
    let unkId: Int32?

    private let byteInitial: [Int32]
    private let asciiInitial: [Int32]
    private let scalarInitial: [UInt32: Int32]
    private let byteFallbackIds: [Int32]
    private let hasAffixes: Bool
    private let splitAtMetaspace: Bool
    private let wholeWordIds: TokenTable?

    private let cacheLock = NSLock()
    /// The cache between encode calls; behind a pointer (guarded by `cacheLock`) to skip the
    /// dynamic exclusivity checks a `var` property of a class costs on every call.
    private let sharedCache: UnsafeMutablePointer<WordCache?>

    /// Refuses a vocabulary in which two tokens share an id (decoding would be ambiguous, and a
    /// vocabulary that maps every token to one id decodes everything to one string); `key` names
    /// a token's entry in `file`.
    static func checkDistinctIds(_ entries: [(String, Int)], file: String, key: (String) -> String) throws {
        var owner: [Int: String] = [:]
        owner.reserveCapacity(entries.count)
        for (token, id) in entries {
            if let other = owner.updateValue(token, forKey: id) {
                throw TokenizerError.invalidValue(file: file, key: key(token), value: String(id),
                                                  expected: "an id of its own (\(TokenizerError.quoted(other)) has id \(id) too)")
            }
        }
    }

    convenience init(vocab entries: [(String, Int)], merges: [(String, String)], options: BPEOptions, byteLevel: Bool,
                     file: String) throws {
        self.init(vocabulary: try BPEVocabulary(entries: entries, merges: merges,
                                                continuingSubwordPrefix: options.continuingSubwordPrefix, file: file),
                  options: options, byteLevel: byteLevel)
    }

    init(vocabulary: BPEVocabulary, options: BPEOptions, byteLevel: Bool) {
        let vocab = vocabulary.table
        self.vocab = vocab
        self.spans = vocabulary.spans
        self.options = options
        self.byteLevel = byteLevel
        self.hasAffixes = !(options.continuingSubwordPrefix ?? "").isEmpty || !(options.endOfWordSuffix ?? "").isEmpty
        unkId = options.unkToken.flatMap { vocab.lookup($0) }.map { Int32($0) }

        // Merges: (left id, right id) → (rank, id of left + right). Each insertion first touches
        // the home slot of the pair 8 ahead, so that cache misses overlap.
        let merges = vocabulary.merges
        let pairs = PairTable(minimumCapacity: merges.count)
        var sink: UInt64 = 0
        for rank in 0..<merges.count {
            if rank + 8 < merges.count { sink ^= pairs.touch(merges[rank + 8].0, merges[rank + 8].1) }
            let t = merges[rank]
            pairs.insert(left: t.0, right: t.1, rank: UInt32(rank), newId: t.2)
        }
        if sink == 1 { pairs.noteUnlikely() }
        self.pairs = pairs

        // Initial symbols.
        var byteInitial = [Int32](repeating: -1, count: 256)
        var asciiInitial = [Int32](repeating: -1, count: 128)
        var scalarInitial: [UInt32: Int32] = [:]
        if byteLevel {
            for b in 0..<256 {
                if let id = vocab.lookup(ByteLevel.token(ofBytes: [UInt8(b)])) { byteInitial[b] = Int32(id) }
            }
        } else {
            for id in 0..<vocabulary.spans.count {
                // Tokens of one scalar (valid UTF-8: one scalar when its length is the token's).
                guard let token = vocabulary.token(id), token.count >= 1, token.count <= 4,
                      case let (value, length) = decodeScalar(token, 0), length == token.count else { continue }
                if value < 128 { asciiInitial[Int(value)] = Int32(id) } else { scalarInitial[value] = Int32(id) }
            }
        }
        self.byteInitial = byteInitial
        self.asciiInitial = asciiInitial
        self.scalarInitial = scalarInitial
        var fallback: [Int32] = []
        if options.byteFallback {
            fallback = (0..<256).map { b in Int32(vocab.lookup(BPEModel.byteToken(UInt8(b))) ?? -1) }
        }
        self.byteFallbackIds = fallback

        if options.ignoreMerges {
            let whole = TokenTable(minimumCapacity: vocab.count)
            vocab.forEach { bytes, id in
                if byteLevel {
                    if let raw = ByteLevel.bytes(ofToken: String(decoding: bytes, as: UTF8.self)) {
                        raw.withUnsafeBufferPointer { whole.insert($0, id: id) }
                    }
                } else {
                    whole.insert(bytes, id: id)
                }
            }
            wholeWordIds = whole
        } else {
            wholeWordIds = nil
        }
        splitAtMetaspace = !byteLevel && !hasAffixes && !options.ignoreMerges
            && BPEModel.metaspaceSeparatesWords(vocabulary)
        sharedCache = .allocate(capacity: 1)   // last: nothing throws after it
        sharedCache.initialize(to: nil)
    }

    /// True when no merge can join a symbol that contains a non-"▁" character with a following
    /// symbol that starts with "▁" (SentencePiece vocabularies such as Llama's). Then a word can
    /// be cut before every "▁" that follows another character without changing the result,
    /// which turns a whole sentence into cacheable words.
    private static func metaspaceSeparatesWords(_ vocabulary: BPEVocabulary) -> Bool {
        let meta: [UInt8] = [0xE2, 0x96, 0x81]
        guard vocabulary.table.lookup(meta) != nil else { return false }
        for (a, b, _) in vocabulary.merges where vocabulary.token(Int(b))?.starts(with: meta) == true {
            // Valid UTF-8: all of `a` is "▁" exactly when its bytes are E2 96 81 repeated.
            guard let left = vocabulary.token(Int(a)) else { return false }
            var k = 0
            for byte in left {
                if byte != meta[k] { return false }
                k = k == 2 ? 0 : k + 1
            }
        }
        return true
    }

    /// The id of a vocabulary token string (not added tokens).
    func id(of token: String) -> Int? { vocab.lookup(token) }

    /// "<0xAB>", the byte-fallback token of a byte.
    static func byteToken(_ b: UInt8) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        return String(decoding: [0x3C, 0x30, 0x78, hex[Int(b >> 4)], hex[Int(b & 15)], 0x3E], as: UTF8.self)
    }

    func token(of id: Int) -> String? {
        guard id >= 0, id < spans.count, case let span = spans[id], span != UInt64.max else { return nil }
        return String(decoding: vocab.bytes(at: Int(span >> 32), count: Int(span & 0xFFFF_FFFF)), as: UTF8.self)
    }

    /// Highest token id + 1.
    var tokenCount: Int { spans.count }

    /// Whether some token starts with `prefix`.
    func hasToken(startingWith prefix: [UInt8]) -> Bool {
        spans.contains { span in
            span != UInt64.max && vocab.bytes(at: Int(span >> 32), count: Int(span & 0xFFFF_FFFF)).starts(with: prefix)
        }
    }

    // MARK: - Cache ownership

    deinit {
        sharedCache.deinitialize(count: 1)
        sharedCache.deallocate()
    }

    /// Takes the shared cache for one encode call (a fresh one when another call holds it).
    func checkoutCache() -> WordCache {
        cacheLock.lock()
        defer { cacheLock.unlock() }
        if let cache = sharedCache.pointee {
            sharedCache.pointee = nil
            return cache
        }
        return WordCache()
    }

    func returnCache(_ cache: WordCache) {
        cacheLock.lock()
        if sharedCache.pointee == nil { sharedCache.pointee = cache }
        cacheLock.unlock()
    }

    // MARK: - Encoding

    /// Appends the ids of one pre-tokenized word.
    func encodeWord(_ word: UnsafeBufferPointer<UInt8>, cache: WordCache, into out: inout [Int]) {
        if word.isEmpty { return }
        guard splitAtMetaspace, word.count > 3 else {
            encodeSubword(word, cache: cache, into: &out)
            return
        }
        // Cut before each "▁" (E2 96 81) that follows a character other than "▁".
        var start = 0
        var i = 1
        let n = word.count
        while i + 2 < n {
            if word[i] == 0xE2, word[i + 1] == 0x96, word[i + 2] == 0x81 {
                let afterMeta = i >= 3 && word[i - 3] == 0xE2 && word[i - 2] == 0x96 && word[i - 1] == 0x81
                if !afterMeta {
                    encodeSubword(UnsafeBufferPointer(rebasing: word[start..<i]), cache: cache, into: &out)
                    start = i
                }
                i += 3
            } else {
                i += 1
            }
        }
        encodeSubword(UnsafeBufferPointer(rebasing: word[start..<n]), cache: cache, into: &out)
    }

    private func encodeSubword(_ word: UnsafeBufferPointer<UInt8>, cache: WordCache, into out: inout [Int]) {
        if word.count <= 8 {
            let key = WordCache.shortKey(word)
            if cache.lookupShort(word, key: key, into: &out) { return }
            let before = out.count
            encodeUncachedShort(word, cache: cache, into: &out)
            let n = out.count - before
            if n >= 1 && n <= 3 {
                withUnsafeTemporaryAllocation(of: Int32.self, capacity: 3) { ids in
                    for k in 0..<n { ids[k] = Int32(truncatingIfNeeded: out[before + k]) }
                    cache.insertShort(word, key: key, ids: UnsafeBufferPointer(rebasing: ids[0..<n]))
                }
            }
            return
        }
        encodeUncachedShort(word, cache: cache, into: &out)
    }

    /// The main cache, then the merge loop.
    private func encodeUncachedShort(_ word: UnsafeBufferPointer<UInt8>, cache: WordCache, into out: inout [Int]) {
        let cacheable = word.count < WordCache.maxWordBytes
        var h: UInt64 = 0
        if cacheable {
            h = WordCache.hash(word)
            if cache.lookup(word, hash: h, into: &out) { return }
        }
        if let whole = wholeWordIds, case let id = whole.lookup(word), id >= 0 {
            out.append(Int(id))
            if cacheable { withUnsafeTemporaryAllocation(of: Int32.self, capacity: 1) { $0[0] = id; cache.insert(word, hash: h, ids: UnsafeBufferPointer($0)) } }
            return
        }
        withUnsafeTemporaryAllocation(of: Int32.self, capacity: word.count + 1) { buffer in
            guard let symbols = buffer.baseAddress else { return }
            let n = hasAffixes ? -1 : (byteLevel ? byteLevelSymbols(word, symbols) : charSymbols(word, symbols))
            if n >= 0 {
                finish(symbols, count: n, word: word, hash: h, cacheable: cacheable, cache: cache, into: &out)
            } else {
                var general = generalSymbols(word)
                general.withUnsafeMutableBufferPointer { g in
                    guard let base = g.baseAddress else { return }
                    finish(base, count: g.count, word: word, hash: h, cacheable: cacheable, cache: cache, into: &out)
                }
            }
        }
    }

    @inline(__always)
    private func finish(_ symbols: UnsafeMutablePointer<Int32>, count: Int, word: UnsafeBufferPointer<UInt8>, hash h: UInt64,
                        cacheable: Bool, cache: WordCache, into out: inout [Int]) {
        let n = BPEMerge.merge(symbols, count: count, pairs: pairs)
        for k in 0..<n { out.append(Int(symbols[k])) }
        if cacheable { cache.insert(word, hash: h, ids: UnsafeBufferPointer(start: symbols, count: n)) }
    }

    /// One symbol per byte; -1 when a byte's character is missing from the vocabulary.
    @inline(__always)
    private func byteLevelSymbols(_ word: UnsafeBufferPointer<UInt8>, _ symbols: UnsafeMutablePointer<Int32>) -> Int {
        var n = 0
        for b in word {
            let id = byteInitial[Int(b)]
            if id < 0 { return -1 }
            symbols[n] = id
            n += 1
        }
        return n
    }

    /// One symbol per scalar, with byte fallback and (fused) unknown tokens as in `BPE::merge_word`.
    private func charSymbols(_ word: UnsafeBufferPointer<UInt8>, _ symbols: UnsafeMutablePointer<Int32>) -> Int {
        var n = 0
        var pendingUnk = false
        var i = 0
        while i < word.count {
            let (v, length) = decodeScalar(word, i)
            let id: Int32 = v < 128 ? asciiInitial[Int(v)] : (scalarInitial[v] ?? -1)
            if id >= 0 {
                if pendingUnk, let unk = unkId { symbols[n] = unk; n += 1; pendingUnk = false }
                symbols[n] = id
                n += 1
            } else {
                var handled = false
                if !byteFallbackIds.isEmpty {
                    var all = true
                    for k in i..<(i + length) where byteFallbackIds[Int(word[k])] < 0 { all = false }
                    if all {
                        for k in i..<(i + length) { symbols[n] = byteFallbackIds[Int(word[k])]; n += 1 }
                        handled = true
                    }
                }
                if !handled, let unk = unkId {
                    if pendingUnk && !options.fuseUnk { symbols[n] = unk; n += 1 }
                    pendingUnk = true
                }
            }
            i += length
        }
        if pendingUnk, let unk = unkId { symbols[n] = unk; n += 1 }
        return n
    }

    /// The reference algorithm on strings, for prefixes/suffixes and characters missing from a
    /// byte-level vocabulary.
    private func generalSymbols(_ word: UnsafeBufferPointer<UInt8>) -> [Int32] {
        var chars: [String] = []
        if byteLevel {
            chars = word.map { ByteLevel.token(ofBytes: [$0]) }
        } else {
            var i = 0
            while i < word.count {
                let length = decodeScalar(word, i).length
                chars.append(String(decoding: UnsafeBufferPointer(rebasing: word[i..<min(i + length, word.count)]), as: UTF8.self))
                i += length
            }
        }
        var symbols: [Int32] = []
        var pendingUnk = false
        for (k, c) in chars.enumerated() {
            var s = c
            if k > 0, let prefix = options.continuingSubwordPrefix { s = prefix + s }
            if k == chars.count - 1, let suffix = options.endOfWordSuffix { s += suffix }
            if let id = vocab.lookup(s) {
                if pendingUnk, let unk = unkId { symbols.append(unk); pendingUnk = false }
                symbols.append(Int32(id))
                continue
            }
            if options.byteFallback {
                let ids = s.utf8.map { vocab.lookup(BPEModel.byteToken($0)) }
                if ids.allSatisfy({ $0 != nil }) {
                    symbols.append(contentsOf: ids.map { Int32($0 ?? 0) })
                    continue
                }
            }
            if let unk = unkId {
                if pendingUnk && !options.fuseUnk { symbols.append(unk) }
                pendingUnk = true
            }
        }
        if pendingUnk, let unk = unkId { symbols.append(unk) }
        return symbols
    }
}
