/// A value stored under a key. Strings that are canonical 64-bit integers are kept as
/// integers (Redis's `int` encoding), so INCR and friends allocate nothing.
public enum Value {
    /// A string as it was set, in one block (Redis's `embstr`/`raw` by length).
    case string(ByteBlock)
    case int(Int64)
    /// A string modified in place (APPEND, SETRANGE, SETBIT, …): Redis's `raw` encoding
    /// whatever its length.
    case rawString([UInt8])
    case list(ListValue)
    case hash(HashValue)
    case set(SetValue)
    case zset(SortedSetValue)
    case stream(StreamValue)

    /// TYPE's answer.
    public var typeName: String {
        switch self {
        case .string, .int, .rawString: return "string"
        case .list: return "list"
        case .hash: return "hash"
        case .set: return "set"
        case .zset: return "zset"
        case .stream: return "stream"
        }
    }

    /// OBJECT ENCODING's answer, with Redis's thresholds (embstr up to 44 bytes).
    public var encodingName: String {
        switch self {
        case .int: return "int"
        case .string(let b): return b.count <= 44 ? "embstr" : "raw"
        case .rawString: return "raw"
        case .list(let l): return l.fitsListpack(maxSize: -2) ? "listpack" : "quicklist"
        // A small hash with field expiry is Redis 7.4's `listpackex`.
        case .hash(let h): return h.isHashtable ? "hashtable" : h.hasFieldExpiry ? "listpackex" : "listpack"
        case .set(let s):
            switch s.encoding {
            case .intset: return "intset"
            case .listpack: return "listpack"
            case .hashtable: return "hashtable"
            }
        case .zset(let z): return z.isSkiplist ? "skiplist" : "listpack"
        case .stream: return "stream"
        }
    }

    /// The string's bytes, for values of the string type.
    public var stringBytes: [UInt8]? {
        switch self {
        case .string(let b): return b.bytes
        case .rawString(let b): return b
        case .int(let n): return formatInt64(n)
        case .list, .hash, .set, .zset, .stream: return nil
        }
    }

    /// Whether this is a hash with fields that have a time to live.
    public var hasFieldExpiry: Bool {
        if case .hash(let h) = self { return h.hasFieldExpiry }
        return false
    }

    public var isString: Bool {
        switch self {
        case .string, .int, .rawString: return true
        case .list, .hash, .set, .zset, .stream: return false
        }
    }

    /// Stores bytes as Redis would: as an integer when they are one (and at most 20 long).
    @inlinable
    public static func fromBytes<C: Collection>(_ bytes: C) -> Value where C.Element == UInt8 {
        if let n = integerEncoding(bytes) { return .int(n) }
        return .string(ByteBlock.make(bytes))
    }

    /// The integer a string is stored as (Redis's int encoding), or nil when it is kept as
    /// bytes.
    @inlinable
    static func integerEncoding<C: Collection>(_ bytes: C) -> Int64? where C.Element == UInt8 {
        bytes.count <= 20 ? parseInt64(bytes) : nil
    }

    /// Overwrites a `.string` value's block in place (`ByteBlock.overwriteIfUnique`); false,
    /// unchanged, for any other value or when the block cannot be reused. The value lets go
    /// of its block during the check, so its own reference does not count as a second
    /// holder.
    mutating func overwriteString(with bytes: UnsafeRawBufferPointer) -> Bool {
        guard case .string(var block) = self else { return false }
        self = .int(0)
        let overwritten = block.overwriteIfUnique(with: bytes)
        self = .string(block)
        return overwritten
    }

    /// The string's bytes, borrowed, for values of the string type (nil otherwise).
    @inlinable
    public func withStringBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R? {
        switch self {
        case .string(let b): return try b.withBytes(body)
        case .rawString(let b): return try b.withUnsafeBytes(body)
        case .int(let n): return try formatInt64(n).withUnsafeBytes(body)
        case .list, .hash, .set, .zset, .stream: return nil
        }
    }

    /// The length of a string value (STRLEN), without formatting an integer's digits twice.
    public var stringLength: Int? {
        switch self {
        case .string(let b): return b.count
        case .rawString(let b): return b.count
        case .int(let n): return formatInt64(n).count
        case .list, .hash, .set, .zset, .stream: return nil
        }
    }

    /// Bytes Redis would use for this value, by jemalloc's size classes (MEMORY USAGE).
    public var memoryUsage: Int {
        switch self {
        case .int: return 16
        case .string(let b):
            // Up to 44 bytes Redis embeds the string in its object header (embstr).
            if b.count <= 44 { return mallocSize(16 + 3 + b.count + 1) }
            return 16 + mallocSize(sdsHeaderSize(b.count) + b.count + 1)
        case .rawString(let b):
            return 16 + mallocSize(sdsHeaderSize(b.count) + b.count + 1)
        case .list(let l):
            // A quicklist node per 8 KB listpack, plus the entries' bytes and headers.
            let bytes = l.payloadBytes + l.count * 2 + 7
            return 16 + 40 + (bytes / 8192 + 1) * 32 + mallocSize(bytes)
        case .hash(let h):
            if !h.isHashtable { return 16 + mallocSize(h.payloadBytes + h.count * 4 + 7) }
            var bytes = 16 + 96 + h.count * (24 + 16)
            h.forEach { k, v in bytes += mallocSize(k.count + 4) + mallocSize(v.count + 4) }
            return bytes
        case .set(let s):
            switch s.encoding {
            case .intset:
                // Redis's intset stores every member at the width its widest one needs.
                let width = s.allMembers.reduce(2) { width, member in
                    let n = parseInt64(member) ?? 0
                    if n >= Int64(Int16.min) && n <= Int64(Int16.max) { return width }
                    return max(width, n >= Int64(Int32.min) && n <= Int64(Int32.max) ? 4 : 8)
                }
                return 16 + mallocSize(8 + s.count * width)
            case .listpack: return 16 + mallocSize(s.payloadBytes + s.count * 2 + 7)
            case .hashtable: return 16 + 96 + s.allMembers.reduce(0) { $0 + 24 + mallocSize($1.count + 4) }
            }
        case .zset(let z):
            if !z.isSkiplist { return 16 + mallocSize(z.payloadBytes + z.count * 4 + 7) }
            return 16 + 96 + z.entries.reduce(0) { $0 + 24 + 48 + mallocSize($1.member.count + 4) }
        case .stream(let s):
            return s.memoryUsage
        }
    }
}

/// The header size Redis's sds picks for a string of `length` bytes.
public func sdsHeaderSize(_ length: Int) -> Int {
    if length < 32 { return 1 }
    if length < 256 { return 3 }
    if length < 65536 { return 5 }
    return 9
}

/// The size class a malloc of `n` bytes lands in (jemalloc's: 8, 16, 32, 48, … 128, 160,
/// 192, 224, 256, 320, …).
public func mallocSize(_ n: Int) -> Int {
    if n <= 8 { return 8 }
    if n <= 128 { return (n + 15) & ~15 }
    var power = 128
    while power * 2 < n { power *= 2 }
    let step = power / 4
    return (n + step - 1) / step * step
}
