import DataStore
import Persistence

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension ServerState {
    /// Seconds the running background save has taken so far (-1 when none runs).
    public var currentBackgroundSaveSeconds: Int {
        guard let bg = backgroundSave, bg.purpose != .aofBase else { return -1 }
        return Int((monotonicMicrosNow() - backgroundSaveStarted) / 1_000_000)
    }

    /// Where a finished snapshot goes: `dbfilename`, or the next AOF base file.
    func snapshotTarget(_ bg: BackgroundSave) -> String {
        switch bg.purpose {
        case .rdb: return rdbPath
        case .aofBase: return rewritingAOF?.nextBasePath ?? rdbPath
        case .replication: return ""  // sent from its descriptor, never renamed
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

    /// A snapshot of the dataset as it is now, its file open; nil when it cannot be created.
    /// An RDB (a dump, a replica's snapshot) records the replication history it is a point
    /// of; an AOF base does not, as Redis's preamble does not.
    func makeBackgroundSave(purpose: BackgroundSave.Purpose) -> BackgroundSave? {
        BackgroundSave(
            purpose: purpose, now: clock(), dirty: dirty, totalKeys: keyspace.keyCount,
            commandBase: !config.bool("aof-use-rdb-preamble"), compress: config.bool("rdbcompression"),
            version: rdbVersionToWrite, checksum: config.bool("rdbchecksum"), usedMemory: MemoryInfo.usedMemory(),
            functionLibraries: scriptEngine?.libraryCodes ?? [], annotatesTime: config.bool("aof-timestamp-enabled"),
            aux: purpose == .aofBase ? [] : replicationSaveInfo)
    }

    /// Starts a background save; false when the file cannot be created.
    public func startBackgroundSave(purpose: BackgroundSave.Purpose = .rdb) -> Bool {
        guard backgroundSave == nil, let bg = makeBackgroundSave(purpose: purpose) else { return false }
        backgroundSave = bg
        backgroundSaveStarted = monotonicMicrosNow()
        backgroundSaveHook?()
        return true
    }

    /// Microseconds between the steps of the background save: `rdb-key-save-delay` slows a
    /// replication snapshot to a key a step, without holding the loop (Redis's tests keep
    /// replicas in their full sync that way; Redis's fork child sleeps instead).
    public var backgroundSaveStepInterval: Int64 {
        guard backgroundSave?.purpose == .replication else { return 1500 }
        return max(1500, config.int("rdb-key-save-delay"))
    }

    /// Runs one step of the background save; true when its keys are all written (or there
    /// was none). The file is then synced by `backgroundSync` — off the loop when the runtime
    /// provides it — and `completeBackgroundSave` reports the outcome.
    @discardableResult
    public func stepBackgroundSave(budget: Int64) -> Bool {
        guard let bg = backgroundSave else { return true }
        if bg.completed { return true }
        // rdb-key-save-delay slows only saves run at once (SAVE, shutdown): Redis's tests slow
        // a background save to kill its fork child, and one without a child would not end.
        let slowed = bg.purpose == .replication && config.int("rdb-key-save-delay") > 0
        guard bg.step(keyspace, budget: budget, maxKeys: slowed ? 1 : Int.max) else { return false }
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

    /// Reports a finished background save; `errno` is 0 or why it failed.
    func completeBackgroundSave(_ bg: BackgroundSave, _ errno: Int32) {
        guard backgroundSave === bg else { return }
        if bg.purpose == .replication { return completeReplicationSave(bg, errno) }
        backgroundSave = nil
        let failure = errno == 0 ? nil : FileError(errno)
        if bg.purpose == .aofBase {
            rewritingAOF?.rewriteDone(failure: failure)
            rewritingAOF = nil
            return
        }
        lastBackgroundSaveSeconds = Int((monotonicMicrosNow() - backgroundSaveStarted) / 1_000_000)
        if let failure {
            lastSaveOK = false
            persistenceLog?("Background saving error: \(failure)")
        } else {
            dirty -= min(dirty, bg.dirtyAtStart)
            lastSaveTime = bg.startTime / 1000
            lastSaveOK = true
            persistenceLog?("Background saving terminated with success")
        }
    }

    /// At shutdown the running background save is dropped, not finished (Redis kills its
    /// child): its temporary file goes, nothing is renamed or sent. One already syncing on
    /// another thread is waited for. Returns what it was for, if one ran.
    @discardableResult
    public func abandonBackgroundSave() -> BackgroundSave.Purpose? {
        guard let bg = backgroundSave else { return nil }
        if bg.syncing {
            finishBackgroundSave()
            return bg.purpose
        }
        bg.abandon()
        backgroundSave = nil
        if bg.purpose == .aofBase {
            rewritingAOF?.rewriteStarted = nil
            rewritingAOF = nil
        }
        return bg.purpose
    }

    /// Completes a background save at once (before FLUSHALL, SWAPDB, SAVE).
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
