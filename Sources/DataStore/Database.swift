/// One of Redis's numbered databases: the key table with its expiry index.
public struct Database {
    public var table: KeyTable
    /// Keys removed because they had expired (INFO stats `expired_keys`).
    public var expiredKeys = 0
    /// Hash fields removed because their time to live passed (INFO `expired_subkeys`).
    public var expiredFields = 0
    /// Keys of hashes that have fields with a time to live, for active field expiry. A key
    /// that no longer holds such a hash is dropped from here when the cycle meets it.
    public var fieldExpiryKeys: Set<[UInt8]> = []
    /// When set, keys removed by expiry are collected in `expiredLog` (for the `expired`
    /// keyspace event and WATCH); the server drains it after each command and cron tick.
    public var logExpired = false
    public var expiredLog: [[UInt8]] = []
    /// Likewise for hashes that lost fields to expiry (`hexpired`), and hashes those
    /// fields emptied (deleted).
    public var fieldExpiredLog: [(key: [UInt8], emptied: Bool)] = []
    /// Set while CLIENT PAUSE holds writes: an expired key reads as missing but stays
    /// (Redis skips expiry then, so a paused server changes nothing a replica or AOF sees).
    public var holdsExpired = false
    /// Set while a replica runs its primary's commands: they see such keys as they are
    /// (Redis's expireIfNeeded answers "not expired" to the primary's client).
    public var showsExpired = false

    public init(seed: UInt64, clock: LRUClock = LRUClock(), growth: TableGrowth = TableGrowth()) {
        table = KeyTable(seed: seed, clock: clock, growth: growth)
    }

    public var count: Int { table.count }
    public var volatileCount: Int { table.volatileSlots.count }

    /// Finds a live key. This is the one place where lazy expiry happens: a key whose
    /// time has passed is deleted here, as Redis's expireIfNeeded does.
    /// `forWrite`: a held key whose time has passed is deleted all the same (a write on a
    /// writable replica replaces it, as Redis's lookupKeyWrite forces the expiry).
    /// `lru`: the access time to give a key found live (an LRU touch in the same pass).
    @inline(__always)
    public mutating func lookup(
        _ key: UnsafeRawBufferPointer, now: Int64, forWrite: Bool = false, lru: UInt32? = nil
    ) -> Int? {
        guard let slot = table.find(key) else { return nil }
        let expireAt = table.slots[slot].expireAt
        if expireAt != KeyEntry.noExpiry && expireAt < now {
            if holdsExpired && (showsExpired || !forWrite) {
                guard showsExpired else { return nil }
                if let lru { table[slot].lru = lru }
                return slot
            }
            let entry = table.remove(slot: slot)
            if logExpired { expiredLog.append(entry.key) }
            expiredKeys += 1
            return nil
        }
        if let lru { table[slot].lru = lru }
        return slot
    }

    public mutating func lookup(_ key: ArraySlice<UInt8>, now: Int64) -> Int? {
        key.withUnsafeBytes { lookup($0, now: now) }
    }

    public mutating func lookup(_ key: [UInt8], now: Int64) -> Int? {
        key.withUnsafeBytes { lookup($0, now: now) }
    }

    /// SET semantics: replaces the value, and the expiry unless `keepTTL`.
    @discardableResult
    public mutating func set(
        _ key: ArraySlice<UInt8>, _ value: Value, expireAt: Int64 = KeyEntry.noExpiry,
        keepTTL: Bool = false, now: Int64
    ) -> Int {
        if let slot = lookup(key, now: now) {
            table[slot].value = value
            if !keepTTL { table.setExpire(slot: slot, at: expireAt) }
            return slot
        }
        return table.insertNew(Array(key), value: value, expireAt: expireAt)
    }

    /// SET of a string: as `set(key, .fromBytes(bytes))`, but a string value the key already
    /// has is overwritten in place when its block allows it (`ByteBlock.overwriteIfUnique`),
    /// so replacing a value allocates nothing.
    @discardableResult
    public mutating func setString(
        _ key: ArraySlice<UInt8>, _ bytes: ArraySlice<UInt8>, expireAt: Int64 = KeyEntry.noExpiry,
        keepTTL: Bool = false, now: Int64
    ) -> Int {
        guard let slot = lookup(key, now: now) else {
            return table.insertNew(Array(key), value: .fromBytes(bytes), expireAt: expireAt)
        }
        if let n = Value.integerEncoding(bytes) {
            table[slot].value = .int(n)
        } else if !bytes.withUnsafeBytes({ table.overwriteString(slot: slot, with: $0) }) {
            table[slot].value = .string(ByteBlock.make(bytes))
        }
        if !keepTTL { table.setExpire(slot: slot, at: expireAt) }
        return slot
    }

    /// Deletes a live key; returns whether it existed.
    @discardableResult
    public mutating func delete(_ key: ArraySlice<UInt8>, now: Int64) -> Bool {
        guard let slot = lookup(key, now: now) else { return false }
        table.remove(slot: slot)
        return true
    }

    public mutating func removeAll() {
        table.removeAll()
    }

    /// Redis's activeExpireCycle for one database: samples keys with an expiry, deletes the
    /// stale ones, and repeats while more than `acceptableStalePercent` of a sample was
    /// stale, until `deadline` (checked every 16 rounds) passes. Returns keys removed.
    public mutating func activeExpire<G: RandomNumberGenerator>(
        now: Int64, samplesPerRound: Int = 20, acceptableStalePercent: Int = 10, rng: inout G,
        timeUp: () -> Bool
    ) -> Int {
        var removed = 0
        var rounds = 0
        while table.volatileSlots.count > 0 {
            var sampled = 0
            var expired = 0
            let samples = min(samplesPerRound, table.volatileSlots.count)
            for _ in 0..<samples {
                guard let slot = table.randomVolatileSlot(using: &rng) else { break }
                sampled += 1
                let exp = table[slot].expireAt
                if exp != KeyEntry.noExpiry && exp < now {
                    let entry = table.remove(slot: slot)
                    if logExpired { expiredLog.append(entry.key) }
                    expired += 1
                }
            }
            removed += expired
            rounds += 1
            if sampled == 0 || expired * 100 <= sampled * acceptableStalePercent { break }
            if rounds % 16 == 0 && timeUp() { break }
        }
        expiredKeys += removed
        return removed
    }
}

extension Database {
    /// Notes that the hash at `key` has fields with a time to live.
    public mutating func noteFieldExpiry(_ key: [UInt8]) {
        fieldExpiryKeys.insert(key)
    }

    /// Active field expiry: removes the fields whose time has passed from up to `maxKeys`
    /// hashes, deleting hashes left empty. Returns the fields removed.
    public mutating func activeExpireFields(now: Int64, maxKeys: Int = 64) -> Int {
        if fieldExpiryKeys.isEmpty { return 0 }
        var removed = 0
        var visited = 0
        var gone: [[UInt8]] = []
        for key in fieldExpiryKeys {
            if visited >= maxKeys { break }
            visited += 1
            guard let slot = lookup(key, now: now), case .hash(let h) = table[slot].value, h.hasFieldExpiry else {
                gone.append(key)
                continue
            }
            let n = h.removeExpiredFields(now: now)
            removed += n
            if n > 0 && logExpired { fieldExpiredLog.append((key, h.count == 0)) }
            if h.count == 0 {
                table.remove(slot: slot)
                gone.append(key)
            } else if !h.hasFieldExpiry {
                gone.append(key)
            }
        }
        for key in gone { fieldExpiryKeys.remove(key) }
        expiredFields += removed
        return removed
    }
}

/// The keyspace: Redis's N databases, the cached command time, and the random source.
/// Time and randomness are injected: tests set `now` and seed `rng`.
public final class Keyspace {
    public var databases: [Database]
    /// Unix time in milliseconds that commands see (Redis's commandTimeSnapshot).
    public var now: Int64 = 0 {
        didSet {
            // A held-back loading clock (negative) leaves new keys' LRU as it was.
            if now >= 0 {
                lruClock.value = lfuPolicy ? LFU.initial(nowMs: now) : UInt32(truncatingIfNeeded: now / 1000)
            }
        }
    }
    /// New keys' LRU field, shared by every database's table.
    public let lruClock = LRUClock()
    /// Consulted before any database's table grows (set by the server under maxmemory).
    public let tableGrowth = TableGrowth()
    /// An LFU `maxmemory-policy` is in force: the LRU field holds LFU data.
    public var lfuPolicy = false {
        didSet { if oldValue != lfuPolicy { let n = now; now = n } }
    }
    public var rng: SplitMix64
    public var keyspaceHits = 0
    public var keyspaceMisses = 0

    public init(databases count: Int = 16, seed: UInt64 = 0x5EED) {
        var gen = SplitMix64(seed: seed)
        let clock = lruClock
        let growth = tableGrowth
        databases = (0..<max(1, count)).map { _ in Database(seed: gen.next(), clock: clock, growth: growth) }
        rng = gen
    }

    public var keyCount: Int { databases.reduce(0) { $0 + $1.count } }

    /// TYPE's name for a live key, nil when it does not exist (expired keys go here).
    public func typeName(db: Int, key: [UInt8]) -> String? {
        guard databases.indices.contains(db), let slot = databases[db].lookup(key, now: now) else { return nil }
        return databases[db].table[slot].value.typeName
    }

    /// Redis's count rules for random picks (SRANDMEMBER, HRANDFIELD, ZRANDMEMBER) over a
    /// collection of `size` elements: a positive count gives distinct indexes (all of them
    /// when it reaches `size`), a negative count gives exactly -count indexes, repeats allowed.
    public func randomIndices(count: Int64, of size: Int) -> [Int] {
        if count < 0 { return (0..<Int(-count)).map { _ in Int.random(in: 0..<size, using: &rng) } }
        if count >= Int64(size) { return Array(0..<size) }
        var all = Array(0..<size)
        all.shuffle(using: &rng)
        return Array(all.prefix(Int(count)))
    }
    public var expiredKeys: Int { databases.reduce(0) { $0 + $1.expiredKeys } }
    public var expiredFields: Int { databases.reduce(0) { $0 + $1.expiredFields } }
}

/// A small, fast, seedable generator.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
