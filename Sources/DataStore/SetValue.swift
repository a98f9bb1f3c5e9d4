import OrderedCollections

/// A set. Encodings as Redis 7.4: `intset` (only integers, up to `set-max-intset-entries`,
/// kept sorted, so SMEMBERS answers in ascending order), `listpack` (small sets, in insertion
/// order) and `hashtable`; a set never converts back to a smaller encoding. Small sets keep
/// their order in an ordered set; a hashtable-encoded set lives in a `BytesTable`.
public final class SetValue {
    public enum Encoding: Sendable { case intset, listpack, hashtable }

    var small: OrderedSet<[UInt8]> = []
    var table = BytesTable<Void>()
    public private(set) var encoding: Encoding

    public init(encoding: Encoding = .intset) {
        self.encoding = encoding
    }

    public var count: Int { encoding == .hashtable ? table.count : small.count }

    public struct Limits: Sendable {
        public var intsetEntries: Int
        public var listpackEntries: Int
        public var listpackValue: Int
        public init(intsetEntries: Int = 512, listpackEntries: Int = 128, listpackValue: Int = 64) {
            self.intsetEntries = intsetEntries
            self.listpackEntries = listpackEntries
            self.listpackValue = listpackValue
        }
    }

    // MARK: Reading

    public func contains(_ member: [UInt8]) -> Bool {
        encoding == .hashtable ? table.index(of: member) != nil : small.contains(member)
    }

    public func contains(_ member: ArraySlice<UInt8>) -> Bool {
        encoding == .hashtable ? table.index(of: member) != nil : small.contains(Array(member))
    }

    /// The member at position `i` of the set's order (O(1)).
    public func member(at i: Int) -> [UInt8] {
        encoding == .hashtable ? table.keys[i] : small[i]
    }

    /// Every member, in the set's order.
    public var allMembers: [[UInt8]] { encoding == .hashtable ? table.keys : Array(small) }

    /// The members as an ordered set (for set algebra).
    public var memberSet: OrderedSet<[UInt8]> {
        encoding == .hashtable ? OrderedSet(table.keys) : small
    }

    // MARK: Writing

    /// Adds a member, keeping Redis's encoding rules; returns whether it was new.
    @discardableResult
    public func add(_ member: [UInt8], limits: Limits) -> Bool {
        switch encoding {
        case .hashtable:
            return table.insert(member, ())
        case .intset:
            if small.contains(member) { return false }
            if let n = parseInt64(member), small.count < limits.intsetEntries {
                // Sorted insert, as an intset.
                var lo = 0
                var hi = small.count
                while lo < hi {
                    let mid = (lo + hi) / 2
                    if parseInt64(small[mid])! < n { lo = mid + 1 } else { hi = mid }
                }
                small.insert(member, at: lo)
                return true
            }
            if small.count < limits.listpackEntries && member.count <= limits.listpackValue {
                encoding = .listpack
            } else {
                convertToTable()
                return table.insert(member, ())
            }
        case .listpack:
            if small.contains(member) { return false }
            if small.count >= limits.listpackEntries || member.count > limits.listpackValue {
                convertToTable()
                return table.insert(member, ())
            }
        }
        small.append(member)
        return true
    }

    func convertToTable() {
        var t = BytesTable<Void>(minimumCapacity: small.count + 1)
        for m in small { t.insert(m, ()) }
        table = t
        small = []
        encoding = .hashtable
    }

    /// Adds a member given as an argument slice, copying it only when it is new.
    @discardableResult
    public func add(_ member: ArraySlice<UInt8>, limits: Limits) -> Bool {
        if encoding == .hashtable { return table.insert(member, ()) }
        // A member already in a set of a few is found without copying the argument (the
        // set's own lookup wants an array); larger small sets are hashed as before.
        if small.count <= 8 {
            let present = member.withUnsafeBytes { m in small.elements.contains { bytesEqual($0, m) } }
            if present { return false }
        }
        return add(Array(member), limits: limits)
    }

    /// Prefetches the members of a pipelined run of commands, by `BytesTable.hash`.
    /// Bytes of its hash table's index (0 while it is small-encoded).
    public var indexBytes: Int { encoding == .hashtable ? table.indexBytes : 0 }

    public func prefetchMembers(hashes: UnsafeMutableBufferPointer<UInt32>) {
        if encoding == .hashtable { table.prefetch(hashes: hashes, values: false) }
    }

    /// The encoding a new set starting with `first` gets.
    public static func initialEncoding(for first: [UInt8]) -> Encoding {
        parseInt64(first) != nil ? .intset : .listpack
    }

    @discardableResult
    public func remove(_ member: [UInt8]) -> Bool {
        if encoding == .hashtable { return table.removeValue(forKey: member) != nil }
        return small.remove(member) != nil
    }

    /// Removes and returns the member at position `i` (SPOP).
    public func removeMember(at i: Int) -> [UInt8] {
        if encoding == .hashtable { return table.remove(at: i).key }
        return small.remove(at: i)
    }

    public func copy() -> SetValue {
        let s = SetValue(encoding: encoding)
        s.small = small
        s.table = table
        return s
    }

    public var payloadBytes: Int { allMembers.reduce(0) { $0 + $1.count } }
}
