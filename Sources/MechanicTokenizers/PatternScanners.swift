/// Hand-written scanners for the split patterns that real tokenizers use, equivalent to
/// Oniguruma's leftmost-first matching of the regular expressions below (the ones Hugging Face
/// `tokenizers` runs) and several times faster than a regex engine. Each reports every match as
/// a byte range; these patterns match every character, so matches tile the input.
enum PatternScanner {
    /// GPT-2 / ByteLevel: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    case gpt2
    /// Llama-3 (`maxDigits` 3) and Qwen2 (`maxDigits` 1):
    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    case llama3(maxDigits: Int)

    static let gpt2Pattern = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
    static let llama3Pattern = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let qwen2Pattern = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    /// The scanner for a regex pattern string, when there is one.
    static func recognizing(_ pattern: String) -> PatternScanner? {
        switch pattern {
        case gpt2Pattern: return .gpt2
        case llama3Pattern: return .llama3(maxDigits: 3)
        case qwen2Pattern: return .llama3(maxDigits: 1)
        default: return nil
        }
    }

    @inline(__always)
    func forEachMatch(_ p: UnsafeBufferPointer<UInt8>, _ body: (Int, Int) -> Void) {
        switch self {
        case .gpt2: PatternScanner.scanGPT2(p, body)
        case .llama3(let maxDigits): PatternScanner.scanLlama3(p, maxDigits: maxDigits, body)
        }
    }

    // Kinds: 0 whitespace, 1 letter, 2 number, 3 other. One byte per BMP scalar, built on first
    // use; the scanners read it through a pointer fetched once per piece.
    nonisolated(unsafe) private static let kinds: UnsafePointer<UInt8> = {
        let table = UnsafeMutablePointer<UInt8>.allocate(capacity: 0x10000)
        let classes = CharClass.bmp
        for v in 0..<0x10000 { table[v] = kindOf(classes[v]) }
        return UnsafePointer(table)
    }()

    @inline(__always)
    private static func kindOf(_ c: CharClass) -> UInt8 {
        if c.contains(.letter) { return 1 }
        if c.contains(.number) { return 2 }
        if c.contains(.whitespace) { return 0 }
        return 3
    }

    @inline(__always)
    private static func kind(_ p: UnsafeBufferPointer<UInt8>, _ i: Int, _ kinds: UnsafePointer<UInt8>) -> (kind: UInt8, length: Int) {
        let b = p[i]
        if b < 0x80 { return (kinds[Int(b)], 1) }
        let (v, length) = decodeScalar(p, i)
        if v < 0x10000 { return (kinds[Int(v)], length) }
        return (kindOf(CharClass.compute(v)), length)
    }

    /// End of the run of characters of kind `k` starting at `i`.
    @inline(__always)
    private static func run(_ p: UnsafeBufferPointer<UInt8>, from i: Int, kind k: UInt8, _ kinds: UnsafePointer<UInt8>) -> Int {
        var j = i
        while j < p.count {
            let (kj, length) = kind(p, j, kinds)
            if kj != k { break }
            j += length
        }
        return j
    }

    /// `\s+(?!\S)|\s+` at a whitespace character: a whitespace run, minus its last character
    /// when the run has two or more characters and is followed by a non-space.
    @inline(__always)
    private static func whitespaceRun(_ p: UnsafeBufferPointer<UInt8>, from i: Int, _ kinds: UnsafePointer<UInt8>) -> Int {
        var j = i
        var last = i
        var count = 0
        while j < p.count {
            let (kj, length) = kind(p, j, kinds)
            if kj != 0 { break }
            last = j
            j += length
            count += 1
        }
        if j == p.count || count < 2 { return j }
        return last
    }

    private static func scanGPT2(_ p: UnsafeBufferPointer<UInt8>, _ body: (Int, Int) -> Void) {
        let kinds = PatternScanner.kinds
        let n = p.count
        var i = 0
        while i < n {
            let b = p[i]
            if b == 0x27, i + 1 < n {   // 's 't 're 've 'm 'll 'd
                let c1 = p[i + 1]
                if c1 == 0x73 || c1 == 0x74 || c1 == 0x6D || c1 == 0x64 { body(i, i + 2); i += 2; continue }
                if i + 2 < n {
                    let c2 = p[i + 2]
                    if (c1 == 0x72 && c2 == 0x65) || (c1 == 0x76 && c2 == 0x65) || (c1 == 0x6C && c2 == 0x6C) {
                        body(i, i + 3); i += 3; continue
                    }
                }
            }
            var (k, length) = kind(p, i, kinds)
            var runStart = i
            if b == 0x20, i + 1 < n {      // ' ?' before letters, numbers or other
                let (k2, length2) = kind(p, i + 1, kinds)
                if k2 != 0 { k = k2; length = length2; runStart = i + 1 }
            }
            let end = k == 0 ? whitespaceRun(p, from: i, kinds) : run(p, from: runStart + length, kind: k, kinds)
            body(i, end)
            i = end
        }
    }

    private static func scanLlama3(_ p: UnsafeBufferPointer<UInt8>, maxDigits: Int, _ body: (Int, Int) -> Void) {
        let kinds = PatternScanner.kinds
        let n = p.count
        var i = 0
        while i < n {
            let b = p[i]
            if b == 0x27, i + 1 < n, let end = contractionEnd(p, i) { body(i, end); i = end; continue }
            let (k, length) = kind(p, i, kinds)
            // [^\r\n\p{L}\p{N}]?\p{L}+
            if k == 1 {
                let end = run(p, from: i + length, kind: 1, kinds)
                body(i, end); i = end; continue
            }
            if k != 2, b != 0x0A, b != 0x0D, i + length < n, kind(p, i + length, kinds).kind == 1 {
                let end = run(p, from: i + length, kind: 1, kinds)
                body(i, end); i = end; continue
            }
            // \p{N}{1,3}
            if k == 2 {
                var end = i + length
                var digits = 1
                while digits < maxDigits, end < n {
                    let (kj, lj) = kind(p, end, kinds)
                    if kj != 2 { break }
                    end += lj
                    digits += 1
                }
                body(i, end); i = end; continue
            }
            // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
            var otherStart = -1
            if k == 3 { otherStart = i } else if b == 0x20, i + 1 < n, kind(p, i + 1, kinds).kind == 3 { otherStart = i + 1 }
            if otherStart >= 0 {
                var end = run(p, from: otherStart, kind: 3, kinds)
                while end < n, p[end] == 0x0A || p[end] == 0x0D { end += 1 }
                body(i, end); i = end; continue
            }
            // \s*[\r\n]+ : through the last line break of the whitespace run.
            var j = i
            var lastBreak = -1
            while j < n {
                let (kj, lj) = kind(p, j, kinds)
                if kj != 0 { break }
                if p[j] == 0x0A || p[j] == 0x0D { lastBreak = j }
                j += lj
            }
            if lastBreak >= 0 { body(i, lastBreak + 1); i = lastBreak + 1; continue }
            let end = whitespaceRun(p, from: i, kinds)
            body(i, end); i = end
        }
    }

    /// Case-insensitive `'s|'t|'re|'ve|'m|'ll|'d` at an apostrophe (including "ſ", which folds to s).
    @inline(__always)
    private static func contractionEnd(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> Int? {
        let n = p.count
        let c1 = p[i + 1] | 0x20
        if c1 == 0x73 || c1 == 0x74 || c1 == 0x6D || c1 == 0x64 {
            if p[i + 1] >= 0x41 && p[i + 1] <= 0x7A { return i + 2 }
        }
        if p[i + 1] == 0xC5, i + 2 < n, p[i + 2] == 0xBF { return i + 3 }   // ſ
        if i + 2 < n, p[i + 1] >= 0x41, p[i + 1] <= 0x7A, p[i + 2] >= 0x41, p[i + 2] <= 0x7A {
            let c2 = p[i + 2] | 0x20
            if (c1 == 0x72 && c2 == 0x65) || (c1 == 0x76 && c2 == 0x65) || (c1 == 0x6C && c2 == 0x6C) { return i + 3 }
        }
        return nil
    }
}
