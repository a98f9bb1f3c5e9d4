/// Redis's HyperLogLog, byte for byte: a string value with a 16-byte header ("HYLL",
/// encoding, 3 unused bytes, 8 bytes of cached cardinality whose top bit marks it stale)
/// followed by 16384 6-bit registers, either dense (12288 bytes) or sparse (run-length
/// opcodes ZERO, XZERO and VAL). A value written here is a valid HyperLogLog for Redis, and
/// the reverse, because every update follows hyperloglog.c's own steps.
public enum HyperLogLog {
    public static let registerCount = 16384
    static let precision = 14
    static let q = 50
    static let registerMax: UInt8 = 63
    public static let headerSize = 16
    public static let denseSize = headerSize + (registerCount * 6 + 7) / 8
    static let dense: UInt8 = 0
    static let sparse: UInt8 = 1
    static let sparseValMaxValue = 32
    static let sparseValMaxLen = 4
    static let sparseZeroMaxLen = 64
    static let sparseXZeroMaxLen = 16384

    /// A new, empty HyperLogLog: sparse, one XZERO opcode covering every register.
    public static func create() -> [UInt8] {
        var b: [UInt8] = Array("HYLL".utf8) + [sparse, 0, 0, 0] + [UInt8](repeating: 0, count: 8)
        let l = registerCount - 1
        b.append(UInt8(l >> 8) | 0x40)
        b.append(UInt8(l & 0xff))
        return b
    }

    /// Redis's isHLLObjectOrReply checks on a string's bytes.
    public static func isValid(_ b: [UInt8]) -> Bool {
        guard b.count >= headerSize, b[0] == 72, b[1] == 89, b[2] == 76, b[3] == 76 else { return false }
        if b[4] > sparse { return false }
        if b[4] == dense && b.count != denseSize { return false }
        return true
    }

    public static func isSparse(_ b: [UInt8]) -> Bool { b[4] == sparse }

    static func invalidateCache(_ b: inout [UInt8]) { b[15] |= 0x80 }

    /// The cached cardinality, when it is still valid.
    public static func cachedCount(_ b: [UInt8]) -> UInt64? {
        if b[15] & 0x80 != 0 { return nil }
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(b[8 + i]) << (8 * UInt64(i)) }
        return v
    }

    public static func setCachedCount(_ b: inout [UInt8], _ v: UInt64) {
        for i in 0..<8 { b[8 + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) }
    }

    // MARK: Hashing

    /// MurmurHash64A as Redis uses it (little-endian reads, seed 0xadc83b19).
    public static func murmurHash64A<C: Collection>(_ key: C, seed: UInt64 = 0xadc8_3b19) -> UInt64
    where C.Element == UInt8, C.Index == Int {
        let m: UInt64 = 0xc6a4_a793_5bd1_e995
        let r: UInt64 = 47
        let len = key.count
        var h = seed ^ (UInt64(len) &* m)
        var i = key.startIndex
        let blockEnd = key.startIndex + (len - (len & 7))
        while i != blockEnd {
            var k: UInt64 = 0
            for j in 0..<8 { k |= UInt64(key[i + j]) << (8 * UInt64(j)) }
            k &*= m
            k ^= k >> r
            k &*= m
            h ^= k
            h &*= m
            i += 8
        }
        let rest = len & 7
        if rest > 0 {
            for j in stride(from: rest - 1, through: 0, by: -1) { h ^= UInt64(key[i + j]) << (8 * UInt64(j)) }
            h &*= m
        }
        h ^= h >> r
        h &*= m
        h ^= h >> r
        return h
    }

    /// hllPatLen: the register an element maps to and the length of its 000…1 run.
    public static func patternLength<C: Collection>(_ element: C) -> (register: Int, count: UInt8)
    where C.Element == UInt8, C.Index == Int {
        var hash = murmurHash64A(element)
        let index = Int(hash & UInt64(registerCount - 1))
        hash >>= UInt64(precision)
        hash |= 1 << UInt64(q)
        var bit: UInt64 = 1
        var count: UInt8 = 1
        while hash & bit == 0 {
            count += 1
            bit <<= 1
        }
        return (index, count)
    }

    // MARK: Dense registers

    @inline(__always)
    static func denseGet(_ b: [UInt8], _ reg: Int) -> UInt8 {
        let byte = headerSize + reg * 6 / 8
        let fb = (reg * 6) & 7
        let b0 = UInt(b[byte])
        // The last register's second byte lies past the array (Redis reads sds's NUL there).
        let b1 = byte + 1 < b.count ? UInt(b[byte + 1]) : 0
        return UInt8(((b0 >> UInt(fb)) | (b1 << UInt(8 - fb))) & 63)
    }

    @inline(__always)
    static func denseSet(_ b: inout [UInt8], _ reg: Int, _ value: UInt8) {
        let byte = headerSize + reg * 6 / 8
        let fb = (reg * 6) & 7
        let v = UInt(value)
        b[byte] = UInt8(truncatingIfNeeded: (UInt(b[byte]) & ~(63 << UInt(fb))) | (v << UInt(fb)))
        if byte + 1 < b.count {
            let fb8 = UInt(8 - fb)
            b[byte + 1] = UInt8(truncatingIfNeeded: (UInt(b[byte + 1]) & ~(63 >> fb8)) | (v >> fb8))
        }
    }

    // MARK: Sparse opcodes

    @inline(__always) static func isZero(_ op: UInt8) -> Bool { op & 0xc0 == 0 }
    @inline(__always) static func isXZero(_ op: UInt8) -> Bool { op & 0xc0 == 0x40 }
    @inline(__always) static func isVal(_ op: UInt8) -> Bool { op & 0x80 != 0 }
    @inline(__always) static func zeroLen(_ op: UInt8) -> Int { Int(op & 0x3f) + 1 }
    @inline(__always) static func xzeroLen(_ b: [UInt8], _ p: Int) -> Int {
        (Int(b[p] & 0x3f) << 8 | Int(b[p + 1])) + 1
    }
    @inline(__always) static func valValue(_ op: UInt8) -> Int { Int((op >> 2) & 0x1f) + 1 }
    @inline(__always) static func valLen(_ op: UInt8) -> Int { Int(op & 0x3) + 1 }
    @inline(__always) static func valOp(_ value: Int, _ len: Int) -> UInt8 {
        UInt8((value - 1) << 2 | (len - 1)) | 0x80
    }
    static func zeroOps(_ len: Int) -> [UInt8] {
        if len > sparseZeroMaxLen { return [UInt8((len - 1) >> 8) | 0x40, UInt8((len - 1) & 0xff)] }
        return [UInt8(len - 1)]
    }

    /// hllSparseToDense: false when the opcodes do not cover exactly 16384 registers.
    static func sparseToDense(_ b: inout [UInt8]) -> Bool {
        if b[4] == dense { return true }
        var d = [UInt8](repeating: 0, count: denseSize)
        for i in 0..<headerSize { d[i] = b[i] }
        d[4] = dense
        var idx = 0
        var p = headerSize
        while p < b.count {
            let op = b[p]
            if isZero(op) {
                idx += zeroLen(op)
                p += 1
            } else if isXZero(op) {
                guard p + 1 < b.count else { return false }
                idx += xzeroLen(b, p)
                p += 2
            } else {
                let runlen = valLen(op)
                let value = UInt8(valValue(op))
                if runlen + idx > registerCount { break }
                for _ in 0..<runlen {
                    denseSet(&d, idx, value)
                    idx += 1
                }
                p += 1
            }
        }
        if idx != registerCount { return false }
        b = d
        return true
    }

    /// hllSparseSet: raises register `index` to `count`; 1 if changed, 0 if not, -1 if the
    /// value is corrupt. Promotes to dense when the value no longer fits an opcode or the
    /// string would pass `sparseMaxBytes`.
    static func sparseSet(_ b: inout [UInt8], _ index: Int, _ count: UInt8, sparseMaxBytes: Int) -> Int {
        if Int(count) > sparseValMaxValue { return promote(&b, index, count) }
        var p = headerSize
        var first = 0
        var prev: Int?
        var span = 0
        while p < b.count {
            var oplen = 1
            let op = b[p]
            if isZero(op) {
                span = zeroLen(op)
            } else if isVal(op) {
                span = valLen(op)
            } else {
                guard p + 1 < b.count else { return -1 }
                span = xzeroLen(b, p)
                oplen = 2
            }
            if index <= first + span - 1 { break }
            prev = p
            p += oplen
            first += span
        }
        if span == 0 || p >= b.count { return -1 }
        let op = b[p]
        let zero = isZero(op)
        let xzero = isXZero(op)
        let runlen = zero ? zeroLen(op) : xzero ? xzeroLen(b, p) : valLen(op)

        var trivial = false
        if !zero && !xzero {
            if valValue(op) >= Int(count) { return 0 }
            if runlen == 1 {
                b[p] = valOp(Int(count), 1)
                trivial = true
            }
        }
        if zero && runlen == 1 {
            b[p] = valOp(Int(count), 1)
            trivial = true
        }
        if !trivial {
            var seq: [UInt8] = []
            let last = first + span - 1
            if zero || xzero {
                if index != first { seq += zeroOps(index - first) }
                seq.append(valOp(Int(count), 1))
                if index != last { seq += zeroOps(last - index) }
            } else {
                let current = valValue(op)
                if index != first { seq.append(valOp(current, index - first)) }
                seq.append(valOp(Int(count), 1))
                if index != last { seq.append(valOp(current, last - index)) }
            }
            let oldlen = xzero ? 2 : 1
            let delta = seq.count - oldlen
            if delta > 0 && b.count + delta > sparseMaxBytes { return promote(&b, index, count) }
            b.replaceSubrange(p..<(p + oldlen), with: seq)
        }

        // Merge adjacent VAL opcodes of equal value, scanning up to 5 opcodes from prev.
        var q = prev ?? headerSize
        var scan = 5
        while q < b.count && scan > 0 {
            scan -= 1
            if isXZero(b[q]) {
                q += 2
                continue
            } else if isZero(b[q]) {
                q += 1
                continue
            }
            if q + 1 < b.count && isVal(b[q + 1]) {
                let v1 = valValue(b[q])
                let v2 = valValue(b[q + 1])
                if v1 == v2 {
                    let len = valLen(b[q]) + valLen(b[q + 1])
                    if len <= sparseValMaxLen {
                        b[q + 1] = valOp(v1, len)
                        b.remove(at: q)
                        continue
                    }
                }
            }
            q += 1
        }
        invalidateCache(&b)
        return 1
    }

    static func promote(_ b: inout [UInt8], _ index: Int, _ count: UInt8) -> Int {
        if !sparseToDense(&b) { return -1 }
        if denseGet(b, index) < count { denseSet(&b, index, count) }
        return 1
    }

    /// hllAdd: 1 if a register changed, 0 if not, -1 if the value is corrupt.
    public static func add<C: Collection>(_ b: inout [UInt8], _ element: C, sparseMaxBytes: Int) -> Int
    where C.Element == UInt8, C.Index == Int {
        let (index, count) = patternLength(element)
        if b[4] == dense {
            if denseGet(b, index) < count {
                denseSet(&b, index, count)
                return 1
            }
            return 0
        }
        return sparseSet(&b, index, count, sparseMaxBytes: sparseMaxBytes)
    }

    /// hllMerge: raises `registers` (16384 bytes, one per register) to this value's; false
    /// when it is corrupt.
    public static func merge(_ registers: inout [UInt8], _ b: [UInt8]) -> Bool {
        if b[4] == dense {
            for i in 0..<registerCount {
                let v = denseGet(b, i)
                if v > registers[i] { registers[i] = v }
            }
            return true
        }
        var i = 0
        var p = headerSize
        while p < b.count {
            let op = b[p]
            if isZero(op) {
                i += zeroLen(op)
                p += 1
            } else if isXZero(op) {
                guard p + 1 < b.count else { return false }
                i += xzeroLen(b, p)
                p += 2
            } else {
                let runlen = valLen(op)
                let v = UInt8(valValue(op))
                if runlen + i > registerCount { break }
                for _ in 0..<runlen {
                    if v > registers[i] { registers[i] = v }
                    i += 1
                }
                p += 1
            }
        }
        return i == registerCount
    }

    /// The cardinality estimate of a value (nil if corrupt), by hllCount.
    public static func estimate(_ b: [UInt8]) -> UInt64? {
        var histogram = [Int](repeating: 0, count: 64)
        if b[4] == dense {
            for i in 0..<registerCount { histogram[Int(denseGet(b, i))] += 1 }
        } else {
            var idx = 0
            var p = headerSize
            while p < b.count {
                let op = b[p]
                if isZero(op) {
                    let n = zeroLen(op)
                    idx += n
                    histogram[0] += n
                    p += 1
                } else if isXZero(op) {
                    guard p + 1 < b.count else { return nil }
                    let n = xzeroLen(b, p)
                    idx += n
                    histogram[0] += n
                    p += 2
                } else {
                    let n = valLen(op)
                    idx += n
                    histogram[valValue(op)] += n
                    p += 1
                }
            }
            if idx != registerCount { return nil }
        }
        return estimate(histogram: histogram)
    }

    /// The estimate for raw registers (one byte each), as PFCOUNT of several keys computes.
    public static func estimate(registers: [UInt8]) -> UInt64 {
        var histogram = [Int](repeating: 0, count: 64)
        for r in registers { histogram[Int(r & 63)] += 1 }
        return estimate(histogram: histogram)
    }

    /// Otmar Ertl's estimator (arXiv:1702.01284), as Redis computes it.
    static func estimate(histogram: [Int]) -> UInt64 {
        let m = Double(registerCount)
        var z = m * tau((m - Double(histogram[q + 1])) / m)
        for j in stride(from: q, through: 1, by: -1) {
            z += Double(histogram[j])
            z *= 0.5
        }
        z += m * sigma(Double(histogram[0]) / m)
        let alphaInf = 0.721347520444481703680
        let e = (alphaInf * m * m / z).rounded(.toNearestOrAwayFromZero)
        return UInt64(e)
    }

    static func sigma(_ x0: Double) -> Double {
        if x0 == 1 { return .infinity }
        var x = x0
        var zPrime: Double
        var y = 1.0
        var z = x
        repeat {
            x *= x
            zPrime = z
            z += x * y
            y += y
        } while zPrime != z
        return z
    }

    static func tau(_ x0: Double) -> Double {
        if x0 == 0 || x0 == 1 { return 0 }
        var x = x0
        var zPrime: Double
        var y = 1.0
        var z = 1 - x
        repeat {
            x = x.squareRoot()
            zPrime = z
            y *= 0.5
            z -= (1 - x) * (1 - x) * y
        } while zPrime != z
        return z / 3
    }

    // MARK: Whole-value helpers

    /// Converts a sparse value to dense in place; false when it is corrupt.
    public static func toDense(_ b: inout [UInt8]) -> Bool { sparseToDense(&b) }

    /// Raises one register to `value` whatever the encoding (PFMERGE's write step).
    @discardableResult
    public static func raise(_ b: inout [UInt8], register: Int, to value: UInt8, sparseMaxBytes: Int) -> Int {
        if b[4] == dense {
            if denseGet(b, register) < value {
                denseSet(&b, register, value)
                return 1
            }
            return 0
        }
        return sparseSet(&b, register, value, sparseMaxBytes: sparseMaxBytes)
    }

    /// The 16384 registers of a dense value.
    public static func registers(_ b: [UInt8]) -> [UInt8] { (0..<registerCount).map { denseGet(b, $0) } }

    /// PFSELFTEST: the checks Redis's hllSelftestCommand makes of its own code, made of
    /// ours — dense registers keep every 6-bit value, sparse and dense values of the same
    /// elements agree, and the estimate stays within five standard errors (1.04/√m each).
    /// Returns nil when all hold, else what failed.
    public static func selfTest() -> String? {
        var rng = SystemRandomNumberGenerator()
        var dense = create()
        guard toDense(&dense) else { return "TESTFAILED sparse to dense conversion" }
        var expected = [UInt8](repeating: 0, count: registerCount)
        for i in 0..<registerCount {
            let v = UInt8.random(in: 0...63, using: &rng)
            expected[i] = v
            denseSet(&dense, i, v)
        }
        if registers(dense) != expected { return "TESTFAILED Register error" }
        var sparseValue = create()
        var denseValue = create()
        _ = toDense(&denseValue)
        let maxError = 1.04 / Double(registerCount).squareRoot() * 5
        var checkpoint = 1
        let salt = UInt64.random(in: 0...UInt64.max, using: &rng)
        for j in 1...200_000 {
            let element = Array("\(salt)-\(j)".utf8)
            _ = add(&sparseValue, element, sparseMaxBytes: 3000)
            _ = add(&denseValue, element, sparseMaxBytes: 0)
            guard j == checkpoint else { continue }
            checkpoint *= 10
            guard let a = estimate(sparseValue), let b = estimate(denseValue) else {
                return "TESTFAILED corrupt value"
            }
            if a != b { return "TESTFAILED sparse and dense estimates differ at \(j): \(a) vs \(b)" }
            let relative = abs(Double(b) - Double(j)) / Double(j)
            if relative > (j <= 10 ? 1 : maxError) {
                return "TESTFAILED Too big error. card:\(j) abserr:\(abs(Double(b) - Double(j)))"
            }
        }
        return nil
    }

    /// PFDEBUG DECODE's text for a sparse value: `z:len`, `Z:len`, `v:value,len`.
    public static func decodeSparse(_ b: [UInt8]) -> String {
        var parts: [String] = []
        var p = headerSize
        while p < b.count {
            let op = b[p]
            if isZero(op) {
                parts.append("z:\(zeroLen(op))")
                p += 1
            } else if isXZero(op) {
                guard p + 1 < b.count else { break }
                parts.append("Z:\(xzeroLen(b, p))")
                p += 2
            } else {
                parts.append("v:\(valValue(op)),\(valLen(op))")
                p += 1
            }
        }
        return parts.joined(separator: " ")
    }
}
