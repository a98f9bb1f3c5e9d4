/// Redis's CRC-64 (Jones polynomial, reflected, as crc64.c): the RDB file's trailer and
/// the DUMP payload's footer.
public enum CRC64 {
    /// Slice-by-8 tables: table[k][b] is the CRC of byte b followed by k zero bytes.
    static let tables: [[UInt64]] = {
        let poly: UInt64 = 0x95AC_9329_AC4B_C9B5  // 0xad93d23594c935a9 reflected
        var t = [[UInt64]](repeating: [UInt64](repeating: 0, count: 256), count: 8)
        for i in 0..<256 {
            var c = UInt64(i)
            for _ in 0..<8 { c = c & 1 == 1 ? (c >> 1) ^ poly : c >> 1 }
            t[0][i] = c
        }
        for i in 0..<256 {
            for k in 1..<8 { t[k][i] = t[0][Int(t[k - 1][i] & 0xff)] ^ (t[k - 1][i] >> 8) }
        }
        return t
    }()
    static let flat: [UInt64] = tables.flatMap { $0 }

    public static func update(_ crc: UInt64, _ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var c = crc
        flat.withUnsafeBufferPointer { t in
            var i = 0
            let n = bytes.count
            while i + 8 <= n {
                c ^= bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self).littleEndian
                c =
                    t[7 * 256 + Int(c & 0xff)] ^ t[6 * 256 + Int((c >> 8) & 0xff)]
                    ^ t[5 * 256 + Int((c >> 16) & 0xff)] ^ t[4 * 256 + Int((c >> 24) & 0xff)]
                    ^ t[3 * 256 + Int((c >> 32) & 0xff)] ^ t[2 * 256 + Int((c >> 40) & 0xff)]
                    ^ t[1 * 256 + Int((c >> 48) & 0xff)] ^ t[Int(c >> 56)]
                i += 8
            }
            while i < n {
                c = t[Int((c ^ UInt64(bytes[i])) & 0xff)] ^ (c >> 8)
                i += 1
            }
        }
        return c
    }

    public static func checksum(_ bytes: [UInt8]) -> UInt64 {
        bytes.withUnsafeBytes { update(0, $0) }
    }
}

/// LZF (liblzf, as Redis bundles it): RDB strings longer than 20 bytes are stored
/// compressed when that saves space.
public enum LZF {
    /// Decompresses `input` into exactly `length` bytes; nil when the data is corrupt.
    public static func decompress(_ input: ArraySlice<UInt8>, length: Int) -> [UInt8]? {
        var out = [UInt8]()
        // The length is the file's word: a corrupt one must not reserve gigabytes up front.
        out.reserveCapacity(min(length, 1 << 20))
        var ip = input.startIndex
        let end = input.endIndex
        while ip < end {
            let ctrl = Int(input[ip])
            ip += 1
            if ctrl < 32 {
                let run = ctrl + 1
                guard ip + run <= end, out.count + run <= length else { return nil }
                out.append(contentsOf: input[ip..<(ip + run)])
                ip += run
            } else {
                var len = ctrl >> 5
                guard ip < end else { return nil }
                if len == 7 {
                    len += Int(input[ip])
                    ip += 1
                    guard ip < end else { return nil }
                }
                let ref = out.count - ((ctrl & 0x1f) << 8) - Int(input[ip]) - 1
                ip += 1
                len += 2
                guard ref >= 0, out.count + len <= length else { return nil }
                for k in 0..<len { out.append(out[ref + k]) }
            }
        }
        return out.count == length ? out : nil
    }

    /// Compresses `input` into `output` (grown as needed, reused between calls); returns the
    /// compressed length, or nil when it would not be shorter than `input.count - 4` (Redis
    /// then stores the string plain). `table` is scratch space kept between calls too: stale
    /// entries are harmless, every match is checked against the input itself.
    public static func compress(
        _ input: UnsafeBufferPointer<UInt8>, table: inout [Int32], output: inout [UInt8]
    ) -> Int? {
        let n = input.count
        guard n > 4 else { return nil }
        if table.count != 1 << 14 { table = [Int32](repeating: -1, count: 1 << 14) }
        let limit = n - 4
        if output.count < limit + 64 { output = [UInt8](repeating: 0, count: limit + 64) }
        return table.withUnsafeMutableBufferPointer { tab -> Int? in
            output.withUnsafeMutableBufferPointer { out -> Int? in
                var op = 0
                var literalStart = 0
                var ip = 0
                while ip + 2 < n {
                    let h = (Int(input[ip]) << 8 ^ Int(input[ip + 1]) << 4 ^ Int(input[ip + 2])) & ((1 << 14) - 1)
                    let ref = Int(tab[h])
                    tab[h] = Int32(ip)
                    let off = ip - ref - 1
                    if ref >= 0 && ref < ip && off < 8192 && input[ref] == input[ip]
                        && input[ref + 1] == input[ip + 1] && input[ref + 2] == input[ip + 2]
                    {
                        var len = 3
                        let maxLen = min(264, n - ip)
                        while len < maxLen && input[ref + len] == input[ip + len] { len += 1 }
                        // Pending literals, in runs of at most 32.
                        var s = literalStart
                        while s < ip {
                            let run = min(32, ip - s)
                            if op + run + 1 > limit { return nil }
                            out[op] = UInt8(run - 1)
                            for k in 0..<run { out[op + 1 + k] = input[s + k] }
                            op += run + 1
                            s += run
                        }
                        if op + 3 > limit { return nil }
                        let l = len - 2
                        if l < 7 {
                            out[op] = UInt8(l << 5 | off >> 8)
                            op += 1
                        } else {
                            out[op] = UInt8(7 << 5 | off >> 8)
                            out[op + 1] = UInt8(l - 7)
                            op += 2
                        }
                        out[op] = UInt8(off & 0xff)
                        op += 1
                        ip += len
                        literalStart = ip
                    } else {
                        ip += 1
                    }
                }
                var s = literalStart
                while s < n {
                    let run = min(32, n - s)
                    if op + run + 1 >= limit { return nil }
                    out[op] = UInt8(run - 1)
                    for k in 0..<run { out[op + 1 + k] = input[s + k] }
                    op += run + 1
                    s += run
                }
                return op < limit ? op : nil
            }
        }
    }

    public static func compress(_ input: [UInt8]) -> [UInt8]? {
        var table: [Int32] = []
        var output: [UInt8] = []
        guard let n = input.withUnsafeBufferPointer({ compress($0, table: &table, output: &output) }) else {
            return nil
        }
        return Array(output[0..<n])
    }
}
