import DataStore
import RESP

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What the runtime should do after a command.
public enum DispatchOutcome {
    case done
    /// Clients are paused (CLIENT PAUSE): keep this command and the rest for later.
    case paused
    /// A blocking command is waiting for data: `blockRequest` says on what.
    case blocked
}

extension CommandContext {
    /// Runs command `index` of the batch through Redis's gatekeeping order — unknown
    /// command, arity, authentication — then its handler, and encodes the reply into
    /// `output` (unless CLIENT REPLY says otherwise).
    /// Takes the time commands of the next batch see (Redis's commandTimeSnapshot, once per
    /// read instead of once per command).
    public func beginBatch() {
        batchCommands.removeAll(keepingCapacity: true)
        server.keyspace.now = server.clock()
        server.commandClock = monotonicMicrosNow()
    }

    /// The key-table size (slots and buckets) from which a batch's keys are prefetched:
    /// about a core's L2 cache.
    static let prefetchTableBytes = 1 << 20

    /// Before a pipelined batch runs, asks the CPU for the hash-table memory of every
    /// command's first key, in three overlapping stages (see KeyTable.prefetchBucket).
    public func prefetchBatchKeys(from start: Int = 0) {
        // One copy of the batch (three retains) for the loop: each read through the
        // property would retain its buffers again.
        let batch = self.batch
        guard batch.count - start >= 1 else { return }
        prefetchHashes.removeAll(keepingCapacity: true)
        let table = server.commands
        let dbIndex = session.db
        // (Emptied by beginBatch; the entries are plain words, so the nils go in as one
        // fill.)
        batchCommands.removeAll(keepingCapacity: true)
        batchCommands.append(contentsOf: repeatElement(nil, count: batch.count))
        var queuing = session.inMulti
        var keyedCommands = 0
        var previousKey = -1
        do {
            // One copy of the key table per batch (a method called through the database
            // array, or a pointer into it, copies the struct — four retains and releases —
            // every time); it is gone before any command can write to the table.
            let keyTable = server.keyspace.databases[dbIndex].table
            // Prefetching pays only when the table's index is too big to stay in the
            // core's cache (its misses are what it hides); below that it is pure work.
            let prefetching = keyTable.overheadBytes >= Self.prefetchTableBytes
            for i in start..<batch.count {
                let spans = batch.arguments(of: i)
                guard let found = batch.argument(spans.lowerBound).withUnsafeBytes({ table.lookupUnretained($0) })
                else { continue }
                batchCommands[i] = found
                // The command's facts read through the table's reference (no retain).
                let (controlsTransaction, first, step, lastKey) = found._withUnsafeGuaranteedRef {
                    ($0.controlsTransaction, $0.firstKey, $0.keyStep, $0.lastKey)
                }
                // Commands queued by MULTI run later, in EXEC: nothing to prefetch now.
                if controlsTransaction {
                    let name = found.takeUnretainedValue().name
                    if name == "multi" { queuing = true } else if name != "watch" { queuing = false }
                    continue
                }
                if queuing { continue }
                guard spans.count >= 2, first > 0, step > 0 else { continue }
                keyedCommands += 1
                if !prefetching { continue }
                let last = lastKey >= 0 ? lastKey : spans.count + lastKey
                var k = first
                while k <= last && k < spans.count {
                    // A first key the command before named too (a pipeline on one list,
                    // set or counter) is on its way to the cache already. (Only the first:
                    // comparing every key of an MSET would cost more than it saves.)
                    let span = spans.lowerBound + k
                    let repeated = k == first && previousKey >= 0 && batch.sameBytes(span, previousKey)
                    if k == first { previousKey = span }
                    if !repeated {
                        let h = batch.argument(span).withUnsafeBytes { keyTable.hash($0) }
                        prefetchHashes.append(h)
                        keyTable.prefetchBucket(hash: h)
                    }
                    k += step
                }
            }
            // Too few keys to overlap anything: let the commands look them up directly.
            guard prefetchHashes.count >= 4 else { return }
            for h in prefetchHashes { keyTable.prefetchSlot(hash: h) }
            for h in prefetchHashes { keyTable.prefetchKey(hash: h) }
        }
        guard keyedCommands >= 4 else { return }
        prefetchMembers(from: start)
    }

    /// The same for the members pipelined commands name inside large hashes and sets
    /// (SADD myset m1, SADD myset m2, …): the index slot of each first, then its key bytes.
    func prefetchMembers(from start: Int) {
        memberHashes.removeAll(keepingCapacity: true)
        let dbIndex = session.db
        // Consecutive commands on one key (the common pipeline) are one run: its members
        // go to the set or hash in one call, which borrows the table once.
        var owner: MemberOwner?
        var ownerSlot = -1
        func flush() {
            defer { memberHashes.removeAll(keepingCapacity: true) }
            guard let owner, !memberHashes.isEmpty else { return }
            memberHashes.withUnsafeMutableBufferPointer { hashes in
                switch owner {
                case .set(let s): s.prefetchMembers(hashes: hashes)
                case .hash(let h): h.prefetchFields(hashes: hashes)
                }
            }
        }
        let keyTable = server.keyspace.databases[dbIndex].table
        let batch = self.batch
        // The span of the key `ownerSlot` was found for: the next command on the same key
        // (the common pipeline) needs no lookup.
        var ownerKey = -1
        for i in start..<batch.count {
            let spans = batch.arguments(of: i)
            guard spans.count >= 3, let command = batchCommands[i]?.takeUnretainedValue(),
                let (first, step) = command.memberArguments
            else { continue }
            let keySpan = spans.lowerBound + 1
            let slot: Int
            if ownerKey >= 0 && batch.sameBytes(keySpan, ownerKey) {
                slot = ownerSlot
            } else {
                guard let found = batch.argument(keySpan).withUnsafeBytes({ keyTable.find($0) }) else { continue }
                slot = found
                ownerKey = keySpan
            }
            if slot != ownerSlot {
                flush()
                ownerSlot = slot
                // Only tables too big for the core's cache are worth it (as for keys).
                switch keyTable[slot].value {
                case .set(let s) where s.indexBytes >= Self.prefetchTableBytes: owner = .set(s)
                case .hash(let h) where h.indexBytes >= Self.prefetchTableBytes: owner = .hash(h)
                default: owner = nil
                }
            }
            guard owner != nil else { continue }
            for k in stride(from: first, to: spans.count, by: step) {
                memberHashes.append(batch.argument(spans.lowerBound + k).withUnsafeBytes { BytesTable<Void>.hash($0) })
            }
        }
        flush()
    }

    public func execute(commandAt index: Int) -> DispatchOutcome {
        let spans = batch.arguments(of: index)
        argBase = spans.lowerBound
        argc = spans.count
        // Tested first: assigning nil destroys the optional through its value witness.
        if blockRequest != nil { blockRequest = nil }
        // Taken out of the batch's cache (a resumed command looks itself up again).
        if index < batchCommands.count, let found = batchCommands[index] {
            batchCommands[index] = nil
            preparedCommand = found.takeUnretainedValue()
        } else {
            preparedCommand = nil
        }
        var reply = dispatch()
        if server.expiryHeld != server.expiryShouldHold && !session.isScriptClient { server.applyPauseToExpiry() }
        // A replica's link never carries replies: one that asked for one is dropped.
        if session.isReplica, let answer = reply.reply, answer != .raw([]), !(command?.name == "sync"),
            !(command?.name == "psync")
        {
            server.persistenceLog?(
                "Replica generated a reply to command '\(command?.fullName ?? "<unknown>")', disconnecting it: \(session.infoLine(now: server.clock()))"
            )
            session.closeHook?()
            reply.reply = nil
        }
        if case .paused = reply.outcome { return .paused }
        if blockRequest != nil { return .blocked }
        session.lastInteraction = server.keyspace.now
        emit(reply.reply)
        if server.hasBroadcastPending && !session.isScriptClient { server.flushBroadcastInvalidations() }
        if !session.pendingInvalidations.isEmpty {
            output.append(contentsOf: session.pendingInvalidations)
            session.pendingInvalidations.removeAll()
        }
        return .done
    }

    @inline(__always)
    public func emit(_ reply: Reply?) {
        guard let reply else { return }
        switch session.replyMode {
        case .on:
            ReplyEncoder.encode(reply, resp3: session.resp3, into: &output)
        case .off:
            break
        case .skip:
            session.replyMode = .on
        case .skipNext:
            session.replyMode = .skip
        }
    }

    /// A pub/sub confirmation: sent whatever CLIENT REPLY says, as Redis marks such replies
    /// CLIENT_PUSHING (a subscriber with replies off still learns its subscriptions).
    public func emitPush(_ reply: Reply) {
        ReplyEncoder.encode(reply, resp3: session.resp3, into: &output)
    }

    /// A blocked command ended without running again (its timeout, CLIENT UNBLOCK, an error
    /// such as NOGROUP): its call is counted now, as Redis's updateStatsOnUnblock does.
    public func countUnblocked(failed: Bool) {
        guard let command = blockedCommand else { return }
        command.calls += 1
        if failed { command.failedCalls += 1 }
        blockedCommand = nil
    }

    /// Encodes a reply that bypasses the command flow (protocol errors).
    public func emitDirect(_ reply: Reply) {
        ReplyEncoder.encode(reply, resp3: session.resp3, into: &output)
    }

    static let queuedReply = Reply.raw(Array("+QUEUED\r\n".utf8))

    public struct Dispatched {
        public var reply: Reply?
        var outcome: DispatchOutcome = .done
    }

    /// Ends the session's transaction without running it (DISCARD, a refused EXEC, RESET,
    /// an AOF's unfinished MULTI) and drops its WATCHes.
    public func discardTransaction() {
        session.clearTransaction()
        server.unwatchAll(session)
    }

    func reject(_ error: CommandError, _ command: Command?) -> Dispatched {
        // A command refused while queuing makes the transaction fail (flagTransaction).
        if session.inMulti { session.multiFailed = true }
        command?.rejectedCalls += 1
        // A refused EXEC ends the transaction it would have run (Redis's execCommandAbort).
        if session.inMulti && command?.name == "exec" {
            discardTransaction()
            let abort = CommandError("EXECABORT Transaction discarded because of: " + error.message)
            countError(abort)
            return Dispatched(reply: .error(abort.message))
        }
        countError(error)
        return Dispatched(reply: .error(error.message))
    }

    /// An ACL refusal: logged to ACL LOG, answered with Redis's NOPERM text (another one
    /// when EXEC finds the rules changed since the command was queued).
    func rejectByACL(_ user: ACLUser, _ command: Command, _ denial: ACLDenial, _ position: Int) -> Dispatched {
        server.logACLDenial(
            reason: denial.reason, context: session.inExec || session.inMulti ? "multi" : "toplevel",
            object: aclDeniedObject(denial, command, position), username: Array(user.name.utf8),
            clientInfo: session.infoLine(now: server.clock()))
        if session.inExec {
            let reason: String
            switch denial {
            case .command: reason = "no permission to execute the command or subcommand"
            case .key: reason = "no permission to touch the specified keys"
            case .channel: reason = "no permission to access one of the channels used as arguments"
            }
            return reject(
                CommandError(
                    "NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: \(reason)"
                ), command)
        }
        return reject(CommandError("NOPERM " + AccessControl.denialMessage(denial, user, command, nil)), command)
    }

    /// What ACL LOG names for a refusal: the command, or the key or channel at fault.
    public func aclDeniedObject(_ denial: ACLDenial, _ command: Command, _ position: Int) -> [UInt8] {
        denial == .command ? Array(command.fullName.utf8) : argBytes(position)
    }

    public func countError(_ error: CommandError) {
        countError(code: String(error.code))
        if session.isPrimaryClient || session.isReplica { logErrorOnReplicationLink(error.message) }
    }

    /// An error reply on the replication link means the two datasets may differ: Redis
    /// logs it as critical (with the replica's latest backlog) and counts it in
    /// unexpected_error_replies; the reply itself is never sent.
    func logErrorOnReplicationLink(_ message: String) {
        let (from, to) = session.isPrimaryClient ? ("replica", "master") : ("master", "replica")
        server.persistenceLog?(
            "== CRITICAL == This \(from) is sending an error to its \(to): '\(message)' after processing the command '\(command?.fullName ?? "<unknown>")'"
        )
        if session.isPrimaryClient, let primary = server.replication, primary.backlogLength > 0 {
            let dump = primary.backlogBytes(from: max(primary.backlogFirstByte, primary.offset - 255)) ?? []
            server.persistenceLog?(
                "Latest backlog is: '\(String(decoding: Repr.quoted(dump).dropFirst().dropLast(), as: UTF8.self))'")
        }
        server.stats.unexpectedErrorReplies += 1
    }

    /// INFO errorstats and total_error_replies count an error reply under its code.
    func countError(code: String) {
        server.stats.totalErrorReplies += 1
        server.stats.errorCounts[code, default: 0] += 1
    }

    /// A reply a script engine encoded: an error fails the running command and is counted
    /// in INFO errorstats unless the server counted it already (a script passing on the
    /// error of a command it called, Redis's ERR_REPLY_FLAG_NO_STATS_UPDATE).
    public func encodedReply(_ bytes: [UInt8], errorCounted: Bool = false) -> Reply {
        guard bytes.first == UInt8(ascii: "-") else { return .raw(bytes) }
        command?.failedCalls += 1
        if !errorCounted { countError(bytes: bytes) }
        return .raw(bytes)
    }

    /// Counts an encoded error reply (`-CODE message\r\n`) under its code.
    public func countError(bytes: [UInt8]) {
        let code = bytes.dropFirst().prefix { $0 != UInt8(ascii: " ") && $0 != 13 && $0 != 10 }
        countError(code: code.isEmpty ? "ERR" : String(decoding: code, as: UTF8.self))
        if session.isPrimaryClient || session.isReplica {
            logErrorOnReplicationLink(String(decoding: bytes.dropFirst().prefix { $0 != 13 }, as: UTF8.self))
        }
    }

    /// FLUSHDB, FLUSHALL and SWAPDB change every key of a database: watched keys that
    /// exist there are touched first (Redis's touchAllWatchedKeysInDb).
    func touchWatchedKeysBeforeFlush(_ command: Command) {
        var dbs: [Int] = []
        switch command.name {
        case "flushdb": dbs = [session.db]
        case "flushall": dbs = Array(server.keyspace.databases.indices)
        case "swapdb":
            for i in 1..<min(argc, 3) {
                if let n = parseInt64(arg(i)), n >= 0, n < server.keyspace.databases.count { dbs.append(Int(n)) }
            }
        default: return
        }
        let now = server.keyspace.now
        for db in dbs {
            let exists: ([UInt8]) -> Bool = { key in
                self.server.keyspace.databases[db].lookup(key, now: now) != nil
            }
            server.touchWatchedKeys(db: db, where: exists)
            // SWAPDB also changes what the other database's watchers see.
            if command.name == "swapdb" {
                for other in dbs where other != db { server.touchWatchedKeys(db: other, where: exists) }
            }
        }
    }

    /// Records what the command that ran propagates as: its arguments, or what it asked for
    /// instead (several commands replay as one MULTI/EXEC).
    func propagateCommand(to path: Propagation) {
        guard propagationOverridden else {
            path.record(db: session.db, argc: argc, replicasOnly: propagatesToReplicasOnly, arg: { self.arg($0) })
            return
        }
        path.beginTransaction()
        for args in propagation { path.record(db: session.db, args) }
        path.endTransaction()
    }

    static func allowedWhileBusy(_ ctx: CommandContext, _ command: Command) -> Bool {
        guard command.flags.contains(.allowBusy) else { return false }
        // SHUTDOWN is allow_busy for its NOSAVE form only: saving would need the script's
        // dataset to be whole.
        if command.name == "shutdown" { return (1..<ctx.argc).contains { ctx.argIs($0, "nosave") } }
        return true
    }

    public func dispatch() -> Dispatched {
        // Moved out (no copy to retain); the table is read only when nothing was prepared.
        let prepared = preparedCommand.take()
        guard var command = prepared ?? arg(0).withUnsafeBytes({ server.commands.lookup($0) }) else {
            let rest = (1..<argc).map { argBytes($0) }
            return reject(.unknownCommand(argBytes(0), args: rest), nil)
        }
        if !command.subcommands.isEmpty && argc >= 2 {
            let subName = argString(1).lowercased()
            guard let sub = command.subcommands[subName] else {
                return reject(.unknownSubcommand(argBytes(1), container: argString(0)), nil)
            }
            command = sub
        }
        guard command.acceptsArgumentCount(argc) else {
            return reject(.wrongArity(command.fullName), command)
        }
        if !session.authenticated && !command.flags.contains(.noAuth) {
            return reject(.noAuth, command)
        }
        if let user = session.aclUser, !user.unrestricted, let (denial, position) = user.check(command, self) {
            return rejectByACL(user, command, denial, position)
        }
        if session.inPubSubMode && !session.resp3 && !(command.parent ?? command).allowedWhileSubscribed {
            return reject(.subscribedContext(command.fullName), command)
        }
        if server.cluster != nil, !session.isScriptClient, let error = clusterRedirection(command) {
            // A redirected EXEC drops its transaction and gets the redirection itself, not
            // EXECABORT (Redis's processCommand discards, then redirects).
            if command.name == "exec" && session.inMulti {
                discardTransaction()
                command.rejectedCalls += 1
                countError(error)
                return Dispatched(reply: .error(error.message))
            }
            return reject(error, command)
        }
        // maxmemory: evict first; when nothing more may go, commands that can grow memory
        // (and anything queued in MULTI) are refused.
        // (Scripts' own commands follow the script's rule: see ScriptEngine.execute.)
        // (A running EXEC's commands are not checked again: Redis decides at EXEC.)
        if config.limits.maxmemory > 0 && !session.isLoader && !session.isScriptClient && !server.scriptIsBusy
            && !session.inExec && server.performEvictions() == .fail
        {
            let name = command.name
            let denied =
                command.flags.contains(.denyoom) || (name == "exec" && session.multiDenyOOM)
                || (session.inMulti && name != "exec" && name != "discard" && name != "quit" && name != "reset")
            if denied { return reject(.oom, command) }
        }
        if server.trackingClients > 0 { server.limitTrackingTable() }
        // stop-writes-on-bgsave-error: after a failed save, writes are refused until one works.
        if !server.lastSaveOK && command.flags.contains(.write) && config.bool("stop-writes-on-bgsave-error")
            && !config.savePoints.isEmpty
        {
            return reject(.misconf, command)
        }
        // min-replicas-to-write: a primary without that many good replicas (ACKed within
        // min-replicas-max-lag seconds) refuses writes; a replica takes its primary's.
        if config.limits.minReplicasToWrite > 0 && !session.isLoader && !server.hasEnoughGoodReplicas
            && (command.flags.contains(.write) || (command.name == "exec" && session.multiWrites)
                || (command.flags.contains(.mayReplicate) && scriptDeclaresWrites(command)))
        {
            return reject(.noReplicas, command)
        }
        // A read-only replica takes writes from its primary only (Redis's roslaveerr): a
        // transaction with writes is refused at EXEC; one running goes on to its end (a
        // REPLICAOF inside it makes the server a replica half-way).
        if server.primaryLink != nil && !session.isPrimaryClient && !session.isLoader && !session.inExec
            && config.bool("replica-read-only")
            && (command.flags.contains(.write) || (command.name == "exec" && session.multiWrites))
        {
            return reject(.readonlyReplica, command)
        }
        // replica-serve-stale-data no: while the link is down only `stale` commands run (an
        // EXEC only when every command it queued is one).
        if let link = server.primaryLink, link.state != .connected, !config.bool("replica-serve-stale-data"),
            !session.isPrimaryClient, !session.inExec,
            command.name == "exec" ? session.multiNeedsFreshData : !command.flags.contains(.stale)
        {
            return reject(.masterDown, command)
        }
        // Likewise while the AOF cannot be written.
        if let failure = server.aof?.lastWriteError, command.flags.contains(.write) {
            return reject(.aofWriteError(failure.description), command)
        }
        // Commands of a script the loader replays (EVAL in an AOF) run like the loader's own.
        if server.loading != nil && !command.flags.contains(.loading) && !session.isLoader
            && !(session.isScriptClient && server.scriptEngine?.callerSession?.isLoader == true)
        {
            return reject(.loading, command)
        }
        // A suspended script holds the dataset: others get BUSY, except the kill commands,
        // SHUTDOWN NOSAVE and the connection and transaction commands (Redis's CMD_ALLOW_BUSY).
        if server.scriptIsBusy && !session.isScriptClient && !Self.allowedWhileBusy(self, command) {
            let function = server.scriptEngine?.suspendedIsFunction == true
            return reject(function ? .busyFunction : .busyScript, command)
        }
        let queuing = session.inMulti && !(command.parent ?? command).controlsTransaction
        if queuing && command.flags.contains(.noMulti) {
            return reject(.notAllowedInMulti, command)
        }
        // A pause holds commands as they arrive, never the rest of an EXEC that paused.
        // A replica's link carries ACKs, not commands on the keyspace.
        if session.isReplica
            && (command.flags.contains(.write) || command.flags.contains(.readonly)
                || command.flags.contains(.mayReplicate))
        {
            self.command = command  // the command named when the replica is dropped for it
            return reject(CommandError("ERR Replica can't interact with the keyspace"), command)
        }
        // A FAILOVER pauses writes until it ends.
        if (server.pausedUntil > 0 || server.failoverState != .none) && !queuing && !session.inExec
            && !session.isScriptClient
        {
            let now = server.clock()
            // EXEC of a transaction that writes waits like a write.
            let writes =
                command.flags.contains(.write)
                || (command.flags.contains(.mayReplicate) && !scriptDeclaresNoWrites(command))
                || (command.name == "exec" && session.multiMayReplicate)
            if now < server.pausedUntil {
                if !server.pauseWritesOnly || writes {
                    return Dispatched(reply: nil, outcome: .paused)
                }
            } else if server.pausedUntil > 0 {
                server.pausedUntil = 0
                server.applyPauseToExpiry()
            }
            if server.failoverState != .none && writes && !session.isPrimaryClient {
                return Dispatched(reply: nil, outcome: .paused)
            }
        }
        guard let handler = command.handler else {
            return reject(.unknownSubcommand(argBytes(1), container: argString(0)), command)
        }
        if queuing {
            queueForMulti(command)
            return Dispatched(reply: Self.queuedReply)
        }
        self.command = command
        if server.backgroundSave != nil && command.flags.contains(.write) {
            server.preserveForBackgroundSave(self, command)
        }
        let dirtyBefore = server.dirty
        let notifying = !config.limits.keyspaceEvents.isEmpty
        if (notifying || server.trackingClients > 0 || server.propagation.isActive) != server.expiryLogging {
            server.updateExpiryLogging()
        }
        if (server.trackingClients > 0 || !server._trackingTable.isEmpty) && command.flags.contains(.write)
            && (command.name == "flushdb" || command.name == "flushall")
        {
            server.invalidateAllTracked(current: session)
        }
        let keysBefore = notifying && command.flags.contains(.write) ? keysBeforeWrite(command) : []
        if server.hasWatchers && command.flags.contains(.write) { touchWatchedKeysBeforeFlush(command) }
        let reply: Reply
        defer {
            // After the command: its keyspace events, expiry events, tracking invalidations,
            // and WATCH touches for the keys a write changed.
            // A writable replica expires the keys its own clients give a TTL.
            if server.primaryLink != nil && !session.isPrimaryClient && server.dirty != dirtyBefore {
                server.noteReplicaOwnExpiringKeys(
                    db: session.db, keys: command.keyPositions(argc: argc, arg: { arg($0) }).map { argBytes($0) })
            }
            if notifying && server.dirty != dirtyBefore && command.flags.contains(.write) {
                notifyWrite(command, before: keysBefore)
            }
            if !deferredEvents.isEmpty { deferredEvents.removeAll() }
            defer {
                forcePropagation = false
                propagatesToReplicasOnly = false
            }
            if server.expiryLogging { server.drainExpiredEvents(current: session) }
            // The command propagates after the deletions expiry made while it ran.
            if server.propagation.isActive {
                if server.dirty != dirtyBefore || forcePropagation {
                    if !command.controlsTransaction { propagateCommand(to: server.propagation) }
                    // WAIT's target: the stream up to this write (an EXEC's, once it is whole).
                    if let primary = server.replication {
                        session.replicationWriteOffset = primary.offset
                    } else {
                        server.offsetWithoutBacklog += 1
                        session.replicationWriteOffset = server.offsetWithoutBacklog
                    }
                }
                if propagationOverridden {
                    propagation.removeAll(keepingCapacity: true)
                    propagationOverridden = false
                }
            }
            if server.trackingClients > 0 {
                if server.dirty != dirtyBefore {
                    // A script's writes are its caller's (NOLOOP compares with the caller).
                    let writer =
                        session.isScriptClient ? (server.scriptEngine?.callerSession ?? session) : session
                    for i in command.keyPositions(argc: argc, arg: { self.arg($0) })
                    where i < argc && !unchangedKeyArgs.contains(i) {
                        server.invalidateTrackedKey(db: session.db, key: arg(i), by: writer)
                    }
                }
                if session.tracking.on { rememberTrackedKeys(command) }
            }
            // Every key written may serve blocked clients, or (deleted, or replaced by another
            // type) end a blocked XREADGROUP with an error: Redis signals keys as ready from
            // dbAdd, dbSetValue and deletion alike.
            if server.blockedClients > 0 && server.dirty != dirtyBefore {
                for i in command.keyPositions(argc: argc, arg: { self.arg($0) }) where i < argc {
                    server.signalKeyReady(db: session.db, key: arg(i))
                }
            }
            if server.dirty != dirtyBefore && server.hasWatchers {
                for i in command.keyPositions(argc: argc, arg: { self.arg($0) })
                where i < argc && !unchangedKeyArgs.contains(i) {
                    server.touchWatchedKey(db: session.db, key: arg(i))
                }
            }
            if !unchangedKeyArgs.isEmpty { unchangedKeyArgs.removeAll() }
        }
        do {
            reply = try handler(self)
        } catch {
            command.failedCalls += 1
            countError(error)
            reply = .error(error.message)
        }
        // A command that blocks is counted when it completes (served, timed out or ended by
        // an error), as Redis's call() skips blocked clients' stats.
        if blockRequest == nil { command.calls += 1 } else { blockedCommand = command }
        // One clock read per command: the end of one command starts the next.
        let end = monotonicMicrosNow()
        command.microseconds += Int(end - server.commandClock)
        recordSlowlog(command, microseconds: end - server.commandClock)
        recordLatency(command, micros: end - server.commandClock)
        if !server.monitors.isEmpty { feedMonitors(command) }
        server.commandClock = end
        server.stats.totalCommands += 1
        session.lastCommandRun = command
        session.lastCommandOverride = nil
        return Dispatched(reply: reply)
    }
}
