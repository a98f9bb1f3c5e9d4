import ByteStorage

/// A sorted set: members ordered by (score, member bytes), with a member → score index.
/// The order lives in sorted chunks of at most `chunkCapacity` entries (a one-level
/// B-tree): an insert or removal moves at most one chunk's entries, and a rank sums chunk
/// sizes. Redis's listpack/skiplist split decides only what OBJECT ENCODING reports.
public final class SortedSetValue {
    public struct Entry: Sendable {
        public var score: Double
        public var member: [UInt8]
        public init(score: Double, member: [UInt8]) {
            self.score = score
            self.member = member
        }
    }

    static let chunkCapacity = 256

    var chunks: [[Entry]] = []
    /// Each member's score, in a table that hashes a member's bytes in one pass (a
    /// Dictionary keyed by `[UInt8]` feeds its hasher a byte at a time).
    public private(set) var scores = BytesTable<Double>()
    public private(set) var count = 0
    /// Redis converts to a skiplist past `zset-max-listpack-*` and never back.
    public var isSkiplist = false

    public init() {}

    /// The entries in order.
    public var entries: SortedEntries { SortedEntries(chunks: chunks, count: count) }

    @inline(__always)
    public static func precedes(_ a: Double, _ am: [UInt8], _ b: Double, _ bm: [UInt8]) -> Bool {
        if a != b { return a < b }
        return bytesPrecede(am, bm)
    }

    /// The chunk that holds (or would hold) an entry, and the first position in it that is
    /// not before (score, member).
    func locate(_ score: Double, _ member: [UInt8]) -> (chunk: Int, offset: Int) {
        member.withUnsafeBytes { locate(score, $0) }
    }

    /// The same with the member's bytes borrowed. Each step reads an entry's score alone
    /// and looks at its member only on a tie: copying the entry out, or calling into its
    /// member, would retain and release the member at every step.
    func locate(_ score: Double, _ member: UnsafeRawBufferPointer) -> (chunk: Int, offset: Int) {
        @inline(__always)
        func before(_ chunk: [Entry], _ i: Int) -> Bool {
            let s = chunk[i].score
            if s != score { return s < score }
            return chunk[i].member.withUnsafeBytes { bytesPrecede($0, member) }
        }
        var lo = 0
        var hi = chunks.count
        // The first chunk whose last entry is not before the target (chunks are never empty).
        while lo < hi {
            let mid = (lo + hi) / 2
            if before(chunks[mid], chunks[mid].count - 1) { lo = mid + 1 } else { hi = mid }
        }
        if lo == chunks.count { return chunks.isEmpty ? (0, 0) : (chunks.count - 1, chunks[chunks.count - 1].count) }
        var a = 0
        var b = chunks[lo].count
        while a < b {
            let mid = (a + b) / 2
            if before(chunks[lo], mid) { a = mid + 1 } else { b = mid }
        }
        return (lo, a)
    }

    func globalIndex(chunk: Int, offset: Int) -> Int {
        var n = offset
        for c in 0..<chunk { n += chunks[c].count }
        return n
    }

    /// Sets a member's score; returns the previous score.
    @discardableResult
    public func set(_ member: [UInt8], score: Double) -> Double? {
        let old = scores[member]
        if let old {
            if old == score { return old }
            removeEntry(old, member)
        }
        insertEntry(Entry(score: score, member: member))
        scores.updateValue(score, forKey: member)
        return old
    }

    /// Where a member's score is kept (for `score(at:)` and `setScore(at:_:_:)`), found by
    /// its bytes: ZADD's common update needs no array of its member.
    public func scoreIndex(_ member: UnsafeRawBufferPointer) -> Int? { scores.index(of: member) }

    public func score(at index: Int) -> Double { scores.values[index] }

    /// Gives the member at `index` (whose bytes are `member`) a new score: its entry moves
    /// in the order, keeping its member's storage, and the index is updated in place.
    public func setScore(at index: Int, _ member: UnsafeRawBufferPointer, _ score: Double) {
        let old = scores.values[index]
        if old == score { return }
        var entry = removeEntry(old, member)
        entry.score = score
        insertEntry(entry)
        scores.setValue(score, at: index)
    }

    /// Adds a member that is not in the set.
    public func insertNew(_ member: [UInt8], score: Double) {
        insertEntry(Entry(score: score, member: member))
        scores.insert(member, score)
    }

    func insertEntry(_ e: Entry) {
        count += 1
        if chunks.isEmpty {
            chunks.append([e])
            return
        }
        let (c, o) = locate(e.score, e.member)
        chunks[c].insert(e, at: o)
        if chunks[c].count > Self.chunkCapacity {
            let half = chunks[c].count / 2
            let tail = Array(chunks[c][half...])
            chunks[c].removeSubrange(half...)
            chunks.insert(tail, at: c + 1)
        }
    }

    func removeEntry(_ score: Double, _ member: [UInt8]) {
        member.withUnsafeBytes { _ = removeEntry(score, $0) }
    }

    /// Takes an entry out of the order; returns it.
    func removeEntry(_ score: Double, _ member: UnsafeRawBufferPointer) -> Entry {
        let (c, o) = locate(score, member)
        let entry = chunks[c].remove(at: o)
        count -= 1
        if chunks[c].isEmpty { chunks.remove(at: c) }
        return entry
    }

    @discardableResult
    public func remove(_ member: [UInt8]) -> Bool {
        guard let old = scores.removeValue(forKey: member) else { return false }
        removeEntry(old, member)
        return true
    }

    /// The 0-based rank of a member in ascending order.
    public func rank(_ member: [UInt8]) -> Int? {
        guard let s = scores[member] else { return nil }
        let (c, o) = locate(s, member)
        return globalIndex(chunk: c, offset: o)
    }

    /// The number of entries that come before the first entry for which `isAfter` holds
    /// (entries are ordered, so `isAfter` flips once).
    func partition(_ isAfter: (Entry) -> Bool) -> Int {
        var lo = 0
        var hi = chunks.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if isAfter(chunks[mid][chunks[mid].count - 1]) { hi = mid } else { lo = mid + 1 }
        }
        if lo == chunks.count { return count }
        var a = 0
        var b = chunks[lo].count
        while a < b {
            let mid = (a + b) / 2
            if isAfter(chunks[lo][mid]) { b = mid } else { a = mid + 1 }
        }
        return globalIndex(chunk: lo, offset: a)
    }

    /// Index of the first entry with score above (or at, when inclusive) `min`.
    public func firstIndex(min: Double, exclusive: Bool) -> Int {
        partition { exclusive ? $0.score > min : $0.score >= min }
    }

    /// Index one past the last entry with score below (or at, when inclusive) `max`.
    public func endIndex(max: Double, exclusive: Bool) -> Int {
        partition { exclusive ? $0.score >= max : $0.score > max }
    }

    /// Applies Redis's conversion rule after writing `member`; one-way, like the hash's.
    public func noteWrite(_ member: [UInt8], maxEntries: Int64, maxValue: Int64) {
        noteWrite(memberLength: member.count, maxEntries: maxEntries, maxValue: maxValue)
    }

    public func noteWrite(memberLength: Int, maxEntries: Int64, maxValue: Int64) {
        if isSkiplist { return }
        if count > Int(maxEntries) || memberLength > Int(maxValue) { isSkiplist = true }
    }

    public func copy() -> SortedSetValue {
        let z = SortedSetValue()
        z.chunks = chunks
        z.scores = scores
        z.count = count
        z.isSkiplist = isSkiplist
        return z
    }

    public var payloadBytes: Int { entries.reduce(0) { $0 + $1.member.count + 8 } }
}

/// A read-only view of a sorted set's entries in order.
public struct SortedEntries: Sequence {
    let chunks: [[SortedSetValue.Entry]]
    public let count: Int

    public subscript(i: Int) -> SortedSetValue.Entry {
        var rest = i
        for chunk in chunks {
            if rest < chunk.count { return chunk[rest] }
            rest -= chunk.count
        }
        preconditionFailure("SortedEntries: index \(i) out of range")
    }

    /// The entries at positions `range`, walking the chunks once.
    public func slice(_ range: Range<Int>) -> [SortedSetValue.Entry] {
        var out: [SortedSetValue.Entry] = []
        out.reserveCapacity(range.count)
        var base = 0
        for chunk in chunks {
            let lo = Swift.max(range.lowerBound - base, 0)
            let hi = Swift.min(range.upperBound - base, chunk.count)
            if lo < hi { out.append(contentsOf: chunk[lo..<hi]) }
            base += chunk.count
            if base >= range.upperBound { break }
        }
        return out
    }

    public func slice(_ range: ClosedRange<Int>) -> [SortedSetValue.Entry] {
        slice(range.lowerBound..<(range.upperBound + 1))
    }

    public struct Iterator: IteratorProtocol {
        var chunkIterator: IndexingIterator<[[SortedSetValue.Entry]]>
        var current: IndexingIterator<[SortedSetValue.Entry]>?

        public mutating func next() -> SortedSetValue.Entry? {
            while true {
                if let e = current?.next() { return e }
                guard let chunk = chunkIterator.next() else { return nil }
                current = chunk.makeIterator()
            }
        }
    }

    public func makeIterator() -> Iterator { Iterator(chunkIterator: chunks.makeIterator(), current: nil) }
}
