import DataStore
import Glibc
import Persistence
import RESP

extension ServerState {
    /// `dbfilename`, relative to `dir` — the working directory, which `dir` sets — as
    /// Redis opens it.
    public var rdbPath: String { config["dbfilename"] }

    /// Writes the dataset to `dbfilename`; nil on success, else why it failed.
    @discardableResult
    public func saveRDB() -> String? {
        // A rewrite's snapshot in progress is finished first (one walker at a time).
        finishBackgroundSave()
        // The background save's writer, run to the end at once.
        guard let snapshot = makeBackgroundSave(purpose: .rdb) else {
            let reason = FileError.current
            lastSaveOK = false
            return
                "Failed opening the temp RDB file temp-\(getpid()).rdb (in server root dir \(config["dir"])) for saving: \(reason)"
        }
        let keyDelay = config.int("rdb-key-save-delay")
        while !snapshot.step(keyspace, budget: Int64.max / 2, keyDelay: keyDelay) {}
        snapshot.writeTrailer()
        do {
            try snapshot.sync(rdbPath)
        } catch {
            lastSaveOK = false
            return "Write error saving DB on disk: \(error)"
        }
        dirty = 0
        lastSaveTime = clock() / 1000
        lastSaveOK = true
        return nil
    }

    /// Loads `dbfilename` (DEBUG RELOAD) if it exists, its keys and libraries replacing
    /// those of the same names when `merging`: false when one of its function libraries
    /// could not be loaded (one of its name exists and may not be replaced).
    public func loadRDB(merging: Bool) throws(RDBError) -> Bool {
        guard let data = SnapshotFile.contents(of: rdbPath) else { return true }
        var reader = RDBReader(data)
        reader.verifyChecksum = config.bool("rdbchecksum")
        reader.replacesExistingKeys = merging
        _ = try reader.load(into: keyspace, now: clock(), limits: loadLimits)
        lastLoadKeys = (reader.loaded, reader.expired)
        var loaded = true
        for code in reader.takeFunctionLibraries() where !loadFunctionLibrary(code, replace: merging) {
            loaded = false
        }
        return loaded
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
