import DataStore
import Testing

@testable import Persistence

/// Inputs the fuzzers (Fuzz/) found that stopped the process, each now an error: the
/// loaders meet files and payloads from anywhere (RESTORE takes a client's bytes).
@Suite struct FuzzRegressionTests {
    /// A RESTORE payload: the value's bytes, RDB version 11, and the CRC64 over both.
    func payload(_ value: [UInt8]) -> [UInt8] {
        let body = value + [11, 0]
        let crc = body.withUnsafeBytes { CRC64.update(0, $0) }
        return body + (0..<8).map { UInt8(truncatingIfNeeded: crc >> (8 * UInt64($0))) }
    }

    /// FuzzRestore: a zset ziplist (type 12) ending inside an 8-byte integer entry (0xE0)
    /// read past the ziplist's end.
    @Test func ziplistIntegerCutShortIsAnError() {
        let ziplist: [UInt8] = [
            0x2C, 0x01, 0x78, 0x78, 0xE0, 0xFC, 0x84, 0x00, 0x00, 0xC3, 0xE0, 0xFC, 0x01, 0xE0, 0x02, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x01, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        ]
        guard case .failure = RDBReader.restorePayload(payload([12, 20] + ziplist.prefix(20))) else {
            Issue.record("a cut-short ziplist was accepted")
            return
        }
    }

    /// FuzzRestore: a hash with field TTLs (type 24) whose relative TTL plus the key's
    /// minimum expiry overflowed Int64.
    @Test func hashFieldTTLOverflowIsAnError() {
        var value: [UInt8] = [24]
        value += [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]  // minimum expiry: Int64.max
        value += [1]  // one field
        value += [0x81, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]  // TTL: Int64.max, a 64-bit length
        value += [1, UInt8(ascii: "f"), 1, UInt8(ascii: "v")]
        guard case .failure = RDBReader.restorePayload(payload(value)) else {
            Issue.record("an overflowing field TTL was accepted")
            return
        }
    }

    /// FuzzRestore: a string whose 64-bit length is Int.max overflowed the end-of-data check
    /// (position + length).
    @Test func stringLengthNearIntMaxIsAnError() {
        let value: [UInt8] = [0, 0x81, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, UInt8(ascii: "x")]
        guard case .failure = RDBReader.restorePayload(payload(value)) else {
            Issue.record("an impossible string length was accepted")
            return
        }
    }

    /// Redis's verifyDumpPayload: a zero CRC64 is a wrong checksum (an RDB file's zero means
    /// "not computed"; a DUMP payload always has one), unless checking is off.
    @Test func restoreChecksumZeroIsWrong() {
        var bytes = payload([0, 5] + Array("hello".utf8))
        for i in (bytes.count - 8)..<bytes.count { bytes[i] = 0 }
        #expect(RDBReader.restorePayload(bytes) == nil)
        guard case .success(.string) = RDBReader.restorePayload(bytes, verifyChecksum: false) else {
            Issue.record("the payload did not load with checking off")
            return
        }
    }

    /// FuzzAOF: a command count of 2 633 333 333 reserved room for that many arguments
    /// (21 GB) before reading one.
    @Test func hugeAOFArgumentCountIsNotReserved() {
        var scanner = AOFCommandScanner(Array("*2633333333\r\n$3\r\nSET\r\n".utf8))
        guard case .truncated = scanner.next() else {
            Issue.record("expected a truncated command")
            return
        }
    }
}
