/// Redis Cluster's key space: 16 384 hash slots, a key's slot the CRC16 (XMODEM) of its
/// hash tag (the part between the first `{` and the next `}`, when not empty) or of the
/// whole key, modulo 16 384 — Redis's keyHashSlot.
public enum HashSlot {
    public static let count = 16384

    /// CRC16-CCITT (XMODEM: polynomial 0x1021, initial value 0), a byte at a time.
    static let table: [UInt16] = (0..<256).map { byte in
        var crc = UInt16(byte) << 8
        for _ in 0..<8 { crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1 }
        return crc
    }

    public static func crc16(_ bytes: UnsafeRawBufferPointer) -> UInt16 {
        table.withUnsafeBufferPointer { t in
            var crc: UInt16 = 0
            for b in bytes { crc = (crc << 8) ^ t[Int(UInt8(truncatingIfNeeded: crc >> 8) ^ b)] }
            return crc
        }
    }

    /// The slot of `key`.
    public static func of(_ key: UnsafeRawBufferPointer) -> Int {
        // A hash tag: the bytes between the first `{` and the next `}`, when not empty.
        var open = 0
        while open < key.count && key[open] != UInt8(ascii: "{") { open += 1 }
        if open < key.count {
            var close = open + 1
            while close < key.count && key[close] != UInt8(ascii: "}") { close += 1 }
            if close < key.count && close > open + 1 {
                return Int(crc16(UnsafeRawBufferPointer(rebasing: key[(open + 1)..<close])) & 0x3FFF)
            }
        }
        return Int(crc16(key) & 0x3FFF)
    }

    public static func of<C: Collection>(_ key: C) -> Int where C.Element == UInt8 {
        if let slot = key.withContiguousStorageIfAvailable({ of(UnsafeRawBufferPointer($0)) }) { return slot }
        return Array(key).withUnsafeBytes { of($0) }
    }
}

/// A set of slots as Redis's bus carries it: 2 048 bytes, slot `s` the bit `s % 8` of
/// byte `s / 8`.
public struct SlotBitmap: Equatable, Sendable {
    public private(set) var bytes: [UInt8]

    public init() { bytes = [UInt8](repeating: 0, count: HashSlot.count / 8) }

    /// From the bus's 2 048 bytes.
    public init?(bytes: [UInt8]) {
        guard bytes.count == HashSlot.count / 8 else { return nil }
        self.bytes = bytes
    }

    public subscript(slot: Int) -> Bool {
        get { bytes[slot >> 3] & (1 << UInt8(slot & 7)) != 0 }
        set {
            if newValue {
                bytes[slot >> 3] |= 1 << UInt8(slot & 7)
            } else {
                bytes[slot >> 3] &= ~(1 << UInt8(slot & 7))
            }
        }
    }

    /// How many slots are set.
    public var count: Int { bytes.reduce(0) { $0 + $1.nonzeroBitCount } }

    /// The set slots as ascending closed ranges (CLUSTER NODES's `0-5460 5461`).
    public var ranges: [ClosedRange<Int>] {
        var out: [ClosedRange<Int>] = []
        var start: Int?
        for slot in 0..<HashSlot.count {
            if self[slot] {
                if start == nil { start = slot }
            } else if let s = start {
                out.append(s...(slot - 1))
                start = nil
            }
        }
        if let s = start { out.append(s...(HashSlot.count - 1)) }
        return out
    }
}
