import Foundation

/// A SentencePiece BPE model read from `tokenizer.model`, encoding and decoding exactly as the
/// `sentencepiece` library does (normalizer.cc, bpe_model.cc, sentencepiece_processor.cc):
///
/// - normalize: identity normalizer (no precompiled charsmap), optional removal of extra
///   whitespace, a dummy-prefix space, spaces escaped as "▁";
/// - split into UTF-8 characters (user-defined pieces whole), then repeatedly merge the adjacent
///   pair whose concatenation is a piece with the highest score (ties: the leftmost pair);
/// - a result that is not a piece becomes its UTF-8 bytes `<0xXX>` with byte fallback, else unk.
///
/// Text such as "<s>" is text here: sentencepiece never matches control pieces in the input.
final class SentencePieceModel: @unchecked Sendable {
    let pieces: [SentencePieceModelProto.Piece]
    let proto: SentencePieceModelProto
    /// NORMAL, USER_DEFINED and UNUSED pieces (sentencepiece's `pieces_`), keyed by bytes.
    private let normalTable: TokenTable
    /// CONTROL, UNKNOWN and BYTE pieces (`reserved_id_map_`).
    private let reservedTable: TokenTable
    private let scores: [Float]
    private let types: [SentencePieceModelProto.PieceType]
    private let byteIds: [Int]
    /// For BYTE pieces, their byte; -1 otherwise.
    private let byteOfId: [Int16]
    private let userDefined: [[UInt8]]
    /// Merged piece → its two halves, for merges that produce an UNUSED piece (re-segmented).
    private let reverseMerges: [[UInt8]: ([UInt8], [UInt8])]
    private static let space: [UInt8] = [0xE2, 0x96, 0x81]  // "▁"
    /// Every piece → its id, for `BPEModel`'s id/token lookups (no merges).
    let vocabulary: BPEVocabulary

    init(proto: SentencePieceModelProto, file: String) throws {
        guard proto.modelType == .bpe else {
            throw TokenizerError.unsupportedComponent(file: file, component: "SentencePiece model_type", type: proto.modelType.name)
        }
        guard proto.precompiledCharsmapCount == 0 else {
            throw TokenizerError.unsupportedComponent(file: file, component: "SentencePiece normalizer (precompiled charsmap)",
                                                      type: proto.normalizerName)
        }
        guard !proto.treatWhitespaceAsSuffix else {
            throw TokenizerError.invalidValue(file: file, key: "trainer_spec.treat_whitespace_as_suffix", value: "true",
                                              expected: "false (whitespace as a suffix is not supported)")
        }
        guard !proto.pieces.isEmpty else {
            throw TokenizerError.invalidValue(file: file, key: "pieces", value: "an empty list", expected: "the vocabulary's pieces")
        }
        let n = proto.pieces.count
        for (key, id) in [("unk_id", proto.unkId), ("bos_id", proto.bosId), ("eos_id", proto.eosId), ("pad_id", proto.padId)]
            where id >= n || (key == "unk_id" && id < 0) {
            throw TokenizerError.invalidValue(file: file, key: "trainer_spec.\(key)", value: String(id),
                                              expected: "an id below the \(n) pieces")
        }
        guard proto.pieces[proto.unkId].type == .unknown else {
            throw TokenizerError.invalidValue(file: file, key: "pieces[\(proto.unkId)].type", value: "\(proto.pieces[proto.unkId].type)",
                                              expected: "UNKNOWN, since trainer_spec.unk_id is \(proto.unkId)")
        }
        self.proto = proto
        pieces = proto.pieces
        scores = proto.pieces.map(\.score)
        types = proto.pieces.map(\.type)
        let normal = TokenTable(minimumCapacity: n), reserved = TokenTable(minimumCapacity: 512)
        var byteOfId = [Int16](repeating: -1, count: n)
        var byteIds = [Int](repeating: proto.unkId, count: 256)
        var userDefined: [[UInt8]] = []
        let all = TokenTable(minimumCapacity: n)
        var spans = [UInt64](repeating: UInt64.max, count: n)
        for (id, p) in proto.pieces.enumerated() {
            let offset = withBytes(p.piece) { all.insertNew($0, id: Int32(id)) }
            if offset >= 0 { spans[id] = UInt64(offset) << 32 | UInt64(p.piece.utf8.count) }
            guard offset >= 0, !p.piece.isEmpty else {
                throw TokenizerError.invalidValue(file: file, key: "pieces[\(id)].piece", value: TokenizerError.quoted(p.piece),
                                                  expected: "a non-empty piece that occurs once")
            }
            switch p.type {
            case .normal, .unused: normal.insert(p.piece, id: id)
            case .userDefined:
                normal.insert(p.piece, id: id)
                userDefined.append(Array(p.piece.utf8))
            case .control, .unknown: reserved.insert(p.piece, id: id)
            case .byte:
                guard proto.byteFallback, let b = Self.byteValue(p.piece) else {
                    throw TokenizerError.invalidValue(file: file, key: "pieces[\(id)]", value: TokenizerError.quoted(p.piece),
                                                      expected: "a byte piece <0xXX> in a model with trainer_spec.byte_fallback")
                }
                reserved.insert(p.piece, id: id)
                byteOfId[id] = Int16(b)
                byteIds[Int(b)] = id
            }
        }
        normalTable = normal
        vocabulary = BPEVocabulary(table: all, spans: spans, merges: [])
        reservedTable = reserved
        self.byteOfId = byteOfId
        self.byteIds = byteIds
        self.userDefined = userDefined.sorted { $0.count > $1.count }
        // Merges that form an UNUSED piece are undone afterwards (bpe_model.cc `rev_merge`).
        var reverse: [[UInt8]: ([UInt8], [UInt8])] = [:]
        let unused = proto.pieces.filter { $0.type == .unused }.map { Array($0.piece.utf8) }
        if !unused.isEmpty {
            for u in unused where u.count > 1 {
                for cut in 1..<u.count where normal.lookup(Array(u[..<cut])) != nil && normal.lookup(Array(u[cut...])) != nil {
                    reverse[u] = (Array(u[..<cut]), Array(u[cut...]))
                    break
                }
            }
        }
        reverseMerges = reverse
    }

    static func byteValue(_ piece: String) -> UInt8? {
        let u = Array(piece.utf8)
        guard u.count == 6, u[0] == 0x3C, u[1] == 0x30, u[2] == 0x78, u[5] == 0x3E else { return nil }
        return UInt8(String(decoding: u[3...4], as: UTF8.self), radix: 16)
    }

    var bosId: Int? { proto.bosId >= 0 ? proto.bosId : nil }
    var eosId: Int? { proto.eosId >= 0 ? proto.eosId : nil }
    var padId: Int? { proto.padId >= 0 ? proto.padId : nil }
    var unkId: Int { proto.unkId }
    func isControl(_ id: Int) -> Bool { id >= 0 && id < types.count && types[id] == .control }
    func isUnknown(_ id: Int) -> Bool { id >= 0 && id < types.count && types[id] == .unknown }

    // MARK: - Normalization

    private func userDefinedPrefix(_ p: ArraySlice<UInt8>) -> Int? {
        for u in userDefined where p.starts(with: u) { return u.count }
        return nil
    }

    private static func charLength(_ lead: UInt8) -> Int {
        lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4
    }

    /// `Normalizer::Normalize` for the identity normalizer.
    func normalize(_ text: String) -> [UInt8] {
        var input = Array(text.utf8)[...]
        if input.isEmpty { return [] }
        let spec = proto
        if spec.removeExtraWhitespaces { while input.first == 0x20 { input.removeFirst() } }
        if input.isEmpty { return [] }
        var out: [UInt8] = []
        out.reserveCapacity(input.count * 3 / 2 + 3)
        let ws: [UInt8] = spec.escapeWhitespaces ? Self.space : [0x20]
        if spec.addDummyPrefix { out += ws }
        var isPrevSpace = spec.removeExtraWhitespaces
        while let lead = input.first {
            let length = min(userDefinedPrefix(input) ?? Self.charLength(lead), input.count)
            var sp = input.prefix(length)
            while isPrevSpace, sp.first == 0x20 { sp.removeFirst() }
            if let last = sp.last {
                for b in sp { if spec.escapeWhitespaces && b == 0x20 { out += Self.space } else { out.append(b) } }
                isPrevSpace = last == 0x20
            }
            input.removeFirst(length)
            if !spec.removeExtraWhitespaces { isPrevSpace = false }
        }
        if spec.removeExtraWhitespaces { while out.count >= ws.count, out.suffix(ws.count).elementsEqual(ws) { out.removeLast(ws.count) } }
        return out
    }

    // MARK: - Encoding

    private struct Symbol { var start: Int; var count: Int; var prev: Int; var next: Int; var freeze: Bool }

    /// Ids of `text` (no BOS/EOS), as `SentencePieceProcessor.encode(text)`.
    func encode(_ text: String) -> [Int] {
        let norm = normalize(text)
        if norm.isEmpty { return [] }
        return norm.withUnsafeBufferPointer { p -> [Int] in
            var symbols: [Symbol] = []
            var i = 0
            while i < p.count {
                let ud = userDefinedPrefix(norm[i...])
                let length = min(ud ?? Self.charLength(p[i]), p.count - i)
                symbols.append(Symbol(start: i, count: length, prev: symbols.count - 1, next: -1, freeze: ud != nil))
                i += length
            }
            for k in 0..<(symbols.count - 1) { symbols[k].next = k + 1 }
            var heap = CandidateHeap()
            func add(_ left: Int, _ right: Int) {
                guard left >= 0, right >= 0, !symbols[left].freeze, !symbols[right].freeze else { return }
                let piece = UnsafeBufferPointer(rebasing: p[symbols[left].start..<(symbols[left].start + symbols[left].count + symbols[right].count)])
                let id = normalTable.lookup(piece)
                guard id >= 0 else { return }
                heap.push(Candidate(score: scores[Int(id)], left: left, right: right, size: piece.count))
            }
            for k in 1..<symbols.count { add(k - 1, k) }
            while let top = heap.pop() {
                let (l, r) = (top.left, top.right)
                // Stale candidate: one side was merged away or changed since it was pushed.
                if symbols[l].count == 0 || symbols[r].count == 0 || symbols[l].count + symbols[r].count != top.size { continue }
                symbols[l].count += symbols[r].count
                symbols[l].next = symbols[r].next
                if symbols[r].next >= 0 { symbols[symbols[r].next].prev = l }
                symbols[r].count = 0
                add(symbols[l].prev, l)
                add(l, symbols[l].next)
            }
            var pieces: [([UInt8], Int)] = []
            var k = 0
            while k != -1 {
                resegment(Array(p[symbols[k].start..<(symbols[k].start + symbols[k].count)]), into: &pieces)
                k = symbols[k].next
            }
            // sentencepiece_processor.cc: unknown pieces become bytes (byte fallback) or one fused unk.
            var ids: [Int] = []
            ids.reserveCapacity(pieces.count)
            var prevUnknown = false
            for (piece, id) in pieces {
                let unknown = isUnknown(id)
                if unknown && proto.byteFallback {
                    for b in piece { ids.append(byteIds[Int(b)]) }
                } else if !(unknown && prevUnknown) {
                    ids.append(id)
                }
                prevUnknown = unknown
            }
            return ids
        }
    }

    /// `PieceToId`: reserved pieces first, then normal ones, else unk.
    private func pieceId(_ piece: [UInt8]) -> Int {
        if let id = reservedTable.lookup(piece) { return id }
        return normalTable.lookup(piece) ?? proto.unkId
    }

    private func resegment(_ piece: [UInt8], into out: inout [([UInt8], Int)]) {
        let id = pieceId(piece)
        if types[id] == .unused, let halves = reverseMerges[piece] {
            resegment(halves.0, into: &out)
            resegment(halves.1, into: &out)
        } else {
            out.append((piece, id))
        }
    }

    // MARK: - Decoding

    /// Text of `ids` as `SentencePieceProcessor.decode(ids)`: control pieces are invisible, unk is
    /// " ⁇ ", byte pieces are joined and read as UTF-8 (each invalid byte → U+FFFD), "▁" is a
    /// space, and the dummy-prefix space of the first piece is dropped. Unknown ids are skipped.
    func decode(_ ids: [Int], skipUnknown: Bool = false) -> String {
        var out: [UInt8] = []
        var bytes: [UInt8] = []
        func flush() {
            if !bytes.isEmpty { out += Self.lossyUTF8(bytes); bytes.removeAll() }
        }
        // Only the first piece that is not a control piece loses its dummy-prefix "▁".
        var atStart = true
        for id in ids where id >= 0 && id < pieces.count {
            if types[id] == .control { continue }
            defer { atStart = false }
            if byteOfId[id] >= 0 { bytes.append(UInt8(byteOfId[id])); continue }
            flush()
            switch types[id] {
            case .unknown: if !skipUnknown { out += Array(proto.unkSurface.utf8) }
            default:
                var piece = Array(pieces[id].piece.utf8)[...]
                if atStart, proto.addDummyPrefix || proto.removeExtraWhitespaces, piece.starts(with: Self.space) {
                    piece = piece.dropFirst(3)
                }
                var i = piece.startIndex
                while i < piece.endIndex {
                    if piece[i...].starts(with: Self.space) { out.append(0x20); i += 3 } else { out.append(piece[i]); i += 1 }
                }
            }
        }
        flush()
        return String(decoding: out, as: UTF8.self)
    }

    /// UTF-8 bytes with every byte that does not start a valid character replaced by U+FFFD.
    static func lossyUTF8(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            let n = charLength(bytes[i])
            if bytes[i] < 0x80 || (bytes[i] >= 0xC2 && bytes[i] <= 0xF4 && i + n <= bytes.count
                                   && String(validating: bytes[i..<(i + n)], as: UTF8.self) != nil) {
                out += bytes[i..<(i + n)]
                i += n
            } else {
                out += [0xEF, 0xBF, 0xBD]
                i += 1
            }
        }
        return out
    }
}

/// A merge candidate: the symbols at `left` and `right` would form a piece of `size` bytes.
private struct Candidate { var score: Float; var left: Int; var right: Int; var size: Int }

/// A binary max-heap of merge candidates: highest score first, then the leftmost.
private struct CandidateHeap {
    private var items: [Candidate] = []

    private static func before(_ a: Candidate, _ b: Candidate) -> Bool {
        a.score > b.score || (a.score == b.score && a.left < b.left)
    }

    mutating func push(_ c: Candidate) {
        items.append(c)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard Self.before(items[i], items[parent]) else { break }
            items.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> Candidate? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var best = i
                if l < items.count, Self.before(items[l], items[best]) { best = l }
                if r < items.count, Self.before(items[r], items[best]) { best = r }
                if best == i { break }
                items.swapAt(i, best)
                i = best
            }
        }
        return top
    }
}
