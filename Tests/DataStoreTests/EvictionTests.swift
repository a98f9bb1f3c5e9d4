import Testing

@testable import DataStore

/// Redis's LRU/LFU approximations with a manual clock: the LFU counter's logarithmic growth
/// and decay, the eviction pool's order, new keys stamped from the keyspace's clock.
@Suite struct EvictionTests {
    @Test func lfuCounterGrowsLogarithmically() {
        var rng = SplitMix64(seed: 1)
        let now: Int64 = 1_700_000_000_000
        var lru = LFU.initial(nowMs: now)
        #expect(LFU.counter(lru, nowMs: now, decayTime: 1) == 5)
        var counts: [Int: UInt32] = [:]
        for i in 1...100_000 {
            let r = Double(rng.next() >> 11) / Double(1 << 53)
            lru = LFU.touch(lru, nowMs: now, decayTime: 1, logFactor: 10, random: r)
            if [100, 1000, 100_000].contains(i) { counts[i] = lru & 255 }
        }
        // Redis's table for lfu-log-factor 10: about 10 after 100 hits, 18 after 1000,
        // 142 after 100k (wide margins: it is random).
        #expect((8...14).contains(counts[100]!))
        #expect((15...25).contains(counts[1000]!))
        #expect((120...170).contains(counts[100_000]!))
        #expect(LFU.increment(255, logFactor: 10, random: 0) == 255)
    }

    @Test func lfuCounterDecaysPerPeriod() {
        let start: Int64 = 1_700_000_040_000  // on a minute boundary
        let lru = LFU.minutes(start) << 8 | 20
        #expect(LFU.counter(lru, nowMs: start + 59_000, decayTime: 1) == 20)
        #expect(LFU.counter(lru, nowMs: start + 5 * 60_000, decayTime: 1) == 15)
        #expect(LFU.counter(lru, nowMs: start + 10 * 60_000, decayTime: 2) == 15)
        #expect(LFU.counter(lru, nowMs: start + 500 * 60_000, decayTime: 1) == 0)
        #expect(LFU.counter(lru, nowMs: start + 500 * 60_000, decayTime: 0) == 20)
    }

    @Test func poolKeepsTheBestSixteen() {
        var pool = EvictionPool()
        for score in [5, 1, 9, 3] { pool.insert(score: UInt64(score), key: Array("k\(score)".utf8), db: 0) }
        #expect(pool.entries.map(\.score) == [1, 3, 5, 9])
        for score in 10..<30 { pool.insert(score: UInt64(score), key: [], db: 1) }
        #expect(pool.entries.count == EvictionPool.size)
        #expect(pool.entries.first?.score == 14)
        pool.insert(score: 2, key: [], db: 0)  // worse than everything in a full pool
        #expect(pool.entries.first?.score == 14)
        #expect(pool.popBest()?.score == 29)
    }

    @Test func newKeysTakeTheClock() {
        let keyspace = Keyspace(databases: 2)
        keyspace.now = 1_700_000_123_000
        keyspace.databases[1].table.insertNew(Array("a".utf8), value: .int(1))
        let slot = keyspace.databases[1].table.find(Array("a".utf8))!
        #expect(keyspace.databases[1].table[slot].lru == 1_700_000_123)
        keyspace.lfuPolicy = true
        keyspace.databases[0].table.insertNew(Array("b".utf8), value: .int(1))
        let b = keyspace.databases[0].table.find(Array("b".utf8))!
        #expect(keyspace.databases[0].table[b].lru & 255 == 5)
        #expect(EvictionPolicy(name: "volatile-ttl") == .volatileTTL && EvictionPolicy(name: "x") == nil)
        #expect(EvictionPolicy.allKeysLFU.usesLFU && !EvictionPolicy.volatileRandom.allKeys)
    }
}
