/// A stream entry ID: milliseconds and a sequence number, ordered as a pair.
public struct StreamID: Comparable, Hashable, Sendable {
    public var ms: UInt64
    public var seq: UInt64

    public init(ms: UInt64, seq: UInt64) {
        self.ms = ms
        self.seq = seq
    }

    public static let zero = StreamID(ms: 0, seq: 0)
    public static let max = StreamID(ms: .max, seq: .max)

    public static func < (a: StreamID, b: StreamID) -> Bool {
        a.ms != b.ms ? a.ms < b.ms : a.seq < b.seq
    }

    /// The next ID (Redis's streamIncrID); nil past the last possible one.
    public var next: StreamID? {
        if seq < .max { return StreamID(ms: ms, seq: seq + 1) }
        if ms < .max { return StreamID(ms: ms + 1, seq: 0) }
        return nil
    }

    /// The previous ID (streamDecrID); nil before 0-0.
    public var previous: StreamID? {
        if seq > 0 { return StreamID(ms: ms, seq: seq - 1) }
        if ms > 0 { return StreamID(ms: ms - 1, seq: .max) }
        return nil
    }

    /// `<ms>-<seq>`, as replies show it.
    public var bytes: [UInt8] { Array("\(ms)-\(seq)".utf8) }

    /// The 16 big-endian bytes Redis keys its radix tree and PELs with.
    public var keyBytes: [UInt8] {
        var out = [UInt8](repeating: 0, count: 16)
        for i in 0..<8 {
            out[i] = UInt8(truncatingIfNeeded: ms >> (56 - 8 * UInt64(i)))
            out[8 + i] = UInt8(truncatingIfNeeded: seq >> (56 - 8 * UInt64(i)))
        }
        return out
    }

    public init?(keyBytes b: ArraySlice<UInt8>) {
        guard b.count == 16 else { return nil }
        var ms: UInt64 = 0
        var seq: UInt64 = 0
        let s = b.startIndex
        for i in 0..<8 {
            ms = ms << 8 | UInt64(b[s + i])
            seq = seq << 8 | UInt64(b[s + 8 + i])
        }
        self.init(ms: ms, seq: seq)
    }

    /// An unsigned decimal as Redis's string2ull takes it (digits, an optional `+`).
    static func parseUnsigned(_ s: ArraySlice<UInt8>) -> UInt64? {
        var digits = s
        if digits.first == UInt8(ascii: "+") { digits = digits.dropFirst() }
        guard !digits.isEmpty else { return nil }
        var v: UInt64 = 0
        for c in digits {
            guard c >= 48 && c <= 57 else { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(c - 48))
            if o1 || o2 { return nil }
            v = a
        }
        return v
    }

    /// How an ID argument was written: complete, without its sequence (`<ms>`), or with a
    /// sequence to generate (`<ms>-*`, XADD only).
    public enum Form {
        case complete
        case missingSequence
        case autoSequence
    }

    /// Parses `-`, `+`, `<ms>` or `<ms>-<seq>` (streamGenericParseIDOrReply). `strict`
    /// refuses `-` and `+`; `missingSeq` fills an absent sequence.
    public static func parse(
        _ s: ArraySlice<UInt8>, missingSeq: UInt64 = 0, strict: Bool = false, allowAutoSequence: Bool = false
    ) -> (StreamID, Form)? {
        guard s.count <= 127 else { return nil }
        if s.count == 1 && (s.first == UInt8(ascii: "-") || s.first == UInt8(ascii: "+")) {
            if strict { return nil }
            return (s.first == UInt8(ascii: "-") ? .zero : .max, .complete)
        }
        guard let dash = s.firstIndex(of: UInt8(ascii: "-")) else {
            guard let ms = parseUnsigned(s) else { return nil }
            return (StreamID(ms: ms, seq: missingSeq), .missingSequence)
        }
        guard let ms = parseUnsigned(s[s.startIndex..<dash]) else { return nil }
        let rest = s[(dash + 1)...]
        if allowAutoSequence && rest.count == 1 && rest.first == UInt8(ascii: "*") {
            return (StreamID(ms: ms, seq: 0), .autoSequence)
        }
        guard let seq = parseUnsigned(rest) else { return nil }
        return (StreamID(ms: ms, seq: seq), .complete)
    }
}

/// Where `name` is (or would go) among `items` kept in byte order of their names (groups,
/// consumers: Redis lists both in its radix tree's order).
func nameIndex<T>(_ items: [T], _ name: some Collection<UInt8>, _ nameOf: (T) -> [UInt8]) -> (Int, found: Bool) {
    var lo = 0
    var hi = items.count
    while lo < hi {
        let mid = (lo + hi) / 2
        if nameOf(items[mid]).lexicographicallyPrecedes(name) { lo = mid + 1 } else { hi = mid }
    }
    return (lo, lo < items.count && nameOf(items[lo]).elementsEqual(name))
}

/// IDs kept in order: a consumer's or a group's pending entries.
public struct SortedStreamIDs: Sendable {
    public private(set) var ids: [StreamID] = []

    public init() {}

    public var count: Int { ids.count }
    public var isEmpty: Bool { ids.isEmpty }

    /// The first position whose ID is not below `id`.
    public func lowerBound(_ id: StreamID) -> Int {
        var lo = 0
        var hi = ids.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if ids[mid] < id { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    public func contains(_ id: StreamID) -> Bool {
        let i = lowerBound(id)
        return i < ids.count && ids[i] == id
    }

    /// Adds `id`; false when it was there already.
    @discardableResult
    public mutating func insert(_ id: StreamID) -> Bool {
        if ids.isEmpty || ids[ids.count - 1] < id {
            ids.append(id)
            return true
        }
        let i = lowerBound(id)
        if i < ids.count && ids[i] == id { return false }
        ids.insert(id, at: i)
        return true
    }

    @discardableResult
    public mutating func remove(_ id: StreamID) -> Bool {
        let i = lowerBound(id)
        guard i < ids.count && ids[i] == id else { return false }
        ids.remove(at: i)
        return true
    }
}

/// A pending entry of a consumer group: who has it, when it was last delivered, how often.
public final class StreamNACK {
    public var deliveryTime: Int64
    public var deliveryCount: Int64
    /// Nil only for a moment, while XCLAIM FORCE creates it.
    public var consumer: StreamConsumer?

    public init(deliveryTime: Int64, deliveryCount: Int64, consumer: StreamConsumer?) {
        self.deliveryTime = deliveryTime
        self.deliveryCount = deliveryCount
        self.consumer = consumer
    }
}

public final class StreamConsumer {
    public let name: [UInt8]
    /// Last interaction of any kind (XINFO's `idle`), and last successful read or claim
    /// (`inactive`; -1 when never).
    public var seenTime: Int64
    public var activeTime: Int64
    public var pel = SortedStreamIDs()

    public init(name: [UInt8], seenTime: Int64, activeTime: Int64 = -1) {
        self.name = name
        self.seenTime = seenTime
        self.activeTime = activeTime
    }
}

public final class StreamConsumerGroup {
    /// Redis's SCG_INVALID_ENTRIES_READ: the group's read counter is unknown.
    public static let invalidEntriesRead: Int64 = -1

    public let name: [UInt8]
    public var lastID: StreamID
    public var entriesRead: Int64
    public var pel = SortedStreamIDs()
    public var nacks: [StreamID: StreamNACK] = [:]
    /// Consumers in name order (as Redis's radix tree lists them).
    public private(set) var consumers: [StreamConsumer] = []

    public init(name: [UInt8], lastID: StreamID, entriesRead: Int64) {
        self.name = name
        self.lastID = lastID
        self.entriesRead = entriesRead
    }

    func consumerIndex(_ name: some Collection<UInt8>) -> (Int, found: Bool) {
        nameIndex(consumers, name, \.name)
    }

    public func consumer(_ name: some Collection<UInt8>) -> StreamConsumer? {
        let (i, found) = consumerIndex(name)
        return found ? consumers[i] : nil
    }

    /// Creates the consumer; nil when it exists.
    @discardableResult
    public func createConsumer(_ name: [UInt8], now: Int64) -> StreamConsumer? {
        let (i, found) = consumerIndex(name)
        if found { return nil }
        let c = StreamConsumer(name: name, seenTime: now)
        consumers.insert(c, at: i)
        return c
    }

    /// Deletes the consumer and its pending entries from the group; how many it had.
    @discardableResult
    public func deleteConsumer(_ name: some Collection<UInt8>) -> Int? {
        let (i, found) = consumerIndex(name)
        guard found else { return nil }
        let c = consumers.remove(at: i)
        for id in c.pel.ids {
            pel.remove(id)
            nacks[id] = nil
        }
        return c.pel.count
    }

    /// Adds a pending entry (used while loading).
    public func addPending(_ id: StreamID, _ nack: StreamNACK) {
        pel.insert(id)
        nacks[id] = nack
    }

    /// Acknowledges `id`; false when it was not pending.
    @discardableResult
    public func acknowledge(_ id: StreamID) -> Bool {
        guard let nack = nacks.removeValue(forKey: id) else { return false }
        pel.remove(id)
        nack.consumer?.pel.remove(id)
        return true
    }

    func copy() -> StreamConsumerGroup {
        let g = StreamConsumerGroup(name: name, lastID: lastID, entriesRead: entriesRead)
        var map: [ObjectIdentifier: StreamConsumer] = [:]
        for c in consumers {
            let n = StreamConsumer(name: c.name, seenTime: c.seenTime, activeTime: c.activeTime)
            n.pel = c.pel
            map[ObjectIdentifier(c)] = n
            g.consumers.append(n)
        }
        g.pel = pel
        for (id, nack) in nacks {
            g.nacks[id] = StreamNACK(
                deliveryTime: nack.deliveryTime, deliveryCount: nack.deliveryCount,
                consumer: nack.consumer.flatMap { map[ObjectIdentifier($0)] })
        }
        return g
    }
}

/// A stream: entries in ID order, kept in nodes the way Redis keeps its radix tree of
/// listpacks (a new node when the tail one holds `stream-node-max-entries` entries or
/// would pass `stream-node-max-bytes`), so approximate trimming removes the same whole
/// nodes Redis would, and RDB files carry the same node layout. Deleted entries stay in
/// their node as tombstones until the node empties, as in Redis.
public final class StreamValue {
    public struct Entry: Sendable {
        public var id: StreamID
        /// Field, value, field, value, …
        public var fields: [[UInt8]]
        public var deleted: Bool
        /// The entry's field names are its node's master fields (Redis's SAMEFIELDS flag).
        public var sameFields: Bool
    }

    public struct Node: Sendable {
        public var master: StreamID
        public var masterFields: [[UInt8]]
        public var entries: [Entry]
        public var live: Int
        /// The listpack bytes of the entries themselves (headers are computed).
        var entryBytes: Int

        /// lpBytes of this node's listpack.
        var listpackBytes: Int {
            var size = 7 + Listpack.integerSize(Int64(live)) + Listpack.integerSize(Int64(entries.count - live))
            size += Listpack.integerSize(Int64(masterFields.count))
            for f in masterFields { size += Listpack.elementSize(f) }
            return size + Listpack.integerSize(0) + entryBytes
        }

        public var lastID: StreamID { entries[entries.count - 1].id }
    }

    public private(set) var nodes: [Node] = []
    public private(set) var length = 0
    public var lastID = StreamID.zero
    /// The first live entry's ID (XINFO's `recorded-first-entry-id`; 0-0 when empty).
    public var firstID = StreamID.zero
    public var maxDeletedID = StreamID.zero
    public var entriesAdded: Int64 = 0
    /// Consumer groups in name order.
    public private(set) var groups: [StreamConsumerGroup] = []

    public init() {}

    // MARK: Appending

    /// The bytes an entry adds to its node's listpack.
    static func entrySize(_ id: StreamID, master: StreamID, fields: [[UInt8]], same: Bool) -> Int {
        var size = Listpack.integerSize(same ? 2 : 0)
        size += Listpack.integerSize(Int64(bitPattern: id.ms &- master.ms))
        size += Listpack.integerSize(Int64(bitPattern: id.seq &- master.seq))
        let pairs = fields.count / 2
        if !same { size += Listpack.integerSize(Int64(pairs)) }
        for i in 0..<pairs {
            if !same { size += Listpack.elementSize(fields[2 * i]) }
            size += Listpack.elementSize(fields[2 * i + 1])
        }
        let lpCount = pairs + 3 + (same ? 0 : pairs + 1)
        return size + Listpack.integerSize(Int64(lpCount))
    }

    /// Appends an entry whose ID is above `lastID` (streamAppendItem's layout rules).
    public func append(_ id: StreamID, fields: [[UInt8]], nodeMaxBytes: Int, nodeMaxEntries: Int) {
        var valueBytes = 0
        for f in fields { valueBytes += f.count }
        var newNode = nodes.isEmpty
        if let tail = nodes.last {
            let maxBytes = nodeMaxBytes == 0 || nodeMaxBytes > Int(Int32.max) ? Int(Int32.max) : nodeMaxBytes
            if tail.listpackBytes + valueBytes >= maxBytes {
                newNode = true
            } else if nodeMaxEntries > 0 && tail.entries.count >= nodeMaxEntries {
                newNode = true
            }
        }
        if newNode {
            var masterFields: [[UInt8]] = []
            masterFields.reserveCapacity(fields.count / 2)
            for i in stride(from: 0, to: fields.count, by: 2) { masterFields.append(fields[i]) }
            let size = Self.entrySize(id, master: id, fields: fields, same: true)
            nodes.append(
                Node(
                    master: id, masterFields: masterFields,
                    entries: [Entry(id: id, fields: fields, deleted: false, sameFields: true)], live: 1,
                    entryBytes: size))
        } else {
            let n = nodes.count - 1
            var same = nodes[n].masterFields.count * 2 == fields.count
            if same {
                for i in 0..<nodes[n].masterFields.count where nodes[n].masterFields[i] != fields[2 * i] {
                    same = false
                    break
                }
            }
            let size = Self.entrySize(id, master: nodes[n].master, fields: fields, same: same)
            nodes[n].entries.append(Entry(id: id, fields: fields, deleted: false, sameFields: same))
            nodes[n].live += 1
            nodes[n].entryBytes += size
        }
        if length == 0 { firstID = id }
        length += 1
        lastID = id
        entriesAdded += 1
    }

    /// Adds a node read from an RDB file as it was stored.
    public func loadNode(master: StreamID, masterFields: [[UInt8]], entries: [Entry]) {
        var bytes = 0
        var live = 0
        for e in entries {
            bytes += Self.entrySize(e.id, master: master, fields: e.fields, same: e.sameFields)
            if !e.deleted { live += 1 }
        }
        nodes.append(Node(master: master, masterFields: masterFields, entries: entries, live: live, entryBytes: bytes))
    }

    /// After loading nodes: the length and first ID they imply.
    public func recount() {
        length = nodes.reduce(0) { $0 + $1.live }
        firstID = firstLiveID ?? .zero
    }

    // MARK: Reading

    /// Position of the first entry (live or not) whose ID is not below `id`.
    func position(atOrAfter id: StreamID) -> (node: Int, entry: Int) {
        // The last node whose master ID is not above `id`.
        var lo = 0
        var hi = nodes.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if nodes[mid].master <= id { lo = mid + 1 } else { hi = mid }
        }
        var n = max(0, lo - 1)
        while n < nodes.count {
            let entries = nodes[n].entries
            var a = 0
            var b = entries.count
            while a < b {
                let mid = (a + b) / 2
                if entries[mid].id < id { a = mid + 1 } else { b = mid }
            }
            if a < entries.count { return (n, a) }
            n += 1
        }
        return (nodes.count, 0)
    }

    /// Live entries with IDs in `start...end`, in order (or reversed), at most `count`
    /// (0: all).
    public func range(from start: StreamID, to end: StreamID, count: Int = 0, reverse: Bool = false) -> [Entry] {
        var out: [Entry] = []
        guard start <= end, length > 0 else { return out }
        if !reverse {
            var (n, i) = position(atOrAfter: start)
            while n < nodes.count {
                let entries = nodes[n].entries
                while i < entries.count {
                    let e = entries[i]
                    if e.id > end { return out }
                    if !e.deleted {
                        out.append(e)
                        if count > 0 && out.count >= count { return out }
                    }
                    i += 1
                }
                n += 1
                i = 0
            }
        } else {
            var (n, i): (Int, Int)
            if end == .max {
                (n, i) = (nodes.count, 0)
            } else {
                (n, i) = position(atOrAfter: end.next ?? .max)
            }
            // Step back from the first entry above `end`.
            while true {
                if i == 0 {
                    n -= 1
                    if n < 0 { return out }
                    i = nodes[n].entries.count
                }
                i -= 1
                let e = nodes[n].entries[i]
                if e.id < start { return out }
                if e.id <= end && !e.deleted {
                    out.append(e)
                    if count > 0 && out.count >= count { return out }
                }
            }
        }
        return out
    }

    /// The live entry with this ID.
    public func entry(_ id: StreamID) -> Entry? {
        let (n, i) = position(atOrAfter: id)
        guard n < nodes.count, nodes[n].entries[i].id == id, !nodes[n].entries[i].deleted else { return nil }
        return nodes[n].entries[i]
    }

    public var firstLiveID: StreamID? {
        for node in nodes where node.live > 0 {
            for e in node.entries where !e.deleted { return e.id }
        }
        return nil
    }

    /// The last live entry's ID (streamLastValidID: 0-0 when empty).
    public var lastLiveID: StreamID {
        for node in nodes.reversed() where node.live > 0 {
            for e in node.entries.reversed() where !e.deleted { return e.id }
        }
        return .zero
    }

    /// Every live entry in order.
    public func forEach(_ body: (Entry) -> Void) {
        for node in nodes where node.live > 0 {
            for e in node.entries where !e.deleted { body(e) }
        }
    }

    // MARK: Removing

    /// Deletes one entry (XDEL); false when it is not there. A node whose last live entry
    /// goes is removed.
    @discardableResult
    public func delete(_ id: StreamID) -> Bool {
        let (n, i) = position(atOrAfter: id)
        guard n < nodes.count, nodes[n].entries[i].id == id, !nodes[n].entries[i].deleted else { return false }
        if nodes[n].live == 1 {
            nodes.remove(at: n)
        } else {
            nodes[n].entries[i].deleted = true
            nodes[n].live -= 1
        }
        length -= 1
        return true
    }

    public enum TrimStrategy {
        case maxLength(Int64)
        case minID(StreamID)
    }

    /// streamTrim: removes old entries by length or minimum ID. `approximate` removes only
    /// whole nodes; `limit` (0: none) caps the entries removed.
    public func trim(_ strategy: TrimStrategy, approximate: Bool, limit: Int64) -> Int64 {
        var deleted: Int64 = 0
        if case .maxLength(let maxLen) = strategy, Int64(length) <= maxLen { return 0 }
        while !nodes.isEmpty {
            if case .maxLength(let maxLen) = strategy, Int64(length) <= maxLen { break }
            let entries = Int64(nodes[0].live)
            if limit > 0 && deleted + entries > limit { break }
            let removeNode: Bool
            switch strategy {
            case .maxLength(let maxLen): removeNode = Int64(length) - entries >= maxLen
            case .minID(let minID): removeNode = nodes[0].lastID < minID
            }
            if removeNode {
                nodes.removeFirst()
                length -= Int(entries)
                deleted += entries
                continue
            }
            if approximate { break }
            // Mark entries of the first node deleted until the goal is met.
            var removed = 0
            for i in nodes[0].entries.indices {
                let stop: Bool
                switch strategy {
                case .maxLength(let maxLen): stop = Int64(length) <= maxLen
                case .minID(let minID): stop = nodes[0].entries[i].id >= minID
                }
                if stop { break }
                if !nodes[0].entries[i].deleted {
                    nodes[0].entries[i].deleted = true
                    length -= 1
                    removed += 1
                }
            }
            nodes[0].live -= removed
            deleted += Int64(removed)
            break
        }
        firstID = length == 0 ? .zero : (firstLiveID ?? .zero)
        return deleted
    }

    // MARK: Consumer groups

    func groupIndex(_ name: some Collection<UInt8>) -> (Int, found: Bool) {
        nameIndex(groups, name, \.name)
    }

    public func group(_ name: some Collection<UInt8>) -> StreamConsumerGroup? {
        let (i, found) = groupIndex(name)
        return found ? groups[i] : nil
    }

    /// Creates a group; nil when the name is taken.
    @discardableResult
    public func createGroup(_ name: [UInt8], lastID: StreamID, entriesRead: Int64) -> StreamConsumerGroup? {
        let (i, found) = groupIndex(name)
        if found { return nil }
        let g = StreamConsumerGroup(name: name, lastID: lastID, entriesRead: entriesRead)
        groups.insert(g, at: i)
        return g
    }

    @discardableResult
    public func destroyGroup(_ name: some Collection<UInt8>) -> Bool {
        let (i, found) = groupIndex(name)
        if found { groups.remove(at: i) }
        return found
    }

    /// streamRangeHasTombstones: whether a deleted entry may lie in `start...end`.
    public func rangeHasTombstones(from start: StreamID, to end: StreamID = .max) -> Bool {
        if length == 0 || maxDeletedID == .zero { return false }
        if firstID > maxDeletedID { return false }
        return start <= maxDeletedID && maxDeletedID <= end
    }

    /// streamEstimateDistanceFromFirstEverEntry: the logical read counter of `id`, or
    /// `invalidEntriesRead` when it cannot be known.
    public func estimateEntriesRead(upTo id: StreamID) -> Int64 {
        if entriesAdded == 0 { return 0 }
        if length == 0 && id <= lastID { return entriesAdded }
        if id == lastID { return entriesAdded }
        if id > lastID { return StreamConsumerGroup.invalidEntriesRead }
        if maxDeletedID == .zero || maxDeletedID < firstID {
            if id < firstID { return entriesAdded - Int64(length) }
            if id == firstID { return entriesAdded - Int64(length) + 1 }
        }
        return StreamConsumerGroup.invalidEntriesRead
    }

    /// The group's lag (XINFO), or nil when it cannot be known. Redis 7.4's rules: an empty
    /// stream has none, and a group whose position and every tombstone lie before the
    /// first entry lags by the whole length (7.0 would subtract its read counter, which
    /// can go negative after trims or ENTRIESREAD).
    public func lag(_ g: StreamConsumerGroup) -> Int64? {
        if entriesAdded == 0 || length == 0 { return 0 }
        if g.lastID < firstID && maxDeletedID < firstID { return Int64(length) }
        if g.entriesRead != StreamConsumerGroup.invalidEntriesRead && !rangeHasTombstones(from: g.lastID) {
            return entriesAdded - g.entriesRead
        }
        let read = estimateEntriesRead(upTo: g.lastID)
        return read == StreamConsumerGroup.invalidEntriesRead ? nil : entriesAdded - read
    }

    // MARK: Introspection

    /// The number of nodes Redis's radix tree would have for these node keys (XINFO's
    /// `radix-tree-nodes`): a compressed trie over the 16-byte big-endian master IDs.
    public var radixTreeNodes: Int {
        let keys = nodes.map { $0.master.keyBytes }
        if keys.isEmpty { return 1 }
        func count(_ lo: Int, _ hi: Int, _ depth: Int) -> Int {
            if hi - lo == 1 && depth == 16 { return 1 }
            // The range's common prefix from `depth` (first and last key suffice: sorted).
            var lcp = depth
            while lcp < 16 && keys[lo][lcp] == keys[hi - 1][lcp] { lcp += 1 }
            if lcp > depth { return 1 + count(lo, hi, lcp) }
            var total = 1
            var i = lo
            while i < hi {
                var j = i + 1
                while j < hi && keys[j][depth] == keys[i][depth] { j += 1 }
                total += count(i, j, depth + 1)
                i = j
            }
            return total
        }
        return count(0, keys.count, 0)
    }

    /// Bytes Redis would use for this stream (MEMORY USAGE's estimate).
    public var memoryUsage: Int {
        var bytes = 16 + 88
        for node in nodes { bytes += 48 + mallocSize(node.listpackBytes) }
        for g in groups {
            bytes += 64 + g.pel.count * (16 + 32) + g.consumers.count * 64
        }
        return bytes
    }

    public func copy() -> StreamValue {
        let s = StreamValue()
        s.nodes = nodes
        s.length = length
        s.lastID = lastID
        s.firstID = firstID
        s.maxDeletedID = maxDeletedID
        s.entriesAdded = entriesAdded
        s.groups = groups.map { $0.copy() }
        return s
    }
}

/// Listpack sizes and encoding (Redis's listpack.c): elements are integers when their
/// text is a canonical 64-bit integer, else strings; each carries its length backwards.
public enum Listpack {
    /// The bytes of an element's back-length field.
    static func backlenSize(_ l: Int) -> Int {
        if l <= 127 { return 1 }
        if l < 16383 { return 2 }
        if l < 2_097_151 { return 3 }
        if l < 268_435_455 { return 4 }
        return 5
    }

    static func integerEncodedSize(_ v: Int64) -> Int {
        if v >= 0 && v <= 127 { return 1 }
        if v >= -4096 && v <= 4095 { return 2 }
        if v >= -32768 && v <= 32767 { return 3 }
        if v >= -8_388_608 && v <= 8_388_607 { return 4 }
        if v >= -2_147_483_648 && v <= 2_147_483_647 { return 5 }
        return 9
    }

    /// An integer element's bytes, back-length included.
    public static func integerSize(_ v: Int64) -> Int {
        let l = integerEncodedSize(v)
        return l + backlenSize(l)
    }

    /// A string element's bytes: as an integer when it is one.
    public static func elementSize(_ s: [UInt8]) -> Int {
        if s.count <= 20, let v = parseInt64(s) { return integerSize(v) }
        let l: Int
        if s.count < 64 {
            l = 1 + s.count
        } else if s.count < 4096 {
            l = 2 + s.count
        } else {
            l = 5 + s.count
        }
        return l + backlenSize(l)
    }

    /// Appends an element's encoding (without the header) to `out`.
    public static func appendInteger(_ v: Int64, to out: inout [UInt8]) {
        let start = out.count
        let u = UInt64(bitPattern: v)
        switch integerEncodedSize(v) {
        case 1: out.append(UInt8(v))
        case 2:
            out.append(0xC0 | UInt8((u >> 8) & 0x1F))
            out.append(UInt8(u & 0xFF))
        case 3:
            out.append(0xF1)
            for k in 0..<2 { out.append(UInt8((u >> (8 * UInt64(k))) & 0xFF)) }
        case 4:
            out.append(0xF2)
            for k in 0..<3 { out.append(UInt8((u >> (8 * UInt64(k))) & 0xFF)) }
        case 5:
            out.append(0xF3)
            for k in 0..<4 { out.append(UInt8((u >> (8 * UInt64(k))) & 0xFF)) }
        default:
            out.append(0xF4)
            for k in 0..<8 { out.append(UInt8((u >> (8 * UInt64(k))) & 0xFF)) }
        }
        appendBacklen(out.count - start, to: &out)
    }

    public static func appendElement(_ s: [UInt8], to out: inout [UInt8]) {
        if s.count <= 20, let v = parseInt64(s) {
            appendInteger(v, to: &out)
            return
        }
        let start = out.count
        if s.count < 64 {
            out.append(0x80 | UInt8(s.count))
        } else if s.count < 4096 {
            out.append(0xE0 | UInt8(s.count >> 8))
            out.append(UInt8(s.count & 0xFF))
        } else {
            out.append(0xF0)
            for k in 0..<4 { out.append(UInt8((s.count >> (8 * k)) & 0xFF)) }
        }
        out.append(contentsOf: s)
        appendBacklen(out.count - start, to: &out)
    }

    static func appendBacklen(_ l: Int, to out: inout [UInt8]) {
        // Big-endian groups of 7 bits, the high bit set on all but the first byte.
        switch backlenSize(l) {
        case 1: out.append(UInt8(l))
        case 2:
            out.append(UInt8(l >> 7))
            out.append(UInt8(l & 127) | 128)
        case 3:
            out.append(UInt8(l >> 14))
            out.append(UInt8((l >> 7) & 127) | 128)
            out.append(UInt8(l & 127) | 128)
        case 4:
            out.append(UInt8(l >> 21))
            out.append(UInt8((l >> 14) & 127) | 128)
            out.append(UInt8((l >> 7) & 127) | 128)
            out.append(UInt8(l & 127) | 128)
        default:
            out.append(UInt8(l >> 28))
            out.append(UInt8((l >> 21) & 127) | 128)
            out.append(UInt8((l >> 14) & 127) | 128)
            out.append(UInt8((l >> 7) & 127) | 128)
            out.append(UInt8(l & 127) | 128)
        }
    }

    /// Wraps elements into a listpack: total bytes and element count, then the end byte.
    public static func finish(_ body: [UInt8], count: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(body.count + 7)
        let total = body.count + 7
        for k in 0..<4 { out.append(UInt8((total >> (8 * k)) & 0xFF)) }
        let n = count < 65535 ? count : 65535
        out.append(UInt8(n & 0xFF))
        out.append(UInt8(n >> 8))
        out.append(contentsOf: body)
        out.append(0xFF)
        return out
    }
}

extension StreamValue {
    /// One node's listpack as Redis stores it (for RDB files).
    public func listpack(of node: Node) -> [UInt8] {
        var body: [UInt8] = []
        var count = 0
        func int(_ v: Int64) {
            Listpack.appendInteger(v, to: &body)
            count += 1
        }
        func element(_ s: [UInt8]) {
            Listpack.appendElement(s, to: &body)
            count += 1
        }
        int(Int64(node.live))
        int(Int64(node.entries.count - node.live))
        int(Int64(node.masterFields.count))
        for f in node.masterFields { element(f) }
        int(0)
        for e in node.entries {
            int((e.sameFields ? 2 : 0) | (e.deleted ? 1 : 0))
            int(Int64(bitPattern: e.id.ms &- node.master.ms))
            int(Int64(bitPattern: e.id.seq &- node.master.seq))
            let pairs = e.fields.count / 2
            if !e.sameFields { int(Int64(pairs)) }
            for i in 0..<pairs {
                if !e.sameFields { element(e.fields[2 * i]) }
                element(e.fields[2 * i + 1])
            }
            int(Int64(pairs + 3 + (e.sameFields ? 0 : pairs + 1)))
        }
        return Listpack.finish(body, count: count)
    }

    /// Reads a node's listpack elements back into entries; nil when they do not describe
    /// a valid node.
    public static func entries(fromListpack elements: [[UInt8]], master: StreamID) -> (
        masterFields: [[UInt8]], entries: [Entry]
    )? {
        var p = 0
        func int() -> Int64? {
            guard p < elements.count, let v = parseInt64(elements[p]) else { return nil }
            p += 1
            return v
        }
        guard let live = int(), let deleted = int(), let nFields = int(), nFields >= 0,
            live >= 0, deleted >= 0, p + Int(nFields) <= elements.count
        else { return nil }
        let masterFields = Array(elements[p..<(p + Int(nFields))])
        p += Int(nFields)
        guard int() == 0 else { return nil }
        var entries: [Entry] = []
        var seenLive: Int64 = 0
        while p < elements.count {
            guard let flags = int(), let msDelta = int(), let seqDelta = int() else { return nil }
            let same = flags & 2 != 0
            let pairs: Int
            if same {
                pairs = masterFields.count
            } else {
                guard let n = int(), n >= 0 else { return nil }
                pairs = Int(n)
            }
            var fields: [[UInt8]] = []
            // The count is the payload's word: reserve for a plausible entry only.
            fields.reserveCapacity(min(pairs, 64) * 2)
            for i in 0..<pairs {
                if same {
                    fields.append(masterFields[i])
                } else {
                    guard p < elements.count else { return nil }
                    fields.append(elements[p])
                    p += 1
                }
                guard p < elements.count else { return nil }
                fields.append(elements[p])
                p += 1
            }
            guard let lpCount = int(), lpCount == Int64(pairs + 3 + (same ? 0 : pairs + 1)) else { return nil }
            let id = StreamID(
                ms: master.ms &+ UInt64(bitPattern: msDelta), seq: master.seq &+ UInt64(bitPattern: seqDelta))
            if let last = entries.last, !(last.id < id) { return nil }
            let isDeleted = flags & 1 != 0
            if !isDeleted { seenLive += 1 }
            entries.append(Entry(id: id, fields: fields, deleted: isDeleted, sameFields: same))
        }
        guard seenLive == live, Int64(entries.count) - seenLive == deleted, !entries.isEmpty else { return nil }
        return (masterFields, entries)
    }
}
