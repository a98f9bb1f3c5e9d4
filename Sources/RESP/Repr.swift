/// Redis's sdscatrepr and sdsneedsrepr: the quoted, C-escaped form of bytes that MONITOR,
/// `redis-cli`, CONFIG REWRITE and the AOF manifest print.
public enum Repr {
    /// Appends `"…"` with `\\`, `\"`, `\n`, `\r`, `\t`, `\a`, `\b` and `\xHH` escapes.
    public static func append(_ bytes: some Sequence<UInt8>, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for b in bytes {
            switch b {
            case UInt8(ascii: "\\"): out += [92, 92]
            case UInt8(ascii: "\""): out += [92, 34]
            case 10: out += [92, UInt8(ascii: "n")]
            case 13: out += [92, UInt8(ascii: "r")]
            case 9: out += [92, UInt8(ascii: "t")]
            case 7: out += [92, UInt8(ascii: "a")]
            case 8: out += [92, UInt8(ascii: "b")]
            case 32...126: out.append(b)
            default:
                let hex = Array("0123456789abcdef".utf8)
                out += [92, UInt8(ascii: "x"), hex[Int(b >> 4)], hex[Int(b & 15)]]
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    public static func quoted(_ bytes: some Sequence<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        append(bytes, into: &out)
        return out
    }

    public static func quoted(_ s: String) -> String {
        String(decoding: quoted(s.utf8), as: UTF8.self)
    }

    /// sdsneedsrepr: whether the bytes hold a quote, a backslash, a space or anything not
    /// printable (and so must be written quoted to be read back by sdssplitargs).
    public static func needsQuoting(_ bytes: some Sequence<UInt8>) -> Bool {
        bytes.contains { b in b == 92 || b == 34 || b <= 32 || b >= 127 }
    }
}
