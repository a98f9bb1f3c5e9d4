extension ServerState {
    /// The primary side, created when the first replica syncs (Redis creates the backlog,
    /// with a new replication ID, then), and put on the propagation path.
    public func startReplication() -> ReplicationPrimary {
        if let replication { return replication }
        let primary = ReplicationPrimary(backlogSize: Int(config.int("repl-backlog-size")))
        replication = primary
        propagation.add(primary)
        updateExpiryLogging()
        return primary
    }
}
