import DataStore
import Persistence
import RESP

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

public struct LoadError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

/// Loading the dataset at start, in steps between which the server answers clients (with
/// `-LOADING` for commands that need the data, as Redis does while it loads): the AOF when
/// `appendonly` is on (Redis's loadAppendOnlyFiles: the manifest's base, then its
/// incremental files in order), else `dbfilename`. AOF commands run as a client of their
/// own with expiry held back — a key the log still writes to must not vanish half-way — and
/// a torn tail of the last file is cut off under `aof-load-truncated yes`; anything else
/// wrong stops the start with Redis's message.
public final class DatasetLoad {
    struct File {
        var path: String
        var name: String
        var last: Bool
        /// An AOF file (an RDB preamble may start it), or a plain RDB.
        var isAOF: Bool
    }

    let state: ServerState
    var files: [File]
    var index = -1
    var data: [UInt8] = []
    var rdb: RDBReader?
    var scanner: AOFCommandScanner?
    var ctx: CommandContext?
    /// Where the open MULTI of the current file began.
    var multiStart: Int?
    /// The AOF being loaded (nil for an RDB load), and whether its first base is still to
    /// be written when the files are loaded.
    let aof: AppendOnlyFile?
    var createBase = false
    public let startTime: Int64
    let started = monotonicMicrosNow()
    public let totalBytes: Int
    var finishedBytes = 0
    public private(set) var keysLoaded = 0
    public private(set) var keysExpired = 0
    public private(set) var commands = 0
    public private(set) var complete = false
    /// DEBUG LOADAOF: the AOF this load reads back, set again as the server's when done.
    public internal(set) var reloading: AppendOnlyFile?
    /// The runtime steps this load between other clients' commands: a script in the AOF
    /// that runs long may be suspended as a client's would (Redis's scripts yield to the
    /// event loop while loading too).
    public var suspendsScripts = false

    init(state: ServerState, files: [File], aof: AppendOnlyFile?) {
        self.state = state
        self.files = files
        self.aof = aof
        startTime = state.clock() / 1000
        totalBytes = files.reduce(0) { $0 + AppendOnlyFile.fileSize($1.path) }
    }

    public var loadedBytes: Int {
        finishedBytes + (scanner?.pos ?? rdb?.pos ?? 0)
    }

    public var loadedPercent: Double {
        totalBytes > 0 ? Double(loadedBytes) * 100 / Double(totalBytes) : 0
    }

    public var etaSeconds: Int {
        let done = loadedBytes
        guard done > 0 else { return 1 }
        let elapsed = Double(monotonicMicrosNow() - started) / 1_000_000
        return Int(elapsed * Double(totalBytes - done) / Double(done))
    }

    public var isAOF: Bool { aof != nil || reloading != nil }

    public var elapsedSeconds: Double { Double(monotonicMicrosNow() - started) / 1_000_000 }

    /// Loads for about `budget` microseconds; true when everything is loaded (and the AOF,
    /// if any, is ready for appending).
    public func step(budget: Int64) throws(LoadError) -> Bool {
        if complete { return true }
        let deadline = monotonicMicrosNow() + budget
        while monotonicMicrosNow() < deadline {
            // A script of the AOF that passed busy-reply-threshold continues between other
            // clients' commands (they get -LOADING); the load waits for its end.
            if state.scriptIsBusy { return false }
            if rdb == nil && scanner == nil {
                index += 1
                guard index < files.count else {
                    try finish()
                    return true
                }
                try open(files[index])
                continue
            }
            if rdb != nil {
                try stepRDB()
            } else {
                try stepCommands(1024)
            }
        }
        return false
    }

    func open(_ file: File) throws(LoadError) {
        guard let bytes = SnapshotFile.contents(of: file.path) else {
            throw LoadError(
                file.isAOF
                    ? "Fatal error: can't open the append log file \(file.name) for reading: \(String(cString: strerror(errno)))"
                    : "Can't open \(file.path)")
        }
        data = bytes
        multiStart = nil
        if data.starts(with: Array("REDIS".utf8)) {
            if file.isAOF { state.persistenceLog?("Reading RDB base file on AOF loading...") }
            var reader = RDBReader(data)
            reader.verifyChecksum = state.config.bool("rdbchecksum")
            reader.keepsExpiredNames = aof == nil && reloading == nil && !file.isAOF
            do { try reader.begin() } catch { throw badFile(file, error) }
            rdb = reader
        } else if file.isAOF {
            scanner = AOFCommandScanner(data)
        } else {
            throw LoadError("Wrong signature trying to load DB from file")
        }
    }

    func badFile(_ file: File, _ error: RDBError) -> LoadError {
        file.isAOF
            ? LoadError("Bad file format reading the append only file \(file.name): \(error)") : LoadError("\(error)")
    }

    func stepRDB() throws(LoadError) {
        guard var reader = rdb else { return }
        rdb = nil
        let file = files[index]
        let done: Bool
        do {
            done = try reader.step(
                into: state.keyspace, now: state.clock(), limits: state.loadLimits, maxKeys: 2048)
            for code in reader.takeFunctionLibraries() { state.loadFunctionLibrary(code) }
        } catch {
            throw badFile(file, error)
        }
        guard done else {
            rdb = reader
            return
        }
        keysLoaded += reader.loaded
        keysExpired += reader.expired
        state.lastLoadKeys = (reader.loaded, reader.expired)
        // The RDB of a start without AOF carries the replication history.
        if aof == nil && reloading == nil && !file.isAOF {
            state.restoreReplicationInfo(reader.aux, expired: reader.expiredNames)
        }
        if file.isAOF && reader.pos < data.count {
            state.persistenceLog?("Reading the remaining AOF tail...")
            scanner = AOFCommandScanner(data, from: reader.pos)
        } else {
            endFile()
        }
    }

    func endFile() {
        finishedBytes += data.count
        data = []
        scanner = nil
        rdb = nil
    }

    func stepCommands(_ budget: Int) throws(LoadError) {
        guard var scan = scanner else { return }
        let file = files[index]
        let context = ctx ?? makeContext()
        let savedNow = state.keyspace.now
        defer { state.keyspace.now = savedNow }
        for _ in 0..<budget {
            let before = scan.validUpTo
            switch scan.next() {
            case .command(let args):
                guard let command = args[0].withUnsafeBytes({ state.commands.lookup($0) }) else {
                    throw LoadError(
                        "Unknown command '\(String(decoding: args[0], as: UTF8.self))' reading the append only file \(file.name)"
                    )
                }
                if command.name == "multi" {
                    multiStart = before
                } else if command.name == "exec" || command.name == "discard" {
                    multiStart = nil
                }
                run(args, in: context)
                commands += 1
                if state.scriptIsBusy {
                    scanner = scan
                    return
                }
            case .end:
                try endCommands(file, context)
                return
            case .truncated:
                try truncatedTail(file, at: scan.validUpTo, reason: "short read")
                try endCommands(file, context)
                return
            case .bad:
                throw LoadError(
                    "Bad file format reading the append only file \(file.name): make a backup of your AOF file, then use ./swiftlet-check-aof --fix <filename.manifest>"
                )
            }
        }
        scanner = scan
    }

    func endCommands(_ file: File, _ context: CommandContext) throws(LoadError) {
        if let multiStart {
            state.persistenceLog?("Revert incomplete MULTI/EXEC transaction in AOF file \(file.name)")
            try truncatedTail(file, at: multiStart, reason: "incomplete MULTI/EXEC")
            context.discardTransaction()
        }
        endFile()
    }

    func makeContext() -> CommandContext {
        let session = ClientSession(id: -1, address: "", localAddress: "", fd: -1, authenticated: true, now: 0)
        session.isLoader = true
        let context = CommandContext(server: state, session: session)
        context.mayBlock = false
        ctx = context
        return context
    }

    /// A file that ends inside a command: cut it there when allowed, else stop the start.
    func truncatedTail(_ file: File, at offset: Int, reason: String) throws(LoadError) {
        guard file.last && state.config.bool("aof-load-truncated") else {
            throw LoadError(
                "Unexpected end of file reading the append only file \(file.name). You can: 1) Make a backup of your AOF file, then use ./swiftlet-check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server."
            )
        }
        state.persistenceLog?("!!! Warning: \(reason) while loading the AOF file \(file.name)!!!")
        state.persistenceLog?("!!! Truncating the AOF \(file.name) at offset \(offset) !!!")
        guard truncate(file.path, off_t(offset)) == 0 else {
            throw LoadError("Error truncating the AOF file \(file.name): \(String(cString: strerror(errno)))")
        }
        state.persistenceLog?("AOF \(file.name) loaded anyway because aof-load-truncated is enabled")
    }

    /// Runs one logged command as the loading client, with expiry held back.
    func run(_ args: [[UInt8]], in ctx: CommandContext) {
        ctx.batch.removeAll()
        for a in args {
            let start = ctx.batch.bytes.count
            ctx.batch.bytes.append(contentsOf: a)
            ctx.batch.spans.append(start..<ctx.batch.bytes.count)
        }
        ctx.batch.commandStarts.append(0)
        ctx.batchCommands.removeAll(keepingCapacity: true)
        state.keyspace.now = Self.loadingClock
        _ = ctx.execute(commandAt: 0)
        ctx.output.removeAll(keepingCapacity: true)
    }

    /// The time commands see while an AOF loads: before every expiry, so none fires
    /// (Redis's keyIsExpired returns 0 while loading); the log's times are absolute.
    static let loadingClock = Int64.min / 4

    /// Everything is read: the AOF gets its first base if it had none, its last
    /// incremental file is opened for appending, and logging starts.
    func finish() throws(LoadError) {
        complete = true
        if let file = reloading {
            state.aof = file
            state.dirty = 0
            return
        }
        guard let aof else { return }
        if createBase { try state.createFirstBase(aof) }
        if commands > 0 { state.resetStatistics() }
        if !aof.isOpen {
            do { try aof.openLastIncr() } catch { throw LoadError("Can't open the append-only file: \(error)") }
        }
        aof.deleteHistory()
        aof.measureFiles()
        state.aof = aof
        state.updateExpiryLogging()
    }
}

extension ServerState {
    /// What is to be loaded at start: the AOF when `appendonly` is on (an old single-file
    /// AOF is moved into `appenddirname` first; with no AOF yet, `dbfilename` is loaded
    /// and becomes the first base), else `dbfilename`. Nil when there is nothing to load.
    public func prepareDatasetLoad() throws(LoadError) -> DatasetLoad? {
        let rdbFile = DatasetLoad.File(path: rdbPath, name: rdbPath, last: true, isAOF: false)
        guard config.bool("appendonly") else {
            return access(rdbPath, F_OK) == 0 ? DatasetLoad(state: self, files: [rdbFile], aof: nil) : nil
        }
        let file = makeAppendOnlyFile()
        if mkdir(file.directory, 0o755) != 0 && errno != EEXIST {
            throw LoadError("Can't create the AOF directory \(file.directory): \(String(cString: strerror(errno)))")
        }
        let haveManifest: Bool
        if let text = SnapshotFile.contents(of: file.manifestPath) {
            haveManifest = true
            do {
                file.manifest = try AOFManifest.parse(text)
            } catch {
                throw LoadError("\(error)")
            }
        } else {
            haveManifest = false
        }
        // Redis 6's single appendonly.aof in `dir` becomes the base of a new manifest (Redis's
        // aofUpgradePrepare): when there is no manifest, an empty one, or one that names only
        // that base while the file is not moved yet (an upgrade stopped half-way).
        let manifest = file.manifest
        if access(file.fileName, F_OK) == 0
            && (!haveManifest || (manifest.base == nil && manifest.incrs.isEmpty)
                || (manifest.base?.name == file.fileName && manifest.incrs.isEmpty
                    && access(file.path(file.fileName), F_OK) != 0))
        {
            file.manifest.base = AOFManifest.Entry(name: file.fileName, seq: 1, type: .base)
            do { try file.persistManifest() } catch { throw LoadError("Can't persist the AOF manifest: \(error)") }
            guard rename(file.fileName, file.path(file.fileName)) == 0 else {
                throw LoadError(
                    "Error moving \(file.fileName) into \(file.directory): \(String(cString: strerror(errno)))")
            }
            persistenceLog?("Successfully migrated an old-style AOF into the AOF directory")
        }
        // Every file the manifest names must be there before anything loads.
        for entry in (file.manifest.base.map { [$0] } ?? []) + file.manifest.incrs
        where access(file.path(entry.name), F_OK) != 0 {
            throw LoadError(
                "Unable to obtain the AOF file \(entry.name) length. stat: \(String(cString: strerror(errno)))")
        }
        let entries = (file.manifest.base.map { [$0] } ?? []) + file.manifest.incrs
        guard !entries.isEmpty else {
            // No AOF yet. Redis would start empty here; the snapshot is loaded instead, so
            // turning AOF on in the configuration never drops the data.
            let haveRDB = access(rdbPath, F_OK) == 0
            if haveRDB { persistenceLog?("No AOF found: loading \(rdbPath), then creating the AOF from it") }
            let load = DatasetLoad(state: self, files: haveRDB ? [rdbFile] : [], aof: file)
            load.createBase = true
            return load
        }
        let files = entries.enumerated().map { i, e in
            DatasetLoad.File(path: file.path(e.name), name: e.name, last: i == entries.count - 1, isAOF: true)
        }
        return DatasetLoad(state: self, files: files, aof: file)
    }

    /// DEBUG LOADAOF: the AOF flushed, the dataset emptied, and a load of the AOF's files
    /// made ready (nothing is logged while it runs; the AOF is back when it ends). Nil when
    /// AOF is off.
    public func prepareAppendOnlyReload() -> DatasetLoad? {
        guard let file = aof else { return nil }
        file.flush()
        file.syncNow()
        for i in keyspace.databases.indices { keyspace.databases[i].removeAll() }
        let entries = (file.manifest.base.map { [$0] } ?? []) + file.manifest.incrs
        let files = entries.enumerated().map { i, e in
            DatasetLoad.File(path: file.path(e.name), name: e.name, last: i == entries.count - 1, isAOF: true)
        }
        let load = DatasetLoad(state: self, files: files, aof: nil)
        load.reloading = file
        aof = nil
        return load
    }

    /// DEBUG LOADAOF run to its end at once (inside MULTI or a script, where the caller
    /// cannot wait). Nil on success, else why it failed.
    public func reloadAppendOnly() -> String? {
        guard let load = prepareAppendOnlyReload() else { return nil }
        do {
            while try !load.step(budget: Int64.max / 4) {}
        } catch {
            aof = load.reloading
            return error.description
        }
        return nil
    }

    /// Writes the dataset as the first base, with an empty incremental file after it.
    func createFirstBase(_ file: AppendOnlyFile) throws(LoadError) {
        let baseName = String(file.nextBasePath.split(separator: "/").last!)
        persistenceLog?("Creating AOF base file \(baseName) on server start")
        guard let snapshot = makeBackgroundSave(purpose: .aofBase) else {
            throw LoadError("Can't create the AOF base file: \(FileError.current)")
        }
        while !snapshot.step(keyspace, budget: Int64.max / 2) {}
        snapshot.writeTrailer()
        do {
            try snapshot.sync(file.path(baseName))
        } catch {
            throw LoadError("Can't write the AOF base file \(baseName): \(error)")
        }
        file.manifest.base = AOFManifest.Entry(name: baseName, seq: file.manifest.baseSeq + 1, type: .base)
        persistenceLog?("Creating AOF incr file \(file.fileName).\(file.manifest.incrSeq + 1).incr.aof on server start")
        do {
            try file.openNewIncr()
            try file.persistManifest()
        } catch {
            throw LoadError("Can't create the AOF incr file: \(error)")
        }
    }

    public var setLimits: SetValue.Limits {
        SetValue.Limits(
            intsetEntries: Int(config.limits.setMaxIntsetEntries),
            listpackEntries: Int(config.limits.setMaxListpackEntries),
            listpackValue: Int(config.limits.setMaxListpackValue))
    }

    /// The encoding thresholds loads (RDB files, AOF bases, RESTORE) build values with.
    public var loadLimits: LoadLimits {
        let l = config.limits
        return LoadLimits(
            set: setLimits, hashEntries: l.hashMaxListpackEntries, hashValue: l.hashMaxListpackValue,
            zsetEntries: l.zsetMaxListpackEntries, zsetValue: l.zsetMaxListpackValue)
    }
}
