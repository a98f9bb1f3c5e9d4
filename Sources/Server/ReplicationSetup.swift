import DataStore
import Persistence
import RESP

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A finished replication snapshot on its way to one replica: `header`, then `size` bytes
/// of the file at `fd` (from its start), then `trailer`. The runtime sends the file from
/// its descriptor (it takes a descriptor of its own: `fd` is closed once every replica's
/// transfer is queued).
public struct SnapshotTransfer {
    public let replica: ReplicationPrimary.Replica
    public let header: [UInt8]
    public let fd: Int32
    public let size: Int
    public let trailer: [UInt8]
}

extension ServerState {
    /// The primary side, created when the first replica syncs (Redis creates the backlog,
    /// with a new replication ID, then), and put on the propagation path.
    public func startReplication() -> ReplicationPrimary {
        if let replication { return replication }
        let primary = ReplicationPrimary(backlogSize: Int(config.int("repl-backlog-size")))
        if offsetWithoutBacklog > 0 { primary.continueHistory(offset: offsetWithoutBacklog) }
        replication = primary
        propagation.add(primary)
        updateExpiryLogging()
        return primary
    }

    /// master_repl_offset: the stream's, or the count of writes while there is no backlog.
    public var replicationOffset: Int64 { replication?.offset ?? offsetWithoutBacklog }

    /// The replication offset the AOF has fsynced up to (Redis's fsynced_reploff): -1 with
    /// `appendonly no`, 0 until the first base of one just turned on is written.
    public var fsyncedReplicationOffset: Int64 {
        guard let aof, !aof.detached else { return -1 }
        return aof.waitingForFirstBase ? 0 : aof.syncedOffset
    }

    /// Where a WAIT or WAITAOF stands: the replicas that acknowledged its offset (for
    /// WAITAOF, in their AOF), whether the local AOF has fsynced it, whether that is what it
    /// asked for, and the reply that says so.
    public func acknowledgements(of wait: AckWait) -> (satisfied: Bool, reply: Reply) {
        guard let local = wait.local else {
            let replicas = replication?.acknowledged(upTo: wait.offset) ?? 0
            return (replicas >= wait.replicas, .integer(Int64(replicas)))
        }
        let replicas = replication?.acknowledgedInAOF(upTo: wait.offset) ?? 0
        let fsynced = fsyncedReplicationOffset >= wait.offset ? 1 : 0
        return (
            replicas >= wait.replicas && fsynced >= local,
            .array([.integer(Int64(fsynced)), .integer(Int64(replicas))])
        )
    }

    /// Replicas waiting for a full sync get one snapshot — the fork-less background save,
    /// a point in time at the current offset — once no other save runs: at once, or for a
    /// diskless sync after `repl-diskless-sync-delay` seconds (sooner once
    /// `repl-diskless-sync-max-replicas` wait), so replicas arriving together share it.
    /// Each is answered `+FULLRESYNC <replid> <offset>` then; the stream is held for it
    /// until its snapshot is sent.
    public func startReplicationSnapshotIfDue() {
        guard let primary = replication, backgroundSave == nil else { return }
        let (waiting, since) = primary.waitingForSnapshot
        guard let since else { return }
        let diskless = config.bool("repl-diskless-sync")
        if diskless {
            let delay = config.int("repl-diskless-sync-delay") * 1000
            let enough = config.int("repl-diskless-sync-max-replicas")
            if clock() - since < delay && !(enough > 0 && waiting.count >= enough) { return }
        }
        guard let bg = makeBackgroundSave(purpose: .replication) else {
            persistenceLog?("Can't BGSAVE for replication: \(FileError.current)")
            for replica in waiting { replica.session.closeHook?() }
            return
        }
        persistenceLog?("Starting BGSAVE for SYNC with target: \(diskless ? "replicas sockets" : "disk")")
        backgroundSave = bg
        backgroundSaveStarted = monotonicMicrosNow()
        primary.snapshotStarted(for: waiting)
        for replica in waiting where replica.usesPSYNC {
            replica.session.deliverHook?(Array("+FULLRESYNC \(primary.replicationID) \(primary.offset)\r\n".utf8))
        }
        backgroundSaveHook?()
    }

    /// The replication snapshot is written (or failed): each replica waiting for it gets
    /// it — `$<length>`, or `$EOF:<mark>` … `<mark>` to a replica that took `capa eof`
    /// under `repl-diskless-sync` — and then the stream held meanwhile.
    func completeReplicationSave(_ bg: BackgroundSave, _ errno: Int32) {
        backgroundSave = nil
        let file = bg.replicationFile
        defer { close(file.fd) }
        guard let primary = replication else { return }
        let diskless = config.bool("repl-diskless-sync")
        for replica in primary.waitingForSnapshotEnd {
            if errno != 0 {
                persistenceLog?("SYNC failed. BGSAVE child returned an error: \(FileError(errno))")
                replica.session.closeHook?()
                continue
            }
            var header = Array("$\(file.size)\r\n".utf8)
            var trailer: [UInt8] = []
            if diskless && replica.session.capaEOF {
                trailer = Array(randomHexID().utf8)
                header = Array("$EOF:".utf8) + trailer + [13, 10]
            }
            let transfer = SnapshotTransfer(
                replica: replica, header: header, fd: file.fd, size: file.size, trailer: trailer)
            // The held stream is queued after the file (the runtime may report the file sent
            // before this returns).
            let held = primary.startSending(to: replica, untilAck: !trailer.isEmpty)
            if let hook = snapshotTransferHook {
                hook(transfer)
                replica.session.deliverHook?(held)
            } else {
                // No socket to send a file to (the command tests): the bytes themselves.
                var bytes = [UInt8](repeating: 0, count: file.size)
                let read = bytes.withUnsafeMutableBytes { pread(file.fd, $0.baseAddress, file.size, 0) }
                bytes.removeLast(file.size - max(0, read))
                replica.session.deliverHook?(header + bytes + trailer + held)
                snapshotSent(to: replica)
            }
        }
        if errno == 0 {
            persistenceLog?("Background RDB transfer terminated with success")
        }
    }

    /// replicationCron's keepalive: a newline each second to replicas waiting for their
    /// snapshot to start or to be written, so their repl-timeout does not run out meanwhile
    /// (the snapshot's header, `$EOF:` too, is sent only once it is written).
    public func keepWaitingReplicasAlive() {
        guard let primary = replication else { return }
        for replica in primary.replicas {
            switch replica.syncState {
            case .waitingForSnapshot, .waitingForSnapshotEnd: replica.session.deliverHook?([10])
            default: break
            }
        }
    }

    /// replicationCron's backlog expiry: a primary without replicas for repl-backlog-ttl
    /// seconds frees its backlog and starts a new history (its old ones no longer valid).
    public func expireReplicationBacklog() {
        guard let primary = replication, primaryLink == nil else { return }
        let now = clock()
        guard primary.replicas.isEmpty else {
            primary.noReplicasSince = 0
            return
        }
        if primary.noReplicasSince == 0 {
            primary.noReplicasSince = now
            return
        }
        let ttl = config.int("repl-backlog-ttl")
        guard ttl > 0, now - primary.noReplicasSince >= ttl * 1000, !primary.historyDropped else { return }
        primary.dropHistory()
        replicationID2 = String(repeating: "0", count: 40)
        secondReplicationOffset = -1
        persistenceLog?("Replication backlog freed after \(ttl) seconds without connected replicas.")
    }

    /// The runtime sent a replica its snapshot: it is online.
    public func snapshotSent(to replica: ReplicationPrimary.Replica) {
        replication?.snapshotSent(to: replica, now: clock())
        persistenceLog?("Synchronization with replica \(replica.session.address) succeeded")
    }
}
