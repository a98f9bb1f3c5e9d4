/// `maxmemory-policy`: which keys eviction may take, and by what rule.
public enum EvictionPolicy: UInt8, Sendable {
    case noEviction, allKeysLRU, allKeysLFU, allKeysRandom, volatileLRU, volatileLFU, volatileRandom, volatileTTL

    public init?(name: String) {
        switch name {
        case "noeviction": self = .noEviction
        case "allkeys-lru": self = .allKeysLRU
        case "allkeys-lfu": self = .allKeysLFU
        case "allkeys-random": self = .allKeysRandom
        case "volatile-lru": self = .volatileLRU
        case "volatile-lfu": self = .volatileLFU
        case "volatile-random": self = .volatileRandom
        case "volatile-ttl": self = .volatileTTL
        default: return nil
        }
    }

    /// Whether every key may go (else only keys with a time to live).
    public var allKeys: Bool { self == .allKeysLRU || self == .allKeysLFU || self == .allKeysRandom }
    public var usesLFU: Bool { self == .allKeysLFU || self == .volatileLFU }
    public var isRandom: Bool { self == .allKeysRandom || self == .volatileRandom }
}

/// The clock new keys take their LRU field from, shared by a keyspace's tables: seconds
/// (Redis's LRU clock), or under an LFU policy the minutes and initial counter.
public final class LRUClock {
    public var value: UInt32 = 0
    public init() {}
}

/// Redis's LFU fields in a key's 24 bits: the last decrement time in minutes (16 bits) and
/// a logarithmic access counter (8 bits) that starts at 5 and decays once per
/// `lfu-decay-time` minutes.
public enum LFU {
    public static let initialCounter: UInt32 = 5

    public static func minutes(_ nowMs: Int64) -> UInt32 { UInt32(truncatingIfNeeded: (nowMs / 60_000) & 65535) }

    public static func initial(nowMs: Int64) -> UInt32 { minutes(nowMs) << 8 | initialCounter }

    /// LFUDecrAndReturn: the counter after the decay periods since it was last decremented.
    public static func counter(_ lru: UInt32, nowMs: Int64, decayTime: Int64) -> UInt32 {
        let ldt = (lru >> 8) & 65535
        var counter = lru & 255
        let now = minutes(nowMs)
        let elapsed = now >= ldt ? now - ldt : 65535 - ldt + now
        let periods = decayTime > 0 ? Int64(elapsed) / decayTime : 0
        if periods > 0 { counter = periods > Int64(counter) ? 0 : counter - UInt32(periods) }
        return counter
    }

    /// LFULogIncr: the more accesses already counted, the less likely another one counts.
    public static func increment(_ counter: UInt32, logFactor: Int64, random r: Double) -> UInt32 {
        if counter == 255 { return 255 }
        let base = max(0, Double(counter) - Double(initialCounter))
        let p = 1.0 / (base * Double(logFactor) + 1)
        return r < p ? counter + 1 : counter
    }

    /// updateLFU: an access.
    public static func touch(_ lru: UInt32, nowMs: Int64, decayTime: Int64, logFactor: Int64, random r: Double)
        -> UInt32
    {
        let c = increment(counter(lru, nowMs: nowMs, decayTime: decayTime), logFactor: logFactor, random: r)
        return minutes(nowMs) << 8 | c
    }
}

/// Redis's eviction pool: the best candidates seen by sampling so far, kept across calls,
/// ordered by how evictable they are (idle time, inverse frequency or inverse TTL).
public struct EvictionPool {
    public static let size = 16

    public struct Candidate {
        public var score: UInt64
        public var key: [UInt8]
        public var db: Int
    }

    /// Ascending by score: the best candidate is last.
    public private(set) var entries: [Candidate] = []

    public init() {}

    /// evictionPoolPopulate's insertion: a candidate worse than all of a full pool is
    /// dropped; otherwise it goes in order and the worst entry leaves a full pool.
    public mutating func insert(score: UInt64, key: [UInt8], db: Int) {
        if entries.count == Self.size && score <= entries[0].score { return }
        var i = entries.count
        while i > 0 && entries[i - 1].score > score { i -= 1 }
        entries.insert(Candidate(score: score, key: key, db: db), at: i)
        if entries.count > Self.size { entries.removeFirst() }
    }

    /// Takes the best candidate out of the pool.
    public mutating func popBest() -> Candidate? { entries.popLast() }

    public mutating func removeAll() { entries.removeAll() }
}
