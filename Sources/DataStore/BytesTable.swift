import CSupport

/// A hash table from byte strings to values, for large hashes and sets. Entries live in
/// dense arrays (so a random pick is O(1)); an open-addressing index of 64-bit slots holds
/// each entry's 32-bit hash next to its position, so a probe touches the key only when the
/// hashes agree. Deletion moves the last entry into the hole and shifts the probe run back
/// (no tombstones). Iteration follows the entries array: insertion order until a deletion.
public struct BytesTable<Value> {
    public private(set) var keys: [[UInt8]] = []
    public private(set) var values: [Value] = []
    var hashes: [UInt32] = []
    /// 0 = empty; otherwise `hash << 32 | (entry + 1)`.
    var slots: [UInt64] = []
    var mask = -1

    public init() {}

    public init(minimumCapacity: Int) {
        reserve(minimumCapacity)
    }

    public var count: Int { keys.count }
    /// Bytes of the index (keys' references, hashes, slots, values), not of the keys.
    public var indexBytes: Int {
        keys.capacity * 8 + hashes.capacity * 4 + slots.capacity * 8 + values.capacity * MemoryLayout<Value>.stride
    }
    public var isEmpty: Bool { keys.isEmpty }

    @inline(__always)
    func hash(_ key: UnsafeRawBufferPointer) -> UInt32 { Self.hash(key) }

    /// A key's hash, the same in every table (what `prefetch(hashes:)` takes).
    @inline(__always)
    public static func hash(_ key: UnsafeRawBufferPointer) -> UInt32 {
        let h = hashBytes(key, seed: 0x2545_F491_4F6C_DD1D)
        return UInt32(truncatingIfNeeded: h ^ (h >> 32))
    }

    /// The slot holding `key`, or the empty slot where it would go.
    @inline(__always)
    func probe(_ key: UnsafeRawBufferPointer, _ h: UInt32) -> (slot: Int, entry: Int?) {
        var i = Int(h) & mask
        while true {
            let s = slots[i]
            if s == 0 { return (i, nil) }
            if UInt32(truncatingIfNeeded: s >> 32) == h {
                let e = Int(truncatingIfNeeded: s & 0xFFFF_FFFF) - 1
                if bytesEqual(keys[e], key) { return (i, e) }
            }
            i = (i + 1) & mask
        }
    }

    /// The entry index of a key.
    @inline(__always)
    public func index(of key: UnsafeRawBufferPointer) -> Int? {
        if keys.isEmpty { return nil }
        return probe(key, hash(key)).entry
    }

    public func index(of key: [UInt8]) -> Int? { key.withUnsafeBytes { index(of: $0) } }
    public func index(of key: ArraySlice<UInt8>) -> Int? { key.withUnsafeBytes { index(of: $0) } }

    public subscript(key: [UInt8]) -> Value? {
        guard let e = index(of: key) else { return nil }
        return values[e]
    }

    public func contains(_ key: [UInt8]) -> Bool { index(of: key) != nil }

    /// Replaces the value of the entry at `entry` (from `index(of:)`), with no lookup.
    public mutating func setValue(_ value: Value, at entry: Int) { values[entry] = value }

    mutating func reserve(_ n: Int) {
        var capacity = 8
        while capacity < n * 2 { capacity *= 2 }
        if capacity <= slots.count { return }
        slots = [UInt64](repeating: 0, count: capacity)
        mask = capacity - 1
        for e in 0..<hashes.count {
            var i = Int(hashes[e]) & mask
            while slots[i] != 0 { i = (i + 1) & mask }
            slots[i] = UInt64(hashes[e]) << 32 | UInt64(e + 1)
        }
        keys.reserveCapacity(n)
        values.reserveCapacity(n)
        hashes.reserveCapacity(n)
    }

    /// Finds a key's entry, or appends one built by `makeKey` with `value`: the one place
    /// entries are added. Returns the entry and whether it is new.
    @inline(__always)
    mutating func findOrAppend(
        _ key: UnsafeRawBufferPointer, _ value: @autoclosure () -> Value, makeKey: () -> [UInt8]
    ) -> (entry: Int, isNew: Bool) {
        if (keys.count + 1) * 2 > slots.count { reserve(keys.count + 1) }
        let h = hash(key)
        let (slot, entry) = probe(key, h)
        if let entry { return (entry, false) }
        slots[slot] = UInt64(h) << 32 | UInt64(keys.count + 1)
        keys.append(makeKey())
        values.append(value())
        hashes.append(h)
        return (keys.count - 1, true)
    }

    /// Sets a key's value; returns the previous one.
    @discardableResult
    public mutating func updateValue(_ value: Value, forKey key: [UInt8]) -> Value? {
        let (entry, isNew) = key.withUnsafeBytes { findOrAppend($0, value, makeKey: { key }) }
        if isNew { return nil }
        let old = values[entry]
        values[entry] = value
        return old
    }

    /// Adds a key if missing; true if it was added.
    @discardableResult
    public mutating func insert(_ key: [UInt8], _ value: Value) -> Bool {
        key.withUnsafeBytes { findOrAppend($0, value, makeKey: { key }) }.isNew
    }

    /// Adds a key given as a slice if missing, copying it only then; true if it was added.
    @discardableResult
    public mutating func insert(_ key: ArraySlice<UInt8>, _ value: Value) -> Bool {
        key.withUnsafeBytes { findOrAppend($0, value, makeKey: { Array(key) }) }.isNew
    }

    /// The three prefetch stages for a run of keys at once, by their hashes: the index
    /// slots first, then the entries' key references, then the key bytes (and the values'
    /// storage when `values` is set), so each stage's misses overlap. The arrays are
    /// borrowed once for the run, not per key.
    public func prefetch(hashes: UnsafeMutableBufferPointer<UInt32>, values withValues: Bool) {
        guard !slots.isEmpty else { return }
        let mask = self.mask
        slots.withUnsafeBufferPointer { slotBuffer in
            keys.withUnsafeBufferPointer { keyBuffer in
                for h in hashes { swiftlet_prefetch(slotBuffer.baseAddress! + (Int(h) & mask)) }
                for i in hashes.indices {
                    let s = slotBuffer[Int(hashes[i]) & mask]
                    let e = Int(truncatingIfNeeded: s & 0xFFFF_FFFF) - 1
                    hashes[i] = s == 0 ? UInt32.max : UInt32(truncatingIfNeeded: e)
                    if s != 0 { swiftlet_prefetch(UnsafeRawPointer(keyBuffer.baseAddress! + e)) }
                }
                for e in hashes where e != UInt32.max && Int(e) < keyBuffer.count {
                    // The key array's storage reference, read raw: retaining it would wait
                    // for the very miss we want to start.
                    let word = UnsafeRawPointer(keyBuffer.baseAddress! + Int(e)).load(as: UInt.self)
                    swiftlet_prefetch(UnsafeRawPointer(bitPattern: word))
                }
            }
            guard withValues, MemoryLayout<Value>.size == MemoryLayout<UInt>.size else { return }
            values.withUnsafeBufferPointer { valueBuffer in
                for e in hashes where e != UInt32.max && Int(e) < valueBuffer.count {
                    let word = UnsafeRawPointer(valueBuffer.baseAddress! + Int(e)).load(as: UInt.self)
                    swiftlet_prefetch(UnsafeRawPointer(bitPattern: word))
                }
            }
        }
    }

    /// Removes a key; returns its value.
    @discardableResult
    public mutating func removeValue(forKey key: [UInt8]) -> Value? {
        if keys.isEmpty { return nil }
        let h = key.withUnsafeBytes { hash($0) }
        let (slot, entry) = key.withUnsafeBytes { probe($0, h) }
        guard let entry else { return nil }
        return remove(slot: slot, entry: entry)
    }

    /// Removes the entry at `entry` (a random pick, a pop).
    @discardableResult
    public mutating func remove(at entry: Int) -> (key: [UInt8], value: Value) {
        let key = keys[entry]
        let slot = key.withUnsafeBytes { probe($0, hashes[entry]) }.slot
        let value = remove(slot: slot, entry: entry)
        return (key, value)
    }

    mutating func remove(slot: Int, entry: Int) -> Value {
        let value = values[entry]
        // Close the gap in the probe run (backward-shift deletion).
        var hole = slot
        var j = slot
        slots[hole] = 0
        while true {
            j = (j + 1) & mask
            let s = slots[j]
            if s == 0 { break }
            let home = Int(truncatingIfNeeded: s >> 32) & mask
            // Move s into the hole unless its home lies cyclically in (hole, j].
            let inRange = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j)
            if !inRange {
                slots[hole] = s
                slots[j] = 0
                hole = j
            }
        }
        // Move the last entry into `entry`'s place and repoint its slot.
        let last = keys.count - 1
        if entry != last {
            let lastHash = hashes[last]
            var i = Int(lastHash) & mask
            let target = UInt64(lastHash) << 32 | UInt64(last + 1)
            while slots[i] != target { i = (i + 1) & mask }
            slots[i] = UInt64(lastHash) << 32 | UInt64(entry + 1)
            keys.swapAt(entry, last)
            values.swapAt(entry, last)
            hashes.swapAt(entry, last)
        }
        keys.removeLast()
        values.removeLast()
        hashes.removeLast()
        return value
    }

    public mutating func removeAll() {
        self = BytesTable()
    }
}

extension BytesTable where Value == [UInt8] {
    /// Sets a key's bytes from slices, copying the key only when it is new; an existing
    /// value's array is refilled in place when this table is its only holder and the bytes
    /// fit it (`reusesCapacity`; an array a reply still
    /// shares is copied by Swift's copy-on-write instead, as it must). True if new.
    @discardableResult
    public mutating func setBytes(_ bytes: ArraySlice<UInt8>, forKey key: ArraySlice<UInt8>) -> Bool {
        let (entry, isNew) = key.withUnsafeBytes { findOrAppend($0, Array(bytes), makeKey: { Array(key) }) }
        if isNew { return true }
        if reusesCapacity(values[entry].capacity, for: bytes.count) {
            values[entry].removeAll(keepingCapacity: true)
            bytes.withUnsafeBytes { values[entry].append(contentsOf: $0) }
        } else {
            values[entry] = Array(bytes)
        }
        return false
    }
}
