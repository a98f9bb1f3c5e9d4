@_exported import ByteStorage
import CSupport
import Cluster

/// Hashes bytes a word at a time (a small multiply-xorshift mix, seeded per process so
/// that clients cannot pick colliding keys in advance).
@inline(__always)
public func hashBytes(_ p: UnsafeRawBufferPointer, seed: UInt64) -> UInt64 {
    let n = p.count
    var h = seed ^ (UInt64(truncatingIfNeeded: n) &* 0x9E37_79B9_7F4A_7C15)
    var i = 0
    while i + 8 <= n {
        let w = p.loadUnaligned(fromByteOffset: i, as: UInt64.self)
        h = (h ^ w) &* 0xBF58_476D_1CE4_E5B9
        h ^= h >> 31
        i += 8
    }
    var tail: UInt64 = 0
    var shift: UInt64 = 0
    while i < n {
        tail |= UInt64(p[i]) << shift
        shift += 8
        i += 1
    }
    h = (h ^ tail) &* 0x94D0_49BB_1331_11EB
    h ^= h >> 29
    h = h &* 0xBF58_476D_1CE4_E5B9
    h ^= h >> 32
    return h
}

/// Whether a keyspace's tables may take more memory to grow, shared by its databases: the
/// server answers from `maxmemory` and the memory in use (Redis's dictExpandAllowed).
public final class TableGrowth {
    /// Whether `bytes` more may be taken now; nil when there is no limit.
    public var limit: ((Int) -> Bool)?

    public init() {}

    @inline(__always)
    func allows(_ bytes: Int) -> Bool { limit?(bytes) ?? true }
}

/// Up to 14 bytes of a key, kept inside its slot: most keys (`user:1042`, `rate:ip:…`)
/// need no allocation of their own and compare as three words. The last byte is the length.
public struct InlineKey: Equatable, Sendable {
    var w0: UInt64
    var w1: UInt32
    var w2: UInt16
    var length: UInt8

    public static let capacity = 14

    static let empty = InlineKey(w0: 0, w1: 0, w2: 0, length: 0)

    @inline(__always)
    func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeBytes(of: self) { try body(UnsafeRawBufferPointer(rebasing: $0.prefix(Int(length)))) }
    }
}

extension InlineKey {
    /// The inline form of `bytes`, which must be at most `capacity` long.
    @inline(__always)
    init(_ bytes: UnsafeRawBufferPointer) {
        precondition(bytes.count <= Self.capacity, "InlineKey: key too long")
        var key = InlineKey(w0: 0, w1: 0, w2: 0, length: UInt8(truncatingIfNeeded: bytes.count))
        withUnsafeMutableBytes(of: &key) { copyBytes(bytes, into: $0, at: 0) }
        self = key
    }
}

/// Where a key's bytes live: in the slot when short, else in a block of their own. A long
/// key keeps its hash beside the block pointer (the case has room for it): a lookup skips
/// other keys of its chain without reading their blocks, and a resize need not rehash it.
public enum KeyBytes {
    case inline(InlineKey)
    case heap(ByteBlock, hash: UInt32)

    @inline(__always)
    init(_ bytes: UnsafeRawBufferPointer, hash: UInt32) {
        self =
            bytes.count <= InlineKey.capacity
            ? .inline(InlineKey(bytes)) : .heap(ByteBlock.make(bytes), hash: hash)
    }

    @inline(__always)
    func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        switch self {
        case .inline(let k): return try k.withBytes(body)
        case .heap(let b, _): return try b.withBytes(body)
        }
    }
}

/// One slot of the key table: 48 bytes, the key inside it when short. A short key has no
/// cached hash (it compares as words, and a resize rehashes it, as Redis's dict does); a
/// long key keeps its hash in `KeyBytes.heap`.
public struct KeyEntry {
    // The field order is the layout: key 16, value 9, 3 bytes of padding, lru 4,
    // expireAt 8, next 4, volatileIndex 4.
    var storedKey: KeyBytes
    public var value: Value
    /// Redis's LRU clock (seconds resolution) or LFU data, for OBJECT IDLETIME/FREQ.
    public var lru: UInt32
    /// Absolute expiry in Unix milliseconds, or `noExpiry`.
    public var expireAt: Int64
    /// Next slot in the same bucket, or -1.
    var next: Int32
    /// Position in the table's list of volatile slots, -1 when the key has no expiry,
    /// -2 when the slot is free.
    var volatileIndex: Int32

    public static let noExpiry: Int64 = -1

    /// Whether this slot holds a key (free slots wait on the free list).
    public var isLive: Bool { volatileIndex != -2 }

    /// A copy of the key's bytes.
    public var key: [UInt8] { storedKey.withBytes { Array($0) } }

    /// The key's bytes, borrowed.
    @inline(__always)
    public func withKey<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try storedKey.withBytes(body)
    }

    static var free: KeyEntry {
        KeyEntry(
            storedKey: .inline(.empty), value: .int(0), lru: 0, expireAt: noExpiry, next: -1, volatileIndex: -2)
    }
}

/// A chained hash table over an array of slots, with power-of-two bucket counts. It is
/// Redis's dict in the ways that matter to clients: SCAN's reverse-binary cursor visits
/// every key present for the whole scan even while the table grows or shrinks, and a
/// random key (RANDOMKEY, active expiry sampling, eviction) costs O(1).
public struct KeyTable {
    public private(set) var slots: [KeyEntry] = []
    var buckets: [Int32]
    var freeHead: Int32 = -1
    public private(set) var count = 0
    /// Slot indices of keys that have an expiry, for sampling.
    public private(set) var volatileSlots: [Int32] = []
    let seed: UInt64
    /// Where new keys take their LRU/LFU field from (shared with the other databases).
    public var clock: LRUClock
    /// Whether the table may take more memory to grow (shared with the other databases).
    public var growth: TableGrowth
    /// Keys by hash slot, kept in cluster mode only (`indexBySlot`).
    public private(set) var slotIndex: SlotKeyIndex?

    public init(
        seed: UInt64 = 0x1234_5678_9ABC_DEF0, clock: LRUClock = LRUClock(), growth: TableGrowth = TableGrowth()
    ) {
        self.seed = seed
        self.clock = clock
        self.growth = growth
        buckets = [Int32](repeating: -1, count: 4)
    }

    var mask: Int { buckets.count - 1 }

    /// Bytes of the table itself (slots and buckets), not of keys and values: MEMORY
    /// STATS's `overhead.hashtable.main`.
    public var overheadBytes: Int {
        slots.capacity * MemoryLayout<KeyEntry>.stride + buckets.capacity * 4 + (slotIndex?.overheadBytes ?? 0)
    }

    /// From now on the table keeps its keys by hash slot (a cluster node's database 0).
    public mutating func indexBySlot() {
        guard slotIndex == nil else { return }
        var index = SlotKeyIndex()
        for idx in slots.indices where slots[idx].volatileIndex != -2 {
            index.add(tableSlot: idx, hashSlot: slots[idx].withKey { HashSlot.of($0) })
        }
        slotIndex = index
    }
    /// Bytes of the expiry index (`overhead.hashtable.expires`).
    public var expiresOverheadBytes: Int { volatileSlots.capacity * 4 }

    @inline(__always)
    func hashOf(_ key: UnsafeRawBufferPointer) -> UInt32 {
        UInt32(truncatingIfNeeded: hashBytes(key, seed: seed))
    }

    /// The slot holding `key`, or nil.
    @inline(__always)
    public func find(_ key: UnsafeRawBufferPointer) -> Int? {
        let h = hashOf(key)
        return slots.withUnsafeBufferPointer { entries -> Int? in
            var i = buckets[Int(h) & mask]
            if key.count <= InlineKey.capacity {
                let probe = InlineKey(key)
                while i >= 0 {
                    let idx = Int(i)
                    if case .inline(let k) = entries[idx].storedKey, k == probe { return idx }
                    i = entries[idx].next
                }
            } else {
                while i >= 0 {
                    let idx = Int(i)
                    // The block is compared through the slot's raw memory: binding it would
                    // retain and release it on every probe.
                    if case .heap(_, let stored) = entries[idx].storedKey, stored == h,
                        let object = Self.heapKeyObject(entries, idx), ByteBlock.equals(objectAt: object, key)
                    {
                        return idx
                    }
                    i = entries[idx].next
                }
            }
            return nil
        }
    }

    /// The hash of the key in `slot`.
    @inline(__always)
    func hashOf(slot: Int) -> UInt32 {
        if case .heap(_, let h) = slots[slot].storedKey { return h }
        return slots[slot].storedKey.withBytes { hashOf($0) }
    }

    public func find(_ key: [UInt8]) -> Int? { key.withUnsafeBytes { find($0) } }

    /// Every live entry, borrowed in slot order (snapshots, DEBUG DIGEST).
    public func forEach(_ body: (KeyEntry) -> Void) {
        slots.withUnsafeBufferPointer { entries in
            for e in entries where e.volatileIndex != -2 { body(e) }
        }
    }

    /// Memory-level parallelism for pipelined batches: each stage touches only memory the
    /// previous stage asked the CPU to fetch, so the misses of many keys overlap instead of
    /// stalling one after another (bucket head, then slot, then key bytes).
    @inline(__always)
    public func prefetchBucket(hash h: UInt32) {
        buckets.withUnsafeBufferPointer { swiftlet_prefetch($0.baseAddress! + (Int(h) & mask)) }
    }

    @inline(__always)
    public func prefetchSlot(hash h: UInt32) {
        let i = buckets[Int(h) & mask]
        guard i >= 0 else { return }
        slots.withUnsafeBufferPointer { swiftlet_prefetch($0.baseAddress! + Int(i)) }
    }

    @inline(__always)
    public func prefetchKey(hash h: UInt32) {
        let i = buckets[Int(h) & mask]
        guard i >= 0 else { return }
        slots.withUnsafeBufferPointer { entries in
            // Raw reads avoid a retain, which would itself wait for the miss.
            if let key = Self.heapKeyObject(entries, Int(i)) { swiftlet_prefetch(key) }
            swiftlet_prefetch(Self.valueWord(entries, Int(i)))
        }
    }

    // The raw reads of a slot, the only ones in the table. Each takes the slot by index into
    // the borrowed slot array and checks it; `KeyTableTests` checks the layout they assume
    // against the typed fields.

    /// The object address of the long key's block in `entries[index]`, or nil for a short
    /// key, read without retaining it: `KeyBytes.heap`'s block reference is the key field's
    /// first word, and the enum's tag its last byte.
    @inline(__always)
    static func heapKeyObject(_ entries: UnsafeBufferPointer<KeyEntry>, _ index: Int) -> UnsafeRawPointer? {
        precondition(index >= 0 && index < entries.count, "slot index outside the table")
        let entry = UnsafeRawPointer(entries.baseAddress! + index)
        guard entry.load(fromByteOffset: keyTagOffset, as: UInt8.self) == heapKeyTag else { return nil }
        return UnsafeRawPointer(bitPattern: entry.load(as: UInt.self))
    }

    /// The first word of the value in `entries[index]` as an address: its heap object for
    /// strings, an integer otherwise. Only for prefetching, where any address is harmless.
    @inline(__always)
    static func valueWord(_ entries: UnsafeBufferPointer<KeyEntry>, _ index: Int) -> UnsafeRawPointer? {
        precondition(index >= 0 && index < entries.count, "slot index outside the table")
        let entry = UnsafeRawPointer(entries.baseAddress! + index)
        return UnsafeRawPointer(bitPattern: entry.load(fromByteOffset: valueOffset, as: UInt.self))
    }

    static let valueOffset = MemoryLayout<KeyEntry>.offset(of: \KeyEntry.value)!
    static let keyTagOffset = MemoryLayout<KeyBytes>.size - 1
    /// The tag byte Swift gives `KeyBytes.heap`, read once from a sample.
    static let heapKeyTag: UInt8 = {
        var sample = KeyBytes.heap(ByteBlock.make([UInt8](repeating: 0, count: 1)), hash: 0)
        let tag = withUnsafeBytes(of: &sample) { $0[keyTagOffset] }
        var inline = KeyBytes.inline(.empty)
        let inlineTag = withUnsafeBytes(of: &inline) { $0[keyTagOffset] }
        return tag == inlineTag ? 0xFF : tag
    }()

    @inline(__always)
    public func hash(_ key: UnsafeRawBufferPointer) -> UInt32 { hashOf(key) }
    public func find(_ key: ArraySlice<UInt8>) -> Int? { key.withUnsafeBytes { find($0) } }

    /// Overwrites the string value at `slot` in its own block when the block allows it
    /// (`ByteBlock.overwriteIfUnique`); false, unchanged, otherwise.
    mutating func overwriteString(slot: Int, with bytes: UnsafeRawBufferPointer) -> Bool {
        slots[slot].value.overwriteString(with: bytes)
    }

    public subscript(slot: Int) -> KeyEntry {
        // Borrow, never copy: a copy would retain the key and the value.
        _read { yield slots[slot] }
        _modify { yield &slots[slot] }
    }

    /// Inserts a key that is known to be absent; returns its slot.
    @discardableResult
    public mutating func insertNew(
        _ key: [UInt8], value: Value, expireAt: Int64 = KeyEntry.noExpiry, lru: UInt32? = nil
    ) -> Int {
        key.withUnsafeBytes { insertNew($0, value: value, expireAt: expireAt, lru: lru) }
    }

    @discardableResult
    public mutating func insertNew(
        _ key: ArraySlice<UInt8>, value: Value, expireAt: Int64 = KeyEntry.noExpiry, lru: UInt32? = nil
    ) -> Int {
        key.withUnsafeBytes { insertNew($0, value: value, expireAt: expireAt, lru: lru) }
    }

    @discardableResult
    public mutating func insertNew(
        _ key: UnsafeRawBufferPointer, value: Value, expireAt: Int64 = KeyEntry.noExpiry, lru: UInt32? = nil
    ) -> Int {
        let lru = lru ?? clock.value
        if count + 1 > buckets.count {
            // Redis's dictExpandAllowed: up to 1.618 keys a bucket, the buckets double only
            // if that memory is there (a write at the maxmemory limit must not evict keys
            // for the table's growth); past that ratio they double regardless.
            if (count + 1) * 1000 > buckets.count * 1618 || growth.allows(buckets.count * 4) {
                resize(to: buckets.count * 2)
            }
        }
        let h = hashOf(key)
        let b = Int(h) & mask
        let entry = KeyEntry(
            storedKey: KeyBytes(key, hash: h), value: value, lru: lru, expireAt: KeyEntry.noExpiry, next: buckets[b],
            volatileIndex: -1)
        let idx: Int
        if freeHead >= 0 {
            idx = Int(freeHead)
            freeHead = slots[idx].next
            slots[idx] = entry
        } else {
            idx = slots.count
            // Grow by half rather than double: the slot array is most of the table's
            // memory, and under maxmemory a doubling would count (and evict for) twice the
            // slots in one step.
            if slots.count == slots.capacity && slots.count >= 64 {
                // Under memory pressure by a sixty-fourth only (evictions then free slots
                // for new keys to reuse).
                let half = slots.count / 2
                let extra =
                    growth.allows(half * MemoryLayout<KeyEntry>.stride) ? half : max(16, slots.count / 64)
                slots.reserveCapacity(slots.count + extra)
            }
            slots.append(entry)
        }
        buckets[b] = Int32(idx)
        count += 1
        if expireAt != KeyEntry.noExpiry { setExpire(slot: idx, at: expireAt) }
        if slotIndex != nil { slotIndex!.add(tableSlot: idx, hashSlot: HashSlot.of(key)) }
        return idx
    }

    public mutating func setExpire(slot: Int, at time: Int64) {
        if time == KeyEntry.noExpiry {
            removeExpire(slot: slot)
            return
        }
        if slots[slot].volatileIndex < 0 {
            slots[slot].volatileIndex = Int32(volatileSlots.count)
            volatileSlots.append(Int32(slot))
        }
        slots[slot].expireAt = time
    }

    public mutating func removeExpire(slot: Int) {
        let vi = Int(slots[slot].volatileIndex)
        guard vi >= 0 else { return }
        let last = volatileSlots.removeLast()
        if vi < volatileSlots.count {
            volatileSlots[vi] = last
            slots[Int(last)].volatileIndex = Int32(vi)
        }
        slots[slot].volatileIndex = -1
        slots[slot].expireAt = KeyEntry.noExpiry
    }

    /// Removes the key in `slot` and returns its entry.
    @discardableResult
    public mutating func remove(slot: Int) -> KeyEntry {
        let expireAt = slots[slot].expireAt
        removeExpire(slot: slot)
        let h = hashOf(slot: slot)
        let b = Int(h) & mask
        var prev: Int32 = -1
        var i = buckets[b]
        while i >= 0 && Int(i) != slot {
            prev = i
            i = slots[Int(i)].next
        }
        precondition(i >= 0, "KeyTable: slot not in its bucket")
        if prev < 0 { buckets[b] = slots[slot].next } else { slots[Int(prev)].next = slots[slot].next }
        if slotIndex != nil { slotIndex!.remove(tableSlot: slot, hashSlot: slots[slot].withKey { HashSlot.of($0) }) }
        var old = slots[slot]
        old.expireAt = expireAt
        slots[slot] = KeyEntry.free
        slots[slot].next = freeHead
        freeHead = Int32(slot)
        count -= 1
        if buckets.count > 4 && count * 10 < buckets.count { resize(to: max(4, buckets.count / 2)) }
        if count == 0 { compact() }
        return old
    }

    mutating func compact() {
        slotIndex?.removeAll()
        slots.removeAll(keepingCapacity: false)
        freeHead = -1
        volatileSlots.removeAll(keepingCapacity: false)
        if buckets.count > 4 {
            buckets = [Int32](repeating: -1, count: 4)
        } else {
            for i in buckets.indices { buckets[i] = -1 }
        }
    }

    public mutating func removeAll() {
        slotIndex?.removeAll()
        slots = []
        freeHead = -1
        volatileSlots = []
        buckets = [Int32](repeating: -1, count: 4)
        count = 0
    }

    mutating func resize(to size: Int) {
        var newBuckets = [Int32](repeating: -1, count: size)
        let newMask = size - 1
        // Relink slot by slot, preserving each chain's relative order is not needed.
        for idx in slots.indices where slots[idx].volatileIndex != -2 {
            let b = Int(hashOf(slot: idx)) & newMask
            slots[idx].next = newBuckets[b]
            newBuckets[b] = Int32(idx)
        }
        buckets = newBuckets
    }

    /// A uniformly chosen occupied slot, or nil when empty.
    public func randomSlot<G: RandomNumberGenerator>(using rng: inout G) -> Int? {
        guard count > 0 else { return nil }
        // Sparse tables (many freed slots) fall back to a scan from a random point.
        for _ in 0..<32 {
            let idx = Int.random(in: 0..<slots.count, using: &rng)
            if slots[idx].volatileIndex != -2 { return idx }
        }
        let start = Int.random(in: 0..<slots.count, using: &rng)
        for off in 0..<slots.count {
            let idx = (start + off) % slots.count
            if slots[idx].volatileIndex != -2 { return idx }
        }
        return nil
    }

    public func randomVolatileSlot<G: RandomNumberGenerator>(using rng: inout G) -> Int? {
        guard !volatileSlots.isEmpty else { return nil }
        return Int(volatileSlots[Int.random(in: 0..<volatileSlots.count, using: &rng)])
    }

    /// One step of SCAN: visits the bucket at `cursor` and returns the next cursor (0 when
    /// the scan is complete), with Redis's reverse-binary increment.
    public func scan(cursor: UInt64, _ visit: (Int) -> Void) -> UInt64 {
        let m = UInt64(mask)
        var i = buckets[Int(cursor & m)]
        while i >= 0 {
            visit(Int(i))
            i = slots[Int(i)].next
        }
        var v = cursor | ~m
        v = v.bitReversed
        v &+= 1
        v = v.bitReversed
        return v
    }

    public var bucketCount: Int { buckets.count }

    /// Every occupied slot index, in slot order.
    public func forEachSlot(_ body: (Int) throws -> Void) rethrows {
        for idx in slots.indices where slots[idx].volatileIndex != -2 { try body(idx) }
    }
}

extension UInt64 {
    var bitReversed: UInt64 {
        var v = self
        var r: UInt64 = 0
        for _ in 0..<64 {
            r = (r << 1) | (v & 1)
            v >>= 1
        }
        return r
    }
}
