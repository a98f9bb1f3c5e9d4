import DataStore
import Dispatch

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

    /// What the snapshot is for: `dbfilename`, the base of a rewritten AOF, or a full sync
    /// of replicas (an unlinked file, sent to them from its descriptor).
    public enum Purpose {
        case rdb
        case aofBase
        case replication
    }

    public let purpose: Purpose
    var writer: any SnapshotEncoder
    let fd: Int32
    let tempName: String
    /// When the snapshot began (Unix milliseconds) and the writes counted then.
    public let startTime: Int64
    public let dirtyAtStart: Int
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
    public private(set) var completed = false
    /// The sync's outcome (0 or an errno), handed across threads: `done` is signalled once
    /// it is known.
    public let done = DispatchSemaphore(value: 0)
    public nonisolated(unsafe) private(set) var result: Int32 = 0
    public var syncing = false

    /// The sync, recording its outcome for whoever waits on `done`: 0, or the errno (a
    /// plain value, as it crosses threads).
    public func runSync(_ target: String) -> Int32 {
        do {
            try sync(target)
            result = 0
        } catch {
            result = error.code
        }
        done.signal()
        return result
    }

    /// Opens the temporary file and writes the header; nil when the file cannot be created
    /// (errno says why). An AOF base is written as commands when `commandBase`, starting
    /// with a `#TS:` annotation when `annotatesTime`.
    public init?(
        purpose: Purpose, now: Int64, dirty: Int, totalKeys: Int, commandBase: Bool, compress: Bool, version: Int,
        checksum: Bool, usedMemory: Int, functionLibraries: [[UInt8]], annotatesTime: Bool = false,
        aux: [(String, String)] = []
    ) {
        self.purpose = purpose
        switch purpose {
        case .rdb: tempName = "temp-\(getpid()).rdb"
        case .aofBase: tempName = "temp-rewriteaof-bg-\(getpid()).aof"
        case .replication: tempName = "temp-repl-\(getpid()).rdb"
        }
        fd = open(tempName, purpose == .replication ? O_RDWR | O_CREAT | O_TRUNC : O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { return nil }
        // A replication snapshot lives only as long as its descriptor: nothing is left behind.
        if purpose == .replication { unlink(tempName) }
        startTime = now
        dirtyAtStart = dirty
        self.totalKeys = totalKeys
        skipsExpired = purpose == .aofBase && commandBase
        if purpose == .aofBase && commandBase {
            var commands = AOFCommandWriter(fd: fd)
            commands.annotatesTime = annotatesTime
            writer = commands
        } else {
            writer = RDBWriter(fd: fd, compress: compress, version: version, checksum: checksum)
        }
        writer.header(
            now: startTime,
            aux: [("used-mem", String(usedMemory)), ("aof-base", purpose == .aofBase ? "1" : "0")] + aux)
        writer.functionLibraries(functionLibraries)
    }

    /// Keys already expired are left out of a base written as commands (Redis's AOF
    /// rewrite does); an RDB keeps them, as Redis's does, for its loader to count and drop.
    let skipsExpired: Bool

    func write(_ e: KeyEntry, db index: Int) {
        if e.expireAt != KeyEntry.noExpiry && e.expireAt < startTime && skipsExpired { return }
        if selected != index {
            writer.selectDB(index)
            selected = index
        }
        writer.entry(e)
        keys += 1
    }

    /// Before a write command: keeps `key` of database `index` as it is now.
    public func preserve(_ keyspace: Keyspace, db index: Int, key: ArraySlice<UInt8>) {
        if completed { return }
        let k = DBKey(db: index, key: Array(key))
        if written.contains(k) || absent.contains(k) { return }
        guard let slot = key.withUnsafeBytes({ keyspace.databases[index].table.find($0) }) else {
            absent.insert(k)
            return
        }
        // Already behind the walker, it is in the file; either way it is recorded, as the
        // command may move it to a slot ahead of the walker (RENAME onto it, a delete and
        // re-insert), where the walker must not write it a second time.
        if !(index < db || (index == db && slot < cursor)) {
            write(keyspace.databases[index].table[slot], db: index)
        }
        written.insert(k)
    }

    /// Writes keys for about `budget` microseconds; true when every database is done.
    /// `keyDelay` is `rdb-key-save-delay` (microseconds per key, a testing knob): a save run
    /// at once (SAVE, shutdown) sleeps before each key as Redis's does.
    public func step(_ keyspace: Keyspace, budget: Int64, keyDelay: Int64 = 0, maxKeys: Int = Int.max) -> Bool {
        let start = monotonicMicrosNow()
        var n = 0
        var keysLeft = maxKeys
        if keyDelay > 0 {
            usleep(UInt32(clamping: keyDelay))
            keysLeft = 1
        }
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
                    keysLeft -= 1
                }
                n += 1
                if keysLeft == 0 { return cursor >= count && db + 1 >= keyspace.databases.count }
                if n % 256 == 0 && monotonicMicrosNow() - start > budget { return false }
            }
            db += 1
            cursor = 0
        }
        return true
    }

    /// EOF and checksum, written on the loop; then `sync` (off the loop).
    public func writeTrailer() {
        writer.finish()
        completed = true
    }

    /// fsync, rename over `dbfilename`, fsync of the directory: the slow part, safe to run
    /// on another thread (it touches only the file).
    public func sync(_ target: String) throws(FileError) {
        if purpose == .replication {
            // Only the writes must be done: the file is read from its descriptor, then closed.
            let failure = writer.failure
            if failure != 0 { throw FileError(failure) }
            return
        }
        let slash = target.lastIndex(of: "/")
        let directory = slash.map { String(target[..<$0]) } ?? "."
        try SnapshotFile.commit(
            fd: fd, tempName: tempName, target: target, directory: directory, writeFailure: writer.failure)
    }

    public func abandon() {
        close(fd)
        if purpose != .replication { unlink(tempName) }
    }

    /// A finished replication snapshot: its descriptor (the caller closes it once sent)
    /// and its length.
    public var replicationFile: (fd: Int32, size: Int) {
        (fd, Int(lseek(fd, 0, SEEK_END)))
    }
}
