import DataStore
import RESP
import ServerConfig

/// What a handler sees: its arguments, the session, the server. One per connection,
/// reused for every command, so running a command allocates nothing here.
public final class CommandContext {
    public let server: ServerState
    public let session: ClientSession
    /// The parsed commands of the current read; the runtime parses into it.
    public var batch = CommandBatch()
    /// Span index of the current command's first argument, and its argument count.
    public var argBase = 0
    public var argc = 0
    /// The command running (commands live as long as the table: no reference counting).
    public unowned(unsafe) var command: Command?
    /// Set by a blocking command that has to wait; the dispatcher parks the client.
    public var blockRequest: BlockRequest?
    /// False when a blocking command must not block (inside MULTI or a script).
    public var mayBlock = true
    /// Keyspace events a handler raised, sent after the command's `new` events (as Redis's
    /// dbAdd raises `new` before the command's own event).
    public var deferredEvents: [(type: KeyspaceEvents, event: String, keyArg: Int)] = []
    /// Set while a blocked XREAD/XREADGROUP runs again: the IDs it blocked with.
    public var resumedStreamIDs: [StreamID]?
    /// Scratch space for prefetching a batch's keys.
    var prefetchHashes: [UInt32] = []
    var memberHashes: [UInt32] = []
    /// The command of each batch entry, found while prefetching so dispatch need not look
    /// it up again (valid only for the batch `prefetchBatchKeys` saw). Unretained: the
    /// command table holds every command for the server's life (it only grows), and
    /// counting references here cost a retain and two releases per command.
    public var batchCommands: [Unmanaged<Command>?] = []
    public var preparedCommand: Command?
    /// CLIENT CACHING ran: its flag holds for the next command.
    public var keepCachingFlag = false
    /// What the AOF logs for the running command instead of its arguments: commands whose
    /// arguments would replay differently (relative times, random picks) say it here.
    var propagation: [[[UInt8]]] = []
    var propagationOverridden = false
    /// The command propagates even though it changed nothing (Redis's
    /// forceCommandPropagation: FLUSHDB of an empty database still reaches the AOF).
    public var forcePropagation = false
    /// With `forcePropagation`: the command goes to replicas only, not the AOF (Redis's
    /// PROPAGATE_REPL, for PUBLISH).
    public var propagatesToReplicasOnly = false
    /// The command that blocked this client, counted in its stats once it completes.
    var blockedCommand: Command?
    /// Key arguments a write left as they were (SMOVE of a member the destination already
    /// holds): no WATCH touch, invalidation or event for them, as Redis signals only the
    /// keys it modified.
    public var unchangedKeyArgs: [Int] = []

    enum MemberOwner {
        case set(SetValue)
        case hash(HashValue)
    }
    /// Replies encoded for this connection, flushed by the runtime.
    public var output: [UInt8] = []

    /// Gives the connection a new, empty reply buffer of `capacity` bytes (its size as the
    /// cron sets it, Redis's `buf`).
    public func resetOutput(capacity: Int) {
        output = []
        output.reserveCapacity(capacity)
    }

    public init(server: ServerState, session: ClientSession) {
        self.server = server
        self.session = session
    }

    public var keyspace: Keyspace { server.keyspace }
    public var config: Config { server.config }
    @inline(__always) public var now: Int64 { server.keyspace.now }

    /// Argument `i` (0 is the command name).
    @inline(__always)
    public func arg(_ i: Int) -> ArraySlice<UInt8> {
        batch.bytes[batch.spans[argBase + i]]
    }

    /// The length of argument `i`, without touching its bytes.
    @inline(__always)
    public func argLength(_ i: Int) -> Int { batch.spans[argBase + i].count }

    public func argBytes(_ i: Int) -> [UInt8] { Array(arg(i)) }
    public func argString(_ i: Int) -> String { String(decoding: arg(i), as: UTF8.self) }

    @inline(__always)
    public func argIs(_ i: Int, _ keyword: StaticString) -> Bool {
        argLength(i) == keyword.utf8CodeUnitCount && equalsIgnoringCase(arg(i), keyword)
    }

    /// The selected database, modified in place. Read through its address: reading the
    /// array element would copy the struct (a retain and a release of each of its buffers
    /// per command). The keyspace owns the array, which nothing resizes while a command
    /// reads. The index is checked: SELECT bounds it, but the address must not rest on that.
    public var db: Database {
        @inline(__always) unsafeAddress {
            server.keyspace.databases.withUnsafeBufferPointer {
                precondition(session.db >= 0 && session.db < $0.count, "database index outside the keyspace")
                return $0.baseAddress! + session.db
            }
        }
        @inline(__always) _modify { yield &server.keyspace.databases[session.db] }
    }

    /// An integer argument, with Redis's error.
    @inline(__always)
    public func int64(_ i: Int, error: CommandError = .notInteger) throws(CommandError) -> Int64 {
        guard let v = parseInt64(arg(i)) else { throw error }
        return v
    }

    public func double(_ i: Int, error: CommandError = .notFloat) throws(CommandError) -> Double {
        guard let v = parseDouble(arg(i)) else { throw error }
        return v
    }

    /// Whether writes are propagated (commands skip building their replay form if not).
    @inline(__always) public var propagating: Bool { server.propagation.isActive }

    /// Logs `commands` for the running command instead of its arguments (nothing, when
    /// none are given). Call only when `propagating`.
    public func propagate(as commands: [[UInt8]]...) {
        propagate(commands)
    }

    /// The same, for a list built as the command ran.
    public func propagate(_ commands: [[[UInt8]]]) {
        propagationOverridden = true
        propagation.append(contentsOf: commands)
    }

    /// The hard output-buffer limit of this client's class (0: none). Replicas are held to
    /// their own class elsewhere.
    public var outputHardLimit: Int {
        guard !session.isReplica else { return 0 }
        return Int(
            session.inPubSubMode ? config.limits.pubsubOutputLimit.hard : config.limits.normalOutputLimit.hard)
    }

    /// The replies waiting for this client (unsent ones included) have reached the hard
    /// limit: Redis closes the client without writing more, and runs no further command
    /// of its pipeline.
    public var outputHardLimitPassed: Bool {
        let waiting = Int64(output.count + session.pendingOutputBytes)
        // Below every hard limit set (the usual case) nothing more is looked at.
        guard waiting >= config.limits.smallestOutputHardLimit else { return false }
        let hard = outputHardLimit
        return hard > 0 && waiting >= hard
    }

    /// Records `n` changes to the dataset (for save points and INFO).
    @inline(__always)
    public func markDirty(_ n: Int = 1) {
        server.dirty += n
    }

    /// Looks a key up in the selected database for reading, counting hits and misses.
    @inline(__always)
    public func lookupRead(_ i: Int, touching: Bool = true) -> Int? {
        let keyspace = server.keyspace
        let now = keyspace.now
        // An LRU touch goes with the lookup (one pass over the table); LFU's counter after.
        let touches = touching && !session.noTouch
        let lru = touches && !keyspace.lfuPolicy ? keyspace.lruClock.value : nil
        let slot = arg(i).withUnsafeBytes { keyspace.databases[session.db].lookup($0, now: now, lru: lru) }
        if let slot {
            keyspace.keyspaceHits += 1
            if touches && lru == nil { touch(slot) }
        } else {
            server.keyspace.keyspaceMisses += 1
            if config.limits.keyspaceEvents.contains(.keyMiss) {
                server.notifyKeyspaceEvent(.keyMiss, "keymiss", key: argBytes(i), db: session.db)
            }
        }
        return slot
    }

    /// Looks a key up for writing (no hit/miss accounting); an access for LRU/LFU, as
    /// Redis's lookupKeyWrite is.
    @inline(__always)
    public func lookupWrite(_ i: Int) -> Int? {
        let keyspace = server.keyspace
        let now = keyspace.now
        let touches = !session.noTouch
        let lru = touches && !keyspace.lfuPolicy ? keyspace.lruClock.value : nil
        let slot = arg(i).withUnsafeBytes {
            keyspace.databases[session.db].lookup($0, now: now, forWrite: true, lru: lru)
        }
        if let slot, touches && lru == nil { touch(slot) }
        return slot
    }

    /// Looks a key up without counting an access (OBJECT, DEBUG OBJECT: Redis's
    /// LOOKUP_NOTOUCH).
    public func lookupNoTouch(_ i: Int) -> Int? {
        let now = server.keyspace.now
        return arg(i).withUnsafeBytes { server.keyspace.databases[session.db].lookup($0, now: now) }
    }

    /// An access to the key in `slot`: its LRU time, or under an LFU policy its counter.
    @inline(__always)
    func touch(_ slot: Int) {
        let keyspace = server.keyspace
        if keyspace.lfuPolicy {
            let limits = config.limits
            let r = Double(keyspace.rng.next() >> 11) / Double(1 << 53)
            let old = db.table[slot].lru
            keyspace.databases[session.db].table[slot].lru = LFU.touch(
                old, nowMs: keyspace.now, decayTime: limits.lfuDecayTime, logFactor: limits.lfuLogFactor, random: r)
        } else {
            keyspace.databases[session.db].table[slot].lru = keyspace.lruClock.value
        }
    }

    /// The string value at `slot`, or WRONGTYPE.
    @inline(__always)
    public func stringValue(at slot: Int) throws(CommandError) -> Value {
        let v = db.table[slot].value
        guard v.isString else { throw .wrongType }
        return v
    }
}
