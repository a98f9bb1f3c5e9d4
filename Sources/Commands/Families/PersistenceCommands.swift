import DataStore
import Persistence
import RESP
import Scripting
import Server

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// RDB snapshots: SAVE, BGSAVE, LASTSAVE, DEBUG RELOAD, the save points the cron checks, the
/// final save at shutdown and the load at start. The file is written to a temporary name,
/// fsynced, renamed over `dbfilename` in `dir`, and the directory fsynced, so a crash never
/// leaves a half-written dump. (Snapshots are written on the event loop for now: BGSAVE
/// answers as Redis does but does not yet run beside commands.)
enum PersistenceCommands {
    /// SAVE
    static func save(_ ctx: CommandContext) throws(CommandError) -> Reply {
        if ctx.server.backgroundSave?.purpose == .rdb { throw .backgroundSaveInProgress }
        if let failure = ctx.server.saveRDB() {
            ctx.server.persistenceLog?(failure)
            throw .saveFailed
        }
        ctx.server.persistenceLog?("DB saved on disk")
        return .ok
    }

    /// BGSAVE [SCHEDULE]: the snapshot is written in steps between commands (no fork).
    static func bgsave(_ ctx: CommandContext) throws(CommandError) -> Reply {
        if ctx.argc > 2 || (ctx.argc == 2 && !ctx.argIs(1, "schedule")) { throw .syntax }
        if let bg = ctx.server.backgroundSave {
            if bg.purpose == .rdb { throw .backgroundSaveInProgress }
            if ctx.argc == 2 {
                ctx.server.backgroundSaveScheduled = true
                return .simple("Background saving scheduled")
            }
            throw .anotherChildActive
        }
        guard ctx.server.startBackgroundSave() else {
            ctx.server.lastSaveOK = false
            throw .backgroundSaveStart(String(cString: strerror(errno)))
        }
        ctx.server.persistenceLog?("Background saving started")
        return .simple("Background saving started")
    }

    /// BGREWRITEAOF: a new base from a point-in-time view, written between commands.
    static func bgrewriteaof(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let s = ctx.server
        if s.rewritingAOF != nil { throw .aofRewriteInProgress }
        if s.backgroundSave != nil || s.aof?.waitingForFirstBase == true {
            s.aofRewriteScheduled = true
            return .simple("Background append only file rewriting scheduled")
        }
        guard s.startAOFRewrite() else { throw .aofRewriteFailed }
        return .simple("Background append only file rewriting started")
    }

    /// DUMP key
    static func dump(_ ctx: CommandContext) throws(CommandError) -> Reply {
        guard let slot = ctx.lookupRead(1) else { return .null }
        return .bulk(RDBWriter.dumpPayload(ctx.db.table[slot].value, compress: ctx.config.bool("rdbcompression")))
    }

    /// RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]
    static func restore(_ ctx: CommandContext) throws(CommandError) -> Reply {
        var replace = false
        var absttl = false
        var idle: Int64 = -1
        var freq: Int64 = -1
        var args = ArgumentReader(ctx, from: 4)
        while !args.isAtEnd {
            if args.take("replace") {
                replace = true
            } else if args.take("absttl") {
                absttl = true
            } else if freq == -1 && args.take("idletime", values: 1) {
                idle = try args.int64(in: 0...Int64.max, else: .restoreIdletime)
            } else if idle == -1 && args.take("freq", values: 1) {
                freq = try args.int64(in: 0...255, else: .restoreFreq)
            } else {
                throw .syntax
            }
        }
        if !replace && ctx.lookupWrite(1) != nil { throw .busyKey }
        var ttl = try ctx.int64(2)
        if ttl < 0 { throw .restoreTTL }
        guard let result = RDBReader.restorePayload(ctx.argBytes(3), limits: ctx.server.setLimits) else {
            throw .dumpPayload
        }
        guard case .success(let value) = result else { throw .badDataFormat }
        let deleted = replace && ctx.db.delete(ctx.arg(1), now: ctx.now)
        if ttl != 0 && !absttl { ttl += ctx.now }
        if ttl != 0 && ttl <= ctx.now {
            if deleted {
                ctx.markDirty()
                if ctx.propagating { ctx.propagate(as: [Array("DEL".utf8), ctx.argBytes(1)]) }
            }
            return .ok
        }
        let slot = ctx.db.table.insertNew(ctx.argBytes(1), value: value, expireAt: ttl != 0 ? ttl : KeyEntry.noExpiry)
        // IDLETIME sets the LRU clock under an LRU policy, FREQ the counter under an LFU one
        // (Redis's objectSetLRUOrLFU); the other is ignored.
        if ctx.keyspace.lfuPolicy {
            if freq >= 0 { ctx.db.table[slot].lru = LFU.minutes(ctx.now) << 8 | UInt32(freq) }
        } else if idle >= 0 {
            ctx.db.table[slot].lru = UInt32(truncatingIfNeeded: max(0, ctx.now / 1000 - idle))
        }
        if value.hasFieldExpiry { ctx.db.noteFieldExpiry(ctx.argBytes(1)) }
        ctx.markDirty()
        // A relative TTL is logged as the time it names (Redis's restoreCommand).
        if ctx.propagating && ttl != 0 && !absttl {
            var args = (0..<ctx.argc).map { ctx.argBytes($0) }
            args[2] = formatInt64(ttl)
            args.append(Array("ABSTTL".utf8))
            ctx.propagate(as: args)
        }
        ctx.signalReady(1)
        return .ok
    }

    /// LASTSAVE
    static func lastsave(_ ctx: CommandContext) throws(CommandError) -> Reply {
        .integer(ctx.server.lastSaveTime)
    }
}

extension CommandTable {
    static let persistenceRegistrations: [(String, Handler)] = [
        ("save", PersistenceCommands.save),
        ("bgsave", PersistenceCommands.bgsave),
        ("bgrewriteaof", PersistenceCommands.bgrewriteaof),
        ("lastsave", PersistenceCommands.lastsave),
        ("dump", PersistenceCommands.dump),
        ("restore", PersistenceCommands.restore),
        // Cluster migration's RESTORE; a standalone server runs it as RESTORE, as Redis does.
        ("restore-asking", PersistenceCommands.restore),
        ("replconf", PersistenceCommands.replconf),
        ("sync", PersistenceCommands.sync),
        ("psync", PersistenceCommands.sync),
    ]
}

extension PersistenceCommands {
    /// REPLCONF option value [option value ...]: what a snapshot client says of itself
    /// (`rdb-only`, `capa eof`); the options of real replicas are accepted and ignored.
    static func replconf(_ ctx: CommandContext) throws(CommandError) -> Reply {
        if ctx.argc % 2 == 0 { throw .syntax }
        var i = 1
        while i + 1 < ctx.argc {
            if ctx.argIs(i, "rdb-only") {
                ctx.session.rdbOnly = ctx.argIs(i + 1, "1")
            } else if ctx.argIs(i, "capa") && ctx.argIs(i + 1, "eof") {
                ctx.session.capaEOF = true
            }
            i += 2
        }
        return .ok
    }

    /// SYNC / PSYNC for a snapshot client: the dataset as an RDB payload — `$EOF:<mark>`
    /// … `<mark>` when it took `capa eof` (Redis's diskless form), `$<length>` otherwise —
    /// then the connection closes, as Redis closes an rdb-only client.
    static func sync(_ ctx: CommandContext) throws(CommandError) -> Reply {
        guard ctx.session.rdbOnly else { throw .replicationUnsupported }
        let state = ctx.server
        var writer = RDBWriter(
            compress: state.config.bool("rdbcompression"), version: state.rdbVersionToWrite,
            checksum: state.config.bool("rdbchecksum"))
        writer.dataset(
            state.keyspace, now: state.keyspace.now,
            aux: [("used-mem", String(MemoryInfo.usedMemory())), ("aof-base", "0")],
            functions: state.existingScripts?.libraryCodes ?? [])
        let payload = writer.bytes
        var out: [UInt8] = []
        if ctx.session.capaEOF {
            var rng = SystemRandomNumberGenerator()
            let hex = Array("0123456789abcdef".utf8)
            let mark = (0..<40).map { _ in hex[Int.random(in: 0..<16, using: &rng)] }
            out = Array("$EOF:".utf8) + mark + [13, 10] + payload + mark
        } else {
            out = Array("$\(payload.count)\r\n".utf8) + payload
        }
        ctx.session.closeAfterReply = true
        return .raw(out)
    }
}
