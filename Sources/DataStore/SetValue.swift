import OrderedCollections

/// A set. Encodings as Redis 7.4: `intset` (only integers, up to `set-max-intset-entries`,
/// kept sorted, so SMEMBERS answers in ascending order), `listpack` (small sets, in insertion
/// order) and `hashtable`; a set never converts back to a smaller encoding.
public final class SetValue {
    public enum Encoding: Sendable { case intset, listpack, hashtable }

    public var members: OrderedSet<[UInt8]>
    public var encoding: Encoding

    public init(_ members: OrderedSet<[UInt8]> = [], encoding: Encoding = .intset) {
        self.members = members
        self.encoding = encoding
    }

    public var count: Int { members.count }

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

    /// Adds a member, keeping Redis's encoding rules; returns whether it was new.
    @discardableResult
    public func add(_ member: [UInt8], limits: Limits) -> Bool {
        if members.contains(member) { return false }
        switch encoding {
        case .intset:
            if let n = parseInt64(member), members.count < limits.intsetEntries {
                // Sorted insert, as an intset.
                var lo = 0
                var hi = members.count
                while lo < hi {
                    let mid = (lo + hi) / 2
                    if parseInt64(members[mid])! < n { lo = mid + 1 } else { hi = mid }
                }
                members.insert(member, at: lo)
                return true
            }
            encoding =
                members.count < limits.listpackEntries && member.count <= limits.listpackValue
                ? .listpack : .hashtable
        case .listpack:
            if members.count >= limits.listpackEntries || member.count > limits.listpackValue {
                encoding = .hashtable
            }
        case .hashtable:
            break
        }
        members.append(member)
        return true
    }

    /// The encoding a new set starting with `first` gets.
    public static func initialEncoding(for first: [UInt8]) -> Encoding {
        parseInt64(first) != nil ? .intset : .listpack
    }

    @discardableResult
    public func remove(_ member: [UInt8]) -> Bool {
        members.remove(member) != nil
    }

    public func copy() -> SetValue { SetValue(members, encoding: encoding) }

    public var payloadBytes: Int { members.reduce(0) { $0 + $1.count } }
}
