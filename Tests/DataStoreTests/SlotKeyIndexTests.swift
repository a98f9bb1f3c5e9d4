import Cluster
import Testing

@testable import DataStore

/// Cluster mode's keys by hash slot stay what a scan of the table would find, through
/// inserts, removals (slots reused), a table emptied, and an index built over keys already
/// there.
@Suite struct SlotKeyIndexTests {
    func scanned(_ t: KeyTable) -> [Int: Set<[UInt8]>] {
        var bySlot: [Int: Set<[UInt8]>] = [:]
        t.forEach { entry in bySlot[entry.withKey { HashSlot.of($0) }, default: []].insert(entry.key) }
        return bySlot
    }

    func expectMatches(_ t: KeyTable) {
        let expected = scanned(t)
        guard let index = t.slotIndex else {
            Issue.record("no index")
            return
        }
        for slot in 0..<HashSlot.count {
            let keys = Set(index.tableSlots(inSlot: slot, limit: .max).map { t[$0].key })
            #expect(keys == expected[slot, default: []], "slot \(slot)")
            #expect(index.count(inSlot: slot) == keys.count)
        }
    }

    @Test func followsInsertsAndRemovals() {
        var t = KeyTable()
        t.indexBySlot()
        // Hash tags put many keys in one slot.
        for i in 0..<2000 { t.insertNew(b(i % 3 == 0 ? "{user}:\(i)" : "key:\(i)"), value: .int(Int64(i))) }
        expectMatches(t)
        let slot = HashSlot.of(b("{user}"))
        #expect(t.slotIndex!.count(inSlot: slot) == 667)
        #expect(t.slotIndex!.tableSlots(inSlot: slot, limit: 10).count == 10)
        for i in stride(from: 0, to: 2000, by: 2) {
            t.remove(slot: t.find(b(i % 3 == 0 ? "{user}:\(i)" : "key:\(i)"))!)
        }
        expectMatches(t)
        // Freed table slots come back for new keys.
        for i in 0..<500 { t.insertNew(b("again:\(i)"), value: .int(0)) }
        expectMatches(t)
        t.removeAll()
        #expect(t.slotIndex!.count(inSlot: slot) == 0)
        t.insertNew(b("{user}:x"), value: .int(1))
        expectMatches(t)
        // The last key removed compacts the table: the index empties with it.
        t.remove(slot: t.find(b("{user}:x"))!)
        #expect(t.slotIndex!.count(inSlot: slot) == 0)
        t.insertNew(b("{user}:y"), value: .int(1))
        expectMatches(t)
    }

    @Test func builtOverExistingKeys() {
        var t = KeyTable()
        for i in 0..<300 { t.insertNew(b("k\(i)"), value: .int(0)) }
        t.remove(slot: t.find(b("k7"))!)
        t.indexBySlot()
        expectMatches(t)
        #expect((0..<HashSlot.count).reduce(0) { $0 + t.slotIndex!.count(inSlot: $1) } == 299)
    }
}
