/// FAILOVER's coordinated handover (replication.c's failoverCommand and
/// updateFailoverStatus): the primary pauses writes, waits until a replica — the one named,
/// or the first — has acknowledged its whole stream, then becomes that replica's replica,
/// its PSYNC carrying FAILOVER so the replica takes over as primary and continues it.
public enum FailoverState: Equatable {
    case none
    case waitingForSync
    case inProgress

    /// INFO's master_failover_state.
    public var name: String {
        switch self {
        case .none: return "no-failover"
        case .waitingForSync: return "waiting-for-sync"
        case .inProgress: return "failover-in-progress"
        }
    }
}

extension ServerState {
    /// The replica at `host`:`port` (the address it announced or connected from, and its
    /// listening port).
    public func replica(host: String, port: Int) -> ReplicationPrimary.Replica? {
        replication?.replicas.first { $0.ip == host && $0.listeningPort == port }
    }

    /// FAILOVER accepted: writes pause until it ends.
    public func startFailover(to target: (host: String, port: Int)?, timeout: Int64, force: Bool) {
        failoverTarget = target
        failoverEndTime = timeout > 0 ? clock() + timeout : 0
        failoverForce = force
        failoverState = .waitingForSync
        if let target {
            persistenceLog?("FAILOVER requested to \(target.host):\(target.port).")
        } else {
            persistenceLog?("FAILOVER requested to any replica.")
        }
        applyPauseToExpiry()
    }

    /// Between commands: past the deadline the failover goes ahead (FORCE) or is aborted;
    /// once the replica has acknowledged the whole stream this server follows it.
    public func updateFailoverStatus() {
        guard failoverState == .waitingForSync, let primary = replication else { return }
        if failoverEndTime > 0 && failoverEndTime <= clock() {
            if failoverForce, let target = failoverTarget {
                persistenceLog?("FAILOVER to \(target.host):\(target.port) time out exceeded, failing over.")
                handOver(to: target)
            } else {
                abortFailover("Replica never caught up before timeout")
            }
            return
        }
        var caughtUp: ReplicationPrimary.Replica?
        if let target = failoverTarget {
            caughtUp = replica(host: target.host, port: target.port)
        } else if let first = primary.replicas.first(where: { $0.ackOffset == primary.offset }) {
            caughtUp = first
            failoverTarget = (first.ip, first.listeningPort)
        }
        guard let caughtUp, caughtUp.ackOffset == primary.offset, let target = failoverTarget else { return }
        persistenceLog?("Failover target \(target.host):\(target.port) is synced, failing over.")
        handOver(to: target)
    }

    func handOver(to target: (host: String, port: Int)) {
        failoverState = .inProgress
        _ = follow(host: target.host, port: target.port, failover: true)
    }

    /// The target answered the PSYNC FAILOVER (+CONTINUE, or a full sync): done.
    public func failoverPsyncAnswered() {
        if failoverState == .inProgress { clearFailoverState() }
    }

    /// FAILOVER ABORT, a timeout, or a target that refused: a primary again.
    public func abortFailover(_ reason: String) {
        guard failoverState != .none else { return }
        if let target = failoverTarget {
            persistenceLog?("FAILOVER to \(target.host):\(target.port) aborted: \(reason)")
        } else {
            persistenceLog?("FAILOVER to any replica aborted: \(reason)")
        }
        if failoverState == .inProgress { stopFollowing() }
        clearFailoverState()
    }

    func clearFailoverState() {
        // Later reconnections of the link ask a plain PSYNC (FAILOVER only while in progress).
        primaryLink?.failoverRequest = false
        failoverState = .none
        failoverTarget = nil
        failoverEndTime = 0
        failoverForce = false
        applyPauseToExpiry()
        unpauseHook?()
    }
}
