import Testing

@testable import DataStore

/// The storage under large hashes and sets, and the packed form of small hashes, checked
/// against plain Swift dictionaries through seeded random operations.
@Suite struct CollectionStorageTests {
    @Test func bytesTableMatchesADictionary() {
        var rng = SplitMix64(seed: 42)
        var table = BytesTable<Int>()
        var model: [[UInt8]: Int] = [:]
        for step in 0..<20000 {
            let key = Array("k\(Int.random(in: 0..<2000, using: &rng))".utf8)
            switch Int.random(in: 0..<3, using: &rng) {
            case 0, 1:
                #expect(table.updateValue(step, forKey: key) == model.updateValue(step, forKey: key))
            default:
                #expect(table.removeValue(forKey: key) == model.removeValue(forKey: key))
            }
        }
        #expect(table.count == model.count)
        for (k, v) in model { #expect(table[k] == v) }
        for i in 0..<table.count { #expect(model[table.keys[i]] == table.values[i]) }
        while table.count > 0 {
            let (k, _) = table.remove(at: Int.random(in: 0..<table.count, using: &rng))
            #expect(model.removeValue(forKey: k) != nil)
        }
        #expect(model.isEmpty)
    }

    /// HSET over an existing field refills the value's array in place, unless something
    /// else (a reply) still shares it: that holder keeps the old bytes.
    @Test func setBytesReusesAnUnsharedValue() {
        var table = BytesTable<[UInt8]>()
        let key = Array("field".utf8)
        let added = table.setBytes(Array("first value".utf8)[...], forKey: key[...])
        #expect(added)
        let before = table.values[0].withUnsafeBytes { $0.baseAddress }
        let addedAgain = table.setBytes(Array("other value".utf8)[...], forKey: key[...])
        #expect(!addedAgain)
        #expect(table.values[0] == Array("other value".utf8))
        #expect(table.values[0].withUnsafeBytes { $0.baseAddress } == before)
        let held = table.values[0]
        table.setBytes(Array("third".utf8)[...], forKey: key[...])
        #expect(held == Array("other value".utf8))
        #expect(table.values[0] == Array("third".utf8))
        let long = [UInt8](repeating: 7, count: 500)
        table.setBytes(long[...], forKey: key[...])
        #expect(table.values[0] == long && table.count == 1)
    }

    @Test func packedHashKeepsInsertionOrderAndConverts() {
        let h = HashValue()
        for i in 0..<10 { h.set(Array("f\(i)".utf8), Array("v\(i)".utf8), maxEntries: 128, maxValue: 64) }
        #expect(!h.isHashtable && h.count == 10)
        // Overwrite with a longer value, delete one: order is kept.
        #expect(!h.set(Array("f3".utf8), Array(repeating: 120, count: 60), maxEntries: 128, maxValue: 64))
        #expect(h.removeField(Array("f5".utf8)))
        #expect(
            h.fieldNames.map { String(decoding: $0, as: UTF8.self) } == [
                "f0", "f1", "f2", "f3", "f4", "f6", "f7", "f8", "f9",
            ])
        #expect(h.value(Array("f3".utf8))?.count == 60)
        // A value past hash-max-listpack-value converts it, one way.
        h.set(Array("big".utf8), Array(repeating: 1, count: 65), maxEntries: 128, maxValue: 64)
        #expect(h.isHashtable && h.count == 10 && h.value(Array("f9".utf8)) == Array("v9".utf8))
    }

    @Test func setEncodingsFollowRedis() {
        let s = SetValue(encoding: .intset)
        let limits = SetValue.Limits(intsetEntries: 4, listpackEntries: 6, listpackValue: 8)
        for n in [5, 1, 3] { s.add(Array("\(n)".utf8), limits: limits) }
        #expect(s.encoding == .intset && s.allMembers == [Array("1".utf8), Array("3".utf8), Array("5".utf8)])
        s.add(Array("x".utf8), limits: limits)
        #expect(s.encoding == .listpack)
        for m in ["a", "b", "c"] { s.add(Array(m.utf8), limits: limits) }
        #expect(s.encoding == .hashtable && s.count == 7 && s.contains(Array("3".utf8)))
    }
}
