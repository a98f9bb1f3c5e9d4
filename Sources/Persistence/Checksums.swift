/// Redis's CRC-64 (Jones polynomial, reflected, as crc64.c): the RDB file's trailer and
/// the DUMP payload's footer.
public enum CRC64 {
    static let table: [UInt64] = {
        let poly: UInt64 = 0x95AC_9329_AC4B_C9B5  // 0xad93d23594c935a9 reflected
        return (0..<256).map { i in
            var c = UInt64(i)
            for _ in 0..<8 { c = c & 1 == 1 ? (c >> 1) ^ poly : c >> 1 }
            return c
        }
    }()

    public static func update(_ crc: UInt64, _ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var c = crc
        table.withUnsafeBufferPointer { t in
            for b in bytes { c = t[Int((c ^ UInt64(b)) & 0xff)] ^ (c >> 8) }
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
        out.reserveCapacity(length)
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

    /// Compresses `input`; nil when the result would not be shorter than `input.count - 4`
    /// (Redis then stores the string plain).
    public static func compress(_ input: [UInt8]) -> [UInt8]? {
        let n = input.count
        guard n > 4 else { return nil }
        let limit = n - 4
        var out = [UInt8]()
        out.reserveCapacity(limit)
        var table = [Int](repeating: -1, count: 1 << 14)
        var literalStart = 0
        var ip = 0
        func flushLiterals(upTo end: Int) {
            var s = literalStart
            while s < end {
                let run = min(32, end - s)
                out.append(UInt8(run - 1))
                out.append(contentsOf: input[s..<(s + run)])
                s += run
            }
        }
        while ip + 2 < n {
            let h = (Int(input[ip]) << 8 ^ Int(input[ip + 1]) << 4 ^ Int(input[ip + 2])) & ((1 << 14) - 1)
            let ref = table[h]
            table[h] = ip
            let off = ip - ref - 1
            if ref >= 0 && off < 8192 && input[ref] == input[ip] && input[ref + 1] == input[ip + 1]
                && input[ref + 2] == input[ip + 2]
            {
                var len = 3
                let maxLen = min(264, n - ip)
                while len < maxLen && input[ref + len] == input[ip + len] { len += 1 }
                flushLiterals(upTo: ip)
                let l = len - 2
                if l < 7 {
                    out.append(UInt8(l << 5 | off >> 8))
                } else {
                    out.append(UInt8(7 << 5 | off >> 8))
                    out.append(UInt8(l - 7))
                }
                out.append(UInt8(off & 0xff))
                ip += len
                literalStart = ip
                if out.count >= limit { return nil }
            } else {
                ip += 1
            }
        }
        flushLiterals(upTo: n)
        return out.count < limit ? out : nil
    }
}
