import Cluster
import DataStore
import OrderedCollections
import Persistence
import RESP
import ServerConfig

#if canImport(Glibc)
    import Glibc
#endif

/// CLIENT REPLY's modes.
public enum ReplyMode: Sendable {
    case on, off, skip, skipNext
}

/// One client connection's state, as Redis's `client` struct: everything a command may
/// read or change about the connection. The runtime owns the socket and sets `closeHook`.
public final class ClientSession {
    public let id: Int64
    public var address: String
    public var localAddress: String
    public var fd: Int32
    public var name: [UInt8] = []
    public var db = 0
    public var protocolVersion = 2
    public var authenticated: Bool
    /// The ACL user this connection runs as; nil for the server's own clients (the AOF
    /// loader, the script engine's), which ACL does not restrict.
    public var aclUser: ACLUser?
    public var user: String { aclUser?.name ?? "default" }
    /// EXEC is running this client's queued commands (ACL refusals then say so).
    public var inExec = false
    public var libName = ""
    public var libVersion = ""
    public let createdAt: Int64
    public var lastInteraction: Int64
    /// The last command run (CLIENT LIST `cmd=`). Commands live as long as the server's
    /// table, so an unowned reference costs no reference counting per command.
    public unowned(unsafe) var lastCommandRun: Command?
    /// Set by CLIENT LIST/INFO, which report themselves before they finish.
    public var lastCommandOverride: String?
    public var lastCommand: String {
        get { lastCommandOverride ?? lastCommandRun?.fullName ?? "NULL" }
        set { lastCommandOverride = newValue }
    }
    public var replyMode = ReplyMode.on
    public var noEvict = false
    public var noTouch = false
    /// Cluster mode: ASKING was sent (the next command may use an importing slot), and
    /// READONLY (a replica serves reads of its primary's slots).
    public var asking = false
    /// The hash slot of the running command's keys in a cluster (-1: none yet); a script
    /// run by it stays in that slot.
    public var commandSlot = -1
    public var clusterReadOnly = false
    /// Set by QUIT or a protocol error: the runtime closes after writing the replies.
    public var closeAfterReply = false
    /// REPLCONF of a client asking for a snapshot (redis-cli --rdb): rdb-only, and whether
    /// it takes the EOF-marker form of the payload (capa eof).
    public var rdbOnly = false
    public var capaEOF = false
    /// A replica's REPLCONF listening-port and ip-address, and whether it is attached.
    public var replicaListeningPort = 0
    public var replicaAnnouncedIP: String?
    public var isReplica = false
    /// The connection this server, as a replica, gets its primary's stream on (Redis's
    /// CLIENT_MASTER, CLIENT LIST flag `M`): it may write on a read-only replica, sees keys
    /// whose time has passed (only its DELs expire them), and gets no replies, but for
    /// REPLCONF GETACK, which sets `ackRequested`.
    public var isPrimaryClient = false
    public var ackRequested = false
    /// The replication stream's offset after this client's last write (Redis's woff): what
    /// WAIT waits for replicas to acknowledge.
    public var replicationWriteOffset: Int64 = 0
    /// Waiting in a blocking command (CLIENT LIST flag `b`).
    public var isBlocked = false
    /// Set by CLIENT KILL from another client; the runtime closes the connection.
    public var closeHook: (() -> Void)?
    public var isUnixSocket = false
    /// Bytes waiting in the query buffer and the output buffer (for CLIENT LIST).
    public var queryBufferLength = 0
    public var outputBufferLength = 0

    /// What the query buffer counts for in client eviction (Redis's allocation for it).
    public var queryBufferMemory = 0
    /// The complete arguments of an unfinished command, summed, and their count (Redis has
    /// moved them out of its query buffer into argv: CLIENT LIST's argv-mem).
    public var queryArgumentBytes = 0
    public var queryArguments = 0
    /// While client eviction is on: the allocated size of the output buffers handed to the
    /// socket and not yet written (pendingOutputBytes is what they hold).
    public var queuedOutputCapacity = 0

    /// What CLIENT LIST calls tot-mem and client eviction weighs, as Redis counts it: a fixed
    /// part for the client's own structures and its reply buffer, its query buffer and the
    /// arguments read from it (their lengths and a pointer each, Redis's estimate), and its
    /// unsent output past what the reply buffer holds (Redis's reply list).
    public var totalMemory: Int {
        let output = outputBufferLength + max(pendingOutputBytes, queuedOutputCapacity)
        return 22000 + queryBufferMemory + queryArgumentBytes + 8 * queryArguments
            + max(0, output - replyBufferSize) + stateMemory
    }

    /// The part of `totalMemory` for the client's own state, as Redis's getClientMemoryUsage
    /// adds it with its 64-bit struct sizes: MULTI and WATCH (`multiMemory`), 24 bytes a
    /// pattern (listNode), a dict's entries and bucket pointers for the channels and shard
    /// channels, and 32 bytes a rax node of the tracking prefixes (about two nodes a
    /// prefix). Only the overhead: the names themselves are shared.
    var stateMemory: Int {
        multiMemory + 24 * patterns.count + Self.dictMemory(channels.count) + Self.dictMemory(shardChannels.count)
            + 64 * tracking.prefixes.count
    }

    /// CLIENT LIST's multi-mem (Redis's multiStateMemOverhead): the commands queued in MULTI
    /// (their bytes, an argument pointer each, a 24-byte multiCmd each) and 56 bytes a
    /// watched key (listNode and watchedKey).
    public var multiMemory: Int {
        var memory = 56 * watched.count
        if inMulti {
            memory += multiQueue.bytes.count + 8 * multiQueue.spans.count + 24 * multiCommands.capacity
        }
        return memory
    }

    /// A Redis dict's entries (24 bytes) and bucket pointers (a power of two from 4).
    static func dictMemory(_ count: Int) -> Int {
        count == 0 ? 0 : 24 * count + 8 * max(4, 1 << (Int.bitWidth - (count - 1).leadingZeroBitCount))
    }
    /// MULTI state: the queued commands (copied, since read buffers are reused), whether a
    /// queued command was refused (EXEC then aborts), and whether one of them writes.
    public var inMulti = false
    public var multiQueue = CommandBatch()
    /// The command of each queued entry, so EXEC need not look them up again.
    public var multiCommands: [Command] = []
    public var multiFailed = false
    public var multiWrites = false
    /// A queued command lacks the `stale` flag: a stale replica refuses the EXEC.
    public var multiNeedsFreshData = false

    /// Leaves MULTI: the queue and what was noted of it go.
    public func clearTransaction() {
        inMulti = false
        multiQueue = CommandBatch()
        multiCommands = []
        multiFailed = false
        multiWrites = false
        multiMayReplicate = false
        multiDenyOOM = false
        multiNeedsFreshData = false
    }
    /// A queued command writes or may be propagated (CLIENT PAUSE WRITE holds such an EXEC).
    public var multiMayReplicate = false
    /// The client scripts run their commands through.
    public var isScriptClient = false
    /// A queued command may grow memory: EXEC is refused under OOM, as Redis's is.
    public var multiDenyOOM = false
    /// WATCHed keys: (db, key, whether the key was live when watched).
    public var watched: [(db: Int, key: [UInt8], existed: Bool)] = []
    /// A watched key was touched: the next EXEC fails.
    public var watchDirty = false
    /// Pub/Sub subscriptions, in the order they were made.
    public var channels = OrderedSet<[UInt8]>()
    public var patterns = OrderedSet<[UInt8]>()
    public var shardChannels = OrderedSet<[UInt8]>()
    /// Writes a message to this client now (set by the runtime; PUBLISH from any client).
    public var deliverHook: (([UInt8]) -> Void)?
    /// CLIENT TRACKING state, and invalidations of this client's own writes waiting for
    /// the reply to go out first.
    public var tracking = TrackingState()
    public var pendingInvalidations: [UInt8] = []
    /// A MONITOR client.
    public var isMonitor = false
    /// The client that runs the AOF's commands while it loads (Redis's fake AOF client).
    public var isLoader = false
    /// Bytes handed to the socket and not yet written (CLIENT LIST omem, output limits).
    public var pendingOutputBytes = 0
    /// A replica's output not yet written to its socket, in memory: the stream kept while
    /// the socket is full, and what the socket's queue holds (INFO mem_clients_slaves;
    /// maxmemory does not count it, as Redis does not count its replicas' buffers).
    public var replicaOutputMemory = 0
    /// The reply buffer Redis would give this client (CLIENT LIST rbs=, rbp=): 16 KB at
    /// first, shrunk for idle clients and grown back for busy ones by the cron, and the
    /// most a single flush put in it since the peak was last reset.
    public var replyBufferSize = 16384
    public var replyBufferPeak = 16384
    public var replyBufferPeakResetAt: Int64 = 0

    /// Redis's subscription count for SUBSCRIBE/PSUBSCRIBE replies.
    public var subscriptionCount: Int { channels.count + patterns.count }
    /// A RESP2 client with any subscription is in subscribed mode.
    public var inPubSubMode: Bool { !channels.isEmpty || !patterns.isEmpty || !shardChannels.isEmpty }

    public init(id: Int64, address: String, localAddress: String, fd: Int32, authenticated: Bool, now: Int64) {
        self.id = id
        self.address = address
        self.localAddress = localAddress
        self.fd = fd
        self.authenticated = authenticated
        self.createdAt = now
        self.lastInteraction = now
    }

    public var resp3: Bool { protocolVersion == 3 }
}

/// A blocking command that found nothing to pop: the runtime parks the client on these
/// keys until one is written to, or the deadline passes.
public struct BlockRequest {
    public var keys: [[UInt8]]
    public var db: Int
    /// Unix milliseconds, or nil to wait forever.
    public var deadline: Int64?
    /// What the client gets when the timeout fires.
    public var timeoutReply: Reply
    /// XREAD's IDs as they were when it blocked (`$` resolved then, not at each retry).
    public var streamIDs: [StreamID]? = nil
    /// The type of key that can serve it (TYPE's name), nil for waits on no key. A key
    /// written as another type leaves the client blocked, as Redis serves a ready key only
    /// to the clients of its type.
    public var awaits: String? = nil
    /// XREADGROUP: a key deleted or replaced by another type ends the wait with an error.
    public var groupRead = false
    /// WAIT and WAITAOF: the stream offset and how many replicas must acknowledge it (for
    /// WAITAOF, as fsynced to their AOF, and whether the local AOF must have it too).
    public var waitsForAcks: AckWait? = nil

    public init(
        keys: [[UInt8]], db: Int, deadline: Int64?, timeoutReply: Reply, streamIDs: [StreamID]? = nil,
        awaits: String? = nil, groupRead: Bool = false
    ) {
        self.keys = keys
        self.db = db
        self.deadline = deadline
        self.timeoutReply = timeoutReply
        self.streamIDs = streamIDs
        self.awaits = awaits
        self.groupRead = groupRead
    }
}

/// Runtime statistics that INFO reports.
public struct ServerStats {
    public var totalConnections = 0
    public var rejectedConnections = 0
    /// Clients closed by client eviction (maxmemory-clients).
    public var evictedClients = 0
    public var totalCommands = 0
    public var totalErrorReplies = 0
    public var errorCounts: [String: Int] = [:]
    public var netInputBytes = 0
    public var netOutputBytes = 0
    public var unexpectedErrorReplies = 0
    public var peakMemory = 0
    public var instantaneousOps = 0
    /// Full syncs served, PSYNCs continued, and PSYNCs naming a history that could not be
    /// continued (a replica's deliberate `PSYNC ? -1` is not counted).
    public var fullSyncs = 0
    public var partialSyncsAccepted = 0
    public var partialSyncsRefused = 0
}

/// What `SHUTDOWN` asked for.
public struct ShutdownRequest: Sendable {
    public var save: Bool?
    public var now = false
    public var force = false
    public var abort = false

    public init(save: Bool? = nil, now: Bool = false, force: Bool = false, abort: Bool = false) {
        self.save = save
        self.now = now
        self.force = force
        self.abort = abort
    }
}

/// The whole server's state that commands reach: keyspace, configuration, clients,
/// statistics. The runtime sets the hooks for effects that need I/O.
public final class ServerState {
    public let keyspace: Keyspace
    public let config: Config
    public let commands: CommandTable
    /// ACL users and the ACL LOG.
    public let acl: AccessControl
    public var clients: [Int64: ClientSession] = [:]
    public var nextClientId: Int64 = 1
    public var stats = ServerStats()
    /// Keys written while clients were blocked on them (Redis's `ready_keys`); the runtime
    /// serves the waiting clients after each command.
    public var readyKeys = ReadyKeyQueue()
    /// How many clients are blocked; when zero, writes skip the ready-key bookkeeping.
    public var blockedClients = 0
    /// Clients held by CLIENT PAUSE (INFO counts them as blocked, as Redis's postponed ones).
    public var pausedClients = 0
    /// Eviction: keys evicted (INFO evicted_keys), the candidate pool kept across rounds,
    /// the random policies' next database, and whether a round stopped at its time limit.
    public var evictedKeys = 0
    /// The script engine (EVAL, FUNCTION), created on first use by `makeScriptEngine`.
    public var scriptRuntime: (any ScriptRuntime)? {
        if let engine = scriptEngine { return engine }
        guard let make = makeScriptEngine else { return nil }
        let engine = make(self)
        scriptEngine = engine
        return engine
    }
    /// The primary side of replication, from the first replica on (the backlog stays).
    public internal(set) var replication: ReplicationPrimary?

    /// Replicas that ACKed within min-replicas-max-lag seconds (INFO's min_slaves_good_slaves).
    public var goodReplicaCount: Int {
        replication?.goodReplicas(now: clock(), maxLag: config.int("min-replicas-max-lag")) ?? 0
    }

    /// Whether writes may go on under min-replicas-to-write (Redis's checkGoodReplicasStatus):
    /// always on a replica, else with that many good replicas.
    public var hasEnoughGoodReplicas: Bool {
        primaryLink != nil || Int64(goodReplicaCount) >= config.limits.minReplicasToWrite
    }

    /// Whether a script is suspended (other clients get BUSY); the engine keeps it.
    public var scriptIsBusy = false
    /// The engine once created (the core asks it only through `ScriptRuntime`).
    public internal(set) var scriptEngine: (any ScriptRuntime)?
    /// Makes the engine (the Scripting module's): set by whoever builds the server.
    public var makeScriptEngine: ((ServerState) -> any ScriptRuntime)?
    /// DEBUG SET-DISABLE-DENY-SCRIPTS: scripts may call noscript commands.
    public var scriptsMayRunAnyCommand = false
    /// Where redis.log writes (level 0 debug … 3 warning).
    public var scriptLogHook: ((Int, String) -> Void)?
    /// A script was suspended: the runtime continues it soon (resumeSuspendedScript).
    public var scriptSuspendedHook: (() -> Void)?
    /// Makes the runtime step a load between commands (DEBUG LOADAOF), as at start.
    public var loadHook: ((DatasetLoad) -> Void)?
    /// The client waiting for the end of DEBUG LOADAOF.
    public var reloadCallerID: Int64?
    /// Objects handed to the lazy-free thread so far.
    var lazyfreePending = 0
    /// DEBUG REPLYBUFFER: how often a client's reply-buffer peak resets (ms, -1 never),
    /// whether the cron resizes reply buffers at all; INFO's counts of the resizes.
    public var replyBufferPeakResetTime: Int64 = 5000
    public var replyBufferResizing = true
    public var replyBufferShrinks = 0
    public var replyBufferExpands = 0
    /// Objects the lazy-free thread had freed at CONFIG RESETSTAT (INFO counts from there).
    var lazyfreedAtReset = 0
    /// Memory in use once the server was set up (INFO used_memory_startup).
    public internal(set) var startupMemory = 0
    var evictionPool = EvictionPool()
    var evictionNextDB = 0
    public var evictionPending = false

    /// The keys clients are blocked on in a database (the runtime keeps the waiting lists).
    public var blockedKeysHook: ((Int) -> [[UInt8]])?

    /// A whole database changed under its blocked clients (FLUSHDB, FLUSHALL, SWAPDB): every
    /// key they wait on is looked at again, as Redis's scanDatabaseForReadyKeys and
    /// scanDatabaseForDeletedKeys do.
    public func signalBlockedKeys(db: Int) {
        guard blockedClients > 0, let keys = blockedKeysHook?(db) else { return }
        for key in keys { readyKeys.append(db: db, key: key[...]) }
    }

    /// Marks a key as possibly able to serve blocked clients (a list or sorted set grew).
    @inline(__always)
    public func signalKeyReady(db: Int, key: ArraySlice<UInt8>) {
        if blockedClients > 0 { readyKeys.append(db: db, key: key) }
    }

    /// Whether the databases log expired keys (keyspace notifications or tracking need it).
    public var expiryLogging = false
    /// Keys read by tracking clients (default mode), by client id; clients with tracking on.
    var _trackingTable: [WatchKey: Set<Int64>] = [:]
    public var trackingClients = 0
    /// BCAST invalidations waiting for the end of the command (flushBroadcastInvalidations).
    var bcastPending: OrderedDictionary<BroadcastSlot, [[UInt8]]> = [:]
    public var hasBroadcastPending: Bool { !bcastPending.isEmpty }

    /// MONITOR clients.
    public var monitors: [ClientSession] = []

    /// Latency monitor events by name.
    public var latencyEvents: [String: LatencyEvent] = [:]

    /// SLOWLOG, newest first.
    public var slowlog: [SlowlogEntry] = []
    public var nextSlowlogId: Int64 = 0

    /// Writes since the last save (Redis's `server.dirty`).
    public var dirty = 0
    public var lastSaveTime: Int64 = 0
    public var lastSaveOK = true
    /// Keys the last RDB load (a file, an AOF's RDB base or preamble) loaded and skipped
    /// as expired (INFO rdb_last_load_keys_loaded/_expired).
    public var lastLoadKeys = (loaded: 0, expired: 0)
    /// The process's oom_score_adj from before `oom-score-adj` changed it (nil while it
    /// has not), to compute relative scores from and to restore.
    var oomScoreBase: Int?
    /// REPLICAOF host port: the link to the primary this server replicates (nil for a
    /// primary), and the runtime's part — connecting, or closing the old link.
    public var primaryLink: PrimaryLink?
    /// Redis Cluster (`cluster-enabled yes`): what this node knows of the cluster, whether
    /// it holds the cluster up, and when it started (it waits 2 s before saying so).
    public var cluster: ClusterState?
    /// The cluster bus while cluster mode is on, and where it logs.
    public var clusterBus: ClusterBus?
    public var clusterLog: ((String) -> Void)?
    public var clusterIsUp = false
    public var clusterStartedAt: Int64 = 0
    public var primaryLinkHook: (() -> Void)?
    /// A replica acknowledged an offset: the runtime answers the WAITs it satisfies.
    public var replicaAckHook: (() -> Void)?
    /// Sends a finished replication snapshot to a replica's socket (the runtime's), then
    /// calls `snapshotSent(to:)`; without it the bytes are delivered as output.
    public var snapshotTransferHook: ((SnapshotTransfer) -> Void)?
    /// The replication ID and offset this server had before its last promotion (REPLICAOF
    /// NO ONE): INFO's master_replid2 and second_repl_offset.
    public var replicationID2 = String(repeating: "0", count: 40)
    public var secondReplicationOffset: Int64 = -1
    /// master_repl_offset while there is no backlog: writes counted one each, as Redis
    /// counts them, so WAITAOF has an offset to wait for; a backlog starts from it.
    var offsetWithoutBacklog: Int64 = 0
    /// A replica's history read from the RDB at start (repl-id, repl-offset,
    /// repl-stream-db), for the link `replicaof` makes to ask PSYNC with.
    var restoredPrimaryHistory: (id: String, offset: Int64, db: Int)?
    /// Keys this replica's own clients gave a TTL (Redis's slaveKeysWithExpire): expired here,
    /// as the primary never sends DELs for them.
    var replicaOwnExpiringKeys: Set<DatabaseKey> = []
    /// DEBUG PAUSE-CRON: the runtime's cron does nothing while set.
    public var cronPaused = false
    /// The append-only file, while `appendonly` is on.
    public internal(set) var aof: AppendOnlyFile? {
        didSet {
            if let oldValue, oldValue !== aof { propagation.remove(oldValue) }
            if let aof { propagation.add(aof) }
        }
    }
    /// Where every write's effects go: the AOF's and (next) the replicas' one path.
    public let propagation = Propagation()
    /// The dataset loading at start: commands that need it get `-LOADING` meanwhile.
    public var loading: DatasetLoad?
    /// The AOF a BGREWRITEAOF is writing a base for (`aof`, or a detached one when
    /// `appendonly` is off).
    public internal(set) var rewritingAOF: AppendOnlyFile?
    /// The background save in progress, and the runtime's hook that keeps it stepping.
    public internal(set) var backgroundSave: BackgroundSave?
    public var backgroundSaveHook: (() -> Void)?
    /// Runs a background save's file sync elsewhere and reports back on the loop.
    public var backgroundSync: ((@escaping () -> Int32, @escaping (Int32) -> Void) -> Void)?
    var backgroundSaveStarted: Int64 = 0
    public var lastBackgroundSaveSeconds = -1
    /// BGSAVE SCHEDULE while one runs: another starts when it ends.
    public var backgroundSaveScheduled = false
    /// BGREWRITEAOF while a snapshot runs: the rewrite starts when it ends.
    public var aofRewriteScheduled = false
    /// Where snapshot messages go (the server log).
    public var persistenceLog: ((String) -> Void)?
    public let startTime: Int64
    public var tcpPort = 6379
    public var runId: String
    public var executablePath = ""
    public var configFilePath = ""
    public var activeExpireEnabled = true
    /// DEBUG SET-SKIP-CHECKSUM-VALIDATION: RESTORE does not check a payload's CRC64.
    public var skipChecksumValidation = false
    /// A coordinated failover (FAILOVER): its state, the replica it goes to (nil: the
    /// first to catch up), its deadline (ms, 0: none) and whether it goes ahead then.
    public var failoverState: FailoverState = .none
    public var failoverTarget: (host: String, port: Int)?
    public var failoverEndTime: Int64 = 0
    public var failoverForce = false

    /// Clients are paused until this time (CLIENT PAUSE); `pauseWritesOnly` for WRITE mode.
    public var pausedUntil: Int64 = 0
    public var pauseWritesOnly = false
    /// Expiry is held (every database's `holdsExpired`): from the end of the command that
    /// paused clients until the pause ends, as Redis skips expiry and eviction then.
    public private(set) var expiryHeld = false

    /// Brings expiry in line with the pause; called between commands, never inside one
    /// (keys a transaction writes after its CLIENT PAUSE must not meet held entries).
    /// Keys whose time has passed stay (reading as missing) while writes are paused, and on
    /// a replica, where only the primary's DELs remove them.
    public var expiryShouldHold: Bool { pausedUntil > 0 || primaryLink != nil || failoverState != .none }

    public func applyPauseToExpiry() {
        let hold = expiryShouldHold
        guard hold != expiryHeld else { return }
        expiryHeld = hold
        for i in keyspace.databases.indices { keyspace.databases[i].holdsExpired = hold }
    }
    /// The clock commands see; tests replace it.
    public var clock: () -> Int64
    /// Monotonic microseconds when the current command started (for commandstats).
    public var commandClock: Int64 = 0

    /// Asked to shut down; returns an error text to refuse (e.g. a failed save).
    public var shutdownHook: ((ShutdownRequest) -> CommandError?)?
    /// CLIENT UNBLOCK: answers a blocked client (its timeout reply, or `error` when given) and
    /// returns whether one was blocked.
    public var unblockHook: ((Int64, CommandError?) -> Bool)?
    /// Called when CLIENT UNPAUSE lifts a pause, so parked clients resume.
    public var unpauseHook: (() -> Void)?
    /// Asked to sleep (DEBUG SLEEP) — blocks the server, as in Redis.
    public var sleepHook: ((Double) -> Void)?
    /// Extra INFO sections from the runtime (e.g. `server` fields only it knows).
    public var infoHook: ((String) -> [(String, String)])?

    /// `commands` is the command table the server answers with (the families' registrations:
    /// `CommandTable.standard`); the state itself knows no command family.
    public init(
        config: Config, commands: CommandTable, scriptEngine: ((ServerState) -> any ScriptRuntime)? = nil,
        clock: @escaping () -> Int64 = wallClockMillis
    ) {
        self.config = config
        self.makeScriptEngine = scriptEngine
        self.keyspace = Keyspace(databases: Int(config.int("databases")), seed: UInt64.random(in: 0...UInt64.max))
        self.commands = commands
        self.acl = AccessControl(table: commands)
        acl.applyRequirepass(config["requirepass"])
        config.userLinesForRewrite = { [unowned config, acl] in
            guard config["aclfile"].isEmpty else { return nil }
            return acl.sortedUsers.map { "user \($0.name) \($0.describe(acl.table))" }
        }
        self.clock = clock
        let now = clock()
        self.startTime = now
        self.lastSaveTime = now / 1000
        self.runId = randomHexID()
        config.applyHooks["appendonly"] = { [unowned self] value in self.setAppendOnly(value == "yes") }
        keyspace.tableGrowth.limit = { [unowned self] bytes in
            let limit = self.config.limits.maxmemory
            return limit == 0 || MemoryInfo.usedMemory() + bytes <= Int(limit)
        }
        startupMemory = MemoryInfo.usedMemory()
        keyspace.lfuPolicy = EvictionPolicy(name: config["maxmemory-policy"])?.usesLFU ?? false
        config.applyHooks["maxmemory-policy"] = { [unowned self] value in
            self.keyspace.lfuPolicy = EvictionPolicy(name: value)?.usesLFU ?? false
            self.evictionPool.removeAll()
            return nil
        }
        config.applyHooks["appendfsync"] = { [unowned self] value in
            self.aof?.policy = .init(value)
            return nil
        }
        config.applyHooks["oom-score-adj"] = { [unowned self] _ in self.applyOOMScoreAdjustment() }
        config.applyHooks["oom-score-adj-values"] = { [unowned self] _ in self.applyOOMScoreAdjustment() }
        config.applyHooks["aof-timestamp-enabled"] = { [unowned self] value in
            self.aof?.annotatesTime = value == "yes"
            return nil
        }
        config.applyHooks["aof-disable-auto-gc"] = { [unowned self] value in
            // Turned off: the history kept meanwhile is deleted at once.
            guard let file = self.aof ?? self.rewritingAOF else { return nil }
            file.autoGC = value != "yes"
            file.deleteHistory()
            return nil
        }
    }

    public func register(_ session: ClientSession) {
        clients[session.id] = session
        stats.totalConnections += 1
    }

    public func unregister(_ session: ClientSession) {
        clients[session.id] = nil
        if session.isReplica { replication?.detach(session) }
        unwatchAll(session)
        unsubscribeAll(session)
        if session.isMonitor { monitors.removeAll { $0 === session } }
        disableTracking(session)
    }

    // MARK: Pub/Sub

    /// Subscribers of each channel, pattern and shard channel, in subscription order.
    public var channelSubscribers: OrderedDictionary<[UInt8], [ClientSession]> = [:]
    public var patternSubscribers: OrderedDictionary<[UInt8], [ClientSession]> = [:]
    public var shardSubscribers: OrderedDictionary<[UInt8], [ClientSession]> = [:]

    public func unsubscribeAll(_ session: ClientSession) {
        for c in session.channels { Self.remove(session, from: &channelSubscribers, c) }
        for p in session.patterns { Self.remove(session, from: &patternSubscribers, p) }
        for c in session.shardChannels { Self.remove(session, from: &shardSubscribers, c) }
        session.channels = []
        session.patterns = []
        session.shardChannels = []
    }

    public static func remove(
        _ session: ClientSession, from map: inout OrderedDictionary<[UInt8], [ClientSession]>, _ key: [UInt8]
    ) {
        map[key]?.removeAll { $0 === session }
        if map[key]?.isEmpty == true { map.removeValue(forKey: key) }
    }

    /// PUBLISH: sends `message` to the channel's subscribers, then to every matching
    /// pattern's; returns how many deliveries were made.
    public func publish(channel: [UInt8], message: [UInt8], shard: Bool = false) -> Int {
        var receivers = 0
        var encoded: [Bool: [UInt8]] = [:]
        let kind: Reply = .bulk(Array((shard ? "smessage" : "message").utf8))
        if let subscribers = (shard ? shardSubscribers : channelSubscribers)[channel] {
            for client in subscribers {
                let resp3 = client.resp3
                if encoded[resp3] == nil {
                    let items: [Reply] = [kind, .bulk(channel), .bulk(message)]
                    encoded[resp3] = ReplyEncoder.encode(resp3 ? .push(items) : .array(items), resp3: resp3)
                }
                client.deliverHook?(encoded[resp3]!)
                receivers += 1
            }
        }
        if shard { return receivers }
        for (pattern, subscribers) in patternSubscribers where globMatch(pattern, channel) {
            let items: [Reply] = [.bulk("pmessage"), .bulk(pattern), .bulk(channel), .bulk(message)]
            var forPattern: [Bool: [UInt8]] = [:]
            for client in subscribers {
                let resp3 = client.resp3
                if forPattern[resp3] == nil {
                    forPattern[resp3] = ReplyEncoder.encode(resp3 ? .push(items) : .array(items), resp3: resp3)
                }
                client.deliverHook?(forPattern[resp3]!)
                receivers += 1
            }
        }
        return receivers
    }

    // MARK: WATCH

    /// Keys written while clients wait on them, in the order signalled, each once until it
    /// is served (Redis's server.ready_keys, deduplicated by db->ready_keys).
    public struct ReadyKeyQueue {
        var items: [(db: Int, key: [UInt8])] = []
        var head = 0
        var queued: Set<WatchKey> = []

        public var isEmpty: Bool { head == items.count }
        public var count: Int { items.count - head }

        mutating func append(db: Int, key: ArraySlice<UInt8>) {
            let entry = WatchKey(db: db, key: Array(key))
            guard queued.insert(entry).inserted else { return }
            items.append((db, entry.key))
        }

        /// The oldest key; it may be signalled again while its clients are served.
        public mutating func popFirst() -> (db: Int, key: [UInt8])? {
            guard head < items.count else { return nil }
            let first = items[head]
            head += 1
            queued.remove(WatchKey(db: first.db, key: first.key))
            if head == items.count {
                items.removeAll(keepingCapacity: true)
                head = 0
            }
            return first
        }

        /// What is queued, oldest first.
        public var keys: [(db: Int, key: [UInt8])] { Array(items[head...]) }
    }

    struct WatchKey: Hashable {
        var db: Int
        var key: [UInt8]
    }

    /// Who watches each key (Redis's `watched_keys`).
    var watchers: [WatchKey: [ClientSession]] = [:]
    public var hasWatchers: Bool { !watchers.isEmpty }

    public func watch(_ session: ClientSession, db: Int, key: [UInt8], existed: Bool) {
        if session.watched.contains(where: { $0.db == db && $0.key == key }) { return }
        session.watched.append((db, key, existed))
        watchers[WatchKey(db: db, key: key), default: []].append(session)
    }

    public func unwatchAll(_ session: ClientSession) {
        for w in session.watched {
            let k = WatchKey(db: w.db, key: w.key)
            watchers[k]?.removeAll { $0 === session }
            if watchers[k]?.isEmpty == true { watchers[k] = nil }
        }
        session.watched = []
        session.watchDirty = false
    }

    /// A key was modified: transactions watching it will fail (Redis's touchWatchedKey).
    public func touchWatchedKey(db: Int, key: ArraySlice<UInt8>) {
        guard !watchers.isEmpty, let sessions = watchers[WatchKey(db: db, key: Array(key))] else { return }
        for s in sessions { s.watchDirty = true }
    }

    /// Every watched key of `db` that `exists` says is there (FLUSHDB, FLUSHALL, SWAPDB).
    public func touchWatchedKeys(db: Int, where exists: ([UInt8]) -> Bool) {
        for (k, sessions) in watchers where k.db == db && exists(k.key) {
            for s in sessions { s.watchDirty = true }
        }
    }

    /// CONFIG RESETSTAT, and the end of an AOF load (its commands are not the clients').
    public func resetStatistics() {
        stats = ServerStats()
        acl.deniedAuth = 0
        acl.deniedCommand = 0
        acl.deniedKey = 0
        acl.deniedChannel = 0
        acl.deniedTLSCertificate = 0
        keyspace.keyspaceHits = 0
        keyspace.keyspaceMisses = 0
        evictedKeys = 0
        lazyfreedAtReset = lazyfreeDone.value
        replyBufferShrinks = 0
        replyBufferExpands = 0
        for i in keyspace.databases.indices {
            keyspace.databases[i].expiredKeys = 0
            keyspace.databases[i].expiredFields = 0
        }
        for c in commands.allCommands {
            c.calls = 0
            c.microseconds = 0
            c.rejectedCalls = 0
            c.failedCalls = 0
            c.latencyAtReset = c.latency
        }
    }

    /// Redis's clientsCronResizeOutputBuffer: a buffer whose peak stayed under half its
    /// size shrinks to the peak (1 KB at least); one filled to the brim doubles (16 KB at
    /// most). The peak restarts every replyBufferPeakResetTime. The new size when it changed.
    public func resizeReplyBuffer(_ c: ClientSession, now: Int64) -> Int? {
        guard replyBufferResizing else { return nil }
        var newSize: Int?
        if c.replyBufferSize / 2 >= 1024 && c.replyBufferPeak < c.replyBufferSize / 2 {
            newSize = max(1024, c.replyBufferPeak + 1)
            replyBufferShrinks += 1
        } else if c.replyBufferSize < 16384 && c.replyBufferPeak == c.replyBufferSize {
            newSize = min(16384, c.replyBufferSize * 2)
            replyBufferExpands += 1
        }
        if replyBufferPeakResetTime >= 0 && now - c.replyBufferPeakResetAt >= replyBufferPeakResetTime {
            c.replyBufferPeak = 0
            c.replyBufferPeakResetAt = now
        }
        if let newSize { c.replyBufferSize = newSize }
        return newSize
    }

    public func makeClientId() -> Int64 {
        defer { nextClientId += 1 }
        return nextClientId
    }

    /// Whether a new connection must authenticate: the default user has a password or is
    /// off (Redis's authRequired at connection time).
    public var authRequired: Bool { !acl.defaultUserNeedsNoAuth }
}

public func wallClockMillis() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}

/// 40 random hex characters (Redis's getRandomHexChars): the run ID, a replication ID, a
/// diskless sync's EOF mark.
public func randomHexID() -> String {
    var rng = SystemRandomNumberGenerator()
    let hex = Array("0123456789abcdef".utf8)
    return String(decoding: (0..<40).map { _ in hex[Int(rng.next() % 16)] }, as: UTF8.self)
}

public func wallClockMicros() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
}
