import DataStore
import Persistence
import RESP

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The append-only file, in Redis 7's multi-part layout: `appenddirname` holds a manifest, one
/// base file (an RDB when `aof-use-rdb-preamble`, else commands) and the incremental files
/// written since. Every write command is logged in a form that replays the same (relative
/// times made absolute, random picks named), buffered during a loop turn and written before
/// the replies go out (`appendfsync always` also fsyncs then; `everysec` fsyncs off the loop
/// once a second). BGREWRITEAOF opens a new incremental file and writes a new base from a
/// point-in-time view of the dataset — the background save's walker, no fork.
public final class AppendOnlyFile: PropagationSink {
    public enum FsyncPolicy {
        case always, everysec, no

        init(_ name: String) {
            switch name {
            case "always": self = .always
            case "no": self = .no
            default: self = .everysec
            }
        }
    }

    /// `appenddirname` and `appendfilename`.
    public let directory: String
    public let fileName: String
    var manifest: AOFManifest
    /// The incremental file commands are appended to.
    var fd: Int32 = -1
    var incrPath = ""
    /// Commands of the current loop turn not yet written (Redis's aof_buf).
    public internal(set) var buffer: [UInt8] = []
    /// The database the file's last SELECT named.
    var selectedDB = -1
    public var policy: FsyncPolicy
    var lastFsync = monotonicMicrosNow()
    var unsynced = false
    public internal(set) var fsyncInFlight = false
    public internal(set) var delayedFsyncs = 0
    /// Size of every file of the AOF, and of all of it after the last rewrite or load
    /// (auto-aof-rewrite-percentage grows from there).
    public internal(set) var currentSize = 0
    public internal(set) var baseSize = 0
    public internal(set) var lastWriteError: Int32 = 0
    /// A rewrite runs: its new incremental file is already in use.
    public internal(set) var rewriteStarted: Int64?
    public internal(set) var lastRewriteSeconds = -1
    public internal(set) var lastRewriteOK = true
    public internal(set) var rewrites = 0
    public internal(set) var consecutiveFailures = 0
    /// Set while no base exists yet (CONFIG SET appendonly yes): the manifest is written
    /// when the first rewrite ends, so a crash before leaves no half AOF behind.
    public var waitingForFirstBase = false
    /// BGREWRITEAOF while `appendonly` is off: a base and manifest are written, nothing is
    /// logged, and every incremental file is replaced.
    var detached = false
    let log: ((String) -> Void)?

    var manifestPath: String { directory + "/" + fileName + ".manifest" }
    /// Where the rewrite in progress puts its base.
    public var nextBasePath: String {
        let ext = preamble ? "rdb" : "aof"
        return directory + "/" + "\(fileName).\(manifest.baseSeq + 1).base.\(ext)"
    }
    var preamble = true

    init(directory: String, fileName: String, policy: FsyncPolicy, log: ((String) -> Void)?) {
        self.directory = directory
        self.fileName = fileName
        self.policy = policy
        self.log = log
        manifest = AOFManifest()
    }

    public var lastWriteOK: Bool { lastWriteError == 0 }

    // MARK: Logging commands

    /// A command the propagation path hands on, already encoded; a SELECT goes first when
    /// it applies to another database than the last one logged.
    public func append(db: Int, command: ArraySlice<UInt8>) {
        if db != selectedDB {
            AOFEncoding.append([Array("SELECT".utf8), formatInt64(Int64(db))], into: &buffer)
            selectedDB = db
        }
        buffer.append(contentsOf: command)
    }

    // MARK: Writing

    /// Writes the buffer to the incremental file (Redis's flushAppendOnlyFile), fsyncing
    /// under `always`. Returns false when the write failed (the buffer is kept for a retry).
    @discardableResult
    public func flush() -> Bool {
        guard !buffer.isEmpty, fd >= 0 else { return true }
        let failure = SnapshotFile.writeAll(fd, buffer)
        if failure != 0 {
            if lastWriteError == 0 {
                log?("Error writing to the AOF file: \(String(cString: strerror(failure)))")
            }
            lastWriteError = failure
            return false
        }
        if lastWriteError != 0 {
            log?("AOF write error looks solved, Redis can write again.")
            lastWriteError = 0
        }
        currentSize += buffer.count
        buffer.removeAll(keepingCapacity: buffer.capacity <= 1 << 20)
        unsynced = true
        if policy == .always {
            if fdatasync(fd) != 0 {
                lastWriteError = errno
                return false
            }
            unsynced = false
            lastFsync = monotonicMicrosNow()
        }
        return true
    }

    /// fsyncs what was written so far, now.
    func syncNow() {
        guard fd >= 0 else { return }
        fdatasync(fd)
        unsynced = false
        lastFsync = monotonicMicrosNow()
    }

    /// `appendfsync everysec`: fsync once a second, on another thread (`background`), and
    /// never two at once.
    public func fsyncIfDue(background: ((@escaping () -> Int32, @escaping (Int32) -> Void) -> Void)?) {
        guard policy == .everysec, unsynced, fd >= 0 else { return }
        let now = monotonicMicrosNow()
        guard now - lastFsync >= 1_000_000 else { return }
        if fsyncInFlight {
            delayedFsyncs += 1
            return
        }
        let target = fd
        unsynced = false
        lastFsync = now
        guard let background else {
            fdatasync(target)
            return
        }
        fsyncInFlight = true
        background({ fdatasync(target) == 0 ? 0 : errno }, { [weak self] _ in self?.fsyncInFlight = false })
    }

    // MARK: Files

    func path(_ name: String) -> String { directory + "/" + name }

    func persistManifest() -> Int32 {
        SnapshotFile.replace(manifestPath, with: Array(manifest.text.utf8), directory: directory)
    }

    /// Opens a new incremental file for appending and makes it the current one; the old
    /// one is flushed, fsynced and closed. `temporary` names it as Redis does while no base
    /// exists yet.
    func openNewIncr(temporary: Bool = false) -> Int32 {
        flush()
        let seq = manifest.incrSeq + 1
        let name = temporary ? "temp-\(fileName).incr" : "\(fileName).\(seq).incr.aof"
        let newFD = open(path(name), O_WRONLY | O_CREAT | O_APPEND | O_TRUNC, 0o644)
        guard newFD >= 0 else { return errno }
        if fd >= 0 {
            fdatasync(fd)
            close(fd)
        }
        fd = newFD
        incrPath = path(name)
        selectedDB = -1
        if !temporary { manifest.incrs.append(AOFManifest.Entry(name: name, seq: seq, type: .incr)) }
        return 0
    }

    /// Opens the manifest's last incremental file for appending (after a load).
    func openLastIncr() -> Int32 {
        guard let last = manifest.incrs.last else {
            let failure = openNewIncr()
            return failure != 0 ? failure : persistManifest()
        }
        let newFD = open(path(last.name), O_WRONLY | O_APPEND)
        guard newFD >= 0 else { return errno }
        fd = newFD
        incrPath = path(last.name)
        selectedDB = -1
        return 0
    }

    /// Deletes the files a rewrite replaced, once the manifest no longer names them.
    func deleteHistory() {
        guard !manifest.history.isEmpty else { return }
        for h in manifest.history {
            unlink(path(h.name))
            log?("Removing the history file \(h.name) in the background")
        }
        manifest.history = []
        _ = persistManifest()
    }

    public func closeFile() {
        flush()
        if fd >= 0 {
            fsync(fd)
            close(fd)
            fd = -1
        }
    }

    static func fileSize(_ path: String) -> Int {
        var st = stat()
        return stat(path, &st) == 0 ? Int(st.st_size) : 0
    }

    // MARK: Rewrite

    /// The rewrite's snapshot is complete (`failure` 0) or failed: on success the new base
    /// replaces the old one and the incremental files written before the rewrite began,
    /// in the manifest first and then on disk.
    func rewriteDone(_ state: ServerState, failure: Int32) {
        guard let started = rewriteStarted else { return }
        rewriteStarted = nil
        lastRewriteSeconds = Int((monotonicMicrosNow() - started) / 1_000_000)
        if failure != 0 {
            lastRewriteOK = false
            consecutiveFailures += 1
            log?("Background AOF rewrite failed: \(String(cString: strerror(failure)))")
            return
        }
        let baseName = String(nextBasePath.split(separator: "/").last!)
        if let old = manifest.base {
            manifest.history.append(AOFManifest.Entry(name: old.name, seq: old.seq, type: .history))
        }
        manifest.base = AOFManifest.Entry(name: baseName, seq: manifest.baseSeq + 1, type: .base)
        if waitingForFirstBase {
            // The incremental file written meanwhile gets its real name now.
            let seq = manifest.incrSeq + 1
            let name = "\(fileName).\(seq).incr.aof"
            if rename(incrPath, path(name)) == 0 {
                incrPath = path(name)
                manifest.incrs = [AOFManifest.Entry(name: name, seq: seq, type: .incr)]
            }
            waitingForFirstBase = false
        } else {
            // Every incremental file but the current one is in the new base.
            let kept = detached ? 0 : 1
            for old in manifest.incrs.dropLast(kept) {
                manifest.history.append(AOFManifest.Entry(name: old.name, seq: old.seq, type: .history))
            }
            manifest.incrs = Array(manifest.incrs.suffix(kept))
        }
        let manifestFailure = persistManifest()
        if manifestFailure != 0 {
            lastRewriteOK = false
            consecutiveFailures += 1
            log?("Can't persist the AOF manifest: \(String(cString: strerror(manifestFailure)))")
            return
        }
        deleteHistory()
        lastRewriteOK = true
        consecutiveFailures = 0
        rewrites += 1
        flush()
        currentSize = Self.fileSize(path(baseName)) + manifest.incrs.reduce(0) { $0 + Self.fileSize(path($1.name)) }
        baseSize = currentSize
        log?("Background AOF rewrite finished successfully")
    }
}

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
            aof = AppendOnlyFile(
                directory: config["appenddirname"], fileName: config["appendfilename"], policy: .no,
                log: persistenceLog)
            aof.detached = true
            if mkdir(aof.directory, 0o755) != 0 && errno != EEXIST { return false }
            if let text = SnapshotFile.contents(of: aof.manifestPath),
                let manifest = try? AOFManifest.parse(String(decoding: text, as: UTF8.self))
            {
                aof.manifest = manifest
            }
        }
        guard aof.rewriteStarted == nil else { return false }
        aof.preamble = config.bool("aof-use-rdb-preamble")
        if !aof.waitingForFirstBase && !aof.detached {
            let failure = aof.openNewIncr()
            let manifestFailure = failure == 0 ? aof.persistManifest() : failure
            if manifestFailure != 0 {
                persistenceLog?("Can't open new incr AOF: \(String(cString: strerror(manifestFailure)))")
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
            let file = AppendOnlyFile(
                directory: config["appenddirname"], fileName: config["appendfilename"],
                policy: .init(config["appendfsync"]), log: persistenceLog)
            if mkdir(file.directory, 0o755) != 0 && errno != EEXIST {
                return "Can't open the append-only file: \(String(cString: strerror(errno)))"
            }
            if let text = SnapshotFile.contents(of: file.manifestPath),
                let manifest = try? AOFManifest.parse(String(decoding: text, as: UTF8.self))
            {
                file.manifest = manifest
            }
            file.waitingForFirstBase = true
            let failure = file.openNewIncr(temporary: true)
            if failure != 0 { return "Can't open the append-only file: \(String(cString: strerror(failure)))" }
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
