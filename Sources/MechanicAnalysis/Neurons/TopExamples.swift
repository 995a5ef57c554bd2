/// One dataset example: a token where the probe fired, with its context window.
public struct ActivationExample: Codable, Sendable, Equatable {
    /// The probe's value at the token.
    public var value: Float
    /// Document index in the corpus.
    public var document: Int
    /// Position of the token in the document's tokens (not counting a prepended BOS).
    public var position: Int
    /// Token ids of the context window (within the chunk the model saw).
    public var tokens: [Int]
    /// The probe's value at each token of the window.
    public var values: [Float]
    /// Index of the example's token in `tokens`.
    public var focus: Int
    /// Display strings of `tokens` (filled in after the search).
    public var strings: [String] = []

    public init(value: Float, document: Int, position: Int, tokens: [Int], values: [Float], focus: Int, strings: [String] = []) {
        self.value = value
        self.document = document
        self.position = position
        self.tokens = tokens
        self.values = values
        self.focus = focus
        self.strings = strings
    }
}

/// The `k` best items seen so far, in a binary min-heap whose root is the worst kept item:
/// O(log k) per insertion, memory bounded by `k`. `better(a, b)` must be a strict total order
/// (ties broken deterministically), so the result does not depend on the insertion order.
public struct TopK<Element> {
    public let k: Int
    private var heap: [Element] = []
    private let better: (Element, Element) -> Bool

    public init(_ k: Int, better: @escaping (Element, Element) -> Bool) {
        self.k = max(k, 0)
        self.better = better
        heap.reserveCapacity(self.k)
    }

    public var count: Int { heap.count }
    /// The worst item kept (the one the next better item displaces) — nil until `k` are held.
    public var threshold: Element? { heap.count == k ? heap.first : nil }

    /// Whether `item` would be kept.
    public func admits(_ item: Element) -> Bool {
        guard k > 0 else { return false }
        guard let worst = threshold else { return true }
        return better(item, worst)
    }

    public mutating func insert(_ item: Element) {
        guard admits(item) else { return }
        if heap.count < k {
            heap.append(item)
            siftUp(heap.count - 1)
        } else {
            heap[0] = item
            siftDown(0)
        }
    }

    /// The kept items, best first.
    public var sorted: [Element] { heap.sorted(by: better) }

    // Min-heap on `better`: a parent is never better than its children.
    private mutating func siftUp(_ i: Int) {
        var c = i
        while c > 0 {
            let p = (c - 1) / 2
            guard better(heap[p], heap[c]) else { return }
            heap.swapAt(p, c)
            c = p
        }
    }

    private mutating func siftDown(_ i: Int) {
        var p = i
        while true {
            let l = 2 * p + 1, r = l + 1
            var worst = p
            if l < heap.count, better(heap[worst], heap[l]) { worst = l }
            if r < heap.count, better(heap[worst], heap[r]) { worst = r }
            if worst == p { return }
            heap.swapAt(p, worst)
            p = worst
        }
    }
}
