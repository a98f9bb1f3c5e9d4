import DataStore
import Persistence

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// swiftlet-check-aof [--fix] <file.manifest|file.aof>: checks an AOF as redis-check-aof does —
/// a multi-part AOF through its manifest (base, then incremental files), or one old-style
/// file — and with --fix cuts a torn tail off the last file (after asking). Exit 0 when
/// everything is valid (or was fixed), 1 otherwise.
@main
struct CheckAOF {
    static func main() {
        var args = Array(CommandLine.arguments.dropFirst())
        let fix = args.first == "--fix"
        if fix { args.removeFirst() }
        guard args.count == 1 else {
            print("Usage: \(CommandLine.arguments[0]) [--fix] <file.manifest|file.aof>")
            exit(1)
        }
        let path = args[0]
        guard let data = SnapshotFile.contents(of: path) else {
            print("Cannot open file \(path): \(String(cString: strerror(errno)))")
            exit(1)
        }
        if path.hasSuffix(".manifest") {
            checkMultiPart(path, String(decoding: data, as: UTF8.self), fix: fix)
        } else {
            print("Start checking Old-Style AOF")
            let valid = checkFile(path, data, last: true, fix: fix)
            print(valid ? "AOF \(path) is valid" : "AOF \(path) is not valid. Use the --fix option to try fixing it.")
            exit(valid ? 0 : 1)
        }
    }

    static func checkMultiPart(_ path: String, _ text: String, fix: Bool) {
        print("Start checking Multi Part AOF")
        let manifest: AOFManifest
        do {
            manifest = try AOFManifest.parse(text)
        } catch {
            print("Invalid AOF manifest file format: \(error)")
            exit(1)
        }
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { String(path[..<$0]) + "/" } ?? ""
        var files: [(AOFManifest.Entry, String)] = []
        if let base = manifest.base { files.append((base, "BASE")) }
        for incr in manifest.incrs { files.append((incr, "INCR")) }
        for (i, (entry, kind)) in files.enumerated() {
            if i == 1 || (i == 0 && kind == "INCR") { print("Start to check INCR files.") }
            let file = directory + entry.name
            guard let data = SnapshotFile.contents(of: file) else {
                print("Cannot open file \(file): \(String(cString: strerror(errno)))")
                exit(1)
            }
            if kind == "BASE" {
                print("Start to check BASE AOF (\(data.starts(with: Array("REDIS".utf8)) ? "RDB" : "AOF") format).")
            }
            let valid = checkFile(file, data, name: entry.name, last: i == files.count - 1, fix: fix)
            guard valid else {
                print("\(kind) AOF \(entry.name) is not valid. Use the --fix option to try fixing it.")
                exit(1)
            }
            print("\(kind) AOF \(entry.name) is valid")
        }
        print("All AOF files and manifest are valid")
    }

    /// One file: its RDB part (a base or a preamble), then its commands. Returns whether it
    /// is valid (or was fixed).
    static func checkFile(_ path: String, _ data: [UInt8], name: String? = nil, last: Bool, fix: Bool) -> Bool {
        var start = 0
        if data.starts(with: Array("REDIS".utf8)) {
            var reader = RDBReader(data)
            do {
                _ = try reader.load(into: Keyspace(databases: 1024), now: 0)
            } catch {
                print("RDB preamble of AOF file is not sane, aborting: \(error)")
                return false
            }
            start = reader.pos
            print("RDB preamble is OK, proceeding with AOF tail...")
        }
        var scanner = AOFCommandScanner(data, from: start)
        var multiAt: (offset: Int, line: Int)?
        var problem: String?
        var validEnd = start
        var validLine = 1
        scan: while true {
            let before = (scanner.validUpTo, scanner.line)
            switch scanner.next() {
            case .command(let args):
                if equalsIgnoringCase(args[0], "multi") {
                    if multiAt != nil {
                        problem = "Unexpected MULTI"
                        break scan
                    }
                    multiAt = before
                } else if equalsIgnoringCase(args[0], "exec") {
                    if multiAt == nil {
                        problem = "Unexpected EXEC"
                        break scan
                    }
                    multiAt = nil
                }
                (validEnd, validLine) = (scanner.validUpTo, scanner.line)
            case .end:
                (validEnd, validLine) = (scanner.validUpTo, scanner.line)
                break scan
            case .truncated:
                problem = "Unexpected EOF"
                break scan
            case .bad(let why):
                problem = why
                break scan
            }
        }
        if let multi = multiAt {
            if problem == nil { print("Reached EOF before reading EXEC for MULTI") }
            (validEnd, validLine) = multi
        }
        let diff = data.count - validEnd
        print(
            "AOF analyzed: filename=\(name ?? path), size=\(data.count), ok_up_to=\(validEnd), ok_up_to_line=\(validLine), diff=\(diff)"
        )
        if let problem { print("\(problem) at offset \(validEnd)") }
        guard diff > 0 else { return true }
        guard fix else { return false }
        guard last else {
            print("Failed to truncate AOF \(path) because it is not the last file")
            return false
        }
        print("This will shrink the AOF \(path) from \(data.count) bytes, with \(diff) bytes, to \(validEnd) bytes")
        print("Continue? [y/N]: ", terminator: "")
        guard let answer = readLine(), answer.lowercased().hasPrefix("y") else {
            print("Aborting...")
            exit(1)
        }
        guard truncate(path, off_t(validEnd)) == 0 else {
            print("Failed to truncate AOF \(path): \(String(cString: strerror(errno)))")
            return false
        }
        print("Successfully truncated AOF \(path)")
        return true
    }
}
