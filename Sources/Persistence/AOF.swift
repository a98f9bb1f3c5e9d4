import DataStore
import RESP

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

public struct AOFError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

/// Redis 7's multi-part AOF manifest (`<appendfilename>.manifest` in `appenddirname`): one
/// base file (an RDB, or commands), the incremental files written since, in order, and
/// history files a rewrite replaced, waiting to be deleted.
public struct AOFManifest: Equatable, Sendable {
    public enum FileType: String, Sendable {
        case base = "b"
        case history = "h"
        case incr = "i"
    }

    public struct Entry: Equatable, Sendable {
        public var name: String
        public var seq: Int
        public var type: FileType
        public init(name: String, seq: Int, type: FileType) {
            self.name = name
            self.seq = seq
            self.type = type
        }
    }

    public var base: Entry?
    public var incrs: [Entry] = []
    public var history: [Entry] = []

    public init() {}

    /// The highest sequence numbers in use (new files take the next ones).
    public var baseSeq: Int { max(base?.seq ?? 0, history.filter { $0.name.contains(".base.") }.map(\.seq).max() ?? 0) }
    public var incrSeq: Int {
        max(incrs.map(\.seq).max() ?? 0, history.filter { $0.name.contains(".incr.") }.map(\.seq).max() ?? 0)
    }

    /// Reads a manifest as Redis's aofLoadManifestFromFile does: `file <name> seq <n> type
    /// <b|h|i>` per line (keys in any case, names quoted as sdssplitargs reads them, more
    /// pairs allowed for later versions), `#` comment lines; a blank line, a line of 1024
    /// bytes or more or one without its newline is refused with Redis's message.
    public static func parse(_ bytes: [UInt8]) throws(AOFError) -> AOFManifest {
        var manifest = AOFManifest()
        guard !bytes.isEmpty else { throw AOFError("Found an empty AOF manifest") }
        let maxLine = 1024
        var start = 0
        while start < bytes.count {
            let end = bytes[start...].firstIndex(of: 10)
            let lineEnd = end ?? bytes.count
            if bytes[start] == UInt8(ascii: "#") && lineEnd - start < maxLine {
                start = lineEnd + 1
                continue
            }
            guard let end, end - start < maxLine else {
                throw AOFError("The AOF manifest file contains too long line")
            }
            let line = bytes[start..<end]
            start = end + 1
            guard let words = splitArgs(Array(line)), !words.isEmpty, words.count >= 6, words.count % 2 == 0
            else { throw AOFError("Invalid AOF manifest file format") }
            var name: String?
            var seq = 0
            var typeCode: UInt8 = 0
            for i in stride(from: 0, to: words.count, by: 2) {
                switch String(decoding: words[i], as: UTF8.self).lowercased() {
                case "file":
                    guard !words[i + 1].contains(UInt8(ascii: "/")) else {
                        throw AOFError("File can't be a path, just a filename")
                    }
                    name = String(decoding: words[i + 1], as: UTF8.self)
                case "seq": seq = Int(String(decoding: words[i + 1], as: UTF8.self)) ?? 0
                case "type": typeCode = words[i + 1].first ?? 0
                default: continue
                }
            }
            guard let name, !name.isEmpty, seq != 0, typeCode != 0 else {
                throw AOFError("Invalid AOF manifest file format")
            }
            guard let type = FileType(rawValue: String(UnicodeScalar(typeCode))) else {
                throw AOFError("Unknown AOF file type")
            }
            let entry = Entry(name: name, seq: seq, type: type)
            switch type {
            case .base:
                if manifest.base != nil { throw AOFError("Found duplicate base file information") }
                manifest.base = entry
            case .history: manifest.history.append(entry)
            case .incr:
                if seq <= manifest.incrs.last?.seq ?? 0 {
                    throw AOFError("Found a non-monotonic sequence number")
                }
                manifest.incrs.append(entry)
            }
        }
        return manifest
    }

    public static func parse(_ text: String) throws(AOFError) -> AOFManifest {
        try parse(Array(text.utf8))
    }

    /// The manifest's text, in Redis's order: base, history, incremental files.
    public var text: String {
        var lines: [String] = []
        if let base { lines.append(Self.line(base)) }
        for h in history { lines.append(Self.line(h)) }
        for i in incrs { lines.append(Self.line(i)) }
        return lines.map { $0 + "\n" }.joined()
    }

    /// aofInfoFormat: a name with spaces or unprintable bytes is written quoted.
    static func line(_ e: Entry) -> String {
        let name = Repr.needsQuoting(e.name.utf8) ? Repr.quoted(e.name) : e.name
        return "file \(name) seq \(e.seq) type \(e.type.rawValue)"
    }
}

/// The AOF's command form (catAppendOnlyGenericCommand): a RESP array of bulk strings.
public enum AOFEncoding {
    /// `*N` or `$N` and CRLF, the digits written in place (no array per header: this runs
    /// for every argument of every logged command).
    @inlinable @inline(__always)
    public static func appendHeader(_ count: Int, _ marker: UInt8, into out: inout [UInt8]) {
        out.append(marker)
        if count < 10 {
            out.append(48 &+ UInt8(truncatingIfNeeded: count))
        } else {
            var digits = 1
            var rest = count / 10
            while rest > 0 {
                digits += 1
                rest /= 10
            }
            let start = out.count
            out.append(contentsOf: repeatElement(0, count: digits))
            var v = count
            var i = start + digits - 1
            while i >= start {
                out[i] = 48 &+ UInt8(truncatingIfNeeded: v % 10)
                v /= 10
                i -= 1
            }
        }
        out.append(13)
        out.append(10)
    }

    @inlinable @inline(__always)
    public static func appendBulk<C: Collection>(_ arg: C, into out: inout [UInt8]) where C.Element == UInt8 {
        appendHeader(arg.count, UInt8(ascii: "$"), into: &out)
        out.append(contentsOf: arg)
        out.append(13)
        out.append(10)
    }

    /// `SELECT <db>`, as the AOF, its command-form base and the replication stream write it.
    public static func appendSelect(_ db: Int, into out: inout [UInt8]) {
        append([Array("SELECT".utf8), formatInt64(Int64(db))], into: &out)
    }

    public static func append(_ args: [[UInt8]], into out: inout [UInt8]) {
        appendHeader(args.count, UInt8(ascii: "*"), into: &out)
        for a in args { appendBulk(a, into: &out) }
    }
}

/// Writes a dataset as AOF commands (Redis's rewriteAppendOnlyFileRio, for
/// `aof-use-rdb-preamble no`): SELECT per database, one creating command per key in batches
/// of 64 items, PEXPIREAT for keys and HPEXPIREAT for hash fields with a time to live.
public struct AOFCommandWriter: SnapshotEncoder {
    var buffer: [UInt8] = []
    let fd: Int32
    public private(set) var failure: Int32 = 0
    static let itemsPerCommand = 64

    public init(fd: Int32) {
        self.fd = fd
        buffer.reserveCapacity(1 << 16)
    }

    public var bytes: [UInt8] { buffer }

    mutating func drain(force: Bool = false) {
        guard fd >= 0, force || buffer.count >= 1 << 20 else { return }
        failure = SnapshotFile.writeAll(fd, buffer, failure: failure)
        buffer.removeAll(keepingCapacity: true)
    }

    /// `aof-timestamp-enabled`: the base starts with a `#TS:<unix seconds>` annotation.
    public var annotatesTime = false

    public mutating func header(now: Int64, aux: [(String, String)]) {
        if annotatesTime { buffer.append(contentsOf: Array("#TS:\(now / 1000)\r\n".utf8)) }
    }

    public mutating func selectDB(_ index: Int) {
        AOFEncoding.appendSelect(index, into: &buffer)
    }

    /// Redis's rewriteFunctions: FUNCTION LOAD per library.
    public mutating func functionLibraries(_ codes: [[UInt8]]) {
        for code in codes { AOFEncoding.append([Array("FUNCTION".utf8), Array("LOAD".utf8), code], into: &buffer) }
    }

    mutating func batched(_ command: String, _ key: [UInt8], _ items: [[UInt8]], per: Int) {
        var i = 0
        while i < items.count {
            let end = min(items.count, i + Self.itemsPerCommand * per)
            AOFEncoding.appendHeader(2 + end - i, UInt8(ascii: "*"), into: &buffer)
            AOFEncoding.appendBulk(command.utf8, into: &buffer)
            AOFEncoding.appendBulk(key, into: &buffer)
            for j in i..<end { AOFEncoding.appendBulk(items[j], into: &buffer) }
            i = end
        }
    }

    public mutating func entry(key borrowed: UnsafeRawBufferPointer, value: Value, expireAt: Int64) {
        let key = Array(borrowed)  // command form: the key goes into argument arrays
        switch value {
        case .string, .rawString, .int:
            AOFEncoding.append([Array("SET".utf8), key, value.stringBytes ?? []], into: &buffer)
        case .list(let l):
            batched("RPUSH", key, Array(l.items), per: 1)
        case .set(let s):
            batched("SADD", key, s.allMembers, per: 1)
        case .zset(let z):
            var items: [[UInt8]] = []
            items.reserveCapacity(z.count * 2)
            for e in z.entries {
                items.append(Array(formatDouble(e.score).utf8))
                items.append(e.member)
            }
            batched("ZADD", key, items, per: 2)
        case .hash(let h):
            var items: [[UInt8]] = []
            h.forEach { f, v in
                items.append(Array(f))
                items.append(Array(v))
            }
            batched("HMSET", key, items, per: 2)
            for (field, at) in h.fieldExpires.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
                AOFEncoding.append(
                    [Array("HPEXPIREAT".utf8), key, formatInt64(at), Array("FIELDS".utf8), [UInt8(ascii: "1")], field],
                    into: &buffer)
            }
        case .stream(let s):
            streamCommands(key, s)
        }
        if expireAt != KeyEntry.noExpiry {
            AOFEncoding.append([Array("PEXPIREAT".utf8), key, formatInt64(expireAt)], into: &buffer)
        }
        drain()
    }

    public mutating func finish() {
        drain(force: true)
    }

    /// Redis's rewriteStreamObject: XADD per entry (or `XADD … MAXLEN 0` for an empty
    /// stream), XSETID with the counters, then each group with its consumers and their
    /// pending entries (XCLAIM … FORCE) or XGROUP CREATECONSUMER for consumers without any.
    mutating func streamCommands(_ key: [UInt8], _ s: StreamValue) {
        func word(_ w: String) -> [UInt8] { Array(w.utf8) }
        if s.length > 0 {
            s.forEach { e in
                AOFEncoding.append([word("XADD"), key, e.id.bytes] + e.fields, into: &buffer)
            }
        } else {
            AOFEncoding.append(
                [word("XADD"), key, word("MAXLEN"), word("0"), StreamID(ms: 0, seq: 1).bytes, word("x"), word("y")],
                into: &buffer)
        }
        AOFEncoding.append(
            [
                word("XSETID"), key, s.lastID.bytes, word("ENTRIESADDED"), formatInt64(s.entriesAdded),
                word("MAXDELETEDID"), s.maxDeletedID.bytes,
            ], into: &buffer)
        for g in s.groups {
            AOFEncoding.append(
                [
                    word("XGROUP"), word("CREATE"), key, g.name, g.lastID.bytes, word("ENTRIESREAD"),
                    formatInt64(g.entriesRead),
                ], into: &buffer)
            for c in g.consumers {
                if c.pel.isEmpty {
                    AOFEncoding.append([word("XGROUP"), word("CREATECONSUMER"), key, g.name, c.name], into: &buffer)
                    continue
                }
                for id in c.pel.ids {
                    guard let nack = g.nacks[id] else { continue }
                    AOFEncoding.append(
                        [
                            word("XCLAIM"), key, g.name, c.name, word("0"), id.bytes, word("TIME"),
                            formatInt64(nack.deliveryTime), word("RETRYCOUNT"), formatInt64(nack.deliveryCount),
                            word("JUSTID"), word("FORCE"),
                        ], into: &buffer)
                }
            }
        }
    }
}

/// What a snapshot is written through: the RDB writer, or the AOF command writer for an
/// AOF base without an RDB preamble.
public protocol SnapshotEncoder {
    var failure: Int32 { get }
    mutating func header(now: Int64, aux: [(String, String)])
    mutating func selectDB(_ index: Int)
    /// One key; its bytes are borrowed (short keys live inside the table's slot).
    mutating func entry(key: UnsafeRawBufferPointer, value: Value, expireAt: Int64)
    mutating func finish()
    /// Function libraries, written before the keys.
    mutating func functionLibraries(_ codes: [[UInt8]])
}

extension SnapshotEncoder {
    public mutating func entry(key: [UInt8], value: Value, expireAt: Int64) {
        key.withUnsafeBytes { entry(key: $0, value: value, expireAt: expireAt) }
    }

    /// A table slot's key and value, the key's bytes borrowed from the slot.
    public mutating func entry(_ e: KeyEntry) {
        e.withKey { entry(key: $0, value: e.value, expireAt: e.expireAt) }
    }
}

/// Reads the commands of an AOF file (Redis's loadSingleAppendOnlyFile): an optional RDB
/// preamble, then RESP arrays; lines starting with `#` are annotations and skipped.
public struct AOFCommandScanner {
    public enum Item {
        case command([[UInt8]])
        /// The file ends inside a command: the valid part ends at `validUpTo`.
        case truncated
        /// Something that is not a command at `validUpTo`.
        case bad(String)
        case end
    }

    let data: [UInt8]
    public private(set) var pos: Int
    /// The end of the last complete command (or annotation): what `--fix` keeps.
    public private(set) var validUpTo: Int
    /// Lines read so far (redis-check-aof reports them).
    public private(set) var line = 1

    public init(_ data: [UInt8], from start: Int = 0) {
        self.data = data
        pos = start
        validUpTo = start
    }

    /// A decimal up to CRLF after `marker` at `pos`.
    mutating func number(_ marker: UInt8) -> Int?? {
        guard pos < data.count else { return .some(nil) }
        guard data[pos] == marker else { return nil }
        var i = pos + 1
        var n = 0
        var digits = 0
        var negative = false
        if i < data.count && data[i] == UInt8(ascii: "-") {
            negative = true
            i += 1
        }
        while i < data.count && data[i] >= 48 && data[i] <= 57 {
            n = n &* 10 &+ Int(data[i] - 48)
            digits += 1
            i += 1
            if digits > 18 { return nil }
        }
        if i + 1 >= data.count { return .some(nil) }
        guard digits > 0, data[i] == 13, data[i + 1] == 10 else { return nil }
        pos = i + 2
        line += 1
        return .some(negative ? -n : n)
    }

    public mutating func next() -> Item {
        while pos < data.count && data[pos] == UInt8(ascii: "#") {
            guard let eol = data[pos...].firstIndex(of: 10) else { return .truncated }
            pos = eol + 1
            line += 1
            validUpTo = pos
        }
        guard pos < data.count else { return .end }
        guard let count = number(UInt8(ascii: "*")) else { return .bad("Bad file format reading the append only file") }
        guard let argc = count else { return .truncated }
        guard argc >= 1 else { return .bad("Bad file format reading the append only file") }
        var args: [[UInt8]] = []
        // The count is the file's word: reserve for a plausible command, not for any number.
        args.reserveCapacity(min(argc, 1024))
        for _ in 0..<argc {
            guard let length = number(UInt8(ascii: "$")) else {
                return .bad("Bad file format reading the append only file")
            }
            guard let len = length else { return .truncated }
            guard len >= 0 else { return .bad("Bad file format reading the append only file") }
            guard pos + len + 2 <= data.count else { return .truncated }
            guard data[pos + len] == 13, data[pos + len + 1] == 10 else {
                return .bad("Bad file format reading the append only file")
            }
            args.append(Array(data[pos..<(pos + len)]))
            pos += len + 2
            line += 1
        }
        validUpTo = pos
        return .command(args)
    }
}

extension SnapshotFile {
    /// Writes all of `bytes` to `fd` (retrying short writes); the errno of a failure, or
    /// the earlier `failure` when there was one.
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8], failure: Int32 = 0) -> Int32 {
        guard failure == 0 else { return failure }
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return errno
            }
            offset += n
        }
        return 0
    }

    /// fsyncs a directory (after a rename in it).
    public static func syncDirectory(_ path: String) {
        let dirFD = open(path, O_RDONLY)
        if dirFD >= 0 {
            fsync(dirFD)
            close(dirFD)
        }
    }

    /// Writes a small file whole under a temporary name, fsyncs it and renames it over
    /// `path` (the manifest).
    public static func replace(_ path: String, with bytes: [UInt8], directory: String) throws(FileError) {
        let temp = directory + "/temp-" + String(path.split(separator: "/").last ?? "")
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw .current }
        try commit(fd: fd, tempName: temp, target: path, directory: directory, writeFailure: writeAll(fd, bytes))
    }
}
