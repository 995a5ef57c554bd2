import Foundation

/// A hash map from token bytes to ids, for vocabularies. Keys are compared byte for byte (Swift's
/// `String ==` is canonical equivalence, and vocabularies hold distinct tokens such as "ό" U+03CC
/// and "ό" U+1F79), and lookups take raw buffers, so neither loading nor encoding allocates.
final class TokenTable: @unchecked Sendable {
    private struct Slot {
        var hash: UInt32     // 0 = empty
        var length: UInt32
        var prefix: UInt64   // the first 8 bytes, zero-padded: short keys compare without the arena
        var offset: UInt32
        var id: Int32
    }

    private var slots: UnsafeMutablePointer<Slot>
    private var capacity: Int
    private var mask: Int
    private var arena: UnsafeMutablePointer<UInt8>
    private var arenaCount = 0
    private var arenaCapacity: Int
    private(set) var count = 0

    init(minimumCapacity: Int) {
        var c = 16
        while c < minimumCapacity * 2 { c *= 2 }
        capacity = c
        mask = c - 1
        slots = .allocate(capacity: c)
        slots.initialize(repeating: Slot(hash: 0, length: 0, prefix: 0, offset: 0, id: 0), count: c)
        arenaCapacity = max(1024, minimumCapacity * 8)
        arena = .allocate(capacity: arenaCapacity)
    }

    deinit {
        slots.deallocate()
        arena.deallocate()
    }

    /// Inserts or replaces.
    func insert(_ key: UnsafeBufferPointer<UInt8>, id: Int32) {
        _ = place(key, id: id, replace: true, hash: TokenTable.hash(key))
    }

    /// Inserts a key that is not in the table yet and returns the offset of its bytes in the
    /// arena (see `bytes(at:count:)`); returns -1 and changes nothing when the key is present.
    func insertNew(_ key: UnsafeBufferPointer<UInt8>, id: Int32) -> Int {
        place(key, id: id, replace: false, hash: TokenTable.hash(key))
    }

    /// The stored bytes of a key inserted at `offset` (valid until the next insertion).
    func bytes(at offset: Int, count: Int) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(start: arena + offset, count: count)
    }

    private func place(_ key: UnsafeBufferPointer<UInt8>, id: Int32, replace: Bool, hash h: UInt32) -> Int {
        let prefix = TokenTable.prefix(key)
        var i = index(h)
        while slots[i].hash != 0 {
            if slots[i].hash == h, equal(slots[i], key, prefix) {
                if replace { slots[i].id = id }
                return -1
            }
            i = (i + 1) & mask
        }
        if arenaCount + key.count > arenaCapacity {
            var newCapacity = arenaCapacity * 2
            while newCapacity < arenaCount + key.count { newCapacity *= 2 }
            let newArena = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
            newArena.moveInitialize(from: arena, count: arenaCount)
            arena.deallocate()
            arena = newArena
            arenaCapacity = newCapacity
        }
        if let base = key.baseAddress { (arena + arenaCount).update(from: base, count: key.count) }
        let offset = arenaCount
        slots[i] = Slot(hash: h, length: UInt32(key.count), prefix: prefix, offset: UInt32(offset), id: id)
        arenaCount += key.count
        count += 1
        if count * 2 > capacity { grow() }
        return offset
    }

    func insert(_ key: String, id: Int) {
        withBytes(key) { insert($0, id: Int32(id)) }
    }

    @inline(__always)
    static func hash(_ key: UnsafeBufferPointer<UInt8>) -> UInt32 {
        UInt32(truncatingIfNeeded: WordCache.hash(key) >> 32) | 1
    }

    @inline(__always)
    static func prefix(_ key: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var p: UInt64 = 0
        for i in 0..<min(8, key.count) { p |= UInt64(key[i]) << (8 * UInt64(i)) }
        return p
    }

    @inline(__always)
    private func index(_ h: UInt32) -> Int { Int(truncatingIfNeeded: h &* 0x9E37_79B1) & mask }

    /// Reads the first slot `key` would probe, so that a later `lookup` or insertion finds it
    /// in cache; loads issued back to back overlap their memory latency.
    @inline(__always)
    func touch(_ key: UnsafeBufferPointer<UInt8>) -> UInt32 { slots[index(TokenTable.hash(key))].hash }

    /// Keeps a value alive so the optimizer cannot drop the loads of `touch`.
    @inline(never)
    func noteUnlikely() {}

    /// The id of `key`, or -1.
    @inline(__always)
    func lookup(_ key: UnsafeBufferPointer<UInt8>) -> Int32 { lookup(key, hash: TokenTable.hash(key)) }

    @inline(__always)
    private func lookup(_ key: UnsafeBufferPointer<UInt8>, hash h: UInt32) -> Int32 {
        let prefix = TokenTable.prefix(key)
        var i = index(h)
        while true {
            let slot = slots[i]
            if slot.hash == 0 { return -1 }
            if slot.hash == h, equal(slot, key, prefix) { return slot.id }
            i = (i + 1) & mask
        }
    }

    func lookup(_ key: String) -> Int? {
        let id = withBytes(key) { lookup($0) }
        return id >= 0 ? Int(id) : nil
    }

    func lookup(_ key: [UInt8]) -> Int? {
        let id = key.withUnsafeBufferPointer { lookup($0) }
        return id >= 0 ? Int(id) : nil
    }

    /// Every (key bytes, id) pair, in table order.
    func forEach(_ body: (UnsafeBufferPointer<UInt8>, Int32) -> Void) {
        for i in 0..<capacity where slots[i].hash != 0 {
            body(UnsafeBufferPointer(start: arena + Int(slots[i].offset), count: Int(slots[i].length)), slots[i].id)
        }
    }

    @inline(__always)
    private func equal(_ slot: Slot, _ key: UnsafeBufferPointer<UInt8>, _ prefix: UInt64) -> Bool {
        guard Int(slot.length) == key.count, slot.prefix == prefix else { return false }
        guard key.count > 8, let base = key.baseAddress else { return true }
        return memcmp(arena + Int(slot.offset) + 8, base + 8, key.count - 8) == 0
    }

    private func grow() {
        let old = slots, oldCapacity = capacity
        capacity *= 2
        mask = capacity - 1
        slots = .allocate(capacity: capacity)
        slots.initialize(repeating: Slot(hash: 0, length: 0, prefix: 0, offset: 0, id: 0), count: capacity)
        for j in 0..<oldCapacity where old[j].hash != 0 {
            var i = index(old[j].hash)
            while slots[i].hash != 0 { i = (i + 1) & mask }
            slots[i] = old[j]
        }
        old.deallocate()
    }
}
