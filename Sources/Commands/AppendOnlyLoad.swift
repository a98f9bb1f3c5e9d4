import DataStore
import Persistence
import RESP

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Loading the AOF at start (Redis's loadAppendOnlyFiles): the manifest's base, then its
/// incremental files in order, each command run by a client of its own with expiry held
/// back (as Redis does while loading: a key the log still writes to must not vanish
/// half-way). A torn tail of the last file is cut off under `aof-load-truncated yes`;
/// anything else wrong stops the start with Redis's message.
extension ServerState {
    public struct AOFLoadSummary {
        public var commands = 0
        public var keysFromRDB = 0
        /// Set when there was no AOF: what was done instead.
        public var created = false
    }

    /// Loads the AOF (upgrading an old single-file AOF, or creating the first base when there
    /// is none — from `dbfilename` if that exists) and starts logging to it.
    public func loadAppendOnlyFiles() throws(AOFError) -> AOFLoadSummary {
        let file = AppendOnlyFile(
            directory: config["appenddirname"], fileName: config["appendfilename"],
            policy: .init(config["appendfsync"]), log: persistenceLog)
        file.preamble = config.bool("aof-use-rdb-preamble")
        if mkdir(file.directory, 0o755) != 0 && errno != EEXIST {
            throw AOFError("Can't create the AOF directory \(file.directory): \(String(cString: strerror(errno)))")
        }
        var summary = AOFLoadSummary()
        if let text = SnapshotFile.contents(of: file.manifestPath) {
            file.manifest = try AOFManifest.parse(String(decoding: text, as: UTF8.self))
        } else if access(file.fileName, F_OK) == 0 {
            // Redis 6's single appendonly.aof: it becomes the base of a new manifest.
            guard rename(file.fileName, file.path(file.fileName)) == 0 else {
                throw AOFError(
                    "Error moving \(file.fileName) into \(file.directory): \(String(cString: strerror(errno)))")
            }
            file.manifest.base = AOFManifest.Entry(name: file.fileName, seq: 1, type: .base)
            let failure = file.persistManifest()
            if failure != 0 { throw AOFError("Can't persist the AOF manifest: \(String(cString: strerror(failure)))") }
            persistenceLog?("Successfully migrated an old-style AOF into the AOF directory")
        }
        let files = (file.manifest.base.map { [$0] } ?? []) + file.manifest.incrs
        if files.isEmpty {
            // No AOF yet. Redis would start empty here; the snapshot is loaded instead, so
            // turning AOF on in the configuration never drops the data.
            if let loaded = try? loadRDB() {
                summary.keysFromRDB = loaded.loaded
                persistenceLog?("No AOF found: loaded \(loaded.loaded) keys from \(rdbPath) before creating the AOF")
            }
            try createFirstBase(file)
            summary.created = true
        } else {
            let savedNow = keyspace.now
            defer { keyspace.now = savedNow }
            for (i, entry) in files.enumerated() {
                summary.commands += try loadAOFFile(file, entry, last: i == files.count - 1)
            }
            resetStatistics()
        }
        let failure = file.openLastIncr()
        if failure != 0 {
            throw AOFError("Can't open the append-only file: \(String(cString: strerror(failure)))")
        }
        file.deleteHistory()
        let paths = ((file.manifest.base.map { [$0] } ?? []) + file.manifest.incrs).map { file.path($0.name) }
        file.currentSize = paths.reduce(0) { $0 + AppendOnlyFile.fileSize($1) }
        file.baseSize = file.currentSize
        aof = file
        updateExpiryLogging()
        return summary
    }

    /// Writes the dataset as the first base, with an empty incremental file after it.
    func createFirstBase(_ file: AppendOnlyFile) throws(AOFError) {
        let baseName = String(file.nextBasePath.split(separator: "/").last!)
        persistenceLog?("Creating AOF base file \(baseName) on server start")
        guard let snapshot = BackgroundSave(state: self, purpose: .aofBase) else {
            throw AOFError("Can't create the AOF base file: \(String(cString: strerror(errno)))")
        }
        while !snapshot.step(keyspace, budget: Int64.max / 2) {}
        snapshot.writeTrailer()
        let failure = snapshot.sync(file.path(baseName))
        if failure != 0 {
            throw AOFError("Can't write the AOF base file \(baseName): \(String(cString: strerror(failure)))")
        }
        file.manifest.base = AOFManifest.Entry(name: baseName, seq: file.manifest.baseSeq + 1, type: .base)
        persistenceLog?("Creating AOF incr file \(file.fileName).\(file.manifest.incrSeq + 1).incr.aof on server start")
        var opened = file.openNewIncr()
        if opened == 0 { opened = file.persistManifest() }
        if opened != 0 { throw AOFError("Can't create the AOF incr file: \(String(cString: strerror(opened)))") }
    }

    /// One file of the AOF: an RDB (base, or preamble), then commands. Returns how many
    /// commands ran.
    func loadAOFFile(_ file: AppendOnlyFile, _ entry: AOFManifest.Entry, last: Bool) throws(AOFError) -> Int {
        let path = file.path(entry.name)
        guard let data = SnapshotFile.contents(of: path) else {
            throw AOFError("The AOF file \(entry.name) doesn't exist")
        }
        if data.isEmpty { return 0 }
        var start = 0
        if data.count >= 5 && data[0..<5].elementsEqual("REDIS".utf8) {
            persistenceLog?("Reading RDB base file on AOF loading...")
            var reader = RDBReader(data)
            do {
                _ = try reader.load(into: keyspace, now: clock(), limits: setLimits)
            } catch {
                throw AOFError("Bad file format reading the append only file \(entry.name): \(error)")
            }
            start = reader.pos
            if start < data.count { persistenceLog?("Reading the remaining AOF tail...") }
        }
        var scanner = AOFCommandScanner(data, from: start)
        let session = ClientSession(id: -1, address: "", localAddress: "", fd: -1, authenticated: true, now: 0)
        let ctx = CommandContext(server: self, session: session)
        ctx.mayBlock = false
        var commands = 0
        // Where the open MULTI began: a file ending inside a transaction ends there.
        var multiStart: Int?
        loop: while true {
            let before = scanner.validUpTo
            switch scanner.next() {
            case .command(let args):
                guard let command = args[0].withUnsafeBytes({ self.commands.lookup($0) }) else {
                    throw AOFError(
                        "Unknown command '\(String(decoding: args[0], as: UTF8.self))' reading the append only file \(entry.name)"
                    )
                }
                if command.name == "multi" {
                    multiStart = before
                } else if command.name == "exec" || command.name == "discard" {
                    multiStart = nil
                }
                run(args, in: ctx)
                commands += 1
            case .end:
                break loop
            case .truncated:
                try truncatedTail(path, entry.name, at: scanner.validUpTo, last: last, reason: "short read")
                break loop
            case .bad:
                throw AOFError(
                    "Bad file format reading the append only file \(entry.name): make a backup of your AOF file, then use ./swiftlet-check-aof --fix <filename.manifest>"
                )
            }
        }
        if let multiStart {
            persistenceLog?("Revert incomplete MULTI/EXEC transaction in AOF file \(entry.name)")
            try truncatedTail(path, entry.name, at: multiStart, last: last, reason: "incomplete MULTI/EXEC")
            TransactionCommands.discardTransaction(ctx)
        }
        return commands
    }

    /// A file that ends inside a command: cut it there when allowed, else stop the start.
    func truncatedTail(_ path: String, _ name: String, at offset: Int, last: Bool, reason: String) throws(AOFError) {
        guard last && config.bool("aof-load-truncated") else {
            throw AOFError(
                "Unexpected end of file reading the append only file \(name). You can: 1) Make a backup of your AOF file, then use ./swiftlet-check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server."
            )
        }
        persistenceLog?("!!! Warning: \(reason) while loading the AOF file \(name)!!!")
        persistenceLog?("!!! Truncating the AOF \(name) at offset \(offset) !!!")
        guard truncate(path, off_t(offset)) == 0 else {
            throw AOFError("Error truncating the AOF file \(name): \(String(cString: strerror(errno)))")
        }
        persistenceLog?("AOF \(name) loaded anyway because aof-load-truncated is enabled")
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
        keyspace.now = ServerState.loadingClock
        _ = ctx.execute(commandAt: 0)
        ctx.output.removeAll(keepingCapacity: true)
    }

    /// The time commands see while an AOF loads: before every expiry, so none fires
    /// (Redis's keyIsExpired returns 0 while loading); the log's times are absolute.
    static let loadingClock = Int64.min / 4

    var setLimits: SetValue.Limits {
        SetValue.Limits(
            intsetEntries: Int(config.limits.setMaxIntsetEntries),
            listpackEntries: Int(config.limits.setMaxListpackEntries),
            listpackValue: Int(config.limits.setMaxListpackValue))
    }
}
