import DataStore
import Dispatch
import OrderedCollections

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Redis's RDB format (rdb.h / rdb.c): what the writer produces and the reader accepts.
enum RDBOpcode {
    static let slotInfo: UInt8 = 0xF4
    static let functionPreGA: UInt8 = 0xF6
    static let function2: UInt8 = 0xF5
    static let moduleAux: UInt8 = 0xF7
    static let idle: UInt8 = 0xF8
    static let freq: UInt8 = 0xF9
    static let aux: UInt8 = 0xFA
    static let resizeDB: UInt8 = 0xFB
    static let expireTimeMs: UInt8 = 0xFC
    static let expireTime: UInt8 = 0xFD
    static let selectDB: UInt8 = 0xFE
    static let eof: UInt8 = 0xFF
}

enum RDBType {
    static let string: UInt8 = 0
    static let list: UInt8 = 1
    static let set: UInt8 = 2
    static let zset: UInt8 = 3
    static let hash: UInt8 = 4
    static let zset2: UInt8 = 5
    static let hashZipmap: UInt8 = 9
    static let listZiplist: UInt8 = 10
    static let setIntset: UInt8 = 11
    static let zsetZiplist: UInt8 = 12
    static let hashZiplist: UInt8 = 13
    static let listQuicklist: UInt8 = 14
    static let hashListpack: UInt8 = 16
    static let zsetListpack: UInt8 = 17
    static let listQuicklist2: UInt8 = 18
    static let setListpack: UInt8 = 20
    static let moduleBeforeGA: UInt8 = 6
    static let module2: UInt8 = 7
    static let streamListpacks: UInt8 = 15
    static let streamListpacks2: UInt8 = 19
    static let streamListpacks3: UInt8 = 21
    /// Hashes with field TTLs (Redis 7.4): absolute TTLs before GA, then relative to the
    /// hash's smallest one; plain or listpack (field, value, TTL triplets).
    static let hashMetadataPreGA: UInt8 = 22
    static let hashListpackExPreGA: UInt8 = 23
    static let hashMetadata: UInt8 = 24
    static let hashListpackEx: UInt8 = 25
}

public struct RDBError: Error, CustomStringConvertible {
    public let description: String
    init(_ d: String) { description = d }
}

// MARK: - Writer

/// Writes a dataset as an RDB file, streaming through a buffer to a file descriptor (or into
/// memory): strings integer-encoded or LZF-compressed as Redis does, aggregates in the plain
/// encodings every Redis since 2.x loads, a CRC-64 trailer.
public struct RDBWriter: SnapshotEncoder {
    var buffer: [UInt8] = []
    let fd: Int32
    let compress: Bool
    /// The RDB version in the signature (`rdb-version`, 9–12). Every type written is
    /// loadable by version 9 except hashes with field TTLs, which need 12.
    public let version: Int
    var crc: UInt64 = 0
    /// Where full buffers go: checksummed and written on a thread of their own.
    let sink: FileSink?
    public var failure: Int32 { sink?.finish().failure ?? 0 }
    /// LZF's hash table, reused for every string.
    var lzfTable: [Int32] = []
    var lzfOutput: [UInt8] = []

    /// `fd` -1 keeps everything in memory (`bytes`).
    /// `rdbchecksum no` writes a zero checksum, as Redis does (readers then skip the check).
    let checksum: Bool

    public init(fd: Int32 = -1, compress: Bool = true, version: Int = 10, checksum: Bool = true) {
        self.fd = fd
        self.compress = compress
        self.version = version
        self.checksum = checksum
        sink = fd >= 0 ? FileSink(fd: fd) : nil
        buffer.reserveCapacity(1 << 16)
    }

    public var bytes: [UInt8] { buffer }

    mutating func drain(force: Bool = false) {
        guard let sink, force || buffer.count >= 1 << 20 else { return }
        sink.submit(buffer)
        buffer = []
        buffer.reserveCapacity(1 << 20)
    }

    @inline(__always) mutating func byte(_ b: UInt8) { buffer.append(b) }

    mutating func littleEndian<T: FixedWidthInteger>(_ v: T) {
        withUnsafeBytes(of: v.littleEndian) { buffer.append(contentsOf: $0) }
    }

    mutating func length(_ n: Int) {
        if n < 1 << 6 {
            byte(UInt8(n))
        } else if n < 1 << 14 {
            byte(UInt8(n >> 8) | 0x40)
            byte(UInt8(n & 0xff))
        } else if n <= Int(UInt32.max) {
            byte(0x80)
            withUnsafeBytes(of: UInt32(n).bigEndian) { buffer.append(contentsOf: $0) }
        } else {
            byte(0x81)
            withUnsafeBytes(of: UInt64(n).bigEndian) { buffer.append(contentsOf: $0) }
        }
    }

    /// rdbSaveRawString: an integer that round-trips in at most 32 bits, else LZF when it
    /// pays (over 20 bytes), else plain.
    mutating func string<C: Collection>(_ s: C) where C.Element == UInt8 {
        // Only something starting like a number can be one (most keys and values do not).
        if s.count <= 11, let first = s.first, first == UInt8(ascii: "-") || (first &- 48) < 10,
            let v = parseInt64(s), v >= Int64(Int32.min), v <= Int64(Int32.max),
            formatInt64(v).elementsEqual(s)
        {
            integer(v)
            return
        }
        if compress && s.count > 20,
            let packed = s.withContiguousStorageIfAvailable({ LZF.compress($0, table: &lzfTable, output: &lzfOutput) })
                ?? nil
        {
            byte(0xC3)
            length(packed)
            length(s.count)
            buffer.append(contentsOf: lzfOutput[0..<packed])
            return
        }
        length(s.count)
        buffer.append(contentsOf: s)
    }

    mutating func integer(_ v: Int64) {
        if v >= -128 && v <= 127 {
            byte(0xC0)
            byte(UInt8(bitPattern: Int8(v)))
        } else if v >= -32768 && v <= 32767 {
            byte(0xC1)
            littleEndian(Int16(v))
        } else {
            byte(0xC2)
            littleEndian(Int32(v))
        }
    }

    mutating func aux(_ key: String, _ value: String) {
        byte(RDBOpcode.aux)
        string(Array(key.utf8))
        string(Array(value.utf8))
    }

    /// The RDB type byte a value is written with.
    static func typeByte(_ v: Value, version: Int) -> UInt8 {
        switch v {
        case .stream:
            // Consumer active times need version 11 (7.2); counters and first ID need 10 (7.0).
            return version >= 11
                ? RDBType.streamListpacks3 : version >= 10 ? RDBType.streamListpacks2 : RDBType.streamListpacks
        case .string, .rawString, .int: return RDBType.string
        case .list: return RDBType.list
        case .set: return RDBType.set
        case .zset: return RDBType.zset2
        case .hash(let h): return h.hasFieldExpiry ? RDBType.hashMetadata : RDBType.hash
        }
    }

    /// A value's serialization, after its type byte (and key).
    mutating func body(_ v: Value) {
        switch v {
        case .string(let b): b.withBytes { string($0) }
        case .rawString(let b): string(b)
        case .int(let n):
            if n >= Int64(Int32.min) && n <= Int64(Int32.max) { integer(n) } else { string(formatInt64(n)) }
        case .list(let l):
            length(l.count)
            for item in l.items { string(item) }
        case .set(let s):
            length(s.count)
            for m in s.allMembers { string(m) }
        case .zset(let z):
            length(z.count)
            for e in z.entries {
                string(e.member)
                littleEndian(e.score.bitPattern)
            }
        case .hash(let h) where h.hasFieldExpiry:
            // RDB_TYPE_HASH_METADATA: the smallest TTL, then per field its TTL relative to
            // it plus one (0: none), the field and the value.
            let minExpire = h.fieldExpires.values.min() ?? 0
            littleEndian(minExpire)
            length(h.count)
            h.forEach { f, v in
                let at = h.fieldExpires[Array(f)]
                length(at.map { Int($0 - minExpire + 1) } ?? 0)
                string(f)
                string(v)
            }
        case .hash(let h):
            length(h.count)
            h.forEach { f, v in
                string(f)
                string(v)
            }
        case .stream(let s):
            stream(s)
        }
    }

    mutating func length64(_ n: UInt64) {
        if n <= UInt64(UInt32.max) {
            length(Int(n))
        } else {
            byte(0x81)
            withUnsafeBytes(of: n.bigEndian) { buffer.append(contentsOf: $0) }
        }
    }

    /// rdbSaveObject's stream: the nodes (master ID key, listpack), length, last ID, then
    /// (type 19 on) first ID, largest deleted ID and entries added; then the groups with
    /// their PELs and consumers (type 21 adds each consumer's active time).
    mutating func stream(_ s: StreamValue) {
        let type = Self.typeByte(.stream(s), version: version)
        length(s.nodes.count)
        for node in s.nodes {
            string(node.master.keyBytes)
            string(s.listpack(of: node))
        }
        length(s.length)
        length64(s.lastID.ms)
        length64(s.lastID.seq)
        if type >= RDBType.streamListpacks2 {
            length64(s.firstID.ms)
            length64(s.firstID.seq)
            length64(s.maxDeletedID.ms)
            length64(s.maxDeletedID.seq)
            length64(UInt64(bitPattern: s.entriesAdded))
        }
        length(s.groups.count)
        for g in s.groups {
            string(g.name)
            length64(g.lastID.ms)
            length64(g.lastID.seq)
            if type >= RDBType.streamListpacks2 { length64(UInt64(bitPattern: g.entriesRead)) }
            length(g.pel.count)
            for id in g.pel.ids {
                buffer.append(contentsOf: id.keyBytes)
                let nack = g.nacks[id]
                littleEndian(nack?.deliveryTime ?? 0)
                length64(UInt64(bitPattern: nack?.deliveryCount ?? 0))
            }
            length(g.consumers.count)
            for c in g.consumers {
                string(c.name)
                littleEndian(c.seenTime)
                if type >= RDBType.streamListpacks3 { littleEndian(c.activeTime) }
                length(c.pel.count)
                for id in c.pel.ids { buffer.append(contentsOf: id.keyBytes) }
            }
        }
    }

    /// One key with its type byte.
    mutating func value<Key: Collection<UInt8>>(key: Key, _ v: Value) {
        byte(Self.typeByte(v, version: version))
        string(key)
        body(v)
        drain()
    }

    /// Function libraries as FUNCTION2 opcodes (after the AUX fields of a file).
    public mutating func functionLibraries(_ codes: [[UInt8]]) {
        for code in codes {
            byte(RDBOpcode.function2)
            string(code)
        }
    }

    /// FUNCTION DUMP's payload: the libraries, RDB version and CRC-64.
    public static func functionsPayload(_ codes: [[UInt8]]) -> [UInt8] {
        var w = RDBWriter()
        w.functionLibraries(codes)
        w.littleEndian(UInt16(10))
        w.littleEndian(CRC64.checksum(w.buffer))
        return w.buffer
    }

    /// DUMP's payload: type, value, RDB version (2 bytes) and CRC-64 (8 bytes), little-endian.
    /// Version 10 (what Redis 7.0 accepts) unless the value needs 12 (field TTLs).
    public static func dumpPayload(_ v: Value, compress: Bool = true) -> [UInt8] {
        var w = RDBWriter(compress: compress)
        w.byte(typeByte(v, version: w.version))
        w.body(v)
        w.littleEndian(UInt16(v.hasFieldExpiry ? 12 : 10))
        w.littleEndian(CRC64.checksum(w.buffer))
        return w.buffer
    }

    /// The file's start: signature and AUX fields.
    public mutating func header(now: Int64, aux extra: [(String, String)]) {
        let digits = String(version)
        buffer.append(contentsOf: Array(("REDIS" + String(repeating: "0", count: 4 - digits.count) + digits).utf8))
        aux("redis-ver", "7.4.0")
        aux("redis-bits", "64")
        aux("ctime", String(now / 1000))
        for (k, v) in extra { aux(k, v) }
    }

    public mutating func selectDB(_ index: Int) {
        byte(RDBOpcode.selectDB)
        length(index)
    }

    /// SELECTDB with RESIZEDB's size hints.
    public mutating func selectDB(_ index: Int, size: Int, expires: Int) {
        selectDB(index)
        byte(RDBOpcode.resizeDB)
        length(size)
        length(expires)
    }

    /// One key, with its expiry when it has one.
    public mutating func entry(key: UnsafeRawBufferPointer, value: Value, expireAt: Int64) {
        if expireAt != KeyEntry.noExpiry {
            byte(RDBOpcode.expireTimeMs)
            littleEndian(expireAt)
        }
        self.value(key: key, value)
    }

    /// EOF and the checksum; everything is on its way to the file descriptor after this.
    public mutating func finish() {
        byte(RDBOpcode.eof)
        if let sink {
            drain(force: true)
            crc = sink.finish().crc
        } else {
            crc = buffer.withUnsafeBytes { CRC64.update(0, $0) }
        }
        littleEndian(checksum ? crc : 0)
        drain(force: true)
    }

    /// The whole file: header, AUX fields, function libraries, every database, EOF and
    /// checksum.
    public mutating func dataset(
        _ keyspace: Keyspace, now: Int64, aux extra: [(String, String)] = [], functions: [[UInt8]] = []
    ) {
        header(now: now, aux: extra)
        functionLibraries(functions)
        for (index, db) in keyspace.databases.enumerated() where db.count > 0 {
            selectDB(index, size: db.count, expires: db.volatileCount)
            db.table.forEach { e in
                if e.expireAt != KeyEntry.noExpiry && e.expireAt < now { return }
                entry(e)
            }
        }
        finish()
    }
}

/// A snapshot file's writer thread: buffers are checksummed (CRC-64, in order) and written
/// there, so the event loop only serialises. At most a few buffers wait at once: a slow
/// disk slows the snapshot, not memory.
final class FileSink: @unchecked Sendable {
    let fd: Int32
    let queue = DispatchQueue(label: "swiftlet.snapshot-file")
    let slots = DispatchSemaphore(value: 8)
    // Touched only on `queue`.
    var crc: UInt64 = 0
    var failure: Int32 = 0

    init(fd: Int32) { self.fd = fd }

    func submit(_ bytes: [UInt8]) {
        slots.wait()
        queue.async {
            self.crc = bytes.withUnsafeBytes { CRC64.update(self.crc, $0) }
            self.failure = SnapshotFile.writeAll(self.fd, bytes, failure: self.failure)
            self.slots.signal()
        }
    }

    /// Waits for every submitted buffer; the checksum so far and the first write error.
    func finish() -> (crc: UInt64, failure: Int32) {
        queue.sync { (crc, failure) }
    }
}

// MARK: - Reader

/// Reads an RDB file of any version up to 12: every opcode, strings plain, integer-encoded
/// or LZF-compressed, and the aggregate encodings Redis writes (plain, ziplist, intset,
/// listpack, quicklist 1 and 2). Keys already expired are skipped, as Redis does.
public struct RDBReader {
    let data: [UInt8]
    /// Where reading stands (after `load`: the end of the RDB, where an AOF tail starts).
    public internal(set) var pos = 0
    public private(set) var version = 0
    public private(set) var aux: [(String, String)] = []

    public init(_ data: [UInt8]) { self.data = data }

    mutating func need(_ n: Int) throws(RDBError) {
        // Compared without adding: `n` is a length from the file, up to Int.max.
        if n < 0 || n > data.count - pos { throw RDBError("Unexpected EOF reading RDB file") }
    }

    mutating func byte() throws(RDBError) -> UInt8 {
        try need(1)
        defer { pos += 1 }
        return data[pos]
    }

    mutating func littleEndian<T: FixedWidthInteger>(_: T.Type) throws(RDBError) -> T {
        try need(MemoryLayout<T>.size)
        var v: T = 0
        for i in 0..<MemoryLayout<T>.size { v |= T(truncatingIfNeeded: data[pos + i]) << (8 * i) }
        pos += MemoryLayout<T>.size
        return v
    }

    /// A length, or (for 11xxxxxx) the special encoding number with `encoded` set.
    mutating func length() throws(RDBError) -> (Int, encoded: Bool) {
        let b = try byte()
        switch b >> 6 {
        case 0: return (Int(b & 0x3f), false)
        case 1: return (Int(b & 0x3f) << 8 | Int(try byte()), false)
        case 2:
            if b == 0x80 {
                try need(4)
                var v = 0
                for i in 0..<4 { v = v << 8 | Int(data[pos + i]) }
                pos += 4
                return (v, false)
            }
            if b == 0x81 {
                try need(8)
                var v: UInt64 = 0
                for i in 0..<8 { v = v << 8 | UInt64(data[pos + i]) }
                pos += 8
                guard v <= UInt64(Int.max) else { throw RDBError("Length out of range") }
                return (Int(v), false)
            }
            throw RDBError("Unknown length encoding \(b) in rdbLoadLen()")
        default: return (Int(b & 0x3f), true)
        }
    }

    mutating func plainLength() throws(RDBError) -> Int {
        let (n, encoded) = try length()
        if encoded { throw RDBError("Unexpected encoded length") }
        return n
    }

    mutating func string() throws(RDBError) -> [UInt8] {
        let (n, encoded) = try length()
        if encoded {
            switch n {
            case 0: return formatInt64(Int64(Int8(bitPattern: try byte())))
            case 1: return formatInt64(Int64(try littleEndian(Int16.self)))
            case 2: return formatInt64(Int64(try littleEndian(Int32.self)))
            case 3:
                let clen = try plainLength()
                let len = try plainLength()
                try need(clen)
                guard let out = LZF.decompress(data[pos..<(pos + clen)], length: len) else {
                    throw RDBError("Invalid LZF compressed string")
                }
                pos += clen
                return out
            default: throw RDBError("Unknown RDB string encoding type \(n)")
            }
        }
        try need(n)
        defer { pos += n }
        return Array(data[pos..<(pos + n)])
    }

    /// The old ZSET type's scores: a length-prefixed decimal (253 nan, 254 +inf, 255 -inf).
    mutating func oldDouble() throws(RDBError) -> Double {
        let len = try byte()
        switch len {
        case 253: return .nan
        case 254: return .infinity
        case 255: return -.infinity
        default:
            try need(Int(len))
            defer { pos += Int(len) }
            guard let d = parseDouble(data[pos..<(pos + Int(len))]) else { throw RDBError("Invalid double") }
            return d
        }
    }

    /// Loads every key into `keyspace`; returns how many were loaded and skipped.
    public mutating func load(into keyspace: Keyspace, now: Int64, limits: LoadLimits = LoadLimits())
        throws(RDBError) -> (loaded: Int, expired: Int)
    {
        try begin()
        while try !step(into: keyspace, now: now, limits: limits, maxKeys: Int.max) {}
        return (loaded, expired)
    }

    /// Function libraries' code read so far (FUNCTION2 opcodes).
    public private(set) var functionLibraries: [[UInt8]] = []

    /// The function libraries read since the last call.
    public mutating func takeFunctionLibraries() -> [[UInt8]] {
        defer { functionLibraries.removeAll() }
        return functionLibraries
    }

    /// FUNCTION RESTORE's payload: FUNCTION2 entries, RDB version and CRC-64; nil when the
    /// footer is wrong, .failure when an entry is not a function.
    public static func functionsPayload(_ payload: [UInt8]) -> Result<[[UInt8]], RDBError>? {
        guard payload.count >= 10 else { return nil }
        let footer = payload.count - 10
        let version = Int(payload[footer]) | Int(payload[footer + 1]) << 8
        var crc: UInt64 = 0
        for i in 0..<8 { crc |= UInt64(payload[footer + 2 + i]) << (8 * UInt64(i)) }
        let computed = payload[0..<(footer + 2)].withUnsafeBytes { CRC64.update(0, $0) }
        guard version <= 12, crc == 0 || crc == computed else { return nil }
        var reader = RDBReader(Array(payload[0..<footer]))
        var codes: [[UInt8]] = []
        do throws(RDBError) {
            while reader.pos < footer {
                guard try reader.byte() == RDBOpcode.function2 else { throw RDBError("given type is not a function") }
                codes.append(try reader.string())
            }
        } catch {
            return .failure(error)
        }
        return .success(codes)
    }

    /// Keys loaded and keys skipped because they had expired, so far.
    public private(set) var loaded = 0
    public private(set) var expired = 0
    /// The skipped keys themselves, with their databases, when asked for (a primary's load
    /// at start sends their DELs to its replicas, as Redis's RDBFLAGS_FEED_REPL does).
    public var keepsExpiredNames = false
    public private(set) var expiredNames: [(db: Int, key: [UInt8])] = []
    var db = 0
    var expireAt = KeyEntry.noExpiry
    /// The next key's IDLE (seconds since last access), when the file gives one.
    var idle: Int?
    /// `rdbchecksum no`: the stored checksum is not verified.
    public var verifyChecksum = true
    /// A key already in the keyspace is replaced by the file's (DEBUG RELOAD NOFLUSH
    /// MERGE, Redis's RDBFLAGS_ALLOW_DUP); otherwise it fails the load.
    public var replacesExistingKeys = false
    /// The file's end (EOF and checksum) was read.
    public private(set) var finished = false

    func hex(_ v: UInt64) -> String { String(v, radix: 16) }

    /// Checks the signature and version; `step` reads on from there.
    public mutating func begin() throws(RDBError) {
        guard data.count >= 9, data[0..<5].elementsEqual("REDIS".utf8),
            let v = Int(String(decoding: data[5..<9], as: UTF8.self))
        else { throw RDBError("Wrong signature trying to load DB from file") }
        guard v >= 1 && v <= 12 else { throw RDBError("Can't handle RDB format version \(v)") }
        version = v
        pos = 9
    }

    /// Loads up to `maxKeys` keys (so a large file loads in steps between other work);
    /// true once the end of the file is read.
    public mutating func step(into keyspace: Keyspace, now: Int64, limits: LoadLimits, maxKeys: Int)
        throws(RDBError) -> Bool
    {
        var budget = maxKeys
        while budget > 0 {
            let type = try byte()
            switch type {
            case RDBOpcode.expireTime:
                expireAt = Int64(try littleEndian(Int32.self)) * 1000
                continue
            case RDBOpcode.expireTimeMs:
                expireAt = try littleEndian(Int64.self)
                continue
            case RDBOpcode.freq:
                _ = try byte()
                continue
            case RDBOpcode.idle:
                idle = try plainLength()
                continue
            case RDBOpcode.eof:
                if version >= 5 {
                    let expected = data[0..<pos].withUnsafeBytes { CRC64.update(0, $0) }
                    let stored = try littleEndian(UInt64.self)
                    if verifyChecksum && stored != 0 && stored != expected {
                        throw RDBError(
                            "Wrong RDB checksum expected: (\(hex(stored))) got (\(hex(expected))). Aborting now.\nInternal error in RDB reading offset \(pos) -> RDB CRC error"
                        )
                    }
                }
                finished = true
                return true
            case RDBOpcode.selectDB:
                db = try plainLength()
                guard db < keyspace.databases.count else {
                    throw RDBError(
                        "FATAL: Data file was created with a Redis server configured to handle more than \(keyspace.databases.count) databases. Exiting"
                    )
                }
                continue
            case RDBOpcode.resizeDB:
                _ = try plainLength()
                _ = try plainLength()
                continue
            case RDBOpcode.slotInfo:
                _ = try plainLength()
                _ = try plainLength()
                _ = try plainLength()
                continue
            case RDBOpcode.aux:
                let k = try string()
                let v = try string()
                aux.append((String(decoding: k, as: UTF8.self), String(decoding: v, as: UTF8.self)))
                continue
            case RDBOpcode.moduleAux:
                throw RDBError("The RDB file contains AUX module data I can't load: no matching module")
            case RDBOpcode.function2:
                // A function library's code: the server loads it (takeFunctionLibraries).
                functionLibraries.append(try string())
                continue
            case RDBOpcode.functionPreGA:
                // Redis 7.0 release candidates: name, engine, description, code.
                _ = try string()
                _ = try string()
                if try byte() != 0 { _ = try string() }
                functionLibraries.append(try string())
                continue
            default:
                break
            }
            let key = try string()
            let value = try object(type, limits: limits)
            defer { expireAt = KeyEntry.noExpiry }
            if expireAt != KeyEntry.noExpiry && expireAt < now {
                expired += 1
                budget -= 1
                if keepsExpiredNames { expiredNames.append((db, key)) }
                continue
            }
            if let slot = keyspace.databases[db].lookup(key, now: now) {
                guard replacesExistingKeys else {
                    throw RDBError("Duplicate key '\(String(decoding: key, as: UTF8.self))' found in RDB file")
                }
                _ = keyspace.databases[db].table.remove(slot: slot)
            }
            let lru =
                idle.map { UInt32(truncatingIfNeeded: max(0, now / 1000 - Int64($0))) }
                ?? UInt32(truncatingIfNeeded: now / 1000)
            idle = nil
            keyspace.databases[db].table.insertNew(key, value: value, expireAt: expireAt, lru: lru)
            if value.hasFieldExpiry { keyspace.databases[db].noteFieldExpiry(key) }
            loaded += 1
            budget -= 1
        }
        return false
    }

    /// RESTORE's payload back to a value; nil when its version or checksum is wrong (or
    /// it is too short), an error when the data inside is bad. The CRC64 must match, as
    /// Redis's verifyDumpPayload requires (a zero is no exception, unlike an RDB file's),
    /// unless `verifyChecksum` is off.
    public static func restorePayload(
        _ payload: [UInt8], limits: LoadLimits = LoadLimits(), verifyChecksum: Bool = true
    ) -> Result<Value, RDBError>? {
        guard payload.count >= 10 else { return nil }
        let footer = payload.count - 10
        let version = Int(payload[footer]) | Int(payload[footer + 1]) << 8
        guard version <= 12 else { return nil }
        var crc: UInt64 = 0
        for i in 0..<8 { crc |= UInt64(payload[footer + 2 + i]) << (8 * UInt64(i)) }
        let computed = payload[0..<(footer + 2)].withUnsafeBytes { CRC64.update(0, $0) }
        guard !verifyChecksum || crc == computed else { return nil }
        var reader = RDBReader(Array(payload[0..<footer]))
        do throws(RDBError) {
            let type = try reader.byte()
            let value = try reader.object(type, limits: limits)
            guard reader.pos == footer else { throw RDBError("Bad data format") }
            return .success(value)
        } catch {
            return .failure(error)
        }
    }

    mutating func object(_ type: UInt8, limits: LoadLimits) throws(RDBError) -> Value {
        switch type {
        case RDBType.string:
            return Value.fromBytes(try string())
        case RDBType.list:
            let n = try plainLength()
            var items: [[UInt8]] = []
            for _ in 0..<n { items.append(try string()) }
            return .list(ListValue(elements: items))
        case RDBType.set:
            let n = try plainLength()
            var members: [[UInt8]] = []
            for _ in 0..<n { members.append(try string()) }
            return .set(Self.makeSet(members, limits.set))
        case RDBType.zset, RDBType.zset2:
            let n = try plainLength()
            let z = SortedSetValue()
            for _ in 0..<n {
                let m = try string()
                let score = type == RDBType.zset2 ? Double(bitPattern: try littleEndian(UInt64.self)) : try oldDouble()
                z.set(m, score: score)
                z.noteWrite(m, maxEntries: limits.zsetEntries, maxValue: limits.zsetValue)
            }
            return .zset(z)
        case RDBType.hash:
            let n = try plainLength()
            let h = HashValue()
            for _ in 0..<n {
                h.set(try string(), try string(), maxEntries: limits.hashEntries, maxValue: limits.hashValue)
            }
            h.trimCapacity()
            return .hash(h)
        case RDBType.listZiplist:
            return .list(ListValue(elements: try Self.ziplist(try string())))
        case RDBType.listQuicklist:
            let n = try plainLength()
            var items: [[UInt8]] = []
            for _ in 0..<n { items += try Self.ziplist(try string()) }
            return .list(ListValue(elements: items))
        case RDBType.listQuicklist2:
            let n = try plainLength()
            var items: [[UInt8]] = []
            for _ in 0..<n {
                let container = try plainLength()
                let blob = try string()
                if container == 1 { items.append(blob) } else { items += try Self.listpack(blob) }
            }
            return .list(ListValue(elements: items))
        case RDBType.setIntset:
            return .set(Self.makeSet(try Self.intset(try string()), limits.set))
        case RDBType.setListpack:
            return .set(Self.makeSet(try Self.listpack(try string()), limits.set))
        case RDBType.zsetZiplist, RDBType.zsetListpack:
            let blob = try string()
            let flat = type == RDBType.zsetZiplist ? try Self.ziplist(blob) : try Self.listpack(blob)
            guard flat.count % 2 == 0 else { throw RDBError("Zset listpack with odd element count") }
            let z = SortedSetValue()
            for i in stride(from: 0, to: flat.count, by: 2) {
                guard let score = parseDouble(flat[i + 1]) else { throw RDBError("Zset listpack with invalid score") }
                z.set(flat[i], score: score)
                z.noteWrite(flat[i], maxEntries: limits.zsetEntries, maxValue: limits.zsetValue)
            }
            return .zset(z)
        case RDBType.hashZiplist, RDBType.hashListpack:
            let blob = try string()
            let flat = type == RDBType.hashZiplist ? try Self.ziplist(blob) : try Self.listpack(blob)
            guard flat.count % 2 == 0 else { throw RDBError("Hash listpack with odd element count") }
            return .hash(try Self.makeHash(pairs: flat.count / 2, limits) { (flat[2 * $0], flat[2 * $0 + 1], 0) })
        case RDBType.hashZipmap:
            let flat = try Self.zipmap(try string())
            return .hash(try Self.makeHash(pairs: flat.count / 2, limits) { (flat[2 * $0], flat[2 * $0 + 1], 0) })
        case RDBType.hashListpackEx, RDBType.hashListpackExPreGA:
            if type == RDBType.hashListpackEx { _ = try littleEndian(Int64.self) }
            let flat = try Self.listpack(try string())
            guard flat.count % 3 == 0 else { throw RDBError("Hash listpackex integrity check failed.") }
            return .hash(
                try Self.makeHash(pairs: flat.count / 3, limits) {
                    (flat[3 * $0], flat[3 * $0 + 1], parseInt64(flat[3 * $0 + 2]) ?? -1)
                })
        case RDBType.hashMetadata, RDBType.hashMetadataPreGA:
            let minExpire = type == RDBType.hashMetadata ? try littleEndian(Int64.self) : 0
            let n = try plainLength()
            var triplets: [([UInt8], [UInt8], Int64)] = []
            triplets.reserveCapacity(min(n, 4096))
            for _ in 0..<n {
                let ttl = Int64(try plainLength())
                var at = ttl
                if ttl != 0 && type == RDBType.hashMetadata {
                    // Relative to the key's smallest expiry; a sum past Int64 is a corrupt file.
                    let (sum, overflow) = ttl.addingReportingOverflow(minExpire &- 1)
                    guard !overflow else { throw RDBError("invalid expireAt time") }
                    at = sum
                }
                triplets.append((try string(), try string(), at))
            }
            return .hash(try Self.makeHash(pairs: n, limits) { triplets[$0] })
        case RDBType.streamListpacks, RDBType.streamListpacks2, RDBType.streamListpacks3:
            return .stream(try stream(type))
        case RDBType.moduleBeforeGA, RDBType.module2:
            throw RDBError("The RDB file contains module data I can't load: no matching module")
        default:
            throw RDBError("Unknown RDB encoding type \(type)")
        }
    }

    mutating func length64() throws(RDBError) -> UInt64 {
        let b = try byte()
        if b == 0x81 {
            try need(8)
            var v: UInt64 = 0
            for i in 0..<8 { v = v << 8 | UInt64(data[pos + i]) }
            pos += 8
            return v
        }
        pos -= 1
        return UInt64(try plainLength())
    }

    mutating func streamID() throws(RDBError) -> StreamID {
        let ms = try length64()
        return StreamID(ms: ms, seq: try length64())
    }

    mutating func rawStreamID() throws(RDBError) -> StreamID {
        try need(16)
        defer { pos += 16 }
        return StreamID(keyBytes: data[pos..<(pos + 16)])!
    }

    /// rdbLoadObject's stream types 15, 19 and 21, with its integrity checks.
    mutating func stream(_ type: UInt8) throws(RDBError) -> StreamValue {
        let s = StreamValue()
        let nodes = try plainLength()
        var lastMaster: StreamID?
        for _ in 0..<nodes {
            let key = try string()
            guard let master = StreamID(keyBytes: key[...]) else {
                throw RDBError("Stream node key entry is not the size of a stream ID")
            }
            let elements = try Self.listpack(try string())
            guard !elements.isEmpty else { throw RDBError("Empty listpack inside stream") }
            if let lastMaster, !(lastMaster < master) { throw RDBError("Listpack re-added with existing key") }
            lastMaster = master
            guard let node = StreamValue.entries(fromListpack: elements, master: master) else {
                throw RDBError("Stream listpack integrity check failed.")
            }
            s.loadNode(master: master, masterFields: node.masterFields, entries: node.entries)
        }
        s.recount()
        let length = try plainLength()
        guard length == s.length else { throw RDBError("Stream length inconsistent with rax entries") }
        s.lastID = try streamID()
        if type >= RDBType.streamListpacks2 {
            s.firstID = try streamID()
            s.maxDeletedID = try streamID()
            s.entriesAdded = Int64(bitPattern: try length64())
        } else {
            s.entriesAdded = Int64(length)
        }
        let groups = try plainLength()
        for _ in 0..<groups {
            let name = try string()
            let lastID = try streamID()
            let entriesRead =
                type >= RDBType.streamListpacks2
                ? Int64(bitPattern: try length64()) : s.estimateEntriesRead(upTo: lastID)
            guard let g = s.createGroup(name, lastID: lastID, entriesRead: entriesRead) else {
                throw RDBError("Duplicated consumer group name \(String(decoding: name, as: UTF8.self))")
            }
            let pelSize = try plainLength()
            for _ in 0..<pelSize {
                let id = try rawStreamID()
                let time = try littleEndian(Int64.self)
                let count = Int64(bitPattern: try length64())
                guard g.nacks[id] == nil else {
                    throw RDBError("Duplicated global PEL entry loading stream consumer group")
                }
                g.addPending(id, StreamNACK(deliveryTime: time, deliveryCount: count, consumer: nil))
            }
            let consumers = try plainLength()
            for _ in 0..<consumers {
                let cname = try string()
                guard let c = g.createConsumer(cname, now: 0) else {
                    throw RDBError("Duplicate stream consumer detected.")
                }
                c.seenTime = try littleEndian(Int64.self)
                c.activeTime = type >= RDBType.streamListpacks3 ? try littleEndian(Int64.self) : c.seenTime
                let owned = try plainLength()
                for _ in 0..<owned {
                    let id = try rawStreamID()
                    guard let nack = g.nacks[id] else {
                        throw RDBError("Consumer entry not found in group global PEL")
                    }
                    nack.consumer = c
                    guard c.pel.insert(id) else {
                        throw RDBError("Duplicated consumer PEL entry loading a stream consumer group")
                    }
                }
            }
        }
        return s
    }

    /// A hash from (field, value, absolute TTL or 0) triplets; duplicate fields or a TTL
    /// out of Redis's range are corrupt input.
    static func makeHash(pairs n: Int, _ limits: LoadLimits, _ pair: (Int) -> ([UInt8], [UInt8], Int64))
        throws(RDBError) -> HashValue
    {
        let h = HashValue()
        for i in 0..<n {
            let (field, value, at) = pair(i)
            guard at >= 0, at <= 0xFFFF_FFFF_FFFF else { throw RDBError("invalid expireAt time: \(at)") }
            guard h.set(field, value, maxEntries: limits.hashEntries, maxValue: limits.hashValue) else {
                throw RDBError("Duplicate hash fields detected")
            }
            if at != 0 { h.setFieldExpiry(field, at: at) }
        }
        h.trimCapacity()
        return h
    }

    /// A zipmap's keys and values (Redis 2.4's small hashes): a length byte, then per entry
    /// key length, key, value length, free-space byte, value and the free space; 255 ends it.
    static func zipmap(_ b: [UInt8]) throws(RDBError) -> [[UInt8]] {
        var pos = 1
        var out: [[UInt8]] = []
        func length() throws(RDBError) -> Int {
            guard pos < b.count else { throw RDBError("Zipmap integrity check failed.") }
            let first = b[pos]
            if first < 254 {
                pos += 1
                return Int(first)
            }
            guard first == 254, pos + 5 <= b.count else { throw RDBError("Zipmap integrity check failed.") }
            let n = Int(b[pos + 1]) | Int(b[pos + 2]) << 8 | Int(b[pos + 3]) << 16 | Int(b[pos + 4]) << 24
            pos += 5
            return n
        }
        while pos < b.count && b[pos] != 255 {
            let klen = try length()
            guard pos + klen <= b.count else { throw RDBError("Zipmap integrity check failed.") }
            out.append(Array(b[pos..<(pos + klen)]))
            pos += klen
            let vlen = try length()
            guard pos < b.count else { throw RDBError("Zipmap integrity check failed.") }
            let free = Int(b[pos])
            pos += 1
            guard pos + vlen + free <= b.count else { throw RDBError("Zipmap integrity check failed.") }
            out.append(Array(b[pos..<(pos + vlen)]))
            pos += vlen + free
        }
        guard pos < b.count, out.count % 2 == 0 else { throw RDBError("Zipmap integrity check failed.") }
        return out
    }

    static func makeSet(_ members: [[UInt8]], _ limits: SetValue.Limits) -> SetValue {
        let s = SetValue(encoding: members.allSatisfy { parseInt64($0) != nil } ? .intset : .listpack)
        for m in members { s.add(m, limits: limits) }
        return s
    }

    /// An intset's members as decimal strings.
    static func intset(_ b: [UInt8]) throws(RDBError) -> [[UInt8]] {
        guard b.count >= 8 else { throw RDBError("Intset integrity check failed") }
        let width = Int(UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24)
        let count = Int(UInt32(b[4]) | UInt32(b[5]) << 8 | UInt32(b[6]) << 16 | UInt32(b[7]) << 24)
        guard [2, 4, 8].contains(width), b.count == 8 + width * count else {
            throw RDBError("Intset integrity check failed")
        }
        return (0..<count).map { i in
            var v: UInt64 = 0
            for k in 0..<width { v |= UInt64(b[8 + i * width + k]) << (8 * UInt64(k)) }
            let signed: Int64
            switch width {
            case 2: signed = Int64(Int16(truncatingIfNeeded: v))
            case 4: signed = Int64(Int32(truncatingIfNeeded: v))
            default: signed = Int64(bitPattern: v)
            }
            return formatInt64(signed)
        }
    }

    /// A listpack's entries, integers as decimal strings.
    static func listpack(_ b: [UInt8]) throws(RDBError) -> [[UInt8]] {
        guard b.count >= 7 else { throw RDBError("Listpack integrity check failed") }
        var out: [[UInt8]] = []
        var p = 6
        func sint(_ v: UInt64, bits: Int) -> Int64 {
            let shift = UInt64(64 - bits)
            return Int64(bitPattern: v << shift) >> Int64(shift)
        }
        func le(_ at: Int, _ n: Int) -> UInt64 {
            var v: UInt64 = 0
            for k in 0..<n { v |= UInt64(b[at + k]) << (8 * UInt64(k)) }
            return v
        }
        while p < b.count {
            let e = b[p]
            if e == 0xFF { return out }
            var size: Int
            if e & 0x80 == 0 {
                out.append(formatInt64(Int64(e)))
                size = 1
            } else if e & 0xC0 == 0x80 {
                let n = Int(e & 0x3f)
                guard p + 1 + n <= b.count else { break }
                out.append(Array(b[(p + 1)..<(p + 1 + n)]))
                size = 1 + n
            } else if e & 0xE0 == 0xC0 {
                guard p + 1 < b.count else { break }
                out.append(formatInt64(sint(UInt64(e & 0x1f) << 8 | UInt64(b[p + 1]), bits: 13)))
                size = 2
            } else if e & 0xF0 == 0xE0 {
                guard p + 1 < b.count else { break }
                let n = Int(e & 0x0f) << 8 | Int(b[p + 1])
                guard p + 2 + n <= b.count else { break }
                out.append(Array(b[(p + 2)..<(p + 2 + n)]))
                size = 2 + n
            } else {
                switch e {
                case 0xF0:
                    guard p + 5 <= b.count else { throw RDBError("Listpack integrity check failed") }
                    let n = Int(le(p + 1, 4))
                    guard p + 5 + n <= b.count else { throw RDBError("Listpack integrity check failed") }
                    out.append(Array(b[(p + 5)..<(p + 5 + n)]))
                    size = 5 + n
                case 0xF1, 0xF2, 0xF3, 0xF4:
                    let n = [0xF1: 2, 0xF2: 3, 0xF3: 4, 0xF4: 8][Int(e)]!
                    guard p + 1 + n <= b.count else { throw RDBError("Listpack integrity check failed") }
                    out.append(formatInt64(sint(le(p + 1, n), bits: n * 8)))
                    size = 1 + n
                default:
                    throw RDBError("Listpack integrity check failed")
                }
            }
            let backlen = size < 128 ? 1 : size < 16383 ? 2 : size < 2_097_151 ? 3 : size < 268_435_455 ? 4 : 5
            p += size + backlen
        }
        throw RDBError("Listpack integrity check failed")
    }

    /// A ziplist's entries (RDB files of Redis 6 and older), integers as decimal strings.
    static func ziplist(_ b: [UInt8]) throws(RDBError) -> [[UInt8]] {
        guard b.count >= 11 else { throw RDBError("Ziplist integrity check failed") }
        var out: [[UInt8]] = []
        var p = 10
        func le(_ at: Int, _ n: Int) -> UInt64 {
            var v: UInt64 = 0
            for k in 0..<n { v |= UInt64(b[at + k]) << (8 * UInt64(k)) }
            return v
        }
        while p < b.count {
            if b[p] == 0xFF { return out }
            p += b[p] == 0xFE ? 5 : 1
            guard p < b.count else { break }
            let e = b[p]
            switch e >> 6 {
            case 0:
                let n = Int(e & 0x3f)
                guard p + 1 + n <= b.count else { throw RDBError("Ziplist integrity check failed") }
                out.append(Array(b[(p + 1)..<(p + 1 + n)]))
                p += 1 + n
            case 1:
                guard p + 1 < b.count else { throw RDBError("Ziplist integrity check failed") }
                let n = Int(e & 0x3f) << 8 | Int(b[p + 1])
                guard p + 2 + n <= b.count else { throw RDBError("Ziplist integrity check failed") }
                out.append(Array(b[(p + 2)..<(p + 2 + n)]))
                p += 2 + n
            case 2:
                guard p + 5 <= b.count else { throw RDBError("Ziplist integrity check failed") }
                var n = 0
                for k in 1...4 { n = n << 8 | Int(b[p + k]) }
                guard p + 5 + n <= b.count else { throw RDBError("Ziplist integrity check failed") }
                out.append(Array(b[(p + 5)..<(p + 5 + n)]))
                p += 5 + n
            default:
                let v: Int64
                var size = 1
                // The integer's bytes must lie inside the ziplist (a crafted RESTORE payload
                // may end in the middle of one).
                let width = [0xC0: 2, 0xD0: 4, 0xE0: 8, 0xF0: 3, 0xFE: 1][Int(e)] ?? 0
                guard p + 1 + width <= b.count else { throw RDBError("Ziplist integrity check failed") }
                switch e {
                case 0xC0:
                    v = Int64(Int16(truncatingIfNeeded: le(p + 1, 2)))
                    size = 3
                case 0xD0:
                    v = Int64(Int32(truncatingIfNeeded: le(p + 1, 4)))
                    size = 5
                case 0xE0:
                    v = Int64(bitPattern: le(p + 1, 8))
                    size = 9
                case 0xF0:
                    v = Int64(bitPattern: le(p + 1, 3) << 40) >> 40
                    size = 4
                case 0xFE:
                    v = Int64(Int8(bitPattern: b[p + 1]))
                    size = 2
                default:
                    guard e >= 0xF1 && e <= 0xFD else { throw RDBError("Ziplist integrity check failed") }
                    v = Int64(e & 0x0f) - 1
                }
                guard p + size <= b.count else { throw RDBError("Ziplist integrity check failed") }
                out.append(formatInt64(v))
                p += size
            }
        }
        throw RDBError("Ziplist integrity check failed")
    }
}

/// The `*-max-listpack-*` and `set-max-intset-entries` thresholds a load builds values with:
/// a loaded hash, set or sorted set past them takes its big encoding, as Redis converts a
/// ziplist or listpack from an RDB that the configuration no longer allows.
public struct LoadLimits: Sendable {
    public var set: SetValue.Limits
    public var hashEntries: Int64
    public var hashValue: Int64
    public var zsetEntries: Int64
    public var zsetValue: Int64

    public init(
        set: SetValue.Limits = SetValue.Limits(), hashEntries: Int64 = 128, hashValue: Int64 = 64,
        zsetEntries: Int64 = 128, zsetValue: Int64 = 64
    ) {
        self.set = set
        self.hashEntries = hashEntries
        self.hashValue = hashValue
        self.zsetEntries = zsetEntries
        self.zsetValue = zsetValue
    }
}
