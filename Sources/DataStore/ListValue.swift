import DequeModule

/// A list: O(1) push and pop at both ends, O(1) access by index. Redis keeps lists in a
/// quicklist of listpacks; OBJECT ENCODING reports what Redis would (`listpack` while the
/// list fits one node under `list-max-listpack-size`, `quicklist` after).
public final class ListValue {
    public var items: Deque<[UInt8]>

    public init(_ items: Deque<[UInt8]> = []) {
        self.items = items
    }

    public convenience init(elements: [[UInt8]]) {
        self.init(Deque(elements))
    }

    public var count: Int { items.count }

    /// Redis's listTypeIndex semantics: negative indexes count from the tail.
    public func normalizedIndex(_ index: Int64) -> Int? {
        let n = Int64(items.count)
        let i = index < 0 ? n + index : index
        return i >= 0 && i < n ? Int(i) : nil
    }

    /// Bytes the list's elements take, for the encoding decision and MEMORY USAGE.
    public var payloadBytes: Int { items.reduce(0) { $0 + $1.count } }

    /// Whether Redis would keep this list in a single listpack, given `list-max-listpack-size`
    /// (negative: a byte limit of 4 KB × 2^(-n-1); positive: an entry count).
    public func fitsListpack(maxSize: Int64) -> Bool {
        if maxSize >= 0 { return items.count <= Int(maxSize) }
        let limits = [4096, 8192, 16384, 32768, 65536]
        let limit = limits[Int(min(max(-maxSize, 1), 5)) - 1]
        // A listpack entry costs its bytes plus a few bytes of header and back-length.
        var size = 7
        for item in items {
            size += item.count + (item.count < 64 ? 2 : 4)
            if size > limit { return false }
        }
        return true
    }

    public func copy() -> ListValue { ListValue(items) }
}
