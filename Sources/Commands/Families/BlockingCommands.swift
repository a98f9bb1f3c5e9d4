import DataStore
import RESP
import Server

/// The blocking variants of list and sorted-set pops. When nothing is there to pop they set
/// `blockRequest`; the runtime parks the client and runs the command again when one of the
/// keys is written (clients served in the order they blocked), or answers the timeout reply.
enum BlockingCommands {
    /// Redis 7.4's getTimeoutFromObjectOrReply: seconds as a float; 0 waits forever; a
    /// deadline past the clock's range is "timeout is out of range".
    static func deadline(_ ctx: CommandContext, _ i: Int) throws(CommandError) -> Int64? {
        guard let t = parseLongDouble(ctx.arg(i)), t.isFinite else { throw .timeoutNotFloat }
        let ms = t * 1000
        if ms > Float80(Int64.max) { throw .timeoutOutOfRange }
        if t < 0 { throw .timeoutNegative }
        let tval = Int64(ms.rounded(.up))
        if tval == 0 { return nil }
        if tval > Int64.max - ctx.now { throw .timeoutOutOfRange }
        return ctx.now + tval
    }

    static func block(
        _ ctx: CommandContext, keys: Range<Int>, deadline: Int64?, timeoutReply: Reply, awaits: String,
        streamIDs: [StreamID]? = nil, groupRead: Bool = false
    ) -> Reply {
        guard ctx.mayBlock else { return timeoutReply }
        ctx.blockRequest = BlockRequest(
            keys: keys.map { ctx.argBytes($0) }, db: ctx.session.db, deadline: deadline, timeoutReply: timeoutReply,
            streamIDs: streamIDs, awaits: awaits, groupRead: groupRead)
        return .null
    }

    static func blockingPop(_ ctx: CommandContext, _ end: ListCommands.End) throws(CommandError) -> Reply {
        let deadline = try deadline(ctx, ctx.argc - 1)
        for k in 1..<(ctx.argc - 1) {
            guard let slot = ctx.lookupWrite(k) else { continue }
            let l = try ListCommands.list(ctx, slot)
            guard let item = ListCommands.pop(l, end) else { continue }
            ctx.markDirty()
            ListCommands.deleteIfEmpty(ctx, k, l)
            // Replicated as the pop it was (Redis's [LR]POP instead of B[LR]POP).
            if ctx.propagating { ctx.propagate(as: [Array((end == .left ? "LPOP" : "RPOP").utf8), ctx.argBytes(k)]) }
            return .array([.bulk(ctx.argBytes(k)), .bulk(item)])
        }
        return block(ctx, keys: 1..<(ctx.argc - 1), deadline: deadline, timeoutReply: .nullArray, awaits: "list")
    }

    /// BLPOP key [key ...] timeout
    static func blpop(_ ctx: CommandContext) throws(CommandError) -> Reply { try blockingPop(ctx, .left) }
    /// BRPOP key [key ...] timeout
    static func brpop(_ ctx: CommandContext) throws(CommandError) -> Reply { try blockingPop(ctx, .right) }

    static func blockingMove(_ ctx: CommandContext, from: ListCommands.End, to: ListCommands.End, timeoutArg: Int)
        throws(CommandError) -> Reply
    {
        let deadline = try deadline(ctx, timeoutArg)
        if let slot = ctx.lookupWrite(1), try ListCommands.list(ctx, slot).count > 0 {
            let reply = try ListCommands.move(ctx, from: from, to: to)
            // Replicated as LMOVE / RPOPLPUSH (the move it was).
            if ctx.propagating {
                ctx.propagate(
                    as: timeoutArg == 3
                        ? [Array("RPOPLPUSH".utf8), ctx.argBytes(1), ctx.argBytes(2)]
                        : [Array("LMOVE".utf8), ctx.argBytes(1), ctx.argBytes(2), ctx.argBytes(3), ctx.argBytes(4)])
            }
            return reply
        }
        return block(ctx, keys: 1..<2, deadline: deadline, timeoutReply: .null, awaits: "list")
    }

    /// BLMOVE source destination <LEFT | RIGHT> <LEFT | RIGHT> timeout
    static func blmove(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let from = try ListCommands.end(ctx, 3)
        let to = try ListCommands.end(ctx, 4)
        return try blockingMove(ctx, from: from, to: to, timeoutArg: 5)
    }

    /// BRPOPLPUSH source destination timeout
    static func brpoplpush(_ ctx: CommandContext) throws(CommandError) -> Reply {
        try blockingMove(ctx, from: .right, to: .left, timeoutArg: 3)
    }

    /// BLMPOP timeout numkeys key [key ...] <LEFT | RIGHT> [COUNT count]
    static func blmpop(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let deadline = try deadline(ctx, 1)
        let (keys, from, count) = try ListCommands.mpopArguments(ctx, numkeysArg: 2)
        if let popped = try ListCommands.mpop(ctx, keys: keys, from, count: count) { return popped }
        return block(ctx, keys: keys, deadline: deadline, timeoutReply: .nullArray, awaits: "list")
    }

    static func blockingZpop(_ ctx: CommandContext, max: Bool) throws(CommandError) -> Reply {
        let deadline = try deadline(ctx, ctx.argc - 1)
        for k in 1..<(ctx.argc - 1) {
            guard let slot = ctx.lookupWrite(k) else { continue }
            let z = try SortedSetCommands.zset(ctx, slot)
            guard z.count > 0 else { continue }
            let e = max ? z.entries[z.count - 1] : z.entries[0]
            z.remove(e.member)
            ctx.markDirty()
            SortedSetCommands.deleteIfEmpty(ctx, z, k)
            if ctx.propagating {
                ctx.propagate(as: [Array((max ? "ZPOPMAX" : "ZPOPMIN").utf8), ctx.argBytes(k)])
            }
            return .array([.bulk(ctx.argBytes(k)), .bulk(e.member), .double(e.score)])
        }
        return block(ctx, keys: 1..<(ctx.argc - 1), deadline: deadline, timeoutReply: .nullArray, awaits: "zset")
    }

    /// BZMPOP timeout numkeys key [key ...] <MIN | MAX> [COUNT count]
    static func bzmpop(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let deadline = try deadline(ctx, 1)
        let (keys, max, count) = try SortedSetCommands.mpopArguments(ctx, numkeysArg: 2)
        if let popped = try SortedSetCommands.mpop(ctx, keys: keys, max: max, count: count) { return popped }
        return block(ctx, keys: keys, deadline: deadline, timeoutReply: .nullArray, awaits: "zset")
    }

    /// BZPOPMIN key [key ...] timeout
    static func bzpopmin(_ ctx: CommandContext) throws(CommandError) -> Reply { try blockingZpop(ctx, max: false) }
    /// BZPOPMAX key [key ...] timeout
    static func bzpopmax(_ ctx: CommandContext) throws(CommandError) -> Reply { try blockingZpop(ctx, max: true) }
}

extension CommandContext {
    /// Tells blocked clients that key argument `i` may have data now.
    @inline(__always)
    func signalReady(_ i: Int) {
        server.signalKeyReady(db: session.db, key: arg(i))
    }
}

extension CommandTable {
    static let blockingRegistrations: [(String, Handler)] = [
        ("blpop", BlockingCommands.blpop),
        ("brpop", BlockingCommands.brpop),
        ("blmove", BlockingCommands.blmove),
        ("brpoplpush", BlockingCommands.brpoplpush),
        ("blmpop", BlockingCommands.blmpop),
        ("bzpopmin", BlockingCommands.bzpopmin),
        ("bzpopmax", BlockingCommands.bzpopmax),
        ("bzmpop", BlockingCommands.bzmpop),
    ]
}
