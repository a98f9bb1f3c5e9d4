import DataStore
import Persistence

/// What a client blocked in WAIT or WAITAOF waits for.
public struct AckWait {
    public var offset: Int64
    public var replicas: Int
    /// WAITAOF's numlocal (0 or 1); nil for WAIT.
    public var local: Int?

    public init(offset: Int64, replicas: Int, local: Int? = nil) {
        self.offset = offset
        self.replicas = replicas
        self.local = local
    }
}

/// The primary side of Redis's replication (replication.c): the replication ID and
/// offset, the backlog partial resyncs are served from, and the replicas the stream goes
/// to. It is a sink of the one propagation path: every write's effects — exactly what the
/// AOF gets — are encoded once, preceded by a SELECT when the database changes, counted in
/// the offset, kept in the backlog and delivered to every online replica.
public final class ReplicationPrimary: PropagationSink {
    /// A replica's full sync: waiting for a snapshot to start (since when, ms), waiting for
    /// it to be written (the stream held meanwhile), being sent it, then online.
    public enum SyncState: Equatable {
        case waitingForSnapshot(since: Int64)
        case waitingForSnapshotEnd
        case sendingSnapshot
        case online
    }

    /// A replica attached by SYNC/PSYNC, and what it told of itself.
    public final class Replica {
        public let session: ClientSession
        /// REPLCONF listening-port / ip-address (INFO's `slaveN:ip=…,port=…`).
        public var listeningPort: Int
        public var announcedIP: String?
        /// The offset it last acknowledged (REPLCONF ACK), and when (ms).
        public var ackOffset: Int64 = 0
        /// The offset its AOF has fsynced (REPLCONF ACK … FACK), for WAITAOF.
        public var aofAckOffset: Int64 = 0
        public var ackTime: Int64
        /// Where its full sync stands (Redis's replstate).
        public internal(set) var syncState: SyncState = .online
        /// PSYNC (answered +FULLRESYNC) rather than SYNC (the payload alone).
        public var usesPSYNC = true
        /// The stream written while its snapshot is made: sent right after the snapshot, or
        /// after an EOF-marked one once the replica ACKs (it finds the mark only at the end
        /// of what it read, as Redis's repl_start_cmd_stream_on_ack has it).
        var heldStream: [UInt8] = []
        var streamHeld = false

        /// INFO's `state=`.
        public var stateName: String {
            switch syncState {
            case .waitingForSnapshot, .waitingForSnapshotEnd: return "wait_bgsave"
            case .sendingSnapshot: return "send_bulk"
            case .online: return "online"
            }
        }

        /// Bytes of stream held for it until its snapshot is sent.
        public var heldBytes: Int { heldStream.count }

        init(session: ClientSession, listeningPort: Int, announcedIP: String?, now: Int64) {
            self.session = session
            self.listeningPort = listeningPort
            self.announcedIP = announcedIP
            ackTime = now
        }

        /// INFO's address: the announced one, else the connection's.
        public var ip: String {
            if let announcedIP { return announcedIP }
            let address = session.address
            guard let colon = address.lastIndex(of: ":") else { return address }
            return String(address[..<colon])
        }
    }

    /// 40 hex characters, new when the backlog is created (Redis's changeReplicationId).
    public private(set) var replicationID: String
    /// Bytes of replication stream produced so far (master_repl_offset).
    public private(set) var offset: Int64 = 0
    /// The stream's last bytes, from `backlogStart` (repl-backlog-size of them at most).
    var backlog: [UInt8] = []
    public private(set) var backlogStart: Int64 = 1
    public var backlogSize: Int
    /// The database the stream's last SELECT named (-1: the next command selects).
    var selectedDB = -1
    public var streamDB: Int { selectedDB }
    public private(set) var replicas: [Replica] = []

    public init(backlogSize: Int) {
        self.backlogSize = max(16 * 1024, backlogSize)
        replicationID = randomHexID()
    }

    /// While this server is itself a replica, the stream is its primary's, passed on
    /// unchanged (Redis's replicationFeedStreamFromMasterStream): the primary's ID and
    /// offsets, so a replica of a replica can continue with PSYNC from either after a
    /// failover (PSYNC2's shared history). What this server propagates itself (a writable
    /// replica's own writes, its PINGs) goes nowhere then, as in Redis.
    public private(set) var passesOnPrimaryStream = false

    /// The history followed from here on is the primary's: `id` at `offset` (after a full
    /// sync; the backlog starts empty there), or what this server had when the two are the
    /// same history (its backlog kept).
    public func follow(replicationID id: String, offset: Int64) {
        passesOnPrimaryStream = true
        if id == replicationID && offset == self.offset { return }
        replicationID = id
        continueHistory(offset: offset)
    }

    /// The primary's stream, as applied: kept in the backlog and sent to this server's
    /// replicas.
    public func passOn(_ bytes: ArraySlice<UInt8>) {
        feed(bytes)
    }

    /// The primary's ID changed (+CONTINUE with a new one): the history goes on under it.
    public func renameHistory(_ id: String) {
        replicationID = id
    }

    /// A primary again (Redis's shiftReplicationId): a new ID from this offset on; the next
    /// command selects its database.
    public func startOwnHistory() {
        passesOnPrimaryStream = false
        replicationID = randomHexID()
        selectedDB = -1
    }

    /// After a promotion: the stream goes on from the offset the replica had reached (the
    /// backlog starts empty there), so replicas at that offset continue with PSYNC.
    public func continueHistory(offset: Int64) {
        self.offset = offset
        backlog = []
        backlogStart = offset + 1
        selectedDB = -1
    }

    // MARK: The stream

    public var takesReplicaOnlyCommands: Bool { true }

    public func append(db: Int, command: ArraySlice<UInt8>) {
        if passesOnPrimaryStream { return }
        if db != selectedDB {
            var select: [UInt8] = []
            AOFEncoding.appendSelect(db, into: &select)
            feed(select[...])
            selectedDB = db
        }
        feed(command)
    }

    /// REPLCONF GETACK * in the stream (for WAIT): every replica answers with its offset.
    public func requestAcks() {
        if passesOnPrimaryStream { return }
        feed(Array("*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n".utf8)[...])
    }

    /// Online replicas that acknowledged `offset` or more.
    public func acknowledged(upTo offset: Int64) -> Int {
        replicas.reduce(0) { $0 + ($1.syncState == .online && $1.ackOffset >= offset ? 1 : 0) }
    }

    /// Online replicas whose AOF has fsynced `offset` or more.
    public func acknowledgedInAOF(upTo offset: Int64) -> Int {
        replicas.reduce(0) { $0 + ($1.syncState == .online && $1.aofAckOffset >= offset ? 1 : 0) }
    }

    /// Replicas whose last ACK is at most `maxLag` seconds old (Redis's
    /// repl_good_slaves_count, the count min-replicas-to-write needs).
    public func goodReplicas(now: Int64, maxLag: Int64) -> Int {
        replicas.reduce(0) { $0 + ($1.syncState == .online && (now - $1.ackTime) / 1000 <= maxLag ? 1 : 0) }
    }

    /// A PING in the stream (replicationCron's, every repl-ping-replica-period), so
    /// replicas see the link alive.
    public func ping() {
        if passesOnPrimaryStream { return }
        feed(Array("*1\r\n$4\r\nPING\r\n".utf8)[...])
    }

    func feed(_ bytes: ArraySlice<UInt8>) {
        backlog.append(contentsOf: bytes)
        offset += Int64(bytes.count)
        // Trimmed in chunks: the front is dropped once it is a whole backlog too long.
        if backlog.count > 2 * backlogSize {
            let drop = backlog.count - backlogSize
            backlog.removeFirst(drop)
            backlogStart += Int64(drop)
        }
        if replicas.isEmpty { return }
        let copy = Array(bytes)
        for replica in replicas {
            if replica.streamHeld {
                replica.heldStream.append(contentsOf: bytes)
            } else if case .waitingForSnapshot = replica.syncState {
                continue  // its snapshot will have these writes
            } else {
                replica.session.deliverHook?(copy)
            }
        }
    }

    /// The backlog's bytes from stream offset `from` on (the replica's offset + 1), or nil
    /// when they are no longer (or not yet) there: PSYNC's +CONTINUE test.
    public func backlogBytes(from: Int64) -> [UInt8]? {
        let histlen = Int64(backlog.count)
        // From what INFO shows as the backlog's first byte (older bytes wait to be trimmed).
        guard from >= backlogFirstByte, from <= backlogStart + histlen else { return nil }
        return Array(backlog[Int(from - backlogStart)...])
    }

    /// INFO's repl_backlog_histlen: what the backlog holds, up to its size.
    public var backlogLength: Int { min(backlog.count, backlogSize) }
    public var backlogFirstByte: Int64 { backlogStart + Int64(max(0, backlog.count - backlogLength)) }

    // MARK: Replicas

    /// Attaches a replica: online at once after +CONTINUE, else waiting for a snapshot.
    public func attach(_ session: ClientSession, listeningPort: Int, announcedIP: String?, now: Int64, fullSync: Bool)
        -> Replica
    {
        replicas.removeAll { $0.session === session }
        let replica = Replica(session: session, listeningPort: listeningPort, announcedIP: announcedIP, now: now)
        if fullSync { replica.syncState = .waitingForSnapshot(since: now) }
        replicas.append(replica)
        return replica
    }

    /// Replicas waiting for a snapshot to start, and since when the first has waited.
    public var waitingForSnapshot: (replicas: [Replica], since: Int64?) {
        var since: Int64?
        let waiting = replicas.filter {
            guard case .waitingForSnapshot(let t) = $0.syncState else { return false }
            since = min(since ?? t, t)
            return true
        }
        return (waiting, since)
    }

    /// A snapshot starts at the current offset for `waiting`: the stream is held for them
    /// from here, and the next command selects its database (as after any full sync).
    public func snapshotStarted(for waiting: [Replica]) {
        for replica in waiting {
            replica.syncState = .waitingForSnapshotEnd
            replica.streamHeld = true
        }
        if !passesOnPrimaryStream { selectedDB = -1 }
    }

    /// Replicas whose snapshot is written and not yet sent.
    public var waitingForSnapshotEnd: [Replica] { replicas.filter { $0.syncState == .waitingForSnapshotEnd } }

    /// The snapshot is being sent to `replica`: the stream goes to it directly from now,
    /// after what was held (returned) — or, `untilAck`, from its first ACK.
    public func startSending(to replica: Replica, untilAck: Bool) -> [UInt8] {
        replica.syncState = .sendingSnapshot
        if untilAck { return [] }
        return releaseHeldStream(of: replica)
    }

    /// REPLCONF ACK <offset>: recorded; the first one after an EOF-marked snapshot starts
    /// the stream (the bytes held until then are returned).
    public func acknowledge(_ replica: Replica, offset: Int64, aofOffset: Int64? = nil, now: Int64) -> [UInt8] {
        replica.ackOffset = offset
        if let aofOffset { replica.aofAckOffset = max(replica.aofAckOffset, aofOffset) }
        replica.ackTime = now
        guard replica.streamHeld && replica.syncState == .online else { return [] }
        return releaseHeldStream(of: replica)
    }

    /// The stream held for `replica`, which goes to it directly from now.
    func releaseHeldStream(of replica: Replica) -> [UInt8] {
        replica.streamHeld = false
        defer { replica.heldStream = [] }
        return replica.heldStream
    }

    /// The snapshot reached `replica`'s socket: it is online (WAIT and min-replicas count it).
    public func snapshotSent(to replica: Replica, now: Int64) {
        guard replica.syncState == .sendingSnapshot else { return }
        replica.syncState = .online
        replica.ackTime = now
    }

    public func detach(_ session: ClientSession) {
        replicas.removeAll { $0.session === session }
    }

    /// When the last replica left (ms; 0 while some are attached): repl-backlog-ttl counts
    /// from there.
    public var noReplicasSince: Int64 = 0 {
        didSet { if noReplicasSince == 0 { historyDropped = false } }
    }
    /// The backlog was dropped since the last replica left (once is enough).
    public private(set) var historyDropped = false

    /// repl-backlog-ttl ran out with no replica: the backlog goes and a new history starts
    /// (a new ID, the offset carried on), so a replica coming back syncs in full.
    public func dropHistory() {
        historyDropped = true
        replicationID = randomHexID()
        backlog = []
        backlogStart = offset + 1
        selectedDB = -1
    }

    public func replica(of session: ClientSession) -> Replica? {
        replicas.first { $0.session === session }
    }
}
