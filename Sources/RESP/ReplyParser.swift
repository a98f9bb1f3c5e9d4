/// Reads replies (RESP2 or RESP3) back into values: for pre-encoded metadata, the client
/// side of tests, and tools. Returns nil when `bytes` holds no complete reply.
public struct ReplyParser {
    public init() {}

    /// Parses one reply starting at `offset`; returns it and the offset after it.
    public static func parse(_ bytes: [UInt8], from offset: Int = 0) -> (Reply, Int)? {
        var pos = offset
        guard let reply = parseOne(bytes, &pos) else { return nil }
        return (reply, pos)
    }

    /// Parses a sequence of complete replies.
    public static func parseAll(_ bytes: [UInt8]) -> [Reply] {
        var pos = 0
        var out: [Reply] = []
        while pos < bytes.count, let r = parseOne(bytes, &pos) { out.append(r) }
        return out
    }

    static func line(_ b: [UInt8], _ pos: inout Int) -> String? {
        var i = pos
        while i + 1 < b.count {
            if b[i] == 13 && b[i + 1] == 10 {
                let s = String(decoding: b[pos..<i], as: UTF8.self)
                pos = i + 2
                return s
            }
            i += 1
        }
        return nil
    }

    static func parseOne(_ b: [UInt8], _ pos: inout Int) -> Reply? {
        guard pos < b.count else { return nil }
        let type = b[pos]
        var p = pos + 1
        guard let text = line(b, &p) else { return nil }
        func aggregate(_ n: Int) -> [Reply]? {
            var items: [Reply] = []
            // The count is the peer's word: reserve for a plausible reply only.
            items.reserveCapacity(min(max(0, n), 1024))
            for _ in 0..<max(0, n) {
                guard let item = parseOne(b, &p) else { return nil }
                items.append(item)
            }
            return items
        }
        let result: Reply
        switch type {
        case UInt8(ascii: "+"): result = .simple(text)
        case UInt8(ascii: "-"): result = .error(text)
        case UInt8(ascii: ":"): result = .integer(Int64(text) ?? 0)
        case UInt8(ascii: "_"): result = .null
        case UInt8(ascii: "#"): result = .bool(text == "t")
        case UInt8(ascii: ","):
            switch text {
            case "inf": result = .double(.infinity)
            case "-inf": result = .double(-.infinity)
            default: result = .double(Double(text) ?? .nan)
            }
        case UInt8(ascii: "("): result = .bigNumber(text)
        case UInt8(ascii: "$"), UInt8(ascii: "="), UInt8(ascii: "!"):
            guard let n = Int(text) else { return nil }
            if n < 0 {
                result = .null
            } else {
                guard p + n + 2 <= b.count else { return nil }
                let body = Array(b[p..<(p + n)])
                p += n + 2
                if type == UInt8(ascii: "=") {
                    result = .verbatim(
                        format: String(decoding: body.prefix(3), as: UTF8.self), Array(body.dropFirst(4)))
                } else if type == UInt8(ascii: "!") {
                    result = .error(String(decoding: body, as: UTF8.self))
                } else {
                    result = .bulk(body)
                }
            }
        case UInt8(ascii: "*"):
            guard let n = Int(text) else { return nil }
            if n < 0 {
                result = .nullArray
            } else {
                guard let items = aggregate(n) else { return nil }
                result = .array(items)
            }
        case UInt8(ascii: "~"):
            guard let n = Int(text), let items = aggregate(n) else { return nil }
            result = .set(items)
        case UInt8(ascii: ">"):
            guard let n = Int(text), let items = aggregate(n) else { return nil }
            result = .push(items)
        case UInt8(ascii: "%"):
            guard let n = Int(text), let items = aggregate(n * 2) else { return nil }
            result = .map(items)
        default:
            return nil
        }
        pos = p
        return result
    }
}
