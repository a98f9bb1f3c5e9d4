import ByteStorage

/// Writes replies in RESP2 or RESP3. The only place that writes `\r\n`.
public enum ReplyEncoder {
    @inline(__always)
    static func crlf(_ out: inout [UInt8]) {
        out.append(13)
        out.append(10)
    }

    /// Appends the decimal digits of `value` without going through `String`.
    @inline(__always)
    public static func appendInteger(_ value: Int64, to out: inout [UInt8]) {
        if value >= 0 && value < 10 {
            out.append(UInt8(48 + value))
            return
        }
        if value < 0 { out.append(UInt8(ascii: "-")) }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes of scratch
        withUnsafeMutableBytes(of: &digits) { buf in
            let i = writeDigits(value.magnitude, endingAt: 24, in: buf)
            // As a raw buffer: a slice of one would be copied byte by byte.
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: buf[i..<24]))
        }
    }

    /// Writes the decimal digits of `magnitude` so that they end just before `end` in
    /// `buf`; returns where they start.
    @inline(__always)
    static func writeDigits(_ magnitude: UInt64, endingAt end: Int, in buf: UnsafeMutableRawBufferPointer) -> Int {
        var magnitude = magnitude
        var i = end
        repeat {
            i -= 1
            buf[i] = UInt8(truncatingIfNeeded: 48 + magnitude % 10)
            magnitude /= 10
        } while magnitude > 0
        return i
    }

    /// `prefix`, the decimal digits of `n` and CRLF, assembled on the stack and appended
    /// in one step (each separate append checks the array's uniqueness and capacity again).
    @inline(__always)
    static func header(_ prefix: UInt8, _ n: Int, _ out: inout [UInt8]) {
        var scratch: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: prefix, 21 digits, CRLF
        withUnsafeMutableBytes(of: &scratch) { buf in
            buf[22] = 13
            buf[23] = 10
            var i = writeDigits(UInt64(n.magnitude), endingAt: 22, in: buf)
            if n < 0 {
                i -= 1
                buf[i] = UInt8(ascii: "-")
            }
            i -= 1
            buf[i] = prefix
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: buf[i..<24]))
        }
    }

    public static func appendBulk(_ bytes: [UInt8], to out: inout [UInt8]) {
        bytes.withUnsafeBytes { appendBulk($0, to: &out) }
    }

    public static func appendBulk(_ bytes: ArraySlice<UInt8>, to out: inout [UInt8]) {
        bytes.withUnsafeBytes { appendBulk($0, to: &out) }
    }

    @inline(__always)
    public static func appendBulk(_ bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        if bytes.count <= smallBulk {
            appendSmallBulk(bytes, to: &out)
            return
        }
        header(UInt8(ascii: "$"), bytes.count, &out)
        out.append(contentsOf: bytes)
        crlf(&out)
    }

    /// The longest payload `appendSmallBulk` takes: its whole reply fits 64 bytes.
    static let smallBulk = 56

    /// A short bulk reply (a session token, a counter, a cached flag: most GETs), its
    /// header, bytes and CRLF assembled on the stack and appended once: three appends cost
    /// more than the copy.
    static func appendSmallBulk(_ bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        var scratch: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &scratch) { buf in
            let n = bytes.count
            buf[0] = UInt8(ascii: "$")
            var i = 1
            if n >= 10 {
                buf[1] = UInt8(truncatingIfNeeded: 48 + n / 10)
                i = 2
            }
            buf[i] = UInt8(truncatingIfNeeded: 48 + n % 10)
            buf[i + 1] = 13
            buf[i + 2] = 10
            i += 3
            copyBytes(bytes, into: buf, at: i)
            i += n
            buf[i] = 13
            buf[i + 1] = 10
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: buf[..<(i + 2)]))
        }
    }

    public static func appendSimple(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "+"))
        out.append(contentsOf: text.utf8)
        crlf(&out)
    }

    public static func appendError(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "-"))
        // An error line must stay one line, as Redis's addReplyErrorLength ensures.
        for byte in text.utf8 { out.append(byte == 13 || byte == 10 ? 32 : byte) }
        crlf(&out)
    }

    public static func encode(_ reply: Reply, resp3: Bool, into out: inout [UInt8]) {
        switch reply {
        case .simple(let s):
            appendSimple(s, to: &out)
        case .error(let s):
            appendError(s, to: &out)
        case .integer(let n):
            // Not through `header`: for the usual small integer, single appends cost less
            // than assembling the line and appending it as a buffer (callgrind: SADD and
            // INCR 2% more instructions that way).
            out.append(UInt8(ascii: ":"))
            appendInteger(n, to: &out)
            crlf(&out)
        case .bulk(let b):
            appendBulk(b, to: &out)
        case .bulkPart(let b, let start, let end):
            appendBulk(b[Int(start)..<Int(end)], to: &out)
        case .bulkBlock(let b):
            b.withBytes { appendBulk($0, to: &out) }
        case .null:
            if resp3 { out.append(contentsOf: [95, 13, 10]) } else { out.append(contentsOf: [36, 45, 49, 13, 10]) }
        case .nullArray:
            if resp3 { out.append(contentsOf: [95, 13, 10]) } else { out.append(contentsOf: [42, 45, 49, 13, 10]) }
        case .array(let items):
            header(UInt8(ascii: "*"), items.count, &out)
            for item in items { encode(item, resp3: resp3, into: &out) }
        case .map(let flat):
            if resp3 {
                header(UInt8(ascii: "%"), flat.count / 2, &out)
            } else {
                header(UInt8(ascii: "*"), flat.count, &out)
            }
            for item in flat { encode(item, resp3: resp3, into: &out) }
        case .set(let items):
            header(resp3 ? UInt8(ascii: "~") : UInt8(ascii: "*"), items.count, &out)
            for item in items { encode(item, resp3: resp3, into: &out) }
        case .push(let items):
            header(resp3 ? UInt8(ascii: ">") : UInt8(ascii: "*"), items.count, &out)
            for item in items { encode(item, resp3: resp3, into: &out) }
        case .double(let d):
            var text = formatDouble(d)
            if resp3 {
                out.append(UInt8(ascii: ","))
                out.append(contentsOf: text.utf8)
                crlf(&out)
            } else {
                // The text's own bytes (a short one is inline in the String): no array.
                text.withUTF8 { appendBulk(UnsafeRawBufferPointer($0), to: &out) }
            }
        case .bool(let b):
            if resp3 {
                out.append(contentsOf: b ? [35, 116, 13, 10] : [35, 102, 13, 10])
            } else {
                out.append(contentsOf: b ? [58, 49, 13, 10] : [58, 48, 13, 10])
            }
        case .verbatim(let format, let body):
            if resp3 {
                header(UInt8(ascii: "="), body.count + 4, &out)
                out.append(contentsOf: format.utf8.prefix(3))
                out.append(UInt8(ascii: ":"))
                out.append(contentsOf: body)
                crlf(&out)
            } else {
                appendBulk(body, to: &out)
            }
        case .bigNumber(let s):
            if resp3 {
                out.append(UInt8(ascii: "("))
                out.append(contentsOf: s.utf8)
                crlf(&out)
            } else {
                appendBulk(Array(s.utf8), to: &out)
            }
        case .raw(let bytes):
            out.append(contentsOf: bytes)
        }
    }

    public static func encode(_ reply: Reply, resp3: Bool) -> [UInt8] {
        var out: [UInt8] = []
        encode(reply, resp3: resp3, into: &out)
        return out
    }
}

/// Formats a double the way Redis 7.4 does for replies: the shortest text that reads back
/// as the same value (Redis's fpconv_dtoa), `inf`/`-inf`/`nan`, no trailing `.0`,
/// exponents as `1e+21` beyond 21 integer digits.
public func formatDouble(_ value: Double) -> String {
    if value.isNaN { return "nan" }
    if value.isInfinite { return value > 0 ? "inf" : "-inf" }
    if value == 0 { return value.sign == .minus ? "-0" : "0" }
    // Integral values within the exact range print as integers.
    if value == value.rounded(), abs(value) < 1e17 {
        return String(Int64(value))
    }
    var text = "\(value)"
    if text.hasSuffix(".0") { text.removeLast(2) }
    // Swift writes `1e-05`-style exponents as `1e-05`; Redis (fpconv) writes `1e-05` too.
    return text
}
