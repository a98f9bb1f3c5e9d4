import Persistence

/// Where a write's effects go once recorded: the AOF and the replication stream.
/// A sink gets each command RESP-encoded, with the database it applies to, and emits its own
/// SELECTs (the AOF and each replica track the database they last named separately).
public protocol PropagationSink: AnyObject {
    func append(db: Int, command: ArraySlice<UInt8>)
    /// Whether the sink takes commands meant for replicas only (PUBLISH): the replication
    /// stream does, the AOF does not.
    var takesReplicaOnlyCommands: Bool { get }
}

extension PropagationSink {
    public var takesReplicaOnlyCommands: Bool { false }
}

/// The one path a write's effects take (Redis's alsoPropagate and propagatePendingCommands).
/// A command records what it is logged and replicated as — its own arguments, or what it
/// asked for instead (`CommandContext.propagate(as:)`), plus the deletions expiry and
/// eviction made while it ran — and every sink receives the same commands, encoded once.
/// Between `beginTransaction` and `endTransaction` (EXEC, a script, a command logging
/// several) commands are held and go out wrapped in MULTI/EXEC when there are several, so a
/// sink never sees half a transaction.
public final class Propagation {
    public private(set) var sinks: [any PropagationSink] = []
    /// Whether anything listens: commands skip building their replay form when not.
    public private(set) var isActive = false

    /// Commands recorded and not yet handed on, encoded back to back.
    var pending: [UInt8] = []
    var pendingCommands: [(db: Int, end: Int)] = []
    /// Indices in `pendingCommands` of commands for replicas only.
    var pendingReplicaOnly: Set<Int> = []
    var depth = 0
    /// Whether a sink takes replica-only commands (else they are not even recorded).
    public private(set) var hasReplicaSink = false

    public init() {}

    public func add(_ sink: any PropagationSink) {
        guard !sinks.contains(where: { $0 === sink }) else { return }
        sinks.append(sink)
        isActive = true
        hasReplicaSink = sinks.contains { $0.takesReplicaOnlyCommands }
    }

    public func remove(_ sink: any PropagationSink) {
        sinks.removeAll { $0 === sink }
        isActive = !sinks.isEmpty
        hasReplicaSink = sinks.contains { $0.takesReplicaOnlyCommands }
    }

    /// Records one command given as its arguments.
    public func record(db: Int, _ args: [[UInt8]]) {
        guard isActive else { return }
        AOFEncoding.append(args, into: &pending)
        recorded(db: db)
    }

    /// Records one command read from its argument accessor (a client's request, as sent);
    /// `replicasOnly` for one the AOF does not get (Redis's PROPAGATE_REPL: PUBLISH).
    @inline(__always)
    func record(db: Int, argc: Int, replicasOnly: Bool = false, arg: (Int) -> ArraySlice<UInt8>) {
        guard isActive else { return }
        if replicasOnly {
            guard hasReplicaSink else { return }
            pendingReplicaOnly.insert(pendingCommands.count)
        }
        AOFEncoding.appendHeader(argc, UInt8(ascii: "*"), into: &pending)
        for i in 0..<argc { AOFEncoding.appendBulk(arg(i), into: &pending) }
        recorded(db: db)
    }

    @inline(__always)
    func recorded(db: Int) {
        pendingCommands.append((db, pending.count))
        if depth == 0 { handOn() }
    }

    /// Commands recorded from here to the matching `endTransaction` go out together.
    public func beginTransaction() {
        depth += 1
    }

    public func endTransaction() {
        guard depth > 0 else { return }
        depth -= 1
        if depth == 0 { handOn() }
    }

    /// Whether a transaction is open (a suspended script holds one).
    public var inTransaction: Bool { depth > 0 }

    /// Hands what is pending to every sink: one command as it is, several inside MULTI
    /// (in the first one's database) and EXEC (in the last one's, so no SELECT comes
    /// between the last command and EXEC).
    func handOn() {
        guard !pendingCommands.isEmpty else { return }
        if pendingReplicaOnly.isEmpty {
            let wrap = pendingCommands.count > 1
            if wrap { emit(db: pendingCommands[0].db, Self.multi[...]) }
            var start = 0
            for (db, end) in pendingCommands {
                emit(db: db, pending[start..<end])
                start = end
            }
            if wrap { emit(db: pendingCommands[pendingCommands.count - 1].db, Self.exec[...]) }
        } else {
            // Each sink gets its share inside the MULTI/EXEC the whole takes (Redis wraps by
            // the count of all commands, so the AOF may get a MULTI around PUBLISHes it skips).
            let wrap = pendingCommands.count > 1
            for sink in sinks {
                if wrap { sink.append(db: pendingCommands[0].db, command: Self.multi[...]) }
                for i in pendingCommands.indices
                where sink.takesReplicaOnlyCommands || !pendingReplicaOnly.contains(i) {
                    let start = i == 0 ? 0 : pendingCommands[i - 1].end
                    sink.append(db: pendingCommands[i].db, command: pending[start..<pendingCommands[i].end])
                }
                if wrap { sink.append(db: pendingCommands[pendingCommands.count - 1].db, command: Self.exec[...]) }
            }
            pendingReplicaOnly.removeAll()
        }
        pending.removeAll(keepingCapacity: pending.capacity <= 1 << 20)
        pendingCommands.removeAll(keepingCapacity: true)
    }

    @inline(__always)
    func emit(db: Int, _ command: ArraySlice<UInt8>) {
        for sink in sinks { sink.append(db: db, command: command) }
    }

    static let multi: [UInt8] = Array("*1\r\n$5\r\nMULTI\r\n".utf8)
    static let exec: [UInt8] = Array("*1\r\n$4\r\nEXEC\r\n".utf8)
}
