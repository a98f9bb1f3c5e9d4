import CommandFacts
import DataStore
import RESP
import Server

/// What a standalone server answers to the cluster and replication commands: CLUSTER,
/// READONLY, READWRITE and ASKING refuse (`cluster-enabled no`), WAIT counts replicas'
/// acknowledgements, FAILOVER finds none; REPLICAOF follows a primary or stops.
enum StandaloneCommands {
    static let clusterDisabled = CommandError("ERR This instance has cluster support disabled")

    /// CLUSTER <subcommand>, READONLY, READWRITE, ASKING
    static func clusterOnly(_ ctx: CommandContext) throws(CommandError) -> Reply { throw clusterDisabled }

    /// WAIT numreplicas timeout: the replicas that acknowledged this client's last write.
    /// Answered at once when enough have (or the client cannot block); else REPLCONF GETACK
    /// goes into the stream and the client waits for their ACKs, or the timeout (0: never),
    /// and gets the count then.
    static func wait(_ ctx: CommandContext) throws(CommandError) -> Reply {
        if ctx.server.primaryLink != nil {
            throw CommandError(
                "ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated."
            )
        }
        let wanted = try ctx.int64(1)
        let ms = try ackTimeout(ctx, 2)
        let wait = AckWait(offset: ctx.session.replicationWriteOffset, replicas: Int(wanted))
        return answerOrBlock(ctx, wait, timeout: ms)
    }

    /// WAIT's and WAITAOF's timeout in milliseconds (0: none), with Redis's errors.
    static func ackTimeout(_ ctx: CommandContext, _ i: Int) throws(CommandError) -> Int64 {
        guard let ms = parseInt64(ctx.arg(i)) else { throw .timeoutNotInteger }
        if ms < 0 { throw .timeoutNegative }
        if ms > Int64.max - ctx.now { throw .timeoutOutOfRange }
        return ms
    }

    /// Answers `wait` at once when its acknowledgements are there (or the client cannot
    /// block); else REPLCONF GETACK goes into the stream and the client waits for the ACKs
    /// (the runtime's answerWaits) or the timeout, and gets the counts then.
    static func answerOrBlock(_ ctx: CommandContext, _ wait: AckWait, timeout ms: Int64) -> Reply {
        let (satisfied, reply) = ctx.server.acknowledgements(of: wait)
        if satisfied || !ctx.mayBlock { return reply }
        ctx.server.replication?.requestAcks()
        ctx.blockRequest = BlockRequest(
            keys: [], db: ctx.session.db, deadline: ms == 0 ? nil : ctx.now + ms, timeoutReply: reply)
        ctx.blockRequest?.waitsForAcks = wait
        return .null
    }

    /// WAITAOF numlocal numreplicas timeout: whether the local AOF (numlocal 0 or 1) and how
    /// many replicas' AOFs have fsynced this client's last write, `[local, replicas]`. As
    /// WAIT, answered at once when enough have (or the client cannot block), else after
    /// their ACKs (which carry `FACK <offset>`), the local fsync, or the timeout.
    static func waitAOF(_ ctx: CommandContext) throws(CommandError) -> Reply {
        guard let local = parseInt64(ctx.arg(1)) else { throw .notInteger }
        if local < 0 || local > 1 { throw CommandError("ERR value is out of range, value must between 0 and 1") }
        guard let wanted = parseInt64(ctx.arg(2)) else { throw .notInteger }
        if wanted < 0 { throw CommandError("ERR value is out of range, must be positive") }
        let ms = try ackTimeout(ctx, 3)
        let state = ctx.server
        if state.primaryLink != nil {
            throw CommandError(
                "ERR WAITAOF cannot be used with replica instances. Please also note that writes to replicas are just local and are not propagated."
            )
        }
        if local > 0 && state.aof == nil { throw .waitAOFWithoutAOF }
        let wait = AckWait(offset: ctx.session.replicationWriteOffset, replicas: Int(wanted), local: Int(local))
        return answerOrBlock(ctx, wait, timeout: ms)
    }

    /// FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT milliseconds]: hands the primary
    /// role to a replica once it has the whole stream (writes pause meanwhile).
    static func failover(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let state = ctx.server
        if ctx.argc == 2 && ctx.argIs(1, "abort") {
            if state.failoverState == .none { throw CommandError("ERR No failover in progress.") }
            state.abortFailover("Failover manually aborted")
            return .ok
        }
        var timeout: Int64 = 0
        var force = false
        var target: (host: String, port: Int)?
        var j = 1
        while j < ctx.argc {
            if ctx.argIs(j, "timeout") && j + 1 < ctx.argc && timeout == 0 {
                timeout = try ctx.int64(j + 1)
                if timeout <= 0 { throw CommandError("ERR FAILOVER timeout must be greater than 0") }
                j += 2
            } else if ctx.argIs(j, "to") && j + 2 < ctx.argc && target == nil {
                let port = try ctx.int64(j + 2)
                target = (ctx.argString(j + 1), Int(truncatingIfNeeded: port))
                j += 3
            } else if ctx.argIs(j, "force") && !force {
                force = true
                j += 1
            } else {
                throw .syntax
            }
        }
        if state.failoverState != .none { throw CommandError("ERR FAILOVER already in progress.") }
        if state.primaryLink != nil { throw CommandError("ERR FAILOVER is not valid when server is a replica.") }
        if state.replication?.replicas.isEmpty ?? true {
            throw CommandError("ERR FAILOVER requires connected replicas.")
        }
        if force && (timeout == 0 || target == nil) {
            throw CommandError("ERR FAILOVER with force option requires both a timeout and target HOST and IP.")
        }
        if let target {
            guard let replica = state.replica(host: target.host, port: target.port) else {
                throw CommandError("ERR FAILOVER target HOST and PORT is not a replica.")
            }
            if replica.syncState != .online { throw CommandError("ERR FAILOVER target replica is not online.") }
        }
        state.startFailover(to: target, timeout: timeout, force: force)
        return .ok
    }

    /// REPLICAOF host port / SLAVEOF: follows that primary (a full or partial sync, then
    /// its stream); NO ONE makes the server a primary again, keeping its dataset.
    static func replicaof(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let state = ctx.server
        if state.failoverState != .none { throw CommandError("ERR REPLICAOF not allowed while failing over.") }
        if ctx.argIs(1, "no") && ctx.argIs(2, "one") {
            if state.primaryLink != nil {
                state.stopFollowing()
                state.persistenceLog?(
                    "MASTER MODE enabled (user request from 'id=\(ctx.session.id) addr=\(ctx.session.address)')")
            }
            return .ok
        }
        if ctx.session.isReplica {
            throw CommandError("ERR Command is not valid when client is a replica.")
        }
        guard let port = parseInt64(ctx.arg(2)), port >= 0, port <= 65535 else {
            throw CommandError("ERR Invalid master port")
        }
        let host = ctx.argString(1)
        guard state.follow(host: host, port: Int(port)) else {
            state.persistenceLog?(
                "REPLICAOF would result into synchronization with the master we are already connected with. No operation performed."
            )
            return .status("OK Already connected to specified master")
        }
        state.persistenceLog?(
            "REPLICAOF \(host):\(port) enabled (user request from 'id=\(ctx.session.id) addr=\(ctx.session.address)')")
        return .ok
    }

    /// Every CLUSTER subcommand: what cluster mode serves, the rest needing the bus (all
    /// refused on a standalone server).
    static let clusterSubcommands: [(String, Handler)] = {
        var out: [(String, Handler)] = []
        for row in CommandRow.all.first(where: { $0.name == "cluster" })?.subcommands ?? [] {
            let handler: Handler
            if let served = ClusterCommands.subcommands[row.name] {
                handler = served
            } else {
                handler = ClusterCommands.needsBus
            }
            out.append((row.name, handler))
        }
        return out
    }()
}

extension CommandTable {
    static let standaloneRegistrations: [(String, Handler)] =
        [
            ("cluster", StandaloneCommands.clusterOnly),
            ("readonly", ClusterCommands.readOnly),
            ("readwrite", ClusterCommands.readWrite),
            ("asking", ClusterCommands.asking),
            ("wait", StandaloneCommands.wait),
            ("waitaof", StandaloneCommands.waitAOF),
            ("failover", StandaloneCommands.failover),
            ("replicaof", StandaloneCommands.replicaof),
            ("slaveof", StandaloneCommands.replicaof),
        ] + StandaloneCommands.clusterSubcommands
}
