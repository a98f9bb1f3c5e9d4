import Testing

@testable import ByteStorage
@testable import DataStore

/// The edges of the unsafe-code fence (docs/SAFETY.md): ByteStorage's checked helpers at
/// their boundaries, a range past a buffer trapping instead of reading or writing outside
/// it, and the slot layout the key table's two raw reads assume.
@Suite struct RawMemoryTests {
    @Test func equalityAtTheEdges() {
        let a: [UInt8] = Array(0..<40)
        var b = a
        a.withUnsafeBytes { pa in
            b.withUnsafeBytes { pb in
                #expect(bytesEqual(pa, pb))
                #expect(bytesEqual(pa, at: 0, pb, at: 0, count: 40))
                #expect(bytesEqual(pa, at: 40, pb, at: 0, count: 0))
                #expect(bytesEqual(pa, at: 3, pb, at: 3, count: 37))
                #expect(!bytesEqual(pa, at: 0, pb, at: 1, count: 39))
                #expect(!bytesEqual(pa, UnsafeRawBufferPointer(rebasing: pb[..<39])))
            }
        }
        // A difference in the last byte, in the word loop's tail and in its first word.
        for i in [0, 7, 8, 31, 32, 39] {
            b = a
            b[i] ^= 1
            b.withUnsafeBytes { pb in #expect(!bytesEqual(a, pb)) }
        }
        let empty: [UInt8] = []
        empty.withUnsafeBytes { pe in #expect(bytesEqual(pe, pe) && bytesEqual([], pe)) }
    }

    @Test func orderIsMemcmpThenLength() {
        #expect(bytesPrecede([1, 2], [1, 2, 0]))
        #expect(!bytesPrecede([1, 2, 0], [1, 2]))
        #expect(bytesPrecede([0x7F], [0x80]))
        #expect(!bytesPrecede([], []))
        #expect(bytesPrecede([], [0]))
    }

    @Test func copyFillsExactlyItsRange() {
        var out = [UInt8](repeating: 0xEE, count: 10)
        let source: [UInt8] = [1, 2, 3]
        out.withUnsafeMutableBytes { dst in source.withUnsafeBytes { copyBytes($0, into: dst, at: 7) } }
        #expect(out == [0xEE, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE, 1, 2, 3])
        out.withUnsafeMutableBytes { dst in [UInt8]().withUnsafeBytes { copyBytes($0, into: dst, at: 10) } }
        #expect(out.count == 10)
    }

    @Test func searchFindsFirstOccurrenceFromStart() {
        let hay = Array("abcabcab".utf8)
        func find(_ needle: String, _ from: Int) -> Int? {
            hay.withUnsafeBytes { h in Array(needle.utf8).withUnsafeBytes { firstOccurrence(of: $0, in: h, from: from) }
            }
        }
        #expect(find("abc", 0) == 0)
        #expect(find("abc", 1) == 3)
        #expect(find("abc", 4) == nil)
        #expect(find("ab", 6) == 6)
        #expect(find("b", 8) == nil)
        #expect(find("abcabcabX", 0) == nil)
        #expect(find("", 0) == nil)
        #expect(find("a", 9) == nil)
    }

    @Test func cParsersSeeOnlyTheirBytes() {
        // The temporary copy ends in a NUL; the bytes after the range are not read.
        let text = Array("1.5e3xyz".utf8)
        #expect(text[..<5].withUnsafeBytes { parseDouble($0) } == 1500)
        #expect(parseDouble(Array("1.5\u{0}9".utf8)) == nil)
        #expect(parseLongDouble(Array("-0.25".utf8)) == -0.25)
    }

    @Test func rangesPastTheBufferTrap() async {
        await #expect(processExitsWith: .failure) {
            let a: [UInt8] = [1, 2, 3, 4]
            a.withUnsafeBytes { p in _ = bytesEqual(p, at: 2, p, at: 0, count: 3) }
        }
        await #expect(processExitsWith: .failure) {
            var out = [UInt8](repeating: 0, count: 4)
            out.withUnsafeMutableBytes { dst in
                [UInt8](repeating: 1, count: 3).withUnsafeBytes { copyBytes($0, into: dst, at: 2) }
            }
        }
        await #expect(processExitsWith: .failure) {
            let a: [UInt8] = [1, 2, 3, 4]
            a.withUnsafeBytes { p in _ = bytesEqual(p, at: -1, p, at: 0, count: 1) }
        }
        await #expect(processExitsWith: .failure) {
            _ = [UInt8](repeating: 7, count: InlineKey.capacity + 1).withUnsafeBytes { InlineKey($0) }
        }
    }

    /// The key table reads a long key's block and a value's first word from raw slot
    /// memory; what it reads must be what the typed fields hold.
    @Test func slotLayoutMatchesTheRawReads() {
        var t = KeyTable()
        let long = [UInt8](repeating: 0x61, count: 40)
        let value = ByteBlock.make([UInt8](repeating: 0x62, count: 30))
        let longSlot = t.insertNew(long, value: .string(value))
        let shortSlot = t.insertNew(Array("short".utf8), value: .int(5))
        t.slots.withUnsafeBufferPointer { entries in
            guard case .heap(let block, _) = entries[longSlot].storedKey else {
                Issue.record("a 40-byte key is not stored as a block")
                return
            }
            #expect(
                KeyTable.heapKeyObject(entries, longSlot)
                    == UnsafeRawPointer(Unmanaged.passUnretained(block.storage).toOpaque()))
            #expect(KeyTable.heapKeyObject(entries, shortSlot) == nil)
            #expect(
                KeyTable.valueWord(entries, longSlot)
                    == UnsafeRawPointer(Unmanaged.passUnretained(value.storage).toOpaque()))
        }
        #expect(t.find(long) == longSlot)
        var other = long
        other[39] = 0x62
        #expect(t.find(other) == nil)
    }
}
