import DataStore
import Testing

@testable import Persistence

#if canImport(Glibc)
    import Glibc
#endif

/// The fork-less background save: a point in time although commands change keys while
/// the walker goes through the table.
@Suite struct BackgroundSaveTests {
    func value(_ s: String) -> Value { .string(ByteBlock.make(Array(s.utf8))) }

    /// Regression: a key already behind the walker, moved by a command to a slot ahead of
    /// it (RENAME onto it reuses the source's slot), was written a second time — a snapshot
    /// with a duplicated key, which Redis refuses to load.
    @Test func aKeyMovedAheadOfTheWalkerIsWrittenOnce() throws {
        let ks = Keyspace(databases: 1)
        for i in 0..<100 { ks.databases[0].table.insertNew(Array("k\(i)".utf8), value: value("v\(i)")) }
        let bg = try #require(
            BackgroundSave(
                purpose: .replication, now: 0, dirty: 0, totalKeys: 100, commandBase: false, compress: false,
                version: 10, checksum: true, usedMemory: 0, functionLibraries: []))
        // One key a step: k0…k49 are in the file.
        for _ in 0..<50 { _ = bg.step(ks, budget: 1_000_000, keyDelay: 1) }
        // RENAME k60 k10: both preserved first, as the dispatcher does.
        bg.preserve(ks, db: 0, key: Array("k60".utf8)[...])
        bg.preserve(ks, db: 0, key: Array("k10".utf8)[...])
        var table = ks.databases[0].table
        table.remove(slot: table.find(Array("k10".utf8))!)
        let moved = table.remove(slot: table.find(Array("k60".utf8))!)
        let slot = table.insertNew(Array("k10".utf8), value: moved.value)
        ks.databases[0].table = table
        #expect(slot > 50)  // ahead of the walker
        while !bg.step(ks, budget: 1_000_000) {}
        bg.writeTrailer()
        try bg.sync("")
        #expect(bg.keys == 100)
        let file = bg.replicationFile
        var bytes = [UInt8](repeating: 0, count: file.size)
        _ = bytes.withUnsafeMutableBytes { pread(file.fd, $0.baseAddress, file.size, 0) }
        close(file.fd)
        let copy = Keyspace(databases: 1)
        var reader = RDBReader(bytes)
        _ = try reader.load(into: copy, now: 0)
        // The state at the start: k10 and k60 with their own values.
        #expect(copy.keyCount == 100)
        #expect(copy.databases[0].table[copy.databases[0].find("k10")!].value.stringBytes == Array("v10".utf8))
        #expect(copy.databases[0].table[copy.databases[0].find("k60")!].value.stringBytes == Array("v60".utf8))
    }
}
