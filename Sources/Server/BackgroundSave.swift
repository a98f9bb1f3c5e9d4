import DataStore
import Dispatch
import Persistence

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// BGSAVE without fork: a point-in-time snapshot written in short steps between commands.
/// The walker writes keys in slot order; before a write command touches a key the walker has
/// not reached yet, `preserve` writes that key first, in its state at the snapshot's start;
/// a key that did not exist then is remembered and never written. Commands that change whole
/// databases (FLUSHDB, FLUSHALL, SWAPDB) finish the snapshot first.
public final class BackgroundSave {
    struct DBKey: Hashable {
        var db: Int
        var key: [UInt8]
    }

    /// What the snapshot is for: `dbfilename`, or the base of a rewritten AOF.
    public enum Purpose {
        case rdb
        case aofBase
    }

    public let purpose: Purpose
    var writer: any SnapshotEncoder
    let fd: Int32
    let tempName: String
    let startTime: Int64
    let dirtyAtStart: Int
    /// The walker: database and next slot.
    var db = 0
    var cursor = 0
    /// The database the file's last SELECTDB named.
    var selected = -1
    var written: Set<DBKey> = []
    var absent: Set<DBKey> = []
    public private(set) var keys = 0
    /// Keys in the dataset when the snapshot started (INFO current_save_keys_total).
    public let totalKeys: Int
    /// Every key is written; only the fsync and rename remain (off the loop).
    var completed = false
    /// The sync's outcome, handed across threads: `done` is signalled once it is known.
    let done = DispatchSemaphore(value: 0)
    nonisolated(unsafe) var result: Int32 = 0
    var syncing = false

    /// The sync, recording its outcome for whoever waits on `done`.
    func runSync(_ target: String) -> Int32 {
        let r = sync(target)
        result = r
        done.signal()
        return r
    }

    init?(state: ServerState, purpose: Purpose = .rdb) {
        self.purpose = purpose
        tempName = purpose == .rdb ? "temp-\(getpid()).rdb" : "temp-rewriteaof-bg-\(getpid()).aof"
        fd = open(tempName, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { return nil }
        startTime = state.clock()
        dirtyAtStart = state.dirty
        totalKeys = state.keyspace.keyCount
        if purpose == .aofBase && !state.config.bool("aof-use-rdb-preamble") {
            writer = AOFCommandWriter(fd: fd)
        } else {
            writer = RDBWriter(
                fd: fd, compress: state.config.bool("rdbcompression"), version: state.rdbVersionToWrite,
                checksum: state.config.bool("rdbchecksum"))
        }
        writer.header(
            now: startTime,
            aux: [("used-mem", String(MemoryInfo.usedMemory())), ("aof-base", purpose == .rdb ? "0" : "1")])
        writer.functionLibraries(state.scriptEngine?.libraryCodes ?? [])
    }

    func write(_ e: KeyEntry, db index: Int) {
        if e.expireAt != KeyEntry.noExpiry && e.expireAt < startTime { return }
        if selected != index {
            writer.selectDB(index)
            selected = index
        }
        writer.entry(e)
        keys += 1
    }

    /// Before a write command: keeps `key` of database `index` as it is now.
    func preserve(_ keyspace: Keyspace, db index: Int, key: ArraySlice<UInt8>) {
        if completed { return }
        let k = DBKey(db: index, key: Array(key))
        if written.contains(k) || absent.contains(k) { return }
        guard let slot = key.withUnsafeBytes({ keyspace.databases[index].table.find($0) }) else {
            absent.insert(k)
            return
        }
        // Already behind the walker: it is in the file.
        if index < db || (index == db && slot < cursor) { return }
        write(keyspace.databases[index].table[slot], db: index)
        written.insert(k)
    }

    /// Writes keys for about `budget` microseconds; true when every database is done.
    func step(_ keyspace: Keyspace, budget: Int64) -> Bool {
        let start = monotonicMicrosNow()
        var n = 0
        while db < keyspace.databases.count {
            let count = keyspace.databases[db].table.slots.count
            while cursor < count {
                let slot = cursor
                cursor += 1
                keyspace.databases[db].table.slots.withUnsafeBufferPointer { slots in
                    let e = slots[slot]
                    guard e.isLive else { return }
                    if !written.isEmpty || !absent.isEmpty {
                        let k = DBKey(db: db, key: e.key)
                        if written.contains(k) || absent.contains(k) { return }
                    }
                    write(e, db: db)
                }
                n += 1
                if n % 256 == 0 && monotonicMicrosNow() - start > budget { return false }
            }
            db += 1
            cursor = 0
        }
        return true
    }

    /// EOF and checksum, written on the loop; then `sync` (off the loop).
    func writeTrailer() {
        writer.finish()
        completed = true
    }

    /// fsync, rename over `dbfilename`, fsync of the directory: the slow part, safe to run
    /// on another thread (it touches only the file).
    func sync(_ target: String) -> Int32 {
        let slash = target.lastIndex(of: "/")
        let directory = slash.map { String(target[..<$0]) } ?? "."
        return SnapshotFile.commit(
            fd: fd, tempName: tempName, target: target, directory: directory, writeFailure: writer.failure)
    }

    func abandon() {
        close(fd)
        unlink(tempName)
    }
}

extension ServerState {
    /// Seconds the running background save has taken so far (-1 when none runs).
    public var currentBackgroundSaveSeconds: Int {
        backgroundSave?.purpose != .rdb ? -1 : Int((monotonicMicrosNow() - backgroundSaveStarted) / 1_000_000)
    }

    /// Where a finished snapshot goes: `dbfilename`, or the next AOF base file.
    func snapshotTarget(_ bg: BackgroundSave) -> String {
        switch bg.purpose {
        case .rdb: return rdbPath
        case .aofBase: return rewritingAOF?.nextBasePath ?? rdbPath
        }
    }

    /// The RDB version files are written with: `rdb-version`, raised to 12 while hashes
    /// have field TTLs (older versions cannot hold them).
    public var rdbVersionToWrite: Int {
        let configured = Int(config.int("rdb-version"))
        guard configured < 12 else { return configured }
        // The index may still name hashes that lost their TTLs or were deleted.
        for db in keyspace.databases where !db.fieldExpiryKeys.isEmpty {
            for key in db.fieldExpiryKeys {
                if let slot = key.withUnsafeBytes({ db.table.find($0) }), db.table[slot].value.hasFieldExpiry {
                    return 12
                }
            }
        }
        return configured
    }

    /// Starts a background save; false when the file cannot be created.
    public func startBackgroundSave(purpose: BackgroundSave.Purpose = .rdb) -> Bool {
        guard backgroundSave == nil, let bg = BackgroundSave(state: self, purpose: purpose) else { return false }
        backgroundSave = bg
        backgroundSaveStarted = monotonicMicrosNow()
        backgroundSaveHook?()
        return true
    }

    /// Runs one step of the background save; true when its keys are all written (or there
    /// was none). The file is then synced by `backgroundSync` — off the loop when the runtime
    /// provides it — and `completeBackgroundSave` reports the outcome.
    @discardableResult
    public func stepBackgroundSave(budget: Int64) -> Bool {
        guard let bg = backgroundSave else { return true }
        if bg.completed { return true }
        guard bg.step(keyspace, budget: budget) else { return false }
        bg.writeTrailer()
        let target = snapshotTarget(bg)
        bg.syncing = true
        if let backgroundSync {
            backgroundSync({ bg.runSync(target) }, { failure in self.completeBackgroundSave(bg, failure) })
        } else {
            completeBackgroundSave(bg, bg.runSync(target))
        }
        return true
    }

    func completeBackgroundSave(_ bg: BackgroundSave, _ failure: Int32) {
        guard backgroundSave === bg else { return }
        backgroundSave = nil
        if bg.purpose == .aofBase {
            rewritingAOF?.rewriteDone(self, failure: failure)
            rewritingAOF = nil
            return
        }
        lastBackgroundSaveSeconds = Int((monotonicMicrosNow() - backgroundSaveStarted) / 1_000_000)
        if failure != 0 {
            lastSaveOK = false
            persistenceLog?("Background saving error: \(String(cString: strerror(failure)))")
        } else {
            dirty -= min(dirty, bg.dirtyAtStart)
            lastSaveTime = bg.startTime / 1000
            lastSaveOK = true
            persistenceLog?("Background saving terminated with success")
        }
    }

    /// Completes a background save at once (before FLUSHALL, SWAPDB, SAVE, shutdown).
    public func finishBackgroundSave() {
        guard let bg = backgroundSave else { return }
        if !bg.completed {
            while !bg.step(keyspace, budget: Int64.max / 2) {}
            bg.writeTrailer()
        }
        if bg.syncing {
            // Already syncing on another thread: wait for it (its later report is ignored).
            bg.done.wait()
            bg.done.signal()
            completeBackgroundSave(bg, bg.result)
        } else {
            bg.syncing = true
            completeBackgroundSave(bg, bg.runSync(snapshotTarget(bg)))
        }
    }

    /// Before a write command runs during a background save: its keys are preserved.
    func preserveForBackgroundSave(_ ctx: CommandContext, _ command: Command) {
        guard let bg = backgroundSave else { return }
        switch command.name {
        case "flushdb", "flushall", "swapdb":
            finishBackgroundSave()
            return
        default: break
        }
        for i in command.keyPositions(argc: ctx.argc, arg: { ctx.arg($0) }) where i < ctx.argc {
            bg.preserve(keyspace, db: ctx.session.db, key: ctx.arg(i))
        }
        // MOVE and COPY … DB n also write a key into another database.
        if command.name == "move", let target = parseInt64(ctx.arg(2)), target >= 0, target < keyspace.databases.count {
            bg.preserve(keyspace, db: Int(target), key: ctx.arg(1))
        }
        if command.name == "copy" {
            for j in 3..<max(3, ctx.argc - 1) where ctx.argIs(j, "db") {
                if let target = parseInt64(ctx.arg(j + 1)), target >= 0, target < keyspace.databases.count {
                    bg.preserve(keyspace, db: Int(target), key: ctx.arg(2))
                }
            }
        }
    }
}
