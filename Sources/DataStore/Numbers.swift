#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Redis's string2ll: an optional '-', digits without leading zeros, no spaces, no '+',
/// within Int64. Inlinable so that callers in other modules get it specialized for their
/// collection (an unspecialized generic walks the bytes through witness tables).
@inlinable
public func parseInt64<C: Collection>(_ bytes: C) -> Int64? where C.Element == UInt8 {
    if let parsed = bytes.withContiguousStorageIfAvailable({ parseInt64(UnsafeRawBufferPointer($0)) }) {
        return parsed
    }
    return Array(bytes).withUnsafeBytes { parseInt64($0) }
}

public func parseInt64(_ bytes: UnsafeRawBufferPointer) -> Int64? {
    let n = bytes.count
    guard n > 0 else { return nil }
    var i = 0
    var c = bytes[0]
    if n == 1 && c == 48 { return 0 }
    var negative = false
    if c == UInt8(ascii: "-") {
        negative = true
        guard n > 1 else { return nil }
        i = 1
        c = bytes[1]
    }
    guard c >= 49 && c <= 57 else { return nil }
    var magnitude = UInt64(c - 48)
    i += 1
    while i < n {
        let d = bytes[i]
        guard d >= 48 && d <= 57 else { return nil }
        let (m, o1) = magnitude.multipliedReportingOverflow(by: 10)
        let (s, o2) = m.addingReportingOverflow(UInt64(d - 48))
        if o1 || o2 { return nil }
        magnitude = s
        i += 1
    }
    if negative {
        if magnitude > UInt64(Int64.max) + 1 { return nil }
        return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
    }
    if magnitude > UInt64(Int64.max) { return nil }
    return Int64(magnitude)
}

/// Decimal digits of an integer as bytes.
public func formatInt64(_ n: Int64) -> [UInt8] {
    Array(String(n).utf8)
}

/// Redis's string2d / strtod rules for a float argument: the whole text must parse, no
/// leading space, and NaN is refused.
@inlinable
public func parseDouble<C: Collection>(_ bytes: C) -> Double? where C.Element == UInt8 {
    if let parsed = bytes.withContiguousStorageIfAvailable({ parseDouble(UnsafeRawBufferPointer($0)) }) {
        return parsed
    }
    return Array(bytes).withUnsafeBytes { parseDouble($0) }
}

public func parseDouble(_ bytes: UnsafeRawBufferPointer) -> Double? {
    if bytes.isEmpty || bytes.count > 5000 || isSpaceByte(bytes[0]) { return nil }
    return withNulTerminatedCopy(bytes) { start in
        var end: UnsafeMutablePointer<CChar>? = nil
        errno = 0
        let v = strtod(start, &end)
        guard parsedCount(from: start, to: end) == bytes.count else { return nil }
        if v.isNaN { return nil }
        if errno == ERANGE && (v == .infinity || v == -.infinity || v == 0) { return nil }
        return v
    }
}

/// Like parseDouble but with long double precision, as INCRBYFLOAT and HINCRBYFLOAT use.
@inlinable
public func parseLongDouble<C: Collection>(_ bytes: C) -> Float80? where C.Element == UInt8 {
    if let parsed = bytes.withContiguousStorageIfAvailable({ parseLongDouble(UnsafeRawBufferPointer($0)) }) {
        return parsed
    }
    return Array(bytes).withUnsafeBytes { parseLongDouble($0) }
}

public func parseLongDouble(_ bytes: UnsafeRawBufferPointer) -> Float80? {
    if bytes.isEmpty || bytes.count > 5000 || isSpaceByte(bytes[0]) { return nil }
    return withNulTerminatedCopy(bytes) { start in
        var end: UnsafeMutablePointer<CChar>? = nil
        errno = 0
        let v = strtold(start, &end)
        guard parsedCount(from: start, to: end) == bytes.count else { return nil }
        if v.isNaN || errno == ERANGE { return nil }
        return v
    }
}

/// Redis's ld2string in human-friendly mode: `%.17Lf` with trailing zeros (and a trailing
/// point) removed.
public func formatLongDouble(_ value: Float80) -> [UInt8] {
    if value.isInfinite { return Array((value > 0 ? "inf" : "-inf").utf8) }
    var buffer = [CChar](repeating: 0, count: 5200)
    let n = withVaList([value]) { args in
        vsnprintf(&buffer, buffer.count, "%.17Lf", args)
    }
    var bytes = buffer[0..<Int(max(0, min(n, Int32(buffer.count - 1))))].map { UInt8(bitPattern: $0) }
    if bytes.contains(UInt8(ascii: ".")) {
        while bytes.last == UInt8(ascii: "0") { bytes.removeLast() }
        if bytes.last == UInt8(ascii: ".") { bytes.removeLast() }
    }
    if bytes == Array("-0".utf8) { bytes = [UInt8(ascii: "0")] }
    return bytes
}

@inline(__always)
func isSpaceByte(_ c: UInt8) -> Bool { c == 32 || (c >= 9 && c <= 13) }

/// ASCII case-insensitive comparison of an argument with a keyword.
@inlinable
public func equalsIgnoringCase<C: Collection>(_ bytes: C, _ keyword: StaticString) -> Bool where C.Element == UInt8 {
    guard bytes.count == keyword.utf8CodeUnitCount else { return false }
    return keyword.withUTF8Buffer { kw in
        var i = 0
        for b in bytes {
            var c = b
            if c >= 65 && c <= 90 { c += 32 }
            var k = kw[i]
            if k >= 65 && k <= 90 { k += 32 }
            if c != k { return false }
            i += 1
        }
        return true
    }
}
