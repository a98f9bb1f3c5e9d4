import Cluster

/// Cluster mode's keys by hash slot (Redis's slot-to-keys lists): a doubly linked list of
/// table slots per hash slot, threaded through an array parallel to the key table, and a
/// count per hash slot. COUNTKEYSINSLOT is a read, GETKEYSINSLOT walks only its slot's
/// keys, and a slot lost to another node drops its keys without a scan of the table. Only
/// database 0 of a cluster node has one: 8 bytes a key, 128 KiB of heads and counts.
public struct SlotKeyIndex {
    /// The first table slot of each hash slot's list, or -1.
    var heads: [Int32]
    /// Keys per hash slot.
    var counts: [Int32]
    /// For each table slot holding a key: the previous and next table slot of its hash
    /// slot's list (-1 at the ends).
    var links: [Link] = []

    struct Link {
        var previous: Int32
        var next: Int32
    }

    init() {
        heads = [Int32](repeating: -1, count: HashSlot.count)
        counts = [Int32](repeating: 0, count: HashSlot.count)
    }

    /// Keys in `hashSlot`.
    public func count(inSlot hashSlot: Int) -> Int { Int(counts[hashSlot]) }

    /// Table slots of `hashSlot`'s keys, newest first, up to `limit`.
    public func tableSlots(inSlot hashSlot: Int, limit: Int) -> [Int] {
        var out: [Int] = []
        var i = heads[hashSlot]
        while i >= 0 && out.count < limit {
            out.append(Int(i))
            i = links[Int(i)].next
        }
        return out
    }

    /// The key in `tableSlot` joins its hash slot's list, at the head (as Redis adds it).
    mutating func add(tableSlot: Int, hashSlot: Int) {
        if tableSlot >= links.count {
            links.append(contentsOf: repeatElement(Link(previous: -1, next: -1), count: tableSlot + 1 - links.count))
        }
        let head = heads[hashSlot]
        links[tableSlot] = Link(previous: -1, next: head)
        if head >= 0 { links[Int(head)].previous = Int32(tableSlot) }
        heads[hashSlot] = Int32(tableSlot)
        counts[hashSlot] += 1
    }

    /// The key in `tableSlot` leaves its hash slot's list.
    mutating func remove(tableSlot: Int, hashSlot: Int) {
        let link = links[tableSlot]
        if link.previous >= 0 { links[Int(link.previous)].next = link.next } else { heads[hashSlot] = link.next }
        if link.next >= 0 { links[Int(link.next)].previous = link.previous }
        links[tableSlot] = Link(previous: -1, next: -1)
        counts[hashSlot] -= 1
    }

    /// Every list emptied (the table was).
    mutating func removeAll() {
        for i in heads.indices {
            heads[i] = -1
            counts[i] = 0
        }
        links = []
    }

    var overheadBytes: Int { links.capacity * MemoryLayout<Link>.stride + HashSlot.count * 8 }
}
