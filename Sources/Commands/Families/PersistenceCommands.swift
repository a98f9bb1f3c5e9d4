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
        // A replication snapshot is an RDB save too (Redis's RDB child).
        if let bg = ctx.server.backgroundSave, bg.purpose != .aofBase { throw .backgroundSaveInProgress }
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
            if bg.purpose != .aofBase { throw .backgroundSaveInProgress }
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
        guard
            let result = RDBReader.restorePayload(
                ctx.argBytes(3), limits: ctx.server.loadLimits, verifyChecksum: !ctx.server.skipChecksumValidation)
        else {
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
    /// REPLCONF option value [option value ...]: what a replica (or a snapshot client) says
    /// of itself — `listening-port`, `ip-address`, `capa`, `rdb-only` — and a replica's
    /// `ACK <offset>`, which gets no reply (it arrives on the replication link).
    static func replconf(_ ctx: CommandContext) throws(CommandError) -> Reply {
        if ctx.argc % 2 == 0 { throw .syntax }
        let session = ctx.session
        var args = ArgumentReader(ctx, from: 1)
        while !args.isAtEnd {
            if args.take("ack") {
                let offset = parseInt64(try args.next())
                // ACK <offset> FACK <aof offset>: what the replica's AOF has fsynced (7.2).
                var aofOffset: Int64?
                if ctx.argc > 4 && ctx.argIs(3, "fack") {
                    guard let fsynced = parseInt64(ctx.arg(4)) else { return .raw([]) }
                    aofOffset = fsynced
                }
                if let offset, let primary = ctx.server.replication, let replica = primary.replica(of: session) {
                    let start = primary.acknowledge(
                        replica, offset: offset, aofOffset: aofOffset, now: ctx.server.clock())
                    if !start.isEmpty { session.deliverHook?(start) }
                    ctx.server.replicaAckHook?()
                }
                return .raw([])
            } else if args.take("getack") {
                // Only a primary asks that of its replica: the runtime sends REPLCONF ACK.
                if session.isPrimaryClient { session.ackRequested = true }
                return .raw([])
            } else if args.take("listening-port") {
                let port = try args.int64()
                session.replicaListeningPort = Int(port)
            } else if args.take("ip-address") {
                session.replicaAnnouncedIP = try args.string()
            } else if args.take("rdb-only") {
                session.rdbOnly = try args.next().elementsEqual("1".utf8)
            } else if args.take("capa") {
                if try args.next().elementsEqual("eof".utf8) { session.capaEOF = true }
            } else {
                let option = try args.string()
                throw CommandError("ERR Unrecognized REPLCONF option: \(option)")
            }
        }
        return .ok
    }

    /// The dataset as an RDB payload for a sync: `$EOF:<mark>` … `<mark>` when the client
    /// took `capa eof` (Redis's diskless form), `$<length>` otherwise (no CRLF after it).
    static func snapshotPayload(_ ctx: CommandContext) -> [UInt8] {
        let state = ctx.server
        var writer = RDBWriter(
            compress: state.config.bool("rdbcompression"), version: state.rdbVersionToWrite,
            checksum: state.config.bool("rdbchecksum"))
        let aux = [("used-mem", String(MemoryInfo.usedMemory())), ("aof-base", "0")] + state.replicationSaveInfo
        writer.dataset(
            state.keyspace, now: state.keyspace.now, aux: aux, functions: state.existingScripts?.libraryCodes ?? [])
        let payload = writer.bytes
        if ctx.session.capaEOF {
            let mark = Array(randomHexID().utf8)
            return Array("$EOF:".utf8) + mark + [13, 10] + payload + mark
        }
        return Array("$\(payload.count)\r\n".utf8) + payload
    }

    /// SYNC / PSYNC replid offset. A snapshot client (`REPLCONF rdb-only 1`, redis-cli
    /// --rdb) gets the payload and the connection closes. A replica continues from the
    /// backlog when it names this primary's replication ID and an offset the backlog still
    /// holds (`+CONTINUE`), else gets a full sync: `+FULLRESYNC <replid> <offset>`, the
    /// dataset at that offset (a background save, written between commands: a point in
    /// time), and then the writes made since.
    static func sync(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let session = ctx.session
        if session.rdbOnly {
            session.closeAfterReply = true
            return .raw(snapshotPayload(ctx))
        }
        if session.isReplica { return .raw([]) }  // already attached: ignored, as Redis
        let state = ctx.server
        // PSYNC replid offset FAILOVER: the primary hands over to this replica, which takes
        // over when it follows that history, then continues the sender's stream.
        if ctx.argc > 3 && ctx.argIs(0, "psync") && ctx.argIs(3, "failover") {
            state.persistenceLog?("Failover request received for replid \(ctx.argString(1)).")
            guard let link = state.primaryLink else {
                throw CommandError("ERR PSYNC FAILOVER can't be sent to a master.")
            }
            guard ctx.arg(1).elementsEqual(link.replicationID.utf8) else {
                throw CommandError("ERR PSYNC FAILOVER replid must match my replid.")
            }
            state.stopFollowing()
            state.persistenceLog?(
                "MASTER MODE enabled (failover request from 'id=\(session.id) addr=\(session.address)')")
        }
        if state.failoverState != .none {
            throw CommandError("NOMASTERLINK Can't SYNC while failing over")
        }
        if let link = state.primaryLink, link.state != .connected {
            throw CommandError("NOMASTERLINK Can't SYNC while not connected with my master")
        }
        let psync = ctx.argIs(0, "psync")
        if psync && parseInt64(ctx.arg(2)) == nil {
            state.persistenceLog?("Replica \(session.address) asks for synchronization but with a wrong offset")
            throw .notInteger
        }
        let primary = state.startReplication()
        // This primary's history, or the one it followed before its promotion up to where
        // it left it (master_replid2, second_repl_offset).
        let knownHistory =
            psync
            && (ctx.arg(1).elementsEqual(primary.replicationID.utf8)
                || (ctx.arg(1).elementsEqual(state.replicationID2.utf8)
                    && (parseInt64(ctx.arg(2)) ?? Int64.max) <= state.secondReplicationOffset))
        if knownHistory, let from = parseInt64(ctx.arg(2)), let rest = primary.backlogBytes(from: from) {
            session.isReplica = true
            state.stats.partialSyncsAccepted += 1
            _ = primary.attach(
                session, listeningPort: session.replicaListeningPort, announcedIP: session.replicaAnnouncedIP,
                now: state.clock(), fullSync: false)
            state.persistenceLog?(
                "Partial resynchronization request from \(session.address) accepted. Sending \(rest.count) bytes of backlog starting from offset \(from)."
            )
            return .raw(Array("+CONTINUE \(primary.replicationID)\r\n".utf8) + rest)
        }
        state.persistenceLog?("Replica \(session.address) asks for synchronization")
        if psync && !ctx.argIs(1, "?") { state.stats.partialSyncsRefused += 1 }
        state.stats.fullSyncs += 1
        if psync { state.persistenceLog?("Full resync requested by replica \(session.address)") }
        session.isReplica = true
        let replica = primary.attach(
            session, listeningPort: session.replicaListeningPort, announcedIP: session.replicaAnnouncedIP,
            now: state.clock(), fullSync: true)
        replica.usesPSYNC = psync
        // +FULLRESYNC and the snapshot follow when the snapshot starts (now, or after the
        // running save or the diskless sync delay).
        state.startReplicationSnapshotIfDue()
        return .raw([])
    }
}
