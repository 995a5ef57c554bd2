import Foundation
import Testing
@testable import MechanicTokenizers

/// Unit tests of the building blocks; end-to-end agreement with Hugging Face is in the fixture tests.
struct ComponentTests {
    func pieces(_ scanner: PatternScanner, _ s: String) -> [String] {
        var text = s
        return text.withUTF8 { p in
            var out: [String] = []
            scanner.forEachMatch(p) { out.append(String(decoding: UnsafeBufferPointer(rebasing: p[$0..<$1]), as: UTF8.self)) }
            return out
        }
    }

    @Test func gpt2Split() {
        #expect(pieces(.gpt2, "Hello world") == ["Hello", " world"])
        #expect(pieces(.gpt2, "a   b") == ["a", "  ", " b"])
        #expect(pieces(.gpt2, "it's we'll THEY'RE") == ["it", "'s", " we", "'ll", " THEY", "'", "RE"])
        #expect(pieces(.gpt2, "x  \n\ny") == ["x", "  \n", "\n", "y"])
        #expect(pieces(.gpt2, "12345 abc!!! ") == ["12345", " abc", "!!!", " "])
        #expect(pieces(.gpt2, "a\u{3000}b\u{a0}c") == ["a", "\u{3000}", "b", "\u{a0}", "c"])
        #expect(pieces(.gpt2, " 😀😀 x") == [" 😀😀", " x"])
        #expect(pieces(.gpt2, "") == [])
    }

    @Test func llama3Split() {
        let s = PatternScanner.llama3(maxDigits: 3)
        #expect(pieces(s, "Hello world") == ["Hello", " world"])
        #expect(pieces(s, "1234567") == ["123", "456", "7"])
        #expect(pieces(.llama3(maxDigits: 1), "123") == ["1", "2", "3"])
        #expect(pieces(s, "IT'S (x)") == ["IT", "'S", " (", "x", ")"])
        #expect(pieces(s, "a\n\n  b") == ["a", "\n\n", " ", " b"])
        #expect(pieces(s, "!!\n\nx") == ["!!\n\n", "x"])
        #expect(pieces(s, "\tword") == ["\tword"])
    }

    /// Splitting behaviors of `NormalizedString::split`, on the matches of "-" in "a-b--c-".
    @Test func splitBehaviors() {
        func run(_ behavior: SplitBehavior, invert: Bool = false) -> [String] {
            var text = "a-b--c-"
            return text.withUTF8 { p in
                var out: [String] = []
                splitRanges(count: p.count, matches: SplitPattern.literal([0x2D]).matches(in: p), invert: invert, behavior: behavior) {
                    out.append(String(decoding: UnsafeBufferPointer(rebasing: p[$0..<$1]), as: UTF8.self))
                }
                return out
            }
        }
        #expect(run(.removed) == ["a", "b", "c"])
        #expect(run(.isolated) == ["a", "-", "b", "-", "-", "c", "-"])
        #expect(run(.mergedWithPrevious) == ["a-", "b-", "-", "c-"])
        #expect(run(.mergedWithNext) == ["a", "-b", "-", "-c", "-"])
        #expect(run(.contiguous) == ["a", "-", "b", "--", "c", "-"])
        #expect(run(.removed, invert: true) == ["-", "-", "-", "-"])   // each match is its own piece
    }

    /// The heap merge (long words) and the quadratic merge (short words) agree on random tables.
    @Test func mergeLoopsAgree() {
        var rng = SplitMix(seed: 42)
        for _ in 0..<200 {
            let alphabet = Int32(2 + rng.next() % 4)
            let pairs = PairTable(minimumCapacity: 64)
            var next: Int32 = alphabet
            for rank in 0..<40 {
                let a = Int32(rng.next() % UInt64(next)), b = Int32(rng.next() % UInt64(next))
                pairs.insert(left: a, right: b, rank: UInt32(rank), newId: next)
                next += 1
            }
            let n = 2 + Int(rng.next() % 60)
            let word = (0..<n).map { _ in Int32(rng.next() % UInt64(alphabet)) }
            var short = word, long = word
            let ranks = UnsafeMutablePointer<UInt64>.allocate(capacity: n)
            defer { ranks.deallocate() }
            let m1 = short.withUnsafeMutableBufferPointer { BPEMerge.mergeShort($0.baseAddress!, count: n, pairs: pairs, ranks: ranks) }
            let m2 = long.withUnsafeMutableBufferPointer { BPEMerge.mergeLong($0.baseAddress!, count: n, pairs: pairs) }
            #expect(Array(short.prefix(m1)) == Array(long.prefix(m2)), "word \(word)")
        }
    }

    @Test func minHeapOrders() {
        var heap = MinHeap(capacity: 8)
        var rng = SplitMix(seed: 7)
        var values: [UInt64] = []
        for _ in 0..<500 { let v = rng.next() % 1000; values.append(v); heap.push(v) }
        var popped: [UInt64] = []
        while let v = heap.pop() { popped.append(v) }
        #expect(popped == values.sorted())
    }

    @Test func wordCacheStoresAndGrows() {
        let cache = WordCache(capacity: 16)
        for i in 0..<5000 {
            var key = Array("word\(i)".utf8)
            let ids: [Int32] = (0..<(i % 5)).map { Int32(i + $0) }
            key.withUnsafeBufferPointer { k in ids.withUnsafeBufferPointer { cache.insert(k, hash: WordCache.hash(k), ids: $0) } }
        }
        for i in stride(from: 0, to: 5000, by: 37) {
            var key = Array("word\(i)".utf8)
            var out: [Int] = []
            let hit = key.withUnsafeBufferPointer { cache.lookup($0, hash: WordCache.hash($0), into: &out) }
            #expect(hit && out == (0..<(i % 5)).map { i + $0 })
        }
        var out: [Int] = []
        var missing = Array("absent".utf8)
        #expect(!missing.withUnsafeBufferPointer { cache.lookup($0, hash: WordCache.hash($0), into: &out) })
    }

    /// Canonically equivalent but different strings are different tokens.
    @Test func tokenTableIsByteExact() {
        let table = TokenTable(minimumCapacity: 4)
        table.insert("\u{03CC}", id: 1)
        table.insert("\u{1F79}", id: 2)
        table.insert("e\u{301}", id: 3)
        table.insert("\u{e9}", id: 4)
        #expect(table.lookup("\u{03CC}") == 1 && table.lookup("\u{1F79}") == 2)
        #expect(table.lookup("e\u{301}") == 3 && table.lookup("\u{e9}") == 4 && table.lookup("e") == nil)
        for i in 0..<1000 { table.insert("long token number \(i) padded past sixteen bytes", id: 10 + i) }
        #expect(table.lookup("long token number 777 padded past sixteen bytes") == 787 && table.count == 1004)
    }

    /// The fast NFC path equals Foundation's NFC on every corpus string (byte for byte).
    @Test func nfcMatchesFoundation() {
        let nfc = UnicodeNormalizer(form: .nfc)
        let extra = ["e\u{301}\u{323}", "\u{1100}\u{1161}\u{11A8}", "\u{AC00}\u{11A8}", "\u{212B}\u{2126}", "a\u{0958}b",
                     "\u{0F43}", "x\u{0344}", "😀\u{301}", "\u{1D15E}", "ǅ\u{30C}", "\u{09C7}\u{09BE}", "\u{0B47}\u{0B3E}"]
        for s in Fixtures.corpus + extra {
            let got = nfc.normalize(s)
            #expect(Exact(got) == Exact(s.precomposedStringWithCanonicalMapping), "\(Exact(s))")
        }
    }

    @Test func jsonParser() throws {
        let text = "\u{FEFF}{\"a\": [1, -2.5, 3e2, true, false, null], \"s\": \"\\u00e9\\ud83d\\ude00\\n\\\"\u{FEFF}x\", \"p\": [\"x\", \"y\"], \"e\": {}}"
        let value = try JSONParser.parse(Data(text.utf8), file: "t.json")
        let o = try #require(value.objectValue)
        let a = try #require(o["a"]?.arrayValue)
        #expect(a.count == 6 && a[0].intValue == 1 && a[2].intValue == 300 && a[3].boolValue == true && a[5].isNull)
        if case .double(let d) = a[1] { #expect(d == -2.5) } else { Issue.record("not a number") }
        #expect(Exact(o["s"]?.stringValue ?? "") == Exact("é😀\n\"\u{FEFF}x"))
        if case .pair(let x, let y) = o["p"] { #expect(x == "x" && y == "y") } else { Issue.record("not a pair") }
        #expect(o["e"]?.objectValue?.keys.isEmpty == true && o["missing"] == nil)
        for bad in ["{", "[1,]", "{\"a\" 1}", "\"\\x\"", "tru", "[1] 2", "\"a\u{1}\""] {
            #expect(throws: TokenizerError.self, "\(bad)") { try JSONParser.parse(Data(bad.utf8), file: "bad.json") }
        }
    }

    @Test func byteLevelAlphabet() {
        #expect(ByteLevel.token(ofBytes: Array(" the".utf8)) == "Ġthe")
        #expect(ByteLevel.bytes(ofToken: "Ċ") == [0x0A])
        #expect(ByteLevel.bytes(ofToken: "日") == nil)
        #expect(Set(ByteLevel.byteToScalar).count == 256)
        for b in 0..<256 { #expect(ByteLevel.bytes(ofToken: ByteLevel.token(ofBytes: [UInt8(b)])) == [UInt8(b)]) }
    }
}

/// A small deterministic random generator for property tests.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
