import Foundation

/// Open-addressing hash table from a pair of token ids to the merge that joins them:
/// `(left, right) → (rank, new id)`. Lookups in the merge loop are a multiply, a shift and
/// usually one probe.
final class PairTable: @unchecked Sendable {
    static let missing = UInt64.max
    private let slots: UnsafeMutablePointer<UInt64>   // [key, value] per slot
    private let mask: Int
    private let shift: UInt64
    private(set) var count = 0

    init(minimumCapacity: Int) {
        var capacity = 16
        var bits: UInt64 = 4
        while capacity < minimumCapacity * 2 { capacity *= 2; bits += 1 }
        mask = capacity - 1
        shift = 64 - bits
        slots = .allocate(capacity: capacity * 2)
        slots.initialize(repeating: PairTable.missing, count: capacity * 2)
    }

    deinit { slots.deallocate() }

    @inline(__always)
    private func slot(of key: UInt64) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }

    /// Inserts or replaces (a later merge of the same pair wins, as in Hugging Face `tokenizers`).
    func insert(left: Int32, right: Int32, rank: UInt32, newId: Int32) {
        let key = UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
        var i = slot(of: key)
        while true {
            let k = slots[2 * i]
            if k == PairTable.missing { count += 1; break }
            if k == key { break }
            i = (i + 1) & mask
        }
        slots[2 * i] = key
        slots[2 * i + 1] = UInt64(rank) << 32 | UInt64(UInt32(bitPattern: newId))
    }

    /// `rank << 32 | newId`, or `PairTable.missing`.
    @inline(__always)
    func lookup(_ left: Int32, _ right: Int32) -> UInt64 {
        let key = UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
        var i = slot(of: key)
        while true {
            let k = slots[2 * i]
            if k == key { return slots[2 * i + 1] }
            if k == PairTable.missing { return PairTable.missing }
            i = (i + 1) & mask
        }
    }
}

/// A cache from a pre-tokenized word (its bytes) to its token ids. Keys and values live in two
/// arenas; the table is cleared when it fills up. Not thread-safe: `BPEModel` hands one cache to
/// one encode call at a time.
final class WordCache {
    static let maxWordBytes = 256
    private static let maxEntries = 1 << 17

    private var hashes: [UInt64]        // 0 = empty slot
    private var keyStart: [UInt32]
    private var keyLength: [UInt16]
    private var valueStart: [UInt32]
    private var valueCount: [UInt16]
    private var keys: [UInt8] = []
    private var values: [Int32] = []
    private var mask: Int
    private var count = 0

    init(capacity: Int = 1 << 14) {
        hashes = [UInt64](repeating: 0, count: capacity)
        keyStart = [UInt32](repeating: 0, count: capacity)
        keyLength = [UInt16](repeating: 0, count: capacity)
        valueStart = [UInt32](repeating: 0, count: capacity)
        valueCount = [UInt16](repeating: 0, count: capacity)
        mask = capacity - 1
    }

    @inline(__always)
    static func hash(_ p: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325 ^ UInt64(p.count)
        var i = 0
        let n = p.count
        guard let base = p.baseAddress else { return h | 1 }
        let raw = UnsafeRawPointer(base)
        while i + 8 <= n {
            let w = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            h = (h ^ w) &* 0x9E37_79B9_7F4A_7C15
            h ^= h >> 29
            i += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while i < n {
            tail |= UInt64(base[i]) << shift
            shift += 8
            i += 1
        }
        h = (h ^ tail) &* 0xBF58_476D_1CE4_E5B9
        h ^= h >> 31
        return h | 1
    }

    /// Appends the cached ids of `word` to `out` and returns true, or returns false.
    @inline(__always)
    func lookup(_ word: UnsafeBufferPointer<UInt8>, hash h: UInt64, into out: inout [Int]) -> Bool {
        var i = Int(truncatingIfNeeded: h >> 20) & mask
        while true {
            let sh = hashes[i]
            if sh == 0 { return false }
            if sh == h, Int(keyLength[i]) == word.count {
                let start = Int(keyStart[i])
                let equal = keys.withUnsafeBufferPointer { k -> Bool in
                    guard let kb = k.baseAddress, let wb = word.baseAddress else { return word.isEmpty }
                    return memcmp(kb + start, wb, word.count) == 0
                }
                if equal {
                    let vs = Int(valueStart[i])
                    for j in vs..<(vs + Int(valueCount[i])) { out.append(Int(values[j])) }
                    return true
                }
            }
            i = (i + 1) & mask
        }
    }

    func insert(_ word: UnsafeBufferPointer<UInt8>, hash h: UInt64, ids: UnsafeBufferPointer<Int32>) {
        guard word.count < WordCache.maxWordBytes, ids.count < Int(UInt16.max) else { return }
        if count >= WordCache.maxEntries || keys.count > (1 << 30) || values.count > (1 << 30) { clear() }
        if count * 2 >= hashes.count { grow() }
        var i = Int(truncatingIfNeeded: h >> 20) & mask
        while hashes[i] != 0 { i = (i + 1) & mask }
        hashes[i] = h
        keyStart[i] = UInt32(keys.count)
        keyLength[i] = UInt16(word.count)
        valueStart[i] = UInt32(values.count)
        valueCount[i] = UInt16(ids.count)
        keys.append(contentsOf: word)
        values.append(contentsOf: ids)
        count += 1
    }

    private func clear() {
        for i in 0..<hashes.count { hashes[i] = 0 }
        keys.removeAll(keepingCapacity: true)
        values.removeAll(keepingCapacity: true)
        count = 0
    }

    private func grow() {
        let newCapacity = hashes.count * 2
        let oldHashes = hashes, oldKeyStart = keyStart, oldKeyLength = keyLength
        let oldValueStart = valueStart, oldValueCount = valueCount
        hashes = [UInt64](repeating: 0, count: newCapacity)
        keyStart = [UInt32](repeating: 0, count: newCapacity)
        keyLength = [UInt16](repeating: 0, count: newCapacity)
        valueStart = [UInt32](repeating: 0, count: newCapacity)
        valueCount = [UInt16](repeating: 0, count: newCapacity)
        mask = newCapacity - 1
        for j in 0..<oldHashes.count where oldHashes[j] != 0 {
            var i = Int(truncatingIfNeeded: oldHashes[j] >> 20) & mask
            while hashes[i] != 0 { i = (i + 1) & mask }
            hashes[i] = oldHashes[j]
            keyStart[i] = oldKeyStart[j]
            keyLength[i] = oldKeyLength[j]
            valueStart[i] = oldValueStart[j]
            valueCount[i] = oldValueCount[j]
        }
    }
}
