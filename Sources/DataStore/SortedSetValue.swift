/// A sorted set: members ordered by (score, member bytes), with a member → score index.
/// Kept as a sorted array (binary search for ranks and ranges); Redis's listpack/skiplist
/// split decides only what OBJECT ENCODING reports.
public final class SortedSetValue {
    public struct Entry: Sendable {
        public var score: Double
        public var member: [UInt8]
    }

    public private(set) var entries: [Entry] = []
    public private(set) var scores: [[UInt8]: Double] = [:]
    /// Redis converts to a skiplist past `zset-max-listpack-*` and never back.
    public var isSkiplist = false

    public init() {}

    public var count: Int { entries.count }

    @inline(__always)
    static func precedes(_ a: Double, _ am: [UInt8], _ b: Double, _ bm: [UInt8]) -> Bool {
        if a != b { return a < b }
        return am.lexicographicallyPrecedes(bm)
    }

    /// The first position whose entry is not before (score, member).
    func position(_ score: Double, _ member: [UInt8]) -> Int {
        var lo = 0
        var hi = entries.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if Self.precedes(entries[mid].score, entries[mid].member, score, member) { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Sets a member's score; returns the previous score.
    @discardableResult
    public func set(_ member: [UInt8], score: Double) -> Double? {
        let old = scores[member]
        if let old {
            if old == score { return old }
            entries.remove(at: position(old, member))
        }
        entries.insert(Entry(score: score, member: member), at: position(score, member))
        scores[member] = score
        return old
    }

    @discardableResult
    public func remove(_ member: [UInt8]) -> Bool {
        guard let old = scores.removeValue(forKey: member) else { return false }
        entries.remove(at: position(old, member))
        return true
    }

    /// The 0-based rank of a member in ascending order.
    public func rank(_ member: [UInt8]) -> Int? {
        guard let s = scores[member] else { return nil }
        return position(s, member)
    }

    /// Index of the first entry with score above (or at, when inclusive) `min`.
    public func firstIndex(min: Double, exclusive: Bool) -> Int {
        var lo = 0
        var hi = entries.count
        while lo < hi {
            let mid = (lo + hi) / 2
            let s = entries[mid].score
            if s < min || (exclusive && s == min) { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Index one past the last entry with score below (or at, when inclusive) `max`.
    public func endIndex(max: Double, exclusive: Bool) -> Int {
        var lo = 0
        var hi = entries.count
        while lo < hi {
            let mid = (lo + hi) / 2
            let s = entries[mid].score
            if s < max || (!exclusive && s == max) { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    public func removeSubrange(_ r: Range<Int>) {
        for e in entries[r] { scores[e.member] = nil }
        entries.removeSubrange(r)
    }

    public func updateEncoding(maxEntries: Int64, maxValue: Int64) {
        if isSkiplist { return }
        if entries.count > Int(maxEntries) || entries.contains(where: { $0.member.count > Int(maxValue) }) {
            isSkiplist = true
        }
    }

    public func copy() -> SortedSetValue {
        let z = SortedSetValue()
        z.entries = entries
        z.scores = scores
        z.isSkiplist = isSkiplist
        return z
    }

    public var payloadBytes: Int { entries.reduce(0) { $0 + $1.member.count + 8 } }
}
