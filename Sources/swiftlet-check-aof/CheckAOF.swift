import DataStore
import Persistence

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// swiftlet-check-aof [--fix | --truncate-to-timestamp <unix seconds>] <file.manifest|file.aof>:
/// checks an AOF as redis-check-aof does — a multi-part AOF through its manifest (base, then
/// incremental files), or one old-style file (commands, or an RDB preamble and commands) —
/// with the same messages. `--fix` cuts a torn tail off the last file (after asking);
/// `--truncate-to-timestamp` cuts the last file at the first `#TS:` annotation later than
/// the time given. Exit 0 when everything is valid (or was fixed), 1 otherwise.
@main
struct CheckAOF {
    static func main() {
        let args = Array(CommandLine.arguments.dropFirst())
        var checker = AOFChecker()
        let path: String
        switch args.count {
        case 1:
            path = args[0]
        case 2 where args[0] == "--fix":
            checker.fix = true
            path = args[1]
        case 3 where args[0] == "--truncate-to-timestamp":
            guard let ts = Int(args[1]) else {
                print("Invalid timestamp, aborting...")
                exit(1)
            }
            checker.toTimestamp = ts
            path = args[2]
        default:
            print(
                "Usage: \(CommandLine.arguments[0]) [--fix|--truncate-to-timestamp $timestamp] <file.manifest|file.aof>"
            )
            exit(1)
        }
        guard let data = SnapshotFile.contents(of: path) else {
            print("Cannot open file \(path): \(String(cString: strerror(errno)))")
            exit(1)
        }
        if isManifest(data) {
            checker.checkMultiPart(path, data)
        } else {
            checker.checkOldStyle(path, preamble: isRDB(data))
        }
        exit(0)
    }

    /// A file whose first non-comment line starts with `file` is a manifest.
    static func isManifest(_ data: [UInt8]) -> Bool {
        data.split(separator: 10).contains { line in
            line.first != UInt8(ascii: "#") && line.starts(with: Array("file".utf8))
        }
    }

    static func isRDB(_ data: [UInt8]) -> Bool {
        data.count >= 8 && data.starts(with: Array("REDIS".utf8))
    }
}

/// One run of the checker. As in redis-check-aof, the line count and the first error are
/// kept across the files of a multi-part AOF.
struct AOFChecker {
    enum Outcome {
        case valid, empty, truncated, truncatedAtTimestamp
    }

    var fix = false
    var toTimestamp = 0
    var line = 1
    var error: String?
    /// Where the item being read started (errors name it).
    var errorOffset = 0

    mutating func checkMultiPart(_ path: String, _ data: [UInt8]) {
        print("Start checking Multi Part AOF")
        let manifest: AOFManifest
        do {
            manifest = try AOFManifest.parse(data)
        } catch {
            print("\n*** FATAL AOF MANIFEST FILE ERROR ***\n")
            print("\(error)\n")
            exit(1)
        }
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { String(path[..<$0]) } ?? "."
        let total = (manifest.base == nil ? 0 : 1) + manifest.incrs.count
        var index = 0
        if let base = manifest.base {
            index += 1
            let file = directory + "/" + base.name
            let preamble = CheckAOF.isRDB(contents(file))
            print("Start to check BASE AOF (\(preamble ? "RDB" : "RESP") format).")
            report(check(base.name, file, last: index == total, preamble: preamble), kind: "BASE ", name: base.name)
        }
        if !manifest.incrs.isEmpty {
            print("Start to check INCR files.")
            for incr in manifest.incrs {
                index += 1
                let file = directory + "/" + incr.name
                report(check(incr.name, file, last: index == total, preamble: false), kind: "INCR ", name: incr.name)
            }
        }
        print("All AOF files and manifest are valid")
    }

    mutating func checkOldStyle(_ path: String, preamble: Bool) {
        print("Start checking Old-Style AOF")
        report(check(path, path, last: true, preamble: preamble), kind: "", name: path)
    }

    func report(_ outcome: Outcome, kind: String, name: String) {
        switch outcome {
        case .valid: print("\(kind)AOF \(name) is valid")
        case .empty: print("\(kind)AOF \(name) is empty")
        case .truncatedAtTimestamp: print("Successfully truncated AOF \(name) to timestamp \(toTimestamp)")
        case .truncated: print("Successfully truncated AOF \(name)")
        }
    }

    func contents(_ path: String) -> [UInt8] {
        guard let data = SnapshotFile.contents(of: path) else {
            print("Cannot open file \(path): \(String(cString: strerror(errno))), aborting...")
            exit(1)
        }
        return data
    }

    mutating func fail(_ message: String) {
        let hex = String(errorOffset, radix: 16)
        error = "0x" + String(repeating: " ", count: max(0, 16 - hex.count)) + hex + ": " + message
    }

    /// One file (checkSingleAof): its RDB preamble, then annotations and commands up to the
    /// end or the first fault.
    mutating func check(_ name: String, _ path: String, last: Bool, preamble: Bool) -> Outcome {
        let data = contents(path)
        guard !data.isEmpty else { return .empty }
        var reader = Reader(data: data)
        if preamble {
            var rdb = RDBReader(data)
            do {
                _ = try rdb.load(into: Keyspace(databases: 1024), now: 0)
            } catch {
                print("RDB preamble of AOF file is not sane, aborting.")
                exit(1)
            }
            reader.pos = rdb.pos
            print("RDB preamble is OK, proceeding with AOF tail...")
        }
        var multi = 0
        var validEnd = reader.pos
        while true {
            if multi == 0 { validEnd = reader.pos }
            guard reader.pos < data.count else { break }
            if data[reader.pos] == UInt8(ascii: "#") {
                if !annotation(&reader, path, last: last) { return .truncatedAtTimestamp }
            } else if data[reader.pos] == UInt8(ascii: "*") {
                if !command(&reader, path, multi: &multi) { break }
            } else {
                print("AOF \(name) format error")
                break
            }
        }
        if reader.pos >= data.count && multi != 0 && error == nil {
            fail("Reached EOF before reading EXEC for MULTI")
        }
        if let error { print(error) }
        let diff = data.count - validEnd
        if diff == 0 && toTimestamp != 0 {
            print("Truncate nothing in AOF \(name) to timestamp \(toTimestamp)")
            return .valid
        }
        print(
            "AOF analyzed: filename=\(name), size=\(data.count), ok_up_to=\(validEnd), ok_up_to_line=\(line), diff=\(diff)"
        )
        guard diff > 0 else { return .valid }
        guard fix else {
            print("AOF \(name) is not valid. Use the --fix option to try fixing it.")
            exit(1)
        }
        guard last else {
            print("Failed to truncate AOF \(name) because it is not the last file")
            exit(1)
        }
        print("This will shrink the AOF \(name) from \(data.count) bytes, with \(diff) bytes, to \(validEnd) bytes")
        print("Continue? [y/N]: ", terminator: "")
        guard let answer = readLine(), answer.lowercased().hasPrefix("y") else {
            print("Aborting...")
            exit(1)
        }
        guard truncate(path, off_t(validEnd)) == 0 else {
            print("Failed to truncate AOF \(name)")
            exit(1)
        }
        return .truncated
    }

    /// A `#` line; a `#TS:` later than --truncate-to-timestamp cuts the file there. False
    /// when it did.
    mutating func annotation(_ reader: inout Reader, _ path: String, last: Bool) -> Bool {
        let start = reader.pos
        let text = reader.line(max: 1024)
        guard toTimestamp != 0, text.starts(with: Array("#TS:".utf8)) else { return true }
        let digits = text.dropFirst(4).prefix { $0 != 13 }
        guard text.dropFirst(4 + digits.count).first == 13,
            let ts = Int(String(decoding: digits, as: UTF8.self))
        else {
            print("Invalid timestamp annotation")
            exit(1)
        }
        if ts <= toTimestamp { return true }
        if start == 0 {
            print("AOF \(path) has nothing before timestamp \(toTimestamp), aborting...")
            exit(1)
        }
        guard last else {
            print(
                "Failed to truncate AOF \(path) to timestamp \(toTimestamp) to offset \(start) because it is not the last file."
            )
            print(
                "If you insist, please delete all files after this file according to the manifest file and delete the corresponding records in manifest file manually. Then re-run redis-check-aof."
            )
            exit(1)
        }
        guard truncate(path, off_t(start)) == 0 else {
            print("Failed to truncate AOF \(path) to timestamp \(toTimestamp)")
            exit(1)
        }
        return false
    }

    /// One `*<argc>` command of `$<len>` strings, counting MULTI/EXEC nesting.
    mutating func command(_ reader: inout Reader, _ path: String, multi: inout Int) -> Bool {
        guard let argc = number(&reader, prefix: "*") else { return false }
        for i in 0..<max(0, argc) {
            guard let arg = string(&reader) else { return false }
            guard i == 0 else { continue }
            if equalsIgnoringCase(arg, "multi") {
                multi += 1
                if multi > 1 {
                    fail("Unexpected MULTI in AOF \(path)")
                    return false
                }
            } else if equalsIgnoringCase(arg, "exec") {
                multi -= 1
                if multi != 0 {
                    fail("Unexpected EXEC in AOF \(path)")
                    return false
                }
            }
        }
        return true
    }

    /// `<prefix><digits>\r\n`; nil at the end of the file or on a fault (recorded).
    mutating func number(_ reader: inout Reader, prefix: Character) -> Int? {
        errorOffset = reader.pos
        guard reader.pos < reader.data.count else { return nil }
        let text = reader.line(max: 127)
        guard text.first == prefix.asciiValue else {
            fail("Expected prefix '\(prefix)', got: '\(Character(UnicodeScalar(text.first ?? 0)))'")
            return nil
        }
        var digits = text.dropFirst()
        if digits.first == UInt8(ascii: "-") || digits.first == UInt8(ascii: "+") { digits = digits.dropFirst() }
        let numberEnd = digits.firstIndex { !(48...57).contains($0) } ?? text.endIndex
        let value = Int(String(decoding: text[text.startIndex + 1..<numberEnd], as: UTF8.self)) ?? 0
        guard newline(Array(text[numberEnd...])) else { return nil }
        return value
    }

    mutating func newline(_ bytes: [UInt8]) -> Bool {
        guard bytes.starts(with: [13, 10]) else {
            let b0 = bytes.count > 0 ? bytes[0] : 0
            let b1 = bytes.count > 1 ? bytes[1] : 0
            fail("Expected \\r\\n, got: \(hex2(b0))\(hex2(b1))")
            return false
        }
        line += 1
        return true
    }

    func hex2(_ b: UInt8) -> String {
        let h = String(b, radix: 16)
        return h.count == 1 ? "0" + h : h
    }

    /// `$<len>\r\n<bytes>\r\n`.
    mutating func string(_ reader: inout Reader) -> [UInt8]? {
        guard let length = number(&reader, prefix: "$") else { return nil }
        guard length >= 0 && length <= Int.max - 2 else {
            fail("Expected to read string of \(length) bytes, which is not in the suitable range")
            return nil
        }
        errorOffset = reader.pos
        let available = min(length + 2, reader.data.count - reader.pos)
        guard available == length + 2 else {
            fail("Expected to read \(length + 2) bytes, got \(available) bytes")
            reader.pos = reader.data.count
            return nil
        }
        let bytes = Array(reader.data[reader.pos..<reader.pos + length + 2])
        reader.pos += length + 2
        guard newline(Array(bytes.suffix(2))) else { return nil }
        return Array(bytes.prefix(length))
    }
}

/// The file's bytes and a read position, read as fgets does: through a newline, at most
/// `max` bytes.
struct Reader {
    let data: [UInt8]
    var pos = 0

    mutating func line(max: Int) -> ArraySlice<UInt8> {
        let limit = min(data.count, pos + max)
        var end = pos
        while end < limit {
            end += 1
            if data[end - 1] == 10 { break }
        }
        defer { pos = end }
        return data[pos..<end]
    }
}
