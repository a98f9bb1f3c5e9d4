import RESP

/// A client connection's request/reply state machine, without sockets (Redis's
/// processInputBuffer and the client's state between reads): it parses every complete
/// command in the bytes read, runs them in order, and says why it stopped — the input ran
/// out, a CLIENT PAUSE holds the rest, a blocking command waits, or the connection is to
/// close. Commands held back by a pause or a block keep their place (`resumeFrom`) and run
/// first when the connection goes on. Replies collect in `context.output`; the runtime's
/// NIO handler owns the socket, the timers and the output buffer limits.
public final class ConnectionMachine {
    public enum Stop: Equatable {
        /// Every complete command ran; the rest of the input (a partial command) waits.
        case input
        /// CLIENT PAUSE holds the command at `resumeFrom`.
        case paused
        /// The command at `resumeFrom` waits for a key (`blocked`).
        case blocked
        /// QUIT, a protocol error, CLIENT KILL of itself: close after the replies.
        case closing
    }

    public let context: CommandContext
    public var session: ClientSession { context.session }
    var parser = RequestParser()
    /// The first command of the current batch not yet run (a pause or a block stopped
    /// there), or nil.
    public private(set) var resumeFrom: Int?
    /// What the waiting blocking command waits for (CLIENT LIST shows the client `b`).
    public var blocked: BlockRequest? {
        didSet { session.isBlocked = blocked != nil }
    }
    /// Closed from outside (CLIENT KILL from another client, the peer gone).
    public var closed = false

    public init(context: CommandContext) {
        self.context = context
    }

    /// Runs the commands held back, then every complete command in `input`. `block` is
    /// told at once when a command blocks (the runtime registers the waiter and its
    /// timeout); `serveReadyKeys` runs after each batch when writes made keys ready for
    /// blocked clients. With `maxmemory-clients` set, `weighClient` follows each command
    /// (Redis's updateClientMemUsageAndBucket): it weighs the replies so far and may evict
    /// clients before the next command's key eviction; false means this client went.
    /// Returns how many bytes of `input` were consumed and why it stopped.
    public func run(
        _ input: UnsafeRawBufferPointer, block: (BlockRequest) -> Void, serveReadyKeys: () -> Void,
        log: (String) -> Void, weighClient: () -> Bool = { true }
    ) -> (consumed: Int, stop: Stop) {
        let ctx = context
        let server = ctx.server
        var offset = 0
        var stop = Stop.input
        while !session.closeAfterReply {
            var start = 0
            if let from = resumeFrom {
                start = from
                resumeFrom = nil
            } else {
                ctx.batch.removeAll()
                parser.authenticated = session.authenticated
                // Before AUTH, one command at a time: the next is parsed as the client it
                // then is.
                parser.maxCommands = session.authenticated ? Int.max : 1
                parser.maxBulkLength = Int(server.config.limits.protoMaxBulkLen)
                let result = parser.parse(UnsafeRawBufferPointer(rebasing: input[offset...]), into: &ctx.batch)
                offset += result.consumed
                if ctx.batch.count == 0 {
                    if let error = result.error {
                        log("Protocol error (\(error)) from client: id=\(session.id) addr=\(session.address)")
                        ctx.emitDirect(.error("ERR " + error))
                        session.closeAfterReply = true
                    }
                    break
                }
            }
            ctx.beginBatch()
            ctx.prefetchBatchKeys(from: start)
            var i = start
            while i < ctx.batch.count && !session.closeAfterReply {
                let outcome = ctx.execute(commandAt: i)
                if case .paused = outcome {
                    resumeFrom = i
                    stop = .paused
                    break
                }
                if case .blocked = outcome, let request = ctx.blockRequest {
                    resumeFrom = i
                    stop = .blocked
                    blocked = request
                    block(request)
                    break
                }
                i += 1
                if ctx.outputHardLimitPassed {
                    session.closeAfterReply = true
                    break
                }
                if server.config.limits.maxmemoryClients > 0 && !weighClient() {
                    closed = true
                    break
                }
            }
            if !server.readyKeys.isEmpty { serveReadyKeys() }
            if stop != .input || closed { break }
        }
        if session.closeAfterReply { stop = .closing }
        return (offset, stop)
    }

    /// Whether `count` bytes of a partial command may wait for more input
    /// (client-query-buffer-limit); past the limit the client is closed.
    public func keepsPartialInput(_ count: Int) -> Bool {
        guard count > Int(context.server.config.limits.clientQueryBufferLimit) else { return true }
        session.closeAfterReply = true
        return false
    }

    /// Runs the waiting blocking command again: true when it was served (its reply is in
    /// the output; `finishBlocked` moves on past it).
    public func retryBlocked() -> Bool {
        guard let i = resumeFrom, let request = blocked, !closed else { return false }
        let ctx = context
        ctx.beginBatch()
        ctx.resumedStreamIDs = request.streamIDs
        let outcome = ctx.execute(commandAt: i)
        ctx.resumedStreamIDs = nil
        if case .done = outcome { return true }
        return false
    }

    /// Answers the waiting command with its timeout reply (or `error`).
    public func answerBlocked(_ request: BlockRequest, error: CommandError?) {
        let ctx = context
        ctx.countUnblocked(failed: error != nil)
        if let error { ctx.countError(error) }
        ctx.emitDirect(error.map { .error($0.message) } ?? request.timeoutReply)
    }

    /// After the blocked command was served or answered: the rest of its batch runs next.
    public func finishBlocked() {
        guard let i = resumeFrom else { return }
        blocked = nil
        resumeFrom = i + 1 < context.batch.count ? i + 1 : nil
        if resumeFrom == nil { context.batch.removeAll() }
    }
}
