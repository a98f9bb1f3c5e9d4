import DataStore
import Persistence
import RESP

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The AOF writer is a propagation sink: every write reaches it through the one path.
extension AppendOnlyFile: PropagationSink {}

extension ServerState {
    /// Starts BGREWRITEAOF: a new incremental file takes the writes from now on, and a
    /// point-in-time snapshot becomes the new base. False when it could not start.
    @discardableResult
    public func startAOFRewrite() -> Bool {
        guard backgroundSave == nil else { return false }
        let aof: AppendOnlyFile
        if let current = self.aof {
            aof = current
        } else {
            aof = makeAppendOnlyFile()
            aof.policy = .no
            aof.detached = true
            if mkdir(aof.directory, 0o755) != 0 && errno != EEXIST { return false }
            if let text = SnapshotFile.contents(of: aof.manifestPath),
                let manifest = try? AOFManifest.parse(text)
            {
                aof.manifest = manifest
            }
        }
        guard aof.rewriteStarted == nil else { return false }
        aof.preamble = config.bool("aof-use-rdb-preamble")
        if !aof.waitingForFirstBase && !aof.detached {
            do {
                try aof.openNewIncr()
                try aof.persistManifest()
            } catch {
                persistenceLog?("Can't open new incr AOF: \(error)")
                aof.lastRewriteOK = false
                aof.consecutiveFailures += 1
                return false
            }
        }
        aof.rewriteStarted = monotonicMicrosNow()
        rewritingAOF = aof
        guard startBackgroundSave(purpose: .aofBase) else {
            rewritingAOF = nil
            aof.rewriteStarted = nil
            aof.lastRewriteOK = false
            aof.consecutiveFailures += 1
            return false
        }
        persistenceLog?("Background append only file rewriting started")
        return true
    }

    /// An AOF writer for the configured directory and name, with the configuration's fsync
    /// policy, base format and garbage collection.
    func makeAppendOnlyFile() -> AppendOnlyFile {
        let file = AppendOnlyFile(
            directory: config["appenddirname"], fileName: config["appendfilename"],
            policy: .init(config["appendfsync"]), log: persistenceLog)
        file.preamble = config.bool("aof-use-rdb-preamble")
        file.autoGC = !config.bool("aof-disable-auto-gc")
        file.annotatesTime = config.bool("aof-timestamp-enabled")
        return file
    }

    /// Seconds the running rewrite has taken so far (-1 when none runs).
    public var currentAOFRewriteSeconds: Int {
        guard let started = rewritingAOF?.rewriteStarted else { return -1 }
        return Int((monotonicMicrosNow() - started) / 1_000_000)
    }

    public var aofGrowthPercent: Int {
        guard let aof else { return 0 }
        return aof.currentSize * 100 / max(1, aof.baseSize) - 100
    }

    /// `auto-aof-rewrite-percentage` / `-min-size`: the AOF grew enough since the last
    /// rewrite (Redis's serverCron check).
    public func aofRewriteDue() -> Bool {
        guard let aof, !aof.waitingForFirstBase, aof.rewriteStarted == nil, backgroundSave == nil else {
            return false
        }
        let percentage = config.int("auto-aof-rewrite-percentage")
        guard percentage > 0, aof.currentSize > Int(config.int("auto-aof-rewrite-min-size")) else { return false }
        let base = max(1, aof.baseSize)
        return (aof.currentSize * 100 / base) - 100 >= Int(percentage)
    }

    /// CONFIG SET appendonly: starts logging (after a rewrite makes the first base) or
    /// stops, flushing what is buffered.
    public func setAppendOnly(_ on: Bool) -> String? {
        if on {
            guard aof == nil else { return nil }
            let file = makeAppendOnlyFile()
            if mkdir(file.directory, 0o755) != 0 && errno != EEXIST {
                return "Can't open the append-only file: \(String(cString: strerror(errno)))"
            }
            if let text = SnapshotFile.contents(of: file.manifestPath),
                let manifest = try? AOFManifest.parse(text)
            {
                file.manifest = manifest
            }
            file.waitingForFirstBase = true
            do { try file.openNewIncr(temporary: true) } catch { return "Can't open the append-only file: \(error)" }
            aof = file
            updateExpiryLogging()
            if backgroundSave != nil {
                // A BGSAVE runs: the first base follows it.
                aofRewriteScheduled = true
            } else if !startAOFRewrite() {
                aof = nil
                file.closeFile()
                return "Can't start the AOF rewrite"
            }
            return nil
        }
        guard let file = aof else { return nil }
        if file.rewriteStarted != nil, let bg = backgroundSave, bg.purpose == .aofBase {
            if bg.syncing {
                finishBackgroundSave()
            } else {
                bg.abandon()
                backgroundSave = nil
                rewritingAOF = nil
            }
        }
        file.closeFile()
        if file.waitingForFirstBase { unlink(file.incrPath) }
        aof = nil
        updateExpiryLogging()
        return nil
    }
}
