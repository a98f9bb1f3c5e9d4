import DataStore
import Persistence
import RESP

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// RDB snapshots: SAVE, BGSAVE, LASTSAVE, DEBUG RELOAD, the save points the cron checks, the
/// final save at shutdown and the load at start. The file is written to a temporary name,
/// fsynced, renamed over `dbfilename` in `dir`, and the directory fsynced, so a crash never
/// leaves a half-written dump. (Snapshots are written on the event loop for now: BGSAVE
/// answers as Redis does but does not yet run beside commands.)
extension ServerState {
    public var rdbPath: String { config["dir"] + "/" + config["dbfilename"] }

    /// Writes the dataset to `dbfilename`; nil on success, else why it failed.
    @discardableResult
    public func saveRDB() -> String? {
        let dir = config["dir"]
        let tmp = dir + "/temp-\(getpid()).rdb"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else {
            let reason = String(cString: strerror(errno))
            lastSaveOK = false
            return "Failed opening the temp RDB file \(tmp) (in server root dir \(dir)) for saving: \(reason)"
        }
        var writer = RDBWriter(fd: fd, compress: config.bool("rdbcompression"))
        writer.dataset(keyspace, now: clock(), aux: [("used-mem", String(MemoryInfo.usedMemory())), ("aof-base", "0")])
        var failure = writer.failure
        if failure == 0 && fsync(fd) != 0 { failure = errno }
        close(fd)
        if failure == 0 && rename(tmp, rdbPath) != 0 { failure = errno }
        if failure != 0 {
            unlink(tmp)
            lastSaveOK = false
            return "Write error saving DB on disk: \(String(cString: strerror(failure)))"
        }
        let dirFD = open(dir, O_RDONLY)
        if dirFD >= 0 {
            fsync(dirFD)
            close(dirFD)
        }
        dirty = 0
        lastSaveTime = clock() / 1000
        lastSaveOK = true
        return nil
    }

    /// Loads `dbfilename` if it exists; nil when there is none.
    public func loadRDB() throws(RDBError) -> (loaded: Int, expired: Int)? {
        let fd = open(rdbPath, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            data.append(contentsOf: chunk[0..<n])
        }
        var reader = RDBReader(data)
        let limits = SetValue.Limits(
            intsetEntries: Int(config.limits.setMaxIntsetEntries),
            listpackEntries: Int(config.limits.setMaxListpackEntries),
            listpackValue: Int(config.limits.setMaxListpackValue))
        return try reader.load(into: keyspace, now: clock(), limits: limits)
    }

    /// The cron's check of `save <seconds> <changes>` points.
    public func savePointReached() -> (seconds: Int64, changes: Int64)? {
        guard dirty > 0 else { return nil }
        let now = clock() / 1000
        for point in config.savePoints where Int64(dirty) >= point.changes && now - lastSaveTime >= point.seconds {
            return point
        }
        return nil
    }
}

enum PersistenceCommands {
    /// SAVE
    static func save(_ ctx: CommandContext) throws(CommandError) -> Reply {
        if let failure = ctx.server.saveRDB() {
            ctx.server.persistenceLog?(failure)
            throw .saveFailed
        }
        ctx.server.persistenceLog?("DB saved on disk")
        return .ok
    }

    /// BGSAVE [SCHEDULE]
    static func bgsave(_ ctx: CommandContext) throws(CommandError) -> Reply {
        if ctx.argc > 2 || (ctx.argc == 2 && !ctx.argIs(1, "schedule")) { throw .syntax }
        ctx.server.persistenceLog?("Background saving started")
        if let failure = ctx.server.saveRDB() {
            ctx.server.persistenceLog?(failure)
        } else {
            ctx.server.persistenceLog?("Background saving terminated with success")
        }
        return .simple("Background saving started")
    }

    /// LASTSAVE
    static func lastsave(_ ctx: CommandContext) throws(CommandError) -> Reply {
        .integer(ctx.server.lastSaveTime)
    }
}

extension CommandTable {
    static let persistenceRegistrations: [(String, Handler)] = [
        ("save", PersistenceCommands.save),
        ("bgsave", PersistenceCommands.bgsave),
        ("lastsave", PersistenceCommands.lastsave),
    ]
}
