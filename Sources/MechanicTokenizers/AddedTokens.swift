/// A token added on top of the model's vocabulary (`added_tokens` in `tokenizer.json`): special
/// tokens such as `<|endoftext|>` or `<s>`, and extra tokens such as Pythia's runs of spaces.
/// Added tokens are cut out of the text before the model sees it.
public struct AddedToken: Equatable, Sendable {
    public var content: String
    public var id: Int
    /// Special tokens are dropped by `decode(_:skipSpecialTokens: true)`.
    public var special: Bool
    /// Also swallow whitespace to the left / right of a match.
    public var lstrip = false
    public var rstrip = false
    /// Match only when not inside a word.
    public var singleWord = false
    /// Match against normalized text (true) or the raw input (false).
    public var normalized = false

    /// Refuses an added token that could never be matched or indexed: a negative or absurd id,
    /// or empty text (which Hugging Face `tokenizers` would silently never match).
    static func check(id: Int, content: String, file: String, path: String) throws {
        guard id >= 0, id < 16_000_000 else {
            throw TokenizerError.invalidValue(file: file, key: path + ".id", value: String(id), expected: "a token id between 0 and 16,000,000")
        }
        guard !content.isEmpty else {
            throw TokenizerError.invalidValue(file: file, key: path + ".content", value: "\"\"", expected: "the token's text (not empty)")
        }
    }

    /// Equal when every field is, with `content` compared byte for byte.
    public static func == (a: AddedToken, b: AddedToken) -> Bool {
        a.content.utf8.elementsEqual(b.content.utf8) && a.id == b.id && a.special == b.special && a.lstrip == b.lstrip
            && a.rstrip == b.rstrip && a.singleWord == b.singleWord && a.normalized == b.normalized
    }
}

/// The added tokens of a tokenizer and the matchers that find them in text.
final class AddedVocabulary: @unchecked Sendable {
    private(set) var tokens: [AddedToken] = []
    private var indexByContent: [[UInt8]: Int] = [:]   // by bytes: String == is canonical equivalence
    private var indexById: [Int: Int] = [:]
    private(set) var raw = TokenMatcher(tokens: [])
    private(set) var normalized = TokenMatcher(tokens: [])  // both set once, by `finish()`

    /// Adds a token with a known id (from `tokenizer.json`); a second token with the same content
    /// replaces the flags of the first.
    func add(_ token: AddedToken) {
        guard !token.content.isEmpty else { return }
        if let index = indexByContent[Array(token.content.utf8)] {
            let id = tokens[index].id
            tokens[index] = token
            tokens[index].id = id
            return
        }
        indexByContent[Array(token.content.utf8)] = tokens.count
        indexById[token.id] = tokens.count
        tokens.append(token)
    }

    /// Adds a token the way `Tokenizer::add_tokens` does: an existing added token with the same
    /// content takes the new flags; otherwise the id is the model's id for the content, or the
    /// next free id after the model vocabulary and the added tokens.
    func add(_ token: AddedToken, modelId: Int?, modelVocabularyCount: Int) {
        var token = token
        if let existing = self.token(content: token.content) {
            token.id = existing.id
        } else if let id = modelId {
            token.id = id
        } else {
            let maxAdded = maxId
            token.id = maxAdded >= modelVocabularyCount || modelVocabularyCount == 0 ? maxAdded + 1 : modelVocabularyCount
            if maxAdded < 0 { token.id = modelVocabularyCount }
        }
        add(token)
    }

    /// Builds the matchers; call after the last `add`.
    func finish() {
        raw = TokenMatcher(tokens: tokens.filter { !$0.normalized })
        normalized = TokenMatcher(tokens: tokens.filter { $0.normalized })
    }

    func token(content: String) -> AddedToken? { indexByContent[Array(content.utf8)].map { tokens[$0] } }
    func token(id: Int) -> AddedToken? { indexById[id].map { tokens[$0] } }
    var maxId: Int { tokens.map(\.id).max() ?? -1 }
}

/// Finds added tokens in UTF-8 text: leftmost-longest, non-overlapping matches (Aho-Corasick's
/// `LeftmostLongest`), with `lstrip`, `rstrip` and `single_word` applied as in
/// `AddedVocabulary::find_matches`.
final class TokenMatcher: @unchecked Sendable {
    private let tokens: [AddedToken]
    /// Trie over the tokens' bytes: the root's children in a dense table (which also says whether
    /// a byte can start a token at all), deeper edges `(node, byte) → child` in a hash table, so
    /// memory stays proportional to the tokens' total length.
    private let rootChild: UnsafeMutablePointer<Int32>   // 256 entries, 0 = none
    private let edges: PairTable
    private let terminal: UnsafeMutablePointer<Int32>    // node → token index, -1 = none
    let isEmpty: Bool

    init(tokens: [AddedToken]) {
        self.tokens = tokens
        isEmpty = tokens.isEmpty
        var root = [Int32](repeating: 0, count: 256)
        var terminal: [Int32] = [-1]
        let edges = PairTable(minimumCapacity: tokens.reduce(0) { $0 + $1.content.utf8.count } + 1)
        for (index, token) in tokens.enumerated() {
            var node = 0
            for b in token.content.utf8 {
                var child: Int32
                if node == 0 {
                    child = root[Int(b)]
                } else {
                    let v = edges.lookup(Int32(node), Int32(b))
                    child = v == PairTable.missing ? 0 : Int32(truncatingIfNeeded: v & 0xFFFF_FFFF)
                }
                if child == 0 {
                    child = Int32(terminal.count)
                    terminal.append(-1)
                    if node == 0 { root[Int(b)] = child } else { edges.insert(left: Int32(node), right: Int32(b), rank: 0, newId: child) }
                }
                node = Int(child)
            }
            terminal[node] = Int32(index)
        }
        self.edges = edges
        rootChild = .allocate(capacity: 256)
        rootChild.initialize(from: root, count: 256)
        self.terminal = .allocate(capacity: terminal.count)
        self.terminal.initialize(from: terminal, count: terminal.count)
    }

    deinit {
        rootChild.deallocate()
        terminal.deallocate()
    }

    /// Splits `p` into text and added tokens, in order: `body(start, end, tokenId)` with
    /// `tokenId == -1` for text. Empty text pieces are left out.
    @inline(__always)
    func split(_ p: UnsafeBufferPointer<UInt8>, _ body: (Int, Int, Int) -> Void) {
        let n = p.count
        if n == 0 { return }
        if isEmpty { body(0, n, -1); return }
        var startOffset = 0
        var i = 0
        while i < n {
            var node = Int(rootChild[Int(p[i])])
            guard node != 0 else { i += 1; continue }
            // Longest token starting at i.
            var best = -1
            var bestEnd = i
            var j = i + 1
            while true {
                if terminal[node] >= 0 { best = Int(terminal[node]); bestEnd = j }
                guard j < n else { break }
                let v = edges.lookup(Int32(node), Int32(p[j]))
                if v == PairTable.missing { break }
                node = Int(truncatingIfNeeded: v & 0xFFFF_FFFF)
                j += 1
            }
            guard best >= 0 else { i += 1; continue }
            let token = tokens[best]
            var start = i
            var stop = bestEnd
            i = bestEnd
            if token.singleWord {
                let startSpace = start == 0 || !TokenMatcher.isWord(before: start, p)
                let stopSpace = stop == n || !TokenMatcher.isWord(at: stop, p)
                if !startSpace || !stopSpace { continue }
            }
            if token.lstrip {
                var s = start
                while s > 0 {
                    let prev = previousScalarStart(p, s)
                    if !CharClass.of(decodeScalar(p, prev).value).contains(.whitespace) { break }
                    s = prev
                }
                start = max(s, startOffset)
            }
            if token.rstrip {
                while stop < n {
                    let (v, length) = decodeScalar(p, stop)
                    if !CharClass.of(v).contains(.whitespace) { break }
                    stop += length
                }
                i = stop
            }
            if startOffset < start { body(startOffset, start, -1) }
            body(start, stop, token.id)
            startOffset = stop
        }
        if startOffset < n { body(startOffset, n, -1) }
    }

    private static func isWord(before end: Int, _ p: UnsafeBufferPointer<UInt8>) -> Bool {
        CharClass.isWord(decodeScalar(p, previousScalarStart(p, end)).value)
    }

    private static func isWord(at start: Int, _ p: UnsafeBufferPointer<UInt8>) -> Bool {
        CharClass.isWord(decodeScalar(p, start).value)
    }
}
