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

    /// Reads the home slot of a pair (see `BPEModel.init`).
    @inline(__always)
    func touch(_ left: Int32, _ right: Int32) -> UInt64 {
        let key = UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
        return slots[2 * slot(of: key)]
    }

    /// Keeps a value alive so the optimizer cannot drop the loads that computed it.
    @inline(never)
    func noteUnlikely() {}

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
/// arenas; the table is cleared when it fills up. Raw buffers rather than arrays: the cache is a
/// class, and array properties of a class pay for dynamic exclusivity checks on every access.
/// Not thread-safe: `BPEModel` hands one cache to one encode call at a time.
final class WordCache {
    static let maxWordBytes = 1024
    private static let maxEntries = 1 << 18

    /// A small direct-mapped table in front of the main one for words of at most 8 bytes with at
    /// most 3 ids (the frequent words of any text), small enough to stay in the CPU cache.
    private struct ShortEntry {
        var key: UInt64       // the word's bytes, little-endian, zero-padded
        var length: UInt8     // 0 = empty
        var count: UInt8
        var ids: (Int32, Int32, Int32)
    }
    private static let shortBits = 12
    private let short: UnsafeMutablePointer<ShortEntry>

    private struct Slot {
        var hash: UInt64        // 0 = empty
        var keyStart: UInt32
        var valueStart: UInt32
        var keyLength: UInt16
        var valueCount: UInt16
    }

    private var slots: UnsafeMutablePointer<Slot>
    private var capacity: Int
    private var mask: Int
    private var count = 0
    private var keys: UnsafeMutablePointer<UInt8>
    private var keysCount = 0
    private var keysCapacity: Int
    private var values: UnsafeMutablePointer<Int32>
    private var valuesCount = 0
    private var valuesCapacity: Int

    init(capacity: Int = 1 << 14) {
        self.capacity = capacity
        mask = capacity - 1
        slots = .allocate(capacity: capacity)
        slots.initialize(repeating: Slot(hash: 0, keyStart: 0, valueStart: 0, keyLength: 0, valueCount: 0), count: capacity)
        keysCapacity = 1 << 16
        keys = .allocate(capacity: keysCapacity)
        valuesCapacity = 1 << 15
        values = .allocate(capacity: valuesCapacity)
        short = .allocate(capacity: 1 << WordCache.shortBits)
        short.initialize(repeating: ShortEntry(key: 0, length: 0, count: 0, ids: (0, 0, 0)), count: 1 << WordCache.shortBits)
    }

    deinit {
        short.deallocate()
        slots.deallocate()
        keys.deallocate()
        values.deallocate()
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

    @inline(__always)
    static func shortKey(_ word: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var key: UInt64 = 0
        for i in 0..<word.count { key |= UInt64(word[i]) << (8 * UInt64(i)) }
        return key
    }

    @inline(__always)
    private static func shortSlot(_ key: UInt64, _ length: Int) -> Int {
        Int(truncatingIfNeeded: ((key ^ UInt64(length)) &* 0x9E37_79B9_7F4A_7C15) >> UInt64(64 - shortBits))
    }

    /// The front table: appends the ids of a word of at most 8 bytes and returns true, or false.
    @inline(__always)
    func lookupShort(_ word: UnsafeBufferPointer<UInt8>, key: UInt64, into out: inout [Int]) -> Bool {
        let e = short[WordCache.shortSlot(key, word.count)]
        guard e.key == key, Int(e.length) == word.count else { return false }
        out.append(Int(e.ids.0))
        if e.count > 1 { out.append(Int(e.ids.1)) }
        if e.count > 2 { out.append(Int(e.ids.2)) }
        return true
    }

    @inline(__always)
    func insertShort(_ word: UnsafeBufferPointer<UInt8>, key: UInt64, ids: UnsafeBufferPointer<Int32>) {
        guard word.count >= 1, word.count <= 8, ids.count >= 1, ids.count <= 3 else { return }
        short[WordCache.shortSlot(key, word.count)] = ShortEntry(
            key: key, length: UInt8(word.count), count: UInt8(ids.count),
            ids: (ids[0], ids.count > 1 ? ids[1] : 0, ids.count > 2 ? ids[2] : 0))
    }

    /// Appends the cached ids of `word` to `out` and returns true, or returns false.
    @inline(__always)
    func lookup(_ word: UnsafeBufferPointer<UInt8>, hash h: UInt64, into out: inout [Int]) -> Bool {
        var i = Int(truncatingIfNeeded: h >> 20) & mask
        while true {
            let slot = slots[i]
            if slot.hash == 0 { return false }
            if slot.hash == h, Int(slot.keyLength) == word.count,
               let wb = word.baseAddress, memcmp(keys + Int(slot.keyStart), wb, word.count) == 0 {
                let start = values + Int(slot.valueStart)
                for j in 0..<Int(slot.valueCount) { out.append(Int(start[j])) }
                return true
            }
            i = (i + 1) & mask
        }
    }

    func insert(_ word: UnsafeBufferPointer<UInt8>, hash h: UInt64, ids: UnsafeBufferPointer<Int32>) {
        guard word.count < WordCache.maxWordBytes, ids.count < Int(UInt16.max),
              let wb = word.baseAddress, let ib = ids.baseAddress else { return }
        if count >= WordCache.maxEntries || keysCount > (1 << 28) || valuesCount > (1 << 28) { clear() }
        if count * 2 >= capacity { grow() }
        if keysCount + word.count > keysCapacity {
            keys = WordCache.enlarge(keys, count: keysCount, capacity: &keysCapacity, needed: keysCount + word.count)
        }
        if valuesCount + ids.count > valuesCapacity {
            values = WordCache.enlarge(values, count: valuesCount, capacity: &valuesCapacity, needed: valuesCount + ids.count)
        }
        var i = Int(truncatingIfNeeded: h >> 20) & mask
        while slots[i].hash != 0 { i = (i + 1) & mask }
        slots[i] = Slot(hash: h, keyStart: UInt32(keysCount), valueStart: UInt32(valuesCount),
                        keyLength: UInt16(word.count), valueCount: UInt16(ids.count))
        (keys + keysCount).update(from: wb, count: word.count)
        keysCount += word.count
        (values + valuesCount).update(from: ib, count: ids.count)
        valuesCount += ids.count
        count += 1
    }

    private static func enlarge<T>(_ p: UnsafeMutablePointer<T>, count: Int, capacity: inout Int, needed: Int) -> UnsafeMutablePointer<T> {
        var newCapacity = capacity * 2
        while newCapacity < needed { newCapacity *= 2 }
        let q = UnsafeMutablePointer<T>.allocate(capacity: newCapacity)
        q.moveInitialize(from: p, count: count)
        p.deallocate()
        capacity = newCapacity
        return q
    }

    private func clear() {
        for i in 0..<capacity { slots[i].hash = 0 }
        keysCount = 0
        valuesCount = 0
        count = 0
    }

    private func grow() {
        let oldSlots = slots, oldCapacity = capacity
        capacity *= 2
        mask = capacity - 1
        slots = .allocate(capacity: capacity)
        slots.initialize(repeating: Slot(hash: 0, keyStart: 0, valueStart: 0, keyLength: 0, valueCount: 0), count: capacity)
        for j in 0..<oldCapacity where oldSlots[j].hash != 0 {
            var i = Int(truncatingIfNeeded: oldSlots[j].hash >> 20) & mask
            while slots[i].hash != 0 { i = (i + 1) & mask }
            slots[i] = oldSlots[j]
        }
        oldSlots.deallocate()
    }
}
