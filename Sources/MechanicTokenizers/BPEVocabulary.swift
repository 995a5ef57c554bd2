/// A BPE vocabulary in the form `BPEModel` uses: token bytes → id (`table`), id → token (`spans`:
/// where each id's bytes lie in the table's arena, `offset << 32 | length`, `UInt64.max` for an
/// unused id; strings are made on demand), and the merges in rank order as ids `(left, right, merged)`.
///
/// Built either from parsed strings (`init(entries:merges:continuingSubwordPrefix:file:)`, the
/// general path with its typed errors) or straight from a file's bytes (`VocabularyScanner`).
struct BPEVocabulary {
    let table: TokenTable
    let spans: [UInt64]
    let merges: [(Int32, Int32, Int32)]

    init(table: TokenTable, spans: [UInt64], merges: [(Int32, Int32, Int32)]) {
        self.table = table
        self.spans = spans
        self.merges = merges
    }

    /// The bytes of the token of `id`, or nil.
    @inline(__always)
    func token(_ id: Int) -> UnsafeBufferPointer<UInt8>? {
        guard id >= 0, id < spans.count, case let span = spans[id], span != UInt64.max else { return nil }
        return table.bytes(at: Int(span >> 32), count: Int(span & 0xFFFF_FFFF))
    }

    /// Ids must lie in 0..<16,000,000 and every merge's two tokens and their concatenation
    /// (the right token without `continuingSubwordPrefix`) must be tokens; errors name `file`.
    init(entries: [(String, Int)], merges: [(String, String)], continuingSubwordPrefix: String?, file: String) throws {
        let vocab = TokenTable(minimumCapacity: entries.count)
        var maxId = -1
        for (token, id) in entries {
            // Ids index arrays: keep them plausible (the largest real vocabularies have ~260k tokens).
            guard id >= 0, id < BPEVocabulary.idLimit else {
                throw TokenizerError.invalidValue(file: file, key: "model.vocab[\(TokenizerError.quoted(token))]",
                                                  value: String(id), expected: "a token id between 0 and 16,000,000")
            }
            maxId = max(maxId, id)
        }
        var spans = [UInt64](repeating: UInt64.max, count: maxId + 1)
        for (token, id) in entries {
            withBytes(token) { key in
                let offset = vocab.insertNew(key, id: Int32(id))
                if offset >= 0 {
                    spans[id] = UInt64(offset) << 32 | UInt64(key.count)
                } else {   // a repeated token (not from a JSON object): the later id wins, as in a dictionary
                    let earlier = Int(vocab.lookup(key))
                    spans[id] = spans[earlier]
                    vocab.insert(key, id: Int32(id))
                }
            }
        }
        // Merges: (left id, right id) → id of left + right.
        let prefixLength = continuingSubwordPrefix?.utf8.count ?? 0
        var triples = [(Int32, Int32, Int32)](repeating: (0, 0, 0), count: merges.count)
        let joined = UnsafeMutablePointer<UInt8>.allocate(capacity: BPEVocabulary.maxJoinedBytes)
        defer { joined.deallocate() }
        for (rank, (a, b)) in merges.enumerated() {
            let ida = withBytes(a) { vocab.lookup($0) }
            guard ida >= 0 else { throw TokenizerError.unknownToken(file: file, key: "merge #\(rank)", token: a) }
            let idb = withBytes(b) { vocab.lookup($0) }
            guard idb >= 0 else { throw TokenizerError.unknownToken(file: file, key: "merge #\(rank)", token: b) }
            let idn = withBytes(a) { pa in
                withBytes(b) { pb in BPEVocabulary.joinedId(pa, pb, prefixLength: prefixLength, vocab: vocab, buffer: joined) }
            }
            guard idn >= 0 else {
                throw TokenizerError.unknownToken(file: file, key: "merge #\(rank) (\(a) + \(b))", token: a + b)
            }
            triples[rank] = (ida, idb, idn)
        }
        self.init(table: vocab, spans: spans, merges: triples)
    }

    static let idLimit = 16_000_000
    /// The longest concatenation of a merge looked up (longer ones are unknown tokens).
    static let maxJoinedBytes = 4096

    /// The id of `a` + `b` without its first `prefixLength` bytes, or -1; `buffer` holds
    /// `maxJoinedBytes` bytes.
    @inline(__always)
    static func joinedId(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>, prefixLength: Int,
                         vocab: TokenTable, buffer: UnsafeMutablePointer<UInt8>) -> Int32 {
        let tail = UnsafeBufferPointer(rebasing: b[min(prefixLength, b.count)...])
        guard a.count + tail.count <= maxJoinedBytes else { return -1 }
        if let base = a.baseAddress { buffer.update(from: base, count: a.count) }
        if let base = tail.baseAddress { (buffer + a.count).update(from: base, count: tail.count) }
        return vocab.lookup(UnsafeBufferPointer(start: buffer, count: a.count + tail.count))
    }
}

/// A scanned merges list: where each merge's two tokens lie (`refs[2k]`, `refs[2k + 1]`:
/// `offset << 32 | length` in the scanned input, or with bit 63 set in `escaped`, which holds
/// the tokens that were decoded from escapes).
struct MergeText {
    var refs: [UInt64] = []
    var escaped: [UInt8] = []
    private let base: UnsafePointer<UInt8>?
    private let end: UnsafePointer<UInt8>?

    /// An empty list for merges scanned from `input` (tokens inside it are referenced, others copied).
    init(input: UnsafeBufferPointer<UInt8>, expected: Int) {
        base = input.baseAddress
        end = input.baseAddress.map { $0 + input.count }
        refs.reserveCapacity(2 * expected)
    }

    @inline(__always)
    mutating func add(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) {
        add(a)
        add(b)
    }

    @inline(__always)
    private mutating func add(_ s: UnsafeBufferPointer<UInt8>) {
        if let p = s.baseAddress, let base, let end, p >= base, p + s.count <= end, p - base < Int(Int32.max) {
            refs.append(UInt64(p - base) << 32 | UInt64(s.count))
        } else {
            refs.append(1 << 63 | UInt64(escaped.count) << 32 | UInt64(s.count))
            escaped.append(contentsOf: s)
        }
    }
}

extension BPEVocabulary {
    /// From `VocabularyScanner.vocabulary`'s table and id spans and the merges scanned from
    /// `input`; nil when a merge names a missing token.
    static func scanned(table: TokenTable, spans: [UInt64], merges: MergeText, input: UnsafeBufferPointer<UInt8>,
                        prefixLength: Int) -> BPEVocabulary? {
        let refs = merges.refs, escaped = merges.escaped
        let count = refs.count / 2
        var triples = [(Int32, Int32, Int32)](repeating: (0, 0, 0), count: count)
        let joined = UnsafeMutablePointer<UInt8>.allocate(capacity: maxJoinedBytes)
        defer { joined.deallocate() }
        guard let inputBase = input.baseAddress else { return nil }
        let resolved = escaped.withUnsafeBufferPointer { e -> Bool in
            refs.withUnsafeBufferPointer { r -> Bool in
                let escapedBase = e.baseAddress ?? inputBase
                @inline(__always) func token(_ j: Int) -> UnsafeBufferPointer<UInt8> {
                    let ref = r[j]
                    let base = ref >> 63 == 0 ? inputBase : escapedBase
                    return UnsafeBufferPointer(start: base + Int((ref >> 32) & 0x7FFF_FFFF), count: Int(ref & 0xFFFF_FFFF))
                }
                // Each lookup first touches the table slots of the merge 8 ahead, so that cache misses overlap.
                return triples.withUnsafeMutableBufferPointer { out -> Bool in
                    spans.withUnsafeBufferPointer { spans -> Bool in
                        var sink: UInt32 = 0
                        var guess: Int32 = -1
                        for k in 0..<count {
                            if k + 8 < count { sink ^= table.touch(token(2 * k + 16)) ^ table.touch(token(2 * k + 17)) }
                            let a = token(2 * k), b = token(2 * k + 1)
                            let ida = table.lookup(a), idb = table.lookup(b)
                            guard ida >= 0, idb >= 0 else { return false }
                            // Merged tokens usually have consecutive ids (GPT-2's are 256 + rank).
                            guess &+= 1
                            let idn = isToken(guess, a, b, prefixLength: prefixLength, table: table, spans: spans) ? guess
                                : joinedId(a, b, prefixLength: prefixLength, vocab: table, buffer: joined)
                            guard idn >= 0 else { return false }
                            guess = idn
                            out[k] = (ida, idb, idn)
                        }
                        if sink == 1 { table.noteUnlikely() }
                        return true
                    }
                }
            }
        }
        guard resolved else { return nil }
        return BPEVocabulary(table: table, spans: spans, merges: triples)
    }

    /// True when the token of `id` is `a` + `b` without its first `prefixLength` bytes.
    @inline(__always)
    private static func isToken(_ id: Int32, _ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>, prefixLength: Int,
                                table: TokenTable, spans: UnsafeBufferPointer<UInt64>) -> Bool {
        guard id >= 0, Int(id) < spans.count, case let span = spans[Int(id)], span != UInt64.max else { return false }
        let tail = UnsafeBufferPointer(rebasing: b[min(prefixLength, b.count)...])
        guard Int(span & 0xFFFF_FFFF) == a.count + tail.count else { return false }
        let stored = table.bytes(at: Int(span >> 32), count: a.count + tail.count)
        return stored.prefix(a.count).elementsEqual(a) && stored.suffix(tail.count).elementsEqual(tail)
    }
}
