import DataStore
import Persistence

/// A server as a replica: REPLICAOF's two directions, the primary's snapshot replacing the
/// dataset, and its commands run as the primary's client.
extension ServerState {
    /// REPLICAOF host port: follows that primary (the runtime connects and syncs). False
    /// when it already does.
    public func follow(host: String, port: Int, failover: Bool = false) -> Bool {
        if let link = primaryLink, link.host == host, link.port == port { return false }
        let user = config["masteruser"]
        let password = config["masterauth"]
        let link = PrimaryLink(
            host: host, port: port,
            authentication: password.isEmpty ? nil : (user.isEmpty ? nil : user, password),
            listeningPort: Int(
                config.int("replica-announce-port") == 0 ? config.int("port") : config.int("replica-announce-port")),
            announcedIP: config["replica-announce-ip"].isEmpty ? nil : config["replica-announce-ip"])
        // A replica of a replica's data: what this server applied so far lets it ask for a
        // partial resync when it had followed the same history.
        if let previous = primaryLink {
            link.replicationID = previous.replicationID
            link.offset = previous.offset
        } else if let primary = replication {
            link.replicationID = primary.replicationID
            link.offset = primary.offset
        }
        link.failoverRequest = failover
        primaryLink = link
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
        if link.offset >= 0 {
            replicationID2 = link.replicationID
            secondReplicationOffset = link.offset + 1
            let primary = startReplication()
            primary.continueHistory(offset: link.offset)
        }
        applyPauseToExpiry()
        _ = applyOOMScoreAdjustment()
        primaryLinkHook?()
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
        return nil
    }

    /// Runs `body` as the primary's client: keys whose time has passed are seen as they are.
    public func asPrimaryClient<T>(_ body: () -> T) -> T {
        for i in keyspace.databases.indices { keyspace.databases[i].showsExpired = true }
        defer { for i in keyspace.databases.indices { keyspace.databases[i].showsExpired = false } }
        return body()
    }
}
