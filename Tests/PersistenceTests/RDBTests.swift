import DataStore
import Testing

@testable import Persistence

/// The RDB building blocks against known values, and round trips of every type.
@Suite struct RDBTests {
    /// A load builds values with the configured thresholds: a small hash or sorted set in
    /// the file takes its big encoding when the configuration no longer allows it packed.
    @Test func loadsTakeTheConfiguredEncodings() throws {
        let ks = Keyspace(databases: 1)
        let h = HashValue()
        h.set(Array("f1".utf8), Array("v1".utf8), maxEntries: 128, maxValue: 64)
        h.set(Array("f2".utf8), Array("v2".utf8), maxEntries: 128, maxValue: 64)
        ks.databases[0].table.insertNew(Array("h".utf8), value: .hash(h))
        let z = SortedSetValue()
        z.set(Array("a".utf8), score: 1)
        z.set(Array("b".utf8), score: 2)
        ks.databases[0].table.insertNew(Array("z".utf8), value: .zset(z))
        var w = RDBWriter()
        w.dataset(ks, now: 0)
        for (limits, hash, zset) in [
            (LoadLimits(), "listpack", "listpack"),
            (LoadLimits(hashEntries: 1, zsetEntries: 1), "hashtable", "skiplist"),
            (LoadLimits(hashValue: 1, zsetValue: 0), "hashtable", "skiplist"),
        ] {
            let copy = Keyspace(databases: 1)
            var r = RDBReader(w.bytes)
            _ = try r.load(into: copy, now: 0, limits: limits)
            #expect(copy.databases[0].table[copy.databases[0].find("h")!].value.encodingName == hash)
            #expect(copy.databases[0].table[copy.databases[0].find("z")!].value.encodingName == zset)
        }
    }

    @Test func crc64MatchesRedis() {
        // crc64.c's own test vector.
        #expect(CRC64.checksum(Array("123456789".utf8)) == 0xe9c6_d914_c4b8_d9ca)
    }

    @Test func lzfRoundTrips() {
        var rng = SplitMix64(seed: 3)
        for size in [21, 100, 1000, 70000] {
            let text = (0..<size).map { i in UInt8(ascii: "a") + UInt8((i / 7 + Int.random(in: 0..<2, using: &rng)) % 5)
            }
            guard let packed = LZF.compress(text) else { continue }
            #expect(packed.count < text.count)
            #expect(LZF.decompress(packed[...], length: text.count) == text)
        }
        #expect(LZF.compress(Array("abcd".utf8)) == nil)
        #expect(LZF.decompress([0x05, 1][...], length: 6) == nil)  // truncated literal run
    }

    @Test func everyTypeRoundTrips() throws {
        let ks = Keyspace(databases: 16)
        let now: Int64 = 1_700_000_000_000
        ks.databases[0].table.insertNew(Array("s".utf8), value: .string(ByteBlock.make(Array("hello".utf8))))
        ks.databases[0].table.insertNew(Array("n".utf8), value: .int(-123_456_789_012))
        ks.databases[0].table.insertNew(
            Array("big".utf8), value: .rawString(Array(repeating: UInt8(ascii: "z"), count: 500)),
            expireAt: now + 60_000)
        ks.databases[0].table.insertNew(Array("gone".utf8), value: .int(1), expireAt: now - 1)
        ks.databases[3].table.insertNew(
            Array("l".utf8), value: .list(ListValue(elements: [Array("a".utf8), Array("12".utf8), []])))
        let set = SetValue(encoding: .intset)
        for m in ["3", "1", "x"] { set.add(Array(m.utf8), limits: SetValue.Limits()) }
        ks.databases[3].table.insertNew(Array("set".utf8), value: .set(set))
        let z = SortedSetValue()
        z.set(Array("m".utf8), score: 1.5)
        z.set(Array("inf".utf8), score: .infinity)
        ks.databases[3].table.insertNew(Array("z".utf8), value: .zset(z))
        let h = HashValue()
        h.set(Array("f".utf8), Array("v".utf8), maxEntries: 128, maxValue: 64)
        ks.databases[3].table.insertNew(Array("h".utf8), value: .hash(h))

        var w = RDBWriter()
        w.dataset(ks, now: now)
        let copy = Keyspace(databases: 16)
        var r = RDBReader(w.bytes)
        let (loaded, _) = try r.load(into: copy, now: now)
        #expect(loaded == 7)  // "gone" had already expired when saved
        #expect(copy.databases[0].table[copy.databases[0].find("n")!].value.stringBytes == Array("-123456789012".utf8))
        #expect(copy.databases[0].table[copy.databases[0].find("big")!].expireAt == now + 60_000)
        guard case .list(let l) = copy.databases[3].table[copy.databases[3].find("l")!].value else {
            Issue.record("no list")
            return
        }
        #expect(Array(l.items) == [Array("a".utf8), Array("12".utf8), []])
        guard case .zset(let z2) = copy.databases[3].table[copy.databases[3].find("z")!].value else {
            Issue.record("no zset")
            return
        }
        #expect(z2.scores[Array("inf".utf8)] == .infinity && z2.scores[Array("m".utf8)] == 1.5)
        // A flipped byte fails the checksum.
        var corrupt = w.bytes
        corrupt[20] ^= 0xff
        var bad = RDBReader(corrupt)
        #expect(throws: RDBError.self) { _ = try bad.load(into: Keyspace(databases: 16), now: now) }
    }
}

extension Database {
    func find(_ key: String) -> Int? { table.find(Array(key.utf8)) }
}
