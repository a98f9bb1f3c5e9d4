import DataStore
import Persistence

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// swiftlet-check-rdb <file.rdb>: reads a snapshot the way the server loads it and reports,
/// like redis-check-rdb (exit 0 when the file is sound, 1 otherwise).
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
        do {
            let (loaded, _) = try reader.load(into: keyspace, now: 0)
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
