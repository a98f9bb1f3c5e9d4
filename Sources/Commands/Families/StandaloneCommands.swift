import CommandFacts
import DataStore
import RESP
import Server

/// What a standalone Redis master answers to the cluster and replication commands: CLUSTER,
/// READONLY, READWRITE and ASKING refuse (`cluster-enabled no`), WAIT counts no replicas,
/// FAILOVER finds none, REPLICAOF NO ONE is already true.
enum StandaloneCommands {
    static let clusterDisabled = CommandError("ERR This instance has cluster support disabled")

    /// CLUSTER <subcommand>, READONLY, READWRITE, ASKING
    static func clusterOnly(_ ctx: CommandContext) throws(CommandError) -> Reply { throw clusterDisabled }

    /// WAIT numreplicas timeout: no replica ever acknowledges, so it answers 0 at once when
    /// none is asked for (or the client cannot block), else after the timeout (0: never,
    /// until CLIENT UNBLOCK), as Redis with no replicas.
    static func wait(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let wanted = try ctx.int64(1)
        guard let ms = parseInt64(ctx.arg(2)) else {
            throw CommandError("ERR timeout is not an integer or out of range")
        }
        if ms < 0 { throw .timeoutNegative }
        if ms > Int64.max - ctx.now { throw .timeoutOutOfRange }
        let acknowledged: Int64 = 0
        if acknowledged >= wanted || !ctx.mayBlock { return .integer(acknowledged) }
        ctx.blockRequest = BlockRequest(
            keys: [], db: ctx.session.db, deadline: ms == 0 ? nil : ctx.now + ms, timeoutReply: .integer(acknowledged))
        return .null
    }

    /// FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT milliseconds]
    static func failover(_ ctx: CommandContext) throws(CommandError) -> Reply {
        if ctx.argc == 2 && ctx.argIs(1, "abort") { throw CommandError("ERR No failover in progress.") }
        var timeout: Int64 = 0
        var force = false
        var host = false
        var j = 1
        while j < ctx.argc {
            if ctx.argIs(j, "timeout") && j + 1 < ctx.argc && timeout == 0 {
                timeout = try ctx.int64(j + 1)
                if timeout <= 0 { throw CommandError("ERR FAILOVER timeout must be greater than 0") }
                j += 2
            } else if ctx.argIs(j, "to") && j + 2 < ctx.argc && !host {
                _ = try ctx.int64(j + 2)
                host = true
                j += 3
            } else if ctx.argIs(j, "force") && !force {
                force = true
                j += 1
            } else {
                throw .syntax
            }
        }
        throw CommandError("ERR FAILOVER requires connected replicas.")
    }

    /// REPLICAOF host port / SLAVEOF: NO ONE is what a master already is; following a
    /// master is replication, which Swiftlet does not do yet.
    static func replicaof(_ ctx: CommandContext) throws(CommandError) -> Reply {
        if ctx.argIs(1, "no") && ctx.argIs(2, "one") { return .ok }
        guard let port = parseInt64(ctx.arg(2)), port >= 0, port <= 65535 else {
            throw CommandError("ERR Invalid master port")
        }
        throw CommandError("ERR Swiftlet cannot be a replica: replication is not implemented yet")
    }

    static let clusterSubcommands: [(String, Handler)] =
        (CommandRow.reference.first { $0.name == "cluster" }?.subcommands ?? []).map {
            ($0.name, StandaloneCommands.clusterOnly)
        }
}

extension CommandTable {
    static let standaloneRegistrations: [(String, Handler)] =
        [
            ("cluster", StandaloneCommands.clusterOnly),
            ("readonly", StandaloneCommands.clusterOnly),
            ("readwrite", StandaloneCommands.clusterOnly),
            ("asking", StandaloneCommands.clusterOnly),
            ("wait", StandaloneCommands.wait),
            ("failover", StandaloneCommands.failover),
            ("replicaof", StandaloneCommands.replicaof),
            ("slaveof", StandaloneCommands.replicaof),
        ] + StandaloneCommands.clusterSubcommands
}
