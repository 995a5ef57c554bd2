/// The BPE merge loop: repeatedly join the adjacent pair with the lowest merge rank (leftmost on
/// ties) until no adjacent pair has a merge. This is exactly the order of Hugging Face
/// `tokenizers`' `Word::merge_all` (a heap of (rank, position)), so ids agree.
enum BPEMerge {
    /// Words shorter than this use the quadratic scan; longer ones the heap.
    static let heapThreshold = 40

    /// Merges `symbols[0..<count]` in place and returns the number of symbols left.
    static func merge(_ symbols: UnsafeMutablePointer<Int32>, count: Int, pairs: PairTable) -> Int {
        if count < 2 { return count }
        if count < heapThreshold {
            return withUnsafeTemporaryAllocation(of: UInt64.self, capacity: count) { ranks in
                guard let r = ranks.baseAddress else { return count }
                return mergeShort(symbols, count: count, pairs: pairs, ranks: r)
            }
        }
        return mergeLong(symbols, count: count, pairs: pairs)
    }

    /// O(n²) in the worst case but branch-light; `ranks[i]` caches the merge of pair (i, i+1).
    static func mergeShort(_ sym: UnsafeMutablePointer<Int32>, count: Int, pairs: PairTable,
                           ranks: UnsafeMutablePointer<UInt64>) -> Int {
        var n = count
        for i in 0..<(n - 1) { ranks[i] = pairs.lookup(sym[i], sym[i + 1]) }
        while n > 1 {
            var best = PairTable.missing
            var bi = -1
            for i in 0..<(n - 1) where ranks[i] < best {
                best = ranks[i]
                bi = i
            }
            if bi < 0 { break }
            sym[bi] = Int32(truncatingIfNeeded: best & 0xFFFF_FFFF)
            // Remove symbol bi+1 and pair bi; pairs after it shift left by one.
            var j = bi + 1
            while j < n - 1 {
                sym[j] = sym[j + 1]
                j += 1
            }
            j = bi + 1
            while j < n - 2 {
                ranks[j] = ranks[j + 1]
                j += 1
            }
            n -= 1
            if bi > 0 { ranks[bi - 1] = pairs.lookup(sym[bi - 1], sym[bi]) }
            if bi < n - 1 { ranks[bi] = pairs.lookup(sym[bi], sym[bi + 1]) }
        }
        return n
    }

    /// O(n log n): a doubly linked list of symbols and a binary min-heap of (rank, position).
    static func mergeLong(_ sym: UnsafeMutablePointer<Int32>, count n: Int, pairs: PairTable) -> Int {
        var next = [Int32](repeating: 0, count: n)
        var prev = [Int32](repeating: 0, count: n)
        var alive = [Bool](repeating: true, count: n)
        var heap = MinHeap(capacity: n)
        for i in 0..<n {
            next[i] = i + 1 < n ? Int32(i + 1) : -1
            prev[i] = Int32(i - 1)
        }
        for i in 0..<(n - 1) {
            let v = pairs.lookup(sym[i], sym[i + 1])
            if v != PairTable.missing { heap.push(v & 0xFFFF_FFFF_0000_0000 | UInt64(i)) }
        }
        while let top = heap.pop() {
            let pos = Int(top & 0xFFFF_FFFF)
            let rank = top >> 32
            guard alive[pos] else { continue }
            let right = Int(next[pos])
            guard right >= 0 else { continue }
            let v = pairs.lookup(sym[pos], sym[right])
            // Expired entry: the pair at `pos` changed since it was queued.
            guard v != PairTable.missing, v >> 32 == rank else { continue }
            sym[pos] = Int32(truncatingIfNeeded: v & 0xFFFF_FFFF)
            alive[right] = false
            let after = Int(next[right])
            next[pos] = Int32(after)
            if after >= 0 { prev[after] = Int32(pos) }
            let before = Int(prev[pos])
            if before >= 0 {
                let w = pairs.lookup(sym[before], sym[pos])
                if w != PairTable.missing { heap.push(w & 0xFFFF_FFFF_0000_0000 | UInt64(before)) }
            }
            if after >= 0 {
                let w = pairs.lookup(sym[pos], sym[after])
                if w != PairTable.missing { heap.push(w & 0xFFFF_FFFF_0000_0000 | UInt64(pos)) }
            }
        }
        var m = 0
        for i in 0..<n where alive[i] {
            sym[m] = sym[i]
            m += 1
        }
        return m
    }
}

/// A binary min-heap of `UInt64` keys.
struct MinHeap {
    private var items: [UInt64] = []

    init(capacity: Int) { items.reserveCapacity(capacity) }

    mutating func push(_ x: UInt64) {
        items.append(x)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if items[parent] <= x { break }
            items[i] = items[parent]
            i = parent
        }
        items[i] = x
    }

    mutating func pop() -> UInt64? {
        guard let last = items.popLast() else { return nil }
        if items.isEmpty { return last }
        let top = items[0]
        let n = items.count
        var i = 0
        while true {
            var child = 2 * i + 1
            if child >= n { break }
            if child + 1 < n, items[child + 1] < items[child] { child += 1 }
            if items[child] >= last { break }
            items[i] = items[child]
            i = child
        }
        items[i] = last
        return top
    }
}
