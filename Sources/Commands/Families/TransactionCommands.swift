import DataStore
import RESP
import Server

/// MULTI, EXEC, DISCARD, WATCH and UNWATCH, as multi.c: commands after MULTI are checked
/// (unknown, arity, not allowed) and queued — a refused one makes EXEC answer EXECABORT —
/// then EXEC runs them back to back, never blocking, unless a WATCHed key was touched.
enum TransactionCommands {
    /// MULTI
    static func multi(_ ctx: CommandContext) throws(CommandError) -> Reply {
        if ctx.session.inMulti { throw .multiNested }
        ctx.session.inMulti = true
        return .ok
    }

    /// DISCARD
    static func discard(_ ctx: CommandContext) throws(CommandError) -> Reply {
        if !ctx.session.inMulti { throw .discardWithoutMulti }
        ctx.discardTransaction()
        return .ok
    }

    /// Whether a watched key that was live at WATCH time has expired or vanished since
    /// (Redis counts expiry as a change; a lazy deletion is one too).
    static func watchedKeyExpired(_ ctx: CommandContext) -> Bool {
        let now = ctx.now
        for w in ctx.session.watched where w.existed {
            guard let slot = w.key.withUnsafeBytes({ ctx.keyspace.databases[w.db].table.find($0) }) else { return true }
            let expireAt = ctx.keyspace.databases[w.db].table[slot].expireAt
            if expireAt != KeyEntry.noExpiry && expireAt < now { return true }
        }
        return false
    }

    /// EXEC
    static func exec(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let s = ctx.session
        if !s.inMulti { throw .execWithoutMulti }
        if s.multiFailed {
            ctx.discardTransaction()
            throw .execAbort
        }
        if s.watchDirty || watchedKeyExpired(ctx) {
            ctx.discardTransaction()
            return .nullArray
        }
        ctx.server.unwatchAll(s)
        var queue = s.multiQueue
        let commands = s.multiCommands
        s.clearTransaction()
        // Run the queued commands in place of the current batch, then put everything back.
        let savedBase = ctx.argBase
        let savedArgc = ctx.argc
        let savedMayBlock = ctx.mayBlock
        let savedCommand = ctx.command
        swap(&ctx.batch, &queue)
        ctx.mayBlock = false
        ctx.emitArrayHeader(ctx.batch.count)
        s.inExec = true
        defer { s.inExec = false }
        // The transaction's writes propagate as one MULTI/EXEC.
        let propagation = ctx.server.propagation
        propagation.beginTransaction()
        defer { propagation.endTransaction() }
        for i in 0..<ctx.batch.count {
            let spans = ctx.batch.arguments(of: i)
            ctx.argBase = spans.lowerBound
            ctx.argc = spans.count
            ctx.blockRequest = nil
            ctx.preparedCommand = i < commands.count ? commands[i] : nil
            ctx.emit(ctx.dispatch().reply)
        }
        swap(&ctx.batch, &queue)
        // Keep the queue's buffers for the next transaction.
        if !s.inMulti && s.multiQueue.count == 0 {
            queue.removeAll()
            s.multiQueue = queue
            var reused = commands
            reused.removeAll(keepingCapacity: true)
            s.multiCommands = reused
        }
        ctx.argBase = savedBase
        ctx.argc = savedArgc
        ctx.mayBlock = savedMayBlock
        ctx.command = savedCommand
        return .raw([])
    }

    /// WATCH key [key ...]
    static func watch(_ ctx: CommandContext) throws(CommandError) -> Reply {
        if ctx.session.inMulti { throw .watchInsideMulti }
        let now = ctx.now
        for i in 1..<ctx.argc {
            let key = ctx.argBytes(i)
            var live = false
            if let slot = key.withUnsafeBytes({ ctx.db.table.find($0) }) {
                let expireAt = ctx.db.table[slot].expireAt
                live = expireAt == KeyEntry.noExpiry || expireAt >= now
            }
            ctx.server.watch(ctx.session, db: ctx.session.db, key: key, existed: live)
        }
        return .ok
    }

    /// UNWATCH
    static func unwatch(_ ctx: CommandContext) throws(CommandError) -> Reply {
        ctx.server.unwatchAll(ctx.session)
        return .ok
    }
}

extension CommandTable {
    static let transactionRegistrations: [(String, Handler)] = [
        ("multi", TransactionCommands.multi),
        ("exec", TransactionCommands.exec),
        ("discard", TransactionCommands.discard),
        ("watch", TransactionCommands.watch),
        ("unwatch", TransactionCommands.unwatch),
    ]
}
