import DataStore
import Persistence

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// swiftlet-check-rdb <file.rdb>: reads a snapshot the way the server loads it and reports,
/// like redis-check-rdb (exit 0 when the file is sound, 1 otherwise).
func monotonicMillis() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}

func writeOut(_ text: String) {
    let bytes = Array(text.utf8)
    bytes.withUnsafeBytes { _ = write(1, $0.baseAddress, $0.count) }
}

@main
struct CheckRDB {
    static func main() {
        let args = CommandLine.arguments
        guard args.count == 2 else {
            print("Usage: \(args[0]) <rdb-file-name>")
            exit(1)
        }
        let path = args[1]
        print("[offset 0] Checking RDB file \(path)")
        guard let data = SnapshotFile.contents(of: path) else {
            print("--- RDB ERROR DETECTED ---")
            print("Cannot open file: \(String(cString: strerror(errno)))")
            exit(1)
        }
        var reader = RDBReader(data)
        // Every key, expired ones included: the check loads as of the epoch.
        let keyspace = Keyspace(databases: 1024)
        // On a terminal a big file shows how far the check has gone, on one line redrawn
        // at most ten times a second and erased at the end (a pipe gets the report only).
        let terminal = isatty(1) != 0
        var lastDraw = monotonicMillis()
        do {
            try reader.begin()
            while try !reader.step(into: keyspace, now: 0, limits: LoadLimits(), maxKeys: 10_000) {
                guard terminal else { continue }
                let now = monotonicMillis()
                if now - lastDraw < 100 { continue }
                lastDraw = now
                let percent = data.isEmpty ? 100 : reader.pos * 100 / data.count
                writeOut("\r[offset \(reader.pos)] \(percent)% checked, \(reader.loaded) keys read\u{1b}[K")
            }
            if terminal { writeOut("\r\u{1b}[K") }
            let loaded = reader.loaded
            for (k, v) in reader.aux { print("[offset ?] AUX FIELD \(k) = '\(v)'") }
            print("[offset \(data.count)] Checksum OK")
            print("[info] \(loaded) keys read")
            print("[info] RDB format version \(reader.version)")
            print("\\o/ RDB looks OK! \\o/")
        } catch {
            print("--- RDB ERROR DETECTED ---")
            print("[additional info] \(error)")
            exit(1)
        }
    }
}
