import ByteStorage

/// A reply as a value. The encoder decides how each case looks on the wire for the
/// session's protocol version (RESP2 or RESP3).
public enum Reply: Sendable, Hashable {
    /// `+OK`, `+PONG`, …
    case simple(String)
    /// An error line; the text carries its prefix (`ERR …`, `WRONGTYPE …`).
    case error(String)
    case integer(Int64)
    case bulk([UInt8])
    /// A bulk string held in a block (a stored string value, sent without copying it).
    case bulkBlock(ByteBlock)
    /// A bulk string that is bytes `start..<end` of a stored buffer (a packed hash's field),
    /// sent without copying it out first. (Offsets rather than an `ArraySlice`, which would
    /// make every reply 8 bytes larger.)
    case bulkPart([UInt8], start: UInt32, end: UInt32)
    /// Null bulk string: `$-1` in RESP2, `_` in RESP3.
    case null
    /// Null array: `*-1` in RESP2, `_` in RESP3.
    case nullArray
    case array([Reply])
    /// A map in RESP3; a flat array of keys and values in RESP2.
    case map([Reply])
    /// A set in RESP3; an array in RESP2.
    case set([Reply])
    /// A double in RESP3; a bulk string in RESP2.
    case double(Double)
    /// A boolean in RESP3; the integer 1 or 0 in RESP2.
    case bool(Bool)
    /// A verbatim string in RESP3 (`=15\r\ntxt:…`); a bulk string in RESP2.
    case verbatim(format: String, [UInt8])
    case bigNumber(String)
    /// An out-of-band push in RESP3; an array in RESP2.
    case push([Reply])
    /// Bytes that are already RESP-encoded (a shared, pre-built reply).
    case raw([UInt8])

    public static let ok = Reply.simple("OK")
    public static let zero = Reply.integer(0)
    public static let one = Reply.integer(1)
    public static let emptyArray = Reply.array([])

    public static func bulk(_ text: String) -> Reply { .bulk(Array(text.utf8)) }

    /// `bytes[range]` as a bulk string: the whole array shared, a part shared by offsets, or
    /// (past 4 GiB) copied.
    @inlinable
    public static func bulk(_ bytes: [UInt8], _ range: Range<Int>) -> Reply {
        if range.count == bytes.count { return .bulk(bytes) }
        guard let end = UInt32(exactly: range.upperBound) else { return .bulk(Array(bytes[range])) }
        return .bulkPart(bytes, start: UInt32(range.lowerBound), end: end)
    }
    public static func status(_ text: String) -> Reply { .simple(text) }
}
