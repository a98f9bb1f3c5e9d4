#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

// The fence around raw byte memory. Code outside the few modules listed in
// `scripts/unsafe-fence.tsv` compares, copies, searches and hands bytes to C through these
// helpers instead of pointer arithmetic of its own: each one checks the ranges it is given
// with a precondition (a trap, which release builds keep, never a read or write outside
// them), then works a word at a time or through libc, which is why they exist at all —
// `elementsEqual`, `lexicographicallyPrecedes` and element-wise copies go a byte at a
// time. `RawMemoryTests` tests each at its edges, traps included.

extension UnsafeRawBufferPointer {
    /// The byte at `index`, checked by one unsigned compare (a negative index is a huge
    /// unsigned one). The standard library's subscript checks too under
    /// `-assert-config Debug`, but as a call into the runtime on the parser's hottest reads.
    @inline(__always)
    public func byte(_ index: Int) -> UInt8 {
        precondition(UInt(bitPattern: index) < UInt(bitPattern: count), "index outside the buffer")
        return baseAddress.unsafelyUnwrapped.load(fromByteOffset: index, as: UInt8.self)
    }
}

/// Whether `a` and `b` hold the same bytes.
@inlinable @inline(__always)
public func bytesEqual(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
    a.count == b.count && (a.count == 0 || memoryEqual(a.baseAddress!, b.baseAddress!, a.count))
}

/// Whether `a` holds exactly the bytes of `b`.
@inline(__always)
public func bytesEqual(_ a: [UInt8], _ b: UnsafeRawBufferPointer) -> Bool {
    a.withUnsafeBytes { bytesEqual($0, b) }
}

/// Whether the `count` bytes of `a` from `aStart` equal the `count` bytes of `b` from
/// `bStart`. Both ranges must lie inside their buffers.
@inlinable @inline(__always)
public func bytesEqual(
    _ a: UnsafeRawBufferPointer, at aStart: Int, _ b: UnsafeRawBufferPointer, at bStart: Int, count: Int
) -> Bool {
    precondition(
        count >= 0 && aStart >= 0 && bStart >= 0 && count <= a.count - aStart && count <= b.count - bStart,
        "bytesEqual: range outside its buffer")
    return count == 0 || memoryEqual(a.baseAddress! + aStart, b.baseAddress! + bStart, count)
}

/// Whether `a` sorts before `b` byte by byte (unsigned, a prefix first): what
/// `lexicographicallyPrecedes` answers, by memcmp instead of element by element.
@inline(__always)
public func bytesPrecede(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
    let n = min(a.count, b.count)
    let order = n == 0 ? 0 : memcmp(a.baseAddress!, b.baseAddress!, n)
    return order != 0 ? order < 0 : a.count < b.count
}

/// The same order over arrays.
@inline(__always)
public func bytesPrecede(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    a.withUnsafeBytes { pa in b.withUnsafeBytes { pb in bytesPrecede(pa, pb) } }
}

/// Copies all of `source` into `destination` from `offset`, which must leave room for it.
@inline(__always)
public func copyBytes(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer, at offset: Int)
{
    precondition(offset >= 0 && source.count <= destination.count - offset, "copyBytes: destination too small")
    if source.count > 0 {
        (destination.baseAddress! + offset).copyMemory(from: source.baseAddress!, byteCount: source.count)
    }
}

/// Where `byte` first occurs in `bytes`, or nil (memchr: a few instructions for a short
/// key, where a loop of checked loads costs one check a byte).
@inline(__always)
public func firstIndex(ofByte byte: UInt8, in bytes: UnsafeRawBufferPointer) -> Int? {
    guard let base = bytes.baseAddress, bytes.count > 0, let hit = memchr(base, Int32(byte), bytes.count) else {
        return nil
    }
    return base.distance(to: UnsafeRawPointer(hit))
}

/// Where `needle` first occurs in `haystack` at or after `from`, or nil: memchr for its
/// first byte, then a compare (a generic search is far too slow over a large snapshot).
public func firstOccurrence(of needle: UnsafeRawBufferPointer, in haystack: UnsafeRawBufferPointer, from: Int) -> Int? {
    precondition(from >= 0, "firstOccurrence: negative start")
    guard let first = needle.first, from <= haystack.count, haystack.count - from >= needle.count else { return nil }
    let base = haystack.baseAddress!
    let last = haystack.count - needle.count
    var i = from
    while i <= last {
        guard let hit = memchr(base + i, Int32(first), last - i + 1) else { return nil }
        let at = base.distance(to: UnsafeRawPointer(hit))
        if memoryEqual(base + at, needle.baseAddress!, needle.count) { return at }
        i = at + 1
    }
    return nil
}

/// Calls `body` with a NUL-terminated copy of `bytes` on the stack, for C parsers
/// (strtod, strtold); a NUL inside `bytes` ends the C string there, which the parsers'
/// callers see as a short parse.
@inline(__always)
public func withNulTerminatedCopy<R>(_ bytes: UnsafeRawBufferPointer, _ body: (UnsafePointer<CChar>) throws -> R)
    rethrows -> R
{
    try withUnsafeTemporaryAllocation(of: CChar.self, capacity: bytes.count + 1) { buffer in
        copyBytes(bytes, into: UnsafeMutableRawBufferPointer(buffer), at: 0)
        buffer[bytes.count] = 0
        return try body(buffer.baseAddress!)
    }
}

/// How many bytes a C parser consumed: from `start` to the `end` it reported.
@inline(__always)
public func parsedCount(from start: UnsafePointer<CChar>, to end: UnsafeMutablePointer<CChar>?) -> Int? {
    guard let end else { return nil }
    return UnsafePointer(end) - start
}

/// Byte-wise equality of two equally long regions, a word at a time. Unchecked: only the
/// checked helpers above and `ByteBlock`, which measure their regions first, call it.
@inline(__always)
@usableFromInline
func memoryEqual(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ n: Int) -> Bool {
    var i = 0
    while i + 8 <= n {
        if a.loadUnaligned(fromByteOffset: i, as: UInt64.self) != b.loadUnaligned(fromByteOffset: i, as: UInt64.self) {
            return false
        }
        i += 8
    }
    while i < n {
        if a.load(fromByteOffset: i, as: UInt8.self) != b.load(fromByteOffset: i, as: UInt8.self) { return false }
        i += 1
    }
    return true
}
