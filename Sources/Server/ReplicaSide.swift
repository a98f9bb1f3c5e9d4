import DataStore
import Persistence

/// A server as a replica: REPLICAOF's two directions, the primary's snapshot replacing the
/// dataset, and its commands run as the primary's client.
extension ServerState {
    /// The link's next connection attempt: it takes masterauth, masteruser and the
    /// announced address as they are now (CONFIG SET after REPLICAOF counts), as Redis reads
    /// them at each connect.
    public func prepareConnection(_ link: PrimaryLink) {
        let user = config["masteruser"]
        let password = config["masterauth"]
        link.authentication = password.isEmpty ? nil : (user.isEmpty ? nil : user, password)
        // The port the primary should give out for this replica: its TLS one when the
        // replication links are TLS, as Redis announces.
        link.listeningPort = Int(
            config.int("replica-announce-port") != 0
                ? config.int("replica-announce-port")
                : config.bool("tls-replication") ? config.int("tls-port") : config.int("port"))
        link.announcedIP = config["replica-announce-ip"].isEmpty ? nil : config["replica-announce-ip"]
        link.connecting()
    }

    /// REPLICAOF host port: follows that primary (the runtime connects and syncs). False
    /// when it already does.
    public func follow(host: String, port: Int, failover: Bool = false) -> Bool {
        if let link = primaryLink, link.host == host, link.port == port { return false }
        let link = PrimaryLink(host: host, port: port)
        // A replica of a replica's data: what this server applied so far lets it ask for a
        // partial resync when it had followed the same history.
        if let previous = primaryLink {
            link.replicationID = previous.replicationID
            link.offset = previous.offset
            link.streamDB = previous.streamDB
        } else if let restored = restoredPrimaryHistory {
            link.replicationID = restored.id
            link.offset = restored.offset
            link.streamDB = restored.db
        } else if let primary = replication {
            link.replicationID = primary.replicationID
            link.offset = primary.offset
        }
        restoredPrimaryHistory = nil
        link.failoverRequest = failover
        primaryLink = link
        // From here this server passes its primary's stream on (what it had stays in the
        // backlog: it is the history it asks PSYNC to continue). Its replicas stay: they
        // reconnect only when the history changes (a full sync, or a new ID).
        if let primary = replication {
            if link.offset >= 0 {
                primary.follow(replicationID: link.replicationID, offset: link.offset)
            } else {
                primary.follow(replicationID: primary.replicationID, offset: primary.offset)
            }
        }
        config.setQuietly("replicaof", "\(host) \(port)")
        applyPauseToExpiry()
        _ = applyOOMScoreAdjustment()
        primaryLinkHook?()
        return true
    }

    /// REPLICAOF NO ONE: a primary again. The history it followed stays its own: the
    /// primary's ID becomes master_replid2 (valid up to the offset reached), a new ID starts
    /// (Redis's shiftReplicationId), so its own replicas can continue with PSYNC.
    public func stopFollowing() {
        guard let link = primaryLink else { return }
        primaryLink = nil
        config.setQuietly("replicaof", "")
        if let primary = link.offset >= 0 ? startReplication() : replication {
            if link.offset >= 0 { primary.follow(replicationID: link.replicationID, offset: link.offset) }
            replicationID2 = primary.replicationID
            secondReplicationOffset = primary.offset + 1
            primary.startOwnHistory()
            primary.noReplicasSince = 0  // repl-backlog-ttl counts from now
        }
        // Its replicas reconnect to learn of the change (Redis's disconnectSlaves); they
        // continue with PSYNC.
        dropReplicasOfThisReplica(newHistory: false)
        applyPauseToExpiry()
        _ = applyOOMScoreAdjustment()
        primaryLinkHook?()
    }

    /// This server's replicas reconnect: after a full sync they cannot continue (a new
    /// history starts here, Redis's replicationAttachToNewMaster); after a promotion or a
    /// change of the primary's ID they learn of it and continue with PSYNC.
    public func dropReplicasOfThisReplica(newHistory: Bool) {
        guard let primary = replication else { return }
        for replica in primary.replicas { replica.session.closeHook?() }
        if newHistory { primary.dropHistory() }
    }

    /// A full sync loaded: the primary's history (`id` at `offset`) is this server's from
    /// here, passed on to its own replicas, which sync anew (Redis's
    /// replicationAttachToNewMaster; no earlier history is valid any more).
    public func followPrimaryHistory(afterFullSync id: String, offset: Int64) {
        dropReplicasOfThisReplica(newHistory: true)
        startReplication().follow(replicationID: id, offset: offset)
        replicationID2 = String(repeating: "0", count: 40)
        secondReplicationOffset = -1
        // The AOF logged the dataset the snapshot replaced: it starts again from a base of
        // the new one (Redis's stopAppendOnly and restartAOFAfterSYNC).
        if aof != nil {
            _ = setAppendOnly(false)
            if let failure = setAppendOnly(true) {
                persistenceLog?("Failed enabling the AOF after successful master synchronization! \(failure)")
            }
        }
    }

    /// +CONTINUE: the history goes on; under the primary's new ID when it changed (the old
    /// one valid up to here as master_replid2, and this server's replicas reconnect to learn
    /// of it, continuing with PSYNC).
    public func followPrimaryHistory(continuing previousID: String, newID: String?, offset: Int64) {
        let primary = startReplication()
        primary.follow(replicationID: previousID, offset: offset)
        guard let newID else { return }
        replicationID2 = previousID
        secondReplicationOffset = offset + 1
        primary.renameHistory(newID)
        dropReplicasOfThisReplica(newHistory: false)
    }

    /// A full sync's snapshot replaces the dataset and the function libraries. Keys whose
    /// time has passed are kept: the primary's DELs remove them. Nil, or why it failed.
    public func loadPrimarySnapshot(_ bytes: [UInt8]) -> String? {
        for i in keyspace.databases.indices { keyspace.databases[i].removeAll() }
        scriptRuntime?.removeAllLibraries()
        var reader = RDBReader(bytes)
        reader.verifyChecksum = config.bool("rdbchecksum")
        do {
            _ = try reader.load(into: keyspace, now: Int64.min / 4, limits: loadLimits)
        } catch {
            return "\(error)"
        }
        for code in reader.takeFunctionLibraries() { loadFunctionLibrary(code) }
        lastLoadKeys = (reader.loaded, 0)
        // A replica's snapshot names the database its primary's stream had selected (no
        // SELECT comes before the next command it passes on).
        let streamDB = reader.aux.last { $0.0 == "repl-stream-db" }.flatMap { Int($0.1) } ?? 0
        primaryLink?.streamDB = streamDB >= 0 && streamDB < keyspace.databases.count ? streamDB : 0
        return nil
    }

    /// Runs `body` as the primary's client: keys whose time has passed are seen as they are.
    public func asPrimaryClient<T>(_ body: () -> T) -> T {
        for i in keyspace.databases.indices { keyspace.databases[i].showsExpired = true }
        defer { for i in keyspace.databases.indices { keyspace.databases[i].showsExpired = false } }
        return body()
    }
}

extension ServerState {
    /// The replication history an RDB records (Redis's rdbPopulateSaveInfo): a primary's
    /// ID, offset and stream database, or a replica's primary's; none for a server outside
    /// any replication.
    public var replicationSaveInfo: [(String, String)] {
        if let link = primaryLink {
            guard link.replicationID != "?", link.offset >= 0 else { return [] }
            // The database the stream has selected (a replica's own replicas get no SELECT
            // before the next command it passes on): its client's, or where the stream
            // stood when the link dropped.
            let db = clients.values.first { $0.isPrimaryClient }?.db ?? link.streamDB
            return [
                ("repl-stream-db", String(db)), ("repl-id", link.replicationID), ("repl-offset", String(link.offset)),
            ]
        }
        guard let primary = replication else { return [] }
        return [
            ("repl-stream-db", String(max(0, primary.streamDB))), ("repl-id", primary.replicationID),
            ("repl-offset", String(primary.offset)),
        ]
    }

    /// After the RDB loaded at start: its history lets a replica ask PSYNC of its primary,
    /// and a primary continue its replicas' PSYNC (the ID as master_replid2, the offset
    /// carried on), as Redis's loadDataFromDisk does.
    func restoreReplicationInfo(_ aux: [(String, String)], expired: [(db: Int, key: [UInt8])] = []) {
        func field(_ name: String) -> String? { aux.last { $0.0 == name }?.1 }
        guard let id = field("repl-id"), id.utf8.count == 40, let offset = field("repl-offset").flatMap({ Int64($0) }),
            offset != -1, let db = field("repl-stream-db").flatMap({ Int($0) }), db != -1
        else { return }
        if !config["replicaof"].isEmpty {
            if let link = primaryLink, link.offset < 0 {
                link.replicationID = id
                link.offset = offset
                link.streamDB = db
            } else if primaryLink == nil {
                restoredPrimaryHistory = (id, offset, db)
            }
            return
        }
        replicationID2 = id
        secondReplicationOffset = offset + 1
        let primary = startReplication()
        primary.continueHistory(offset: offset)
        // The keys that expired while the server was down: their DELs continue the history,
        // so replicas that resume drop them too.
        for (db, key) in expired {
            var del: [UInt8] = []
            AOFEncoding.append([Array("DEL".utf8), key], into: &del)
            primary.append(db: db, command: del[...])
        }
    }
}

/// A key of one database.
struct DatabaseKey: Hashable {
    var db: Int
    var key: [UInt8]
}

extension ServerState {
    /// After a write by a client of this replica (not its primary): keys it left with a TTL
    /// are this replica's to expire.
    func noteReplicaOwnExpiringKeys(db: Int, keys: [[UInt8]]) {
        for key in keys {
            guard let slot = keyspace.databases[db].table.find(key),
                keyspace.databases[db].table[slot].expireAt != KeyEntry.noExpiry
            else { continue }
            replicaOwnExpiringKeys.insert(DatabaseKey(db: db, key: key))
        }
    }

    /// The cron's expireSlaveKeys: those keys whose time has passed are deleted (logged as
    /// expired for this replica's own AOF and replicas); keys gone or made persistent are
    /// forgotten.
    public func expireReplicaOwnKeys() {
        if replicaOwnExpiringKeys.isEmpty { return }
        let now = clock()
        for tracked in replicaOwnExpiringKeys {
            guard tracked.db < keyspace.databases.count,
                let slot = keyspace.databases[tracked.db].table.find(tracked.key)
            else {
                replicaOwnExpiringKeys.remove(tracked)
                continue
            }
            let expireAt = keyspace.databases[tracked.db].table[slot].expireAt
            if expireAt == KeyEntry.noExpiry {
                replicaOwnExpiringKeys.remove(tracked)
            } else if expireAt < now {
                keyspace.databases[tracked.db].table.remove(slot: slot)
                keyspace.databases[tracked.db].expiredKeys += 1
                if keyspace.databases[tracked.db].logExpired {
                    keyspace.databases[tracked.db].expiredLog.append(tracked.key)
                }
                replicaOwnExpiringKeys.remove(tracked)
            }
        }
        if expiryLogging { drainExpiredEvents() }
    }
}
