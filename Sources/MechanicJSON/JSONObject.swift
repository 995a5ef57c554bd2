/// A JSON object as parallel arrays of keys and values, in file order. Keys are unique by their
/// UTF-8 bytes (the parser refuses a repeat), and looked up by their bytes too: `String ==` uses
/// canonical equivalence, under which two distinct vocabulary entries (U+1F77 and U+03AF, say)
/// are "equal", and both must be kept.
public struct JSONObject: Sendable, Equatable, Sequence {
    public private(set) var keys: [String] = []
    public private(set) var values: [JSONValue] = []

    public init() {}

    mutating func append(_ key: String, _ value: JSONValue) {
        keys.append(key)
        values.append(value)
    }

    public var count: Int { keys.count }
    public var isEmpty: Bool { keys.isEmpty }

    /// The value of `key` (a linear scan: objects other than a vocabulary are small, and a
    /// vocabulary is read by iterating).
    public subscript(key: String) -> JSONValue? {
        var i = keys.count - 1
        while i >= 0 {
            if keys[i].utf8.elementsEqual(key.utf8) { return values[i] }
            i -= 1
        }
        return nil
    }

    /// (key, value) in file order.
    public func makeIterator() -> Zip2Sequence<[String], [JSONValue]>.Iterator { zip(keys, values).makeIterator() }

    /// The object as a dictionary (two keys that differ only in Unicode normalisation keep the first).
    public var dictionary: [String: JSONValue] {
        Dictionary(zip(keys, values), uniquingKeysWith: { first, _ in first })
    }
}

/// A key compared by its UTF-8 bytes (see `JSONObject`), for the parser's repeated-key check.
struct ExactKey: Hashable {
    let text: String
    init(_ text: String) { self.text = text }
    static func == (a: ExactKey, b: ExactKey) -> Bool { a.text.utf8.elementsEqual(b.text.utf8) }
    func hash(into hasher: inout Hasher) {
        var t = text
        t.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }
}
