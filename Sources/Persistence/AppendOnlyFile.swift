import DataStore

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
public final class AppendOnlyFile {
    public enum FsyncPolicy {
        case always, everysec, no

        public init(_ name: String) {
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
    public var manifest: AOFManifest
    /// The incremental file commands are appended to.
    var fd: Int32 = -1
    public internal(set) var incrPath = ""
    /// Commands of the current loop turn not yet written (Redis's aof_buf).
    public internal(set) var buffer: [UInt8] = []
    /// The database the file's last SELECT named.
    var selectedDB = -1
    /// Turned to `always`, what was written and not yet fsynced is fsynced at once (as
    /// Redis's updateAppendFsync), so the file's fsynced offset no longer lags.
    public var policy: FsyncPolicy {
        didSet { if policy == .always && oldValue != .always && unsynced { syncNow() } }
    }
    var lastFsync = monotonicMicrosNow()
    var unsynced = false
    public internal(set) var fsyncInFlight = false
    /// The replication offset the buffer reaches (set by the server before each flush),
    /// the one the file reaches once written, and the one it reaches on disk once fsynced
    /// (what WAITAOF and a replica's FACK count).
    public var bufferOffset: Int64 = 0
    public internal(set) var writtenOffset: Int64 = 0
    public internal(set) var syncedOffset: Int64 = 0
    public internal(set) var delayedFsyncs = 0
    /// Size of every file of the AOF, and of all of it after the last rewrite or load
    /// (auto-aof-rewrite-percentage grows from there).
    public internal(set) var currentSize = 0
    public internal(set) var baseSize = 0
    /// Why the last write failed, nil once one works again.
    public internal(set) var lastWriteError: FileError?
    /// A rewrite runs: its new incremental file is already in use.
    public var rewriteStarted: Int64?
    public internal(set) var lastRewriteSeconds = -1
    public var lastRewriteOK = true
    public internal(set) var rewrites = 0
    public var consecutiveFailures = 0
    /// Set while no base exists yet (CONFIG SET appendonly yes): the manifest is written
    /// when the first rewrite ends, so a crash before leaves no half AOF behind.
    public var waitingForFirstBase = false
    /// BGREWRITEAOF while `appendonly` is off: a base and manifest are written, nothing is
    /// logged, and every incremental file is replaced.
    public var detached = false
    /// `aof-disable-auto-gc no`: the files a rewrite replaced are deleted at once; with it
    /// on they stay, named as history in the manifest, until it is turned off again.
    public var autoGC = true
    /// `aof-timestamp-enabled`: a `#TS:<unix seconds>` line before the first command of
    /// each second (what `redis-check-aof --truncate-to-timestamp` cuts at).
    public var annotatesTime = false
    var lastAnnotatedTime = 0
    let log: ((String) -> Void)?

    public var manifestPath: String { directory + "/" + fileName + ".manifest" }
    /// Where the rewrite in progress puts its base.
    public var nextBasePath: String {
        let ext = preamble ? "rdb" : "aof"
        return directory + "/" + "\(fileName).\(manifest.baseSeq + 1).base.\(ext)"
    }
    public var preamble = true

    public init(directory: String, fileName: String, policy: FsyncPolicy, log: ((String) -> Void)?) {
        self.directory = directory
        self.fileName = fileName
        self.policy = policy
        self.log = log
        manifest = AOFManifest()
    }

    public var lastWriteOK: Bool { lastWriteError == nil }

    // MARK: Logging commands

    /// A command the propagation path hands on, already encoded; a SELECT goes first when
    /// it applies to another database than the last one logged.
    public func append(db: Int, command: ArraySlice<UInt8>) {
        if annotatesTime {
            let now = Int(time(nil))
            if now > lastAnnotatedTime {
                lastAnnotatedTime = now
                buffer.append(contentsOf: Array("#TS:\(now)\r\n".utf8))
            }
        }
        if db != selectedDB {
            AOFEncoding.appendSelect(db, into: &buffer)
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
            if lastWriteError == nil { log?("Error writing to the AOF file: \(FileError(failure))") }
            lastWriteError = FileError(failure)
            return false
        }
        if lastWriteError != nil {
            log?("AOF write error looks solved, Redis can write again.")
            lastWriteError = nil
        }
        currentSize += buffer.count
        buffer.removeAll(keepingCapacity: buffer.capacity <= 1 << 20)
        unsynced = true
        writtenOffset = bufferOffset
        if policy == .always {
            if fdatasync(fd) != 0 {
                lastWriteError = .current
                return false
            }
            markSynced()
            lastFsync = monotonicMicrosNow()
        }
        return true
    }

    /// What was written is on disk (an fsync of the file succeeded).
    func markSynced() {
        unsynced = false
        syncedOffset = writtenOffset
    }

    /// Nothing is buffered, unsynced or being fsynced: the file is on disk up to
    /// `bufferOffset` (writes that skip the AOF, PINGs to replicas, move the offset too).
    public func noteAllSynced() {
        guard buffer.isEmpty, !unsynced, !fsyncInFlight else { return }
        syncedOffset = max(syncedOffset, bufferOffset)
    }

    /// fsyncs what was written so far, now.
    public func syncNow() {
        guard fd >= 0 else { return }
        fdatasync(fd)
        markSynced()
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
        let reached = writtenOffset
        unsynced = false
        lastFsync = now
        guard let background else {
            fdatasync(target)
            syncedOffset = reached
            return
        }
        fsyncInFlight = true
        background(
            { fdatasync(target) == 0 ? 0 : errno },
            { [weak self] failure in
                self?.fsyncInFlight = false
                if failure == 0, let self { self.syncedOffset = max(self.syncedOffset, reached) }
            })
    }

    // MARK: Files

    public func path(_ name: String) -> String { directory + "/" + name }

    public func persistManifest() throws(FileError) {
        try SnapshotFile.replace(manifestPath, with: Array(manifest.text.utf8), directory: directory)
    }

    /// Opens a new incremental file for appending and makes it the current one; the old
    /// one is flushed, fsynced and closed. `temporary` names it as Redis does while no base
    /// exists yet.
    public func openNewIncr(temporary: Bool = false) throws(FileError) {
        flush()
        let seq = manifest.incrSeq + 1
        let name = temporary ? "temp-\(fileName).incr" : "\(fileName).\(seq).incr.aof"
        let newFD = open(path(name), O_WRONLY | O_CREAT | O_APPEND | O_TRUNC, 0o644)
        guard newFD >= 0 else { throw .current }
        if fd >= 0 {
            if fdatasync(fd) == 0 && lastWriteError == nil { markSynced() }
            close(fd)
        }
        fd = newFD
        incrPath = path(name)
        selectedDB = -1
        if !temporary { manifest.incrs.append(AOFManifest.Entry(name: name, seq: seq, type: .incr)) }
    }

    /// Opens the manifest's last incremental file for appending (after a load).
    public func openLastIncr() throws(FileError) {
        guard let last = manifest.incrs.last else {
            try openNewIncr()
            try persistManifest()
            return
        }
        let newFD = open(path(last.name), O_WRONLY | O_APPEND)
        guard newFD >= 0 else { throw .current }
        fd = newFD
        incrPath = path(last.name)
        selectedDB = -1
    }

    /// Whether an incremental file is open for appending.
    public var isOpen: Bool { fd >= 0 }

    /// Sizes every file the manifest names: the current size, and the base size
    /// auto-aof-rewrite-percentage grows from (after a load).
    public func measureFiles() {
        let paths = ((manifest.base.map { [$0] } ?? []) + manifest.incrs).map { path($0.name) }
        currentSize = paths.reduce(0) { $0 + Self.fileSize($1) }
        baseSize = currentSize
    }

    /// Deletes the files a rewrite replaced, once the manifest no longer names them
    /// (Redis's aofDelHistoryFiles; nothing while auto-gc is off).
    public func deleteHistory() {
        guard autoGC, !manifest.history.isEmpty else { return }
        for h in manifest.history {
            unlink(path(h.name))
            log?("Removing the history file \(h.name) in the background")
        }
        manifest.history = []
        try? persistManifest()
    }

    public func closeFile() {
        flush()
        if fd >= 0 {
            if fsync(fd) == 0 && lastWriteError == nil { markSynced() }
            close(fd)
            fd = -1
        }
    }

    public static func fileSize(_ path: String) -> Int {
        var st = stat()
        return stat(path, &st) == 0 ? Int(st.st_size) : 0
    }

    // MARK: Rewrite

    /// The rewrite's snapshot is complete (`failure` 0) or failed: on success the new base
    /// replaces the old one and the incremental files written before the rewrite began,
    /// in the manifest first and then on disk.
    public func rewriteDone(failure: FileError?) {
        guard let started = rewriteStarted else { return }
        rewriteStarted = nil
        lastRewriteSeconds = Int((monotonicMicrosNow() - started) / 1_000_000)
        if let failure {
            lastRewriteOK = false
            consecutiveFailures += 1
            log?("Background AOF rewrite failed: \(failure)")
            return
        }
        // Replaced files go to the head of the history list, the base first and then the
        // incremental files newest first, as Redis orders them.
        let baseName = String(nextBasePath.split(separator: "/").last!)
        if let old = manifest.base {
            manifest.history.insert(AOFManifest.Entry(name: old.name, seq: old.seq, type: .history), at: 0)
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
                manifest.history.insert(AOFManifest.Entry(name: old.name, seq: old.seq, type: .history), at: 0)
            }
            manifest.incrs = Array(manifest.incrs.suffix(kept))
        }
        do {
            try persistManifest()
        } catch {
            lastRewriteOK = false
            consecutiveFailures += 1
            log?("Can't persist the AOF manifest: \(error)")
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
