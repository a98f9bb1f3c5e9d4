import Testing

@testable import DataStore

func b(_ s: String) -> [UInt8] { Array(s.utf8) }

@Suite struct KeyTableTests {
    @Test func insertFindRemove() {
        var t = KeyTable()
        for i in 0..<1000 { t.insertNew(b("key\(i)"), value: .int(Int64(i))) }
        #expect(t.count == 1000)
        for i in 0..<1000 {
            let slot = t.find(b("key\(i)"))
            #expect(slot != nil)
            if case .int(let n) = t[slot!].value { #expect(n == Int64(i)) } else { Issue.record("wrong value") }
        }
        #expect(t.find(b("nope")) == nil)
        for i in stride(from: 0, to: 1000, by: 2) { t.remove(slot: t.find(b("key\(i)"))!) }
        #expect(t.count == 500)
        #expect(t.find(b("key2")) == nil && t.find(b("key3")) != nil)
        // Freed slots are reused.
        for i in 0..<500 { t.insertNew(b("again\(i)"), value: .int(0)) }
        #expect(t.slots.count == 1000)
    }

    /// Redis's dictExpandAllowed: while growth is refused the buckets stay until 1.618 keys
    /// a bucket, then double regardless; the slot array grows by small steps only.
    @Test func growthWaitsForMemoryUpToTheLoadLimit() {
        let growth = TableGrowth()
        var t = KeyTable(growth: growth)
        for i in 0..<1024 { t.insertNew(b("key\(i)"), value: .int(Int64(i))) }
        #expect(t.buckets.count == 1024)
        var asked: [Int] = []
        growth.limit = { bytes in
            asked.append(bytes)
            return false
        }
        for i in 1024..<1600 { t.insertNew(b("key\(i)"), value: .int(Int64(i))) }
        #expect(t.buckets.count == 1024 && !asked.isEmpty)
        #expect(t.slots.capacity <= 1600 + 1600 / 64 + 16)  // not the usual half again
        for i in 1600..<1700 { t.insertNew(b("key\(i)"), value: .int(Int64(i))) }
        #expect(t.buckets.count == 2048)  // past 1.618 keys a bucket
        for i in 0..<1700 { #expect(t.find(b("key\(i)")) != nil) }
        growth.limit = nil
        for i in 1700..<2100 { t.insertNew(b("key\(i)"), value: .int(Int64(i))) }
        #expect(t.buckets.count == 4096)
    }

    /// Keys of every length around the inline limit (14 bytes), binary and empty ones, are
    /// found, told apart from their prefixes and extensions, and survive resizes.
    @Test func inlineAndHeapKeysAcrossTheLimit() {
        var t = KeyTable()
        var keys: [[UInt8]] = [[]]
        for n in 1...40 {
            keys.append((0..<n).map { UInt8(truncatingIfNeeded: $0 * 7 + n) })
            keys.append([UInt8](repeating: 0, count: n))
        }
        for (i, k) in keys.enumerated() { t.insertNew(k, value: .int(Int64(i))) }
        #expect(t.count == keys.count)
        for (i, k) in keys.enumerated() {
            guard let slot = t.find(k) else {
                Issue.record("key of \(k.count) bytes not found")
                continue
            }
            #expect(t[slot].key == k)
            t[slot].withKey { #expect(Array($0) == k) }
            if case .int(let n) = t[slot].value { #expect(n == Int64(i)) } else { Issue.record("wrong value") }
        }
        #expect(t.find([UInt8](repeating: 0, count: 41)) == nil)
        #expect(t.find([UInt8](repeating: 1, count: 14)) == nil)
        for k in keys where k.count % 3 == 0 { t.remove(slot: t.find(k)!) }
        for k in keys { #expect((t.find(k) != nil) == (k.count % 3 != 0)) }
    }

    /// The slot stays at 48 bytes (a string key's whole cost is slot, bucket and value
    /// block), and a 32-byte string value fits malloc's 64-byte class.
    @Test func layoutSizes() {
        #expect(MemoryLayout<KeyBytes>.size == 16)
        #expect(MemoryLayout<Value>.size == 9)
        #expect(MemoryLayout<KeyEntry>.stride == 48)
        let block = ByteBlock.make(b("0123456789abcdef0123456789abcdef"))
        #expect(block.count == 32 && block.bytes == b("0123456789abcdef0123456789abcdef"))
        #expect(block == ByteBlock.make(b("0123456789abcdef0123456789abcdef")))
        #expect(block != ByteBlock.make(b("0123456789abcdef0123456789abcdeF")))
        #expect(ByteBlock.make([UInt8]()).count == 0)
        // What find's raw comparison of long keys relies on: the key field first in the
        // slot, a long key's block pointer its first word, the block's length and bytes at
        // rawOffsets from the object.
        #expect(MemoryLayout<KeyEntry>.offset(of: \KeyEntry.storedKey) == 0)
        var long = b("a key longer than fourteen bytes").withUnsafeBytes { KeyBytes($0, hash: 7) }
        let object = withUnsafeBytes(of: &long) { UnsafeRawPointer(bitPattern: $0.load(as: UInt.self))! }
        #expect(b("a key longer than fourteen bytes").withUnsafeBytes { ByteBlock.equals(objectAt: object, $0) })
        #expect(!b("a key longer than fourteen byteS").withUnsafeBytes { ByteBlock.equals(objectAt: object, $0) })
        #expect(!b("a key longer").withUnsafeBytes { ByteBlock.equals(objectAt: object, $0) })
        withExtendedLifetime(long) {}
    }

    /// SET over a string value reuses its block only when the key's slot is its one holder
    /// and the new bytes fit; a block something else holds (a reply) keeps its bytes.
    @Test func setStringOverwritesAnUnsharedBlockInPlace() {
        var db = Database(seed: 1)
        let key = b("session:1")[...]
        let slot = db.setString(key, b("0123456789abcdef0123")[...], now: 0)
        func block() -> ByteBlock? {
            if case .string(let block) = db.table[slot].value { return block }
            return nil
        }
        let before = block()?.withBytes { $0.baseAddress }
        db.setString(key, b("fedcba9876543210fedc")[...], now: 0)
        #expect(block()?.bytes == b("fedcba9876543210fedc"))
        #expect(block()?.withBytes { $0.baseAddress } == before)
        // A holder (as a GET reply in flight) keeps the old bytes; the key gets a new block.
        let held = block()!
        db.setString(key, b("another value of 20b")[...], now: 0)
        #expect(held.bytes == b("fedcba9876543210fedc"))
        #expect(block()?.bytes == b("another value of 20b"))
        #expect(block()?.withBytes { $0.baseAddress } != before)
        // Bytes that do not fit, or that are an integer, replace the value.
        let long = [UInt8](repeating: 120, count: 300)
        db.setString(key, long[...], now: 0)
        #expect(block()?.bytes == long)
        db.setString(key, b("12345")[...], now: 0)
        guard case .int(12345) = db.table[slot].value else {
            Issue.record("an integer is stored as an integer")
            return
        }
        // A value much smaller than the block it would reuse gets a block of its size.
        db.setString(key, long[...], now: 0)
        db.setString(key, b("a string much shorter than the block")[...], now: 0)
        #expect(block()?.bytes == b("a string much shorter than the block"))
    }

    @Test func expiryIndexTracksVolatileKeys() {
        var t = KeyTable()
        let a = t.insertNew(b("a"), value: .int(1), expireAt: 100)
        let c = t.insertNew(b("c"), value: .int(1))
        #expect(t.volatileSlots.count == 1)
        t.setExpire(slot: c, at: 200)
        #expect(t.volatileSlots.count == 2)
        t.removeExpire(slot: a)
        #expect(t.volatileSlots == [Int32(c)])
        #expect(t[a].expireAt == KeyEntry.noExpiry)
        t.remove(slot: c)
        #expect(t.volatileSlots.isEmpty)
    }

    @Test func scanVisitsEveryKeyPresentThroughoutWhileGrowingAndShrinking() {
        var t = KeyTable()
        for i in 0..<500 { t.insertNew(b("base\(i)"), value: .int(0)) }
        var seen = Set<[UInt8]>()
        var cursor: UInt64 = 0
        var added = 0
        var steps = 0
        repeat {
            cursor = t.scan(cursor: cursor) { seen.insert(t[$0].key) }
            // Grow, then shrink, mid-scan.
            if steps < 40 {
                for _ in 0..<50 {
                    t.insertNew(b("extra\(added)"), value: .int(0))
                    added += 1
                }
            } else if steps < 80, added > 0 {
                for _ in 0..<50 where added > 0 {
                    added -= 1
                    if let s = t.find(b("extra\(added)")) { t.remove(slot: s) }
                }
            }
            steps += 1
        } while cursor != 0
        for i in 0..<500 { #expect(seen.contains(b("base\(i)"))) }
    }

    @Test func randomSlotsAreOccupied() {
        var t = KeyTable()
        var rng = SplitMix64(seed: 1)
        #expect(t.randomSlot(using: &rng) == nil)
        for i in 0..<100 { t.insertNew(b("k\(i)"), value: .int(0)) }
        for i in 0..<95 { t.remove(slot: t.find(b("k\(i)"))!) }
        for _ in 0..<50 {
            let s = t.randomSlot(using: &rng)!
            #expect(t[s].key.count > 0)
        }
    }
}

@Suite struct DatabaseTests {
    @Test func lazyExpiryAtLookup() {
        var db = Database(seed: 1)
        db.set(ArraySlice(b("k")), .int(1), expireAt: 1000, now: 0)
        #expect(db.lookup(b("k"), now: 1000) != nil)  // alive while now <= expire time
        #expect(db.lookup(b("k"), now: 1001) == nil)
        #expect(db.count == 0 && db.expiredKeys == 1)
    }

    @Test func activeExpireRemovesStaleKeys() {
        var db = Database(seed: 1)
        for i in 0..<1000 { db.set(ArraySlice(b("t\(i)")), .int(1), expireAt: 10, now: 0) }
        for i in 0..<10 { db.set(ArraySlice(b("p\(i)")), .int(1), now: 0) }
        var rng = SplitMix64(seed: 7)
        var removed = 0
        for _ in 0..<100 where db.volatileCount > 0 {
            removed += db.activeExpire(now: 100, rng: &rng, timeUp: { false })
        }
        #expect(removed == 1000)
        #expect(db.count == 10)
    }

    @Test func setKeepsOrReplacesTTL() {
        var db = Database(seed: 1)
        db.set(ArraySlice(b("k")), .int(1), expireAt: 5000, now: 0)
        db.set(ArraySlice(b("k")), .int(2), keepTTL: true, now: 0)
        #expect(db.table[db.lookup(b("k"), now: 0)!].expireAt == 5000)
        db.set(ArraySlice(b("k")), .int(3), now: 0)
        #expect(db.table[db.lookup(b("k"), now: 0)!].expireAt == KeyEntry.noExpiry)
        #expect(db.volatileCount == 0)
    }
}

@Suite struct UtilityTests {
    @Test(arguments: [
        ("*", "anything", true), ("h?llo", "hello", true), ("h[ae]llo", "hallo", true), ("h[^e]llo", "hello", false),
        ("h[a-b]llo", "hbllo", true), ("h\\*llo", "h*llo", true), ("h\\*llo", "hello", false),
        ("session:*", "session:1", true),
        ("*:*", "nocolon", false), ("a*b*c", "aXXbYYc", true), ("[", "[", false), ("", "", true),
    ])
    func glob(pattern: String, subject: String, matches: Bool) {
        #expect(globMatch(b(pattern), b(subject)) == matches)
    }

    @Test func globNoCase() {
        #expect(globMatch(b("MAXMEM*"), b("maxmemory"), nocase: true))
    }

    @Test func integers() {
        #expect(parseInt64(b("0")) == 0)
        #expect(parseInt64(b("-9223372036854775808")) == Int64.min)
        #expect(parseInt64(b("9223372036854775807")) == Int64.max)
        #expect(parseInt64(b("9223372036854775808")) == nil)
        for bad in ["", "01", "+1", " 1", "1 ", "-0", "1.0", "-"] { #expect(parseInt64(b(bad)) == nil, "\(bad)") }
    }

    @Test func floats() {
        #expect(parseDouble(b("1.5")) == 1.5)
        #expect(parseDouble(b("inf")) == .infinity)
        #expect(parseDouble(b("-inf")) == -.infinity)
        #expect(parseDouble(b("nan")) == nil)
        #expect(parseDouble(b(" 1")) == nil)
        #expect(parseDouble(b("1x")) == nil)
        #expect(String(decoding: formatLongDouble(10.6), as: UTF8.self) == "10.6")
        #expect(String(decoding: formatLongDouble(5000), as: UTF8.self) == "5000")
        #expect(String(decoding: formatLongDouble(1e20), as: UTF8.self) == "100000000000000000000")
    }

    @Test func valueEncodings() {
        #expect(Value.fromBytes(b("123")).encodingName == "int")
        #expect(Value.fromBytes(b("0123")).encodingName == "embstr")
        #expect(Value.fromBytes([UInt8](repeating: 65, count: 45)).encodingName == "raw")
        #expect(mallocSize(24) == 32 && mallocSize(129) == 160 && mallocSize(257) == 320)
    }

    /// MEMORY USAGE's value part for each string encoding and each intset width, as
    /// redis-server 7.0.15 reports it (its figure less the 24-byte dictEntry and the key's
    /// sds): `integration/test_memory.py` also checks the totals side by side.
    @Test func memoryUsageOfEachEncoding() {
        #expect(Value.fromBytes(b("12345")).memoryUsage == 16)
        #expect(Value.fromBytes(b("hello")).memoryUsage == 32)
        #expect(Value.fromBytes([UInt8](repeating: 120, count: 100)).memoryUsage == 16 + 112)
        #expect(Value.rawString(b("abc")).memoryUsage == 16 + 8)
        func intset(_ members: [String]) -> Value {
            let set = SetValue()
            for m in members { set.add(b(m), limits: SetValue.Limits()) }
            return .set(set)
        }
        #expect(intset(["1", "2", "3"]).memoryUsage == 16 + 16)
        #expect(intset(["1", "70000"]).memoryUsage == 16 + 16)
        #expect(intset(["1", "5000000000"]).memoryUsage == 16 + 32)
        let hash = HashValue()
        _ = hash.set(b("f1"), b("v1"), maxEntries: 128, maxValue: 64)
        _ = hash.set(b("f2"), b("v2"), maxEntries: 128, maxValue: 64)
        #expect(Value.hash(hash).memoryUsage == 16 + 32)
    }
}
