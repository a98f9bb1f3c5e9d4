import Commands
import NIOCore
import NIOSSL
import NIOTLS
import RESP
import Server

/// One client connection: reads bytes, parses every complete command, runs them through
/// the dispatcher on the event loop (which owns the keyspace), and writes all replies of
/// the read in one flush.
/// Lives on the server's single event loop; @unchecked Sendable so loop timers can refer to it.
final class ConnectionHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let runtime: ServerRuntime
    /// The request/reply state machine (parsing, running, pauses, blocks).
    var machine: ConnectionMachine!
    var context: CommandContext! { machine?.context }
    var session: ClientSession!
    var pending: ByteBuffer?
    var channelContext: ChannelHandlerContext?
    var closed: Bool {
        get { machine?.closed ?? false }
        set { machine?.closed = newValue }
    }
    /// Set while a blocking command waits (BLPOP …); input queues until it is served.
    var blocked: BlockRequest? {
        get { machine?.blocked }
        set { machine?.blocked = newValue }
    }
    var timeoutTask: Scheduled<Void>?
    /// True while a batch runs (messages published meanwhile wait for its flush).
    var processing = false
    /// When the output first passed the soft limit (client-output-buffer-limit).
    var softLimitSince: Int64?
    /// Waiting in the runtime's pending-write list.
    var flushScheduled = false
    /// A replica on TLS whose snapshot is being written in chunks: its stream waits.
    var sendingSnapshot = false
    /// Taken out of the server's lists (detach()).
    var detached = false
    /// This client's memory as last added to the runtime's client total (client eviction).
    var accountedMemory = 0

    /// Accepted on a `tls-port`: an NIOSSLServerHandler sits before this one.
    let tls: Bool
    /// A TLS connection refused (maxclients, protected mode): the text it gets once its
    /// handshake is done.
    var pendingRefusal: String?

    init(runtime: ServerRuntime, tls: Bool = false) {
        self.runtime = runtime
        self.tls = tls
    }

    /// The TLS handshake done: with `tls-auth-clients-user CN`, the certificate's Common
    /// Name (its last, most significant one) may log the client in.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if tls, case .handshakeCompleted = event as? TLSUserEvent {
            if let refusal = pendingRefusal {
                pendingRefusal = nil
                refuse(context, refusal)
                return
            }
            if let session, runtime.state.config["tls-auth-clients-user"] == "CN",
                let handler = try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self),
                let name = handler.peerCertificate?.subjectName.last(where: { $0.type == .commonName })
            {
                runtime.state.acl.logInByCertificate(session, commonName: name.value)
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelActive(context: ChannelHandlerContext) {
        channelContext = context
        let state = runtime.state
        let remote = Self.format(context.channel.remoteAddress)
        let local = Self.format(context.channel.localAddress)
        let isUnix: Bool
        if case .unixDomainSocket = context.channel.remoteAddress { isUnix = true } else { isUnix = false }
        let now = state.clock()
        let session = ClientSession(
            id: state.makeClientId(), address: isUnix ? "/unixsocket:0" : remote,
            localAddress: isUnix ? (state.config["unixsocket"] + ":0") : local, fd: runtime.nextFD(),
            authenticated: !state.authRequired, now: now)
        session.isUnixSocket = isUnix
        session.aclUser = state.acl.defaultUser
        self.session = session
        self.machine = ConnectionMachine(context: CommandContext(server: state, session: session))
        // The reply buffer every client gets up front, as Redis's does (16 KB, then sized by
        // the cron to what the client uses): a reply that fits changes no memory count.
        machine.context.resetOutput(capacity: session.replyBufferSize)
        var refusal: String?
        if state.clients.count >= Int(state.config.int("maxclients")) {
            state.stats.rejectedConnections += 1
            refusal = "-ERR max number of clients reached\r\n"
        } else if state.config.bool("protected-mode") && !state.authRequired && !isUnix
            && !Self.isLoopback(context.channel.remoteAddress)
        {
            refusal = ServerRuntime.protectedModeMessage
        }
        if let refusal {
            // Over TLS the refusal waits for the handshake (Redis's clientAcceptHandler runs
            // after it), or the client would never read it.
            if tls {
                pendingRefusal = refusal
            } else {
                refuse(context, refusal)
            }
            return
        }
        session.closeHook = { [weak self] in
            guard let self, let ctx = self.channelContext else { return }
            self.closed = true
            // Gone from the server at once, as Redis's freeClient: a TLS close waits for the
            // peer's close_notify before the channel goes inactive.
            self.detach()
            ctx.close(promise: nil)
        }
        session.deliverHook = { [weak self] bytes in self?.deliver(bytes) }
        state.register(session)
        runtime.connections[session.id] = self
        runtime.log.info("Accepted \(session.address)")
    }

    func channelInactive(context: ChannelHandlerContext) {
        guard let session else { return }
        if runtime.state.clients[session.id] != nil {
            runtime.log.info("Client closed connection id=\(session.id) addr=\(session.address)")
        }
        detach()
        channelContext = nil
        closed = true
    }

    /// Takes the client out of the server's lists (blocked keys, clients, output limits);
    /// once, whether the kill or the socket's end comes first.
    func detach() {
        guard let session, !detached else { return }
        detached = true
        runtime.clientMemory -= accountedMemory
        accountedMemory = 0
        runtime.unblock(self)
        runtime.state.unregister(session)
        runtime.connections[session.id] = nil
        if softLimitSince != nil { runtime.overSoftLimit.removeAll { $0 === self } }
    }

    static func format(_ address: SocketAddress?) -> String {
        guard let address else { return "?:0" }
        switch address {
        case .v4(let a): return "\(a.host):\(address.port ?? 0)"
        case .v6(let a): return "[\(a.host)]:\(address.port ?? 0)"
        case .unixDomainSocket: return "/unixsocket:0"
        }
    }

    static func isLoopback(_ address: SocketAddress?) -> Bool {
        guard let address else { return false }
        switch address {
        case .v4(let a): return a.host.hasPrefix("127.")
        case .v6(let a): return a.host == "::1" || a.host.hasPrefix("::ffff:127.")
        case .unixDomainSocket: return true
        }
    }

    /// Writes Redis's refusal and closes, the connection never becoming a client.
    func refuse(_ context: ChannelHandlerContext, _ text: String) {
        closed = true
        writeRaw(context, Array(text.utf8))
        context.close(promise: nil)
    }

    func writeRaw(_ context: ChannelHandlerContext, _ bytes: [UInt8]) {
        var buffer = context.channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        guard !closed, session != nil else { return }
        runtime.state.stats.netInputBytes += incoming.readableBytes
        if pending == nil || pending!.readableBytes == 0 {
            pending = incoming
        } else {
            pending!.writeBuffer(&incoming)
        }
        process(context)
    }

    /// A Pub/Sub message for this client: queued behind the replies of a batch being run,
    /// written at once otherwise.
    func deliver(_ bytes: [UInt8]) {
        guard !closed, let ctx = context else { return }
        ctx.output.append(contentsOf: bytes)
        if !processing && !flushScheduled {
            flushScheduled = true
            runtime.scheduleFlush(self)
        }
    }

    /// Runs every complete command in the pending input, then flushes the replies.
    func process(_ context: ChannelHandlerContext) {
        processing = true
        defer { processing = false }
        guard blocked == nil, let machine, var buffer = pending else { return }
        pending = nil
        let (consumed, stop) = buffer.withUnsafeReadableBytes { input in
            machine.run(
                input, block: { runtime.block(self, $0) }, serveReadyKeys: { runtime.serveReadyKeys() },
                log: { runtime.log.info("\($0)") }, weighClient: { self.weighRepliesSoFar() })
        }
        buffer.moveReaderIndex(forwardBy: consumed)
        if buffer.readableBytes > 0 {
            if !machine.keepsPartialInput(buffer.readableBytes) {
                runtime.log.warning("Closing client that reached max query buffer length: id=\(session.id)")
            } else {
                buffer.discardReadBytes()
                pending = buffer
            }
        }
        let paused = stop == .paused
        recordQueryBuffer()
        if runtime.state.evictionPending { runtime.continueEvictions() }
        runtime.flushAppendOnly()
        // Replies go out (and a client past its output limit is closed) before client
        // eviction weighs this client: Redis lets the output limit act first.
        flush(context)
        accountMemory()
        if paused { runtime.parkPaused(self) }
        if session.closeAfterReply && !closed {
            closed = true
            context.close(promise: nil)
        }
    }

    func flush(_ context: ChannelHandlerContext) {
        guard let ctx = self.context, !ctx.output.isEmpty else { return }
        // A replica whose socket is full keeps its stream here, in one buffer, until the
        // socket drains (channelWritabilityChanged): its memory is then what INFO reports
        // and maxmemory leaves out.
        if session.isReplica && (!context.channel.isWritable || sendingSnapshot) {
            checkOutputLimits(context)
            return
        }
        if ctx.outputHardLimitPassed {
            // Redis closes such a client before writing anything more to it.
            ctx.output.removeAll(keepingCapacity: false)
            closeForOutputLimits(context)
            return
        }
        var out = context.channel.allocator.buffer(capacity: ctx.output.count)
        out.writeBytes(ctx.output)
        session?.outputBufferLength = 0
        runtime.state.stats.netOutputBytes += ctx.output.count
        if let session, session.replyBufferPeak < session.replyBufferSize {
            session.replyBufferPeak = min(session.replyBufferSize, max(session.replyBufferPeak, ctx.output.count))
        }
        // A reply longer than the client's buffer is transient, as Redis's reply list is:
        // the buffer goes back to its size, so memory in use (and maxmemory) does not keep
        // what one large reply needed.
        let bufferSize = session?.replyBufferSize ?? 16384
        if ctx.output.capacity > bufferSize + 64 {
            ctx.resetOutput(capacity: bufferSize)
        } else {
            ctx.output.removeAll(keepingCapacity: true)
        }
        if runtime.state.config.limits.maxmemoryClients > 0 {
            // Client eviction weighs what the queued buffer takes (NIO rounds its capacity
            // up), until the socket has taken it.
            let capacity = out.capacity
            session.queuedOutputCapacity += capacity
            let written = context.eventLoop.makePromise(of: Void.self)
            written.futureResult.whenComplete { [weak self] _ in
                guard let self, let session = self.session else { return }
                session.queuedOutputCapacity -= capacity
            }
            context.writeAndFlush(wrapOutboundOut(out), promise: written)
        } else {
            context.writeAndFlush(wrapOutboundOut(out), promise: nil)
        }
        checkOutputLimits(context)
    }

    /// Redis's client-output-buffer-limit: a client whose unsent output passes the hard
    /// limit of its class, or stays past the soft limit for its seconds, is disconnected,
    /// so a slow reader (a stalled subscriber) never makes the server hold unbounded output.
    func checkOutputLimits(_ context: ChannelHandlerContext) {
        if !session.isReplica && context.channel.isWritable && limitsAboveNIOBuffer() {
            // Under every limit without asking NIO what it holds (a generic option read,
            // about 1 600 instructions a flush): a writable channel holds at most its high
            // watermark, and this client's limits are all above that.
            session.pendingOutputBytes = 0
            if softLimitSince != nil {
                softLimitSince = nil
                runtime.overSoftLimit.removeAll { $0 === self }
            }
            accountMemory()
            return
        }
        var buffered = (try? context.channel.syncOptions?.getOption(.bufferedWritableBytes)) ?? 0
        if session.isReplica {
            // While its snapshot is sent (a file, not memory) a replica is not limited.
            guard runtime.state.replication?.replica(of: session)?.syncState == .online else {
                session.replicaOutputMemory = self.context?.output.capacity ?? 0
                return
            }
            let kept = self.context?.output ?? []
            session.replicaOutputMemory = buffered + kept.capacity
            buffered += kept.count
        }
        session.pendingOutputBytes = buffered
        guard buffered > 0 else {
            softLimitSince = nil
            return
        }
        let limits = runtime.state.config.limits
        let limit =
            session.isReplica
            ? limits.replicaOutputLimit : session.inPubSubMode ? limits.pubsubOutputLimit : limits.normalOutputLimit
        var over = limit.hard > 0 && Int64(buffered) >= limit.hard
        if !over && limit.soft > 0 && Int64(buffered) >= limit.soft {
            let now = runtime.state.clock()
            if let since = softLimitSince {
                over = now - since >= limit.seconds * 1000
            } else {
                softLimitSince = now
            }
        } else if !over {
            softLimitSince = nil
        }
        if softLimitSince == nil {
            runtime.overSoftLimit.removeAll { $0 === self }
        } else if !runtime.overSoftLimit.contains(where: { $0 === self }) {
            runtime.overSoftLimit.append(self)
        }
        if over { closeForOutputLimits(context) }
        accountMemory()
    }

    /// Whether every output limit of this client's class (normal or pub/sub) is off or above
    /// what NIO buffers while the channel stays writable (its high watermark, 64 KiB), and
    /// client eviction, which weighs every byte, is off.
    func limitsAboveNIOBuffer() -> Bool {
        let limits = runtime.state.config.limits
        guard limits.maxmemoryClients == 0 else { return false }
        let limit = session.inPubSubMode ? limits.pubsubOutputLimit : limits.normalOutputLimit
        let watermark: Int64 = 64 * 1024
        return (limit.hard == 0 || limit.hard > watermark) && (limit.soft == 0 || limit.soft > watermark)
    }

    /// What the unfinished command in `pending` holds, as Redis keeps it: its complete
    /// arguments out of the query buffer (argv-mem), the rest in it (qbuf).
    func recordQueryBuffer() {
        guard let pending, pending.readableBytes > 0 else {
            session.queryBufferLength = 0
            session.queryBufferMemory = 0
            session.queryArgumentBytes = 0
            session.queryArguments = 0
            return
        }
        let shape = pending.withUnsafeReadableBytes { RequestParser.partialCommandShape($0) }
        session.queryBufferLength = pending.readableBytes - shape.parsed
        // Redis makes room for a big argument (32 KB and more) as soon as it reads its
        // length, so that much counts before it has arrived.
        session.queryBufferMemory =
            shape.bulkLength >= 32 * 1024
            ? max(session.queryBufferLength, shape.bulkLength + 2) : session.queryBufferLength
        session.queryArgumentBytes = shape.argumentBytes
        session.queryArguments = shape.arguments
    }

    /// Brings this client's share of the runtime's client memory up to date, and evicts
    /// clients when the total reaches `maxmemory-clients` (Redis's client eviction). The
    /// primary's link and replicas are not counted, as in Redis.
    func accountMemory() {
        recordMemory()
        let limit = runtime.state.config.limits.maxmemoryClients
        if limit > 0 && runtime.clientMemory >= Int(limit) { runtime.evictClients() }
    }

    /// Between two commands of a batch, with client eviction on: the replies not yet
    /// flushed count, so a pipeline of large replies evicts clients before it makes the
    /// next command evict keys (Redis weighs a client after each command). False when this
    /// client was evicted.
    func weighRepliesSoFar() -> Bool {
        session.outputBufferLength = context.output.count
        accountMemory()
        return !closed
    }

    /// Moves this client's share of the runtime's total to its memory now.
    func recordMemory() {
        guard let session, !detached, !session.isReplica, !session.isPrimaryClient else { return }
        let memory = session.totalMemory
        runtime.clientMemory += memory - accountedMemory
        accountedMemory = memory
    }

    /// The output still in NIO's buffers, read again (it drains without a flush of ours).
    func refreshOutputBytes() {
        guard let context = channelContext, let session else { return }
        session.pendingOutputBytes = (try? context.channel.syncOptions?.getOption(.bufferedWritableBytes)) ?? 0
        recordMemory()
    }

    /// Closed by client eviction.
    func evict() {
        guard let session, let context = channelContext, !closed else { return }
        runtime.log.info("Evicting client: \(session.infoLine(now: runtime.state.clock()))")
        runtime.state.stats.evictedClients += 1
        closed = true
        // An evicted client gets nothing more, not even replies of its batch so far.
        self.context?.output.removeAll()
        detach()
        context.close(promise: nil)
    }

    /// A full socket drained: a replica's stream kept meanwhile goes out.
    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable && session.isReplica && !closed { flush(context) }
        context.fireChannelWritabilityChanged()
    }

    /// The cron's look at a client past its soft limit.
    func recheckOutputLimits() {
        guard let context = channelContext, !closed else { return }
        checkOutputLimits(context)
    }

    func closeForOutputLimits(_ context: ChannelHandlerContext) {
        guard !closed else { return }
        runtime.log.warning(
            "Client id=\(session.id) addr=\(session.address) closed for overcoming of output buffer limits.")
        closed = true
        runtime.overSoftLimit.removeAll { $0 === self }
        context.close(promise: nil)
    }

    /// Runs the parked blocking command again; true when it was served.
    func retryBlocked() -> Bool {
        guard let machine, machine.retryBlocked() else { return false }
        runtime.unblock(self)
        machine.finishBlocked()
        resume()
        return true
    }

    /// Answers a blocked command with its timeout reply (or `error`) and carries on.
    func blockTimedOut(error: CommandError? = nil) {
        guard let machine, let request = blocked, machine.resumeFrom != nil else { return }
        runtime.unblock(self)
        machine.answerBlocked(request, error: error)
        machine.finishBlocked()
        resume()
    }

    /// Called when a pause ends: run what was held back.
    func resume() {
        guard let context = channelContext, !closed else { return }
        if pending == nil { pending = context.channel.allocator.buffer(capacity: 0) }
        process(context)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // A client gone without TLS's close_notify (redis-cli does so) is simply gone.
        if tls, let failure = error as? NIOSSLError, case .uncleanShutdown = failure {
            context.close(promise: nil)
            return
        }
        if tls {
            // A failed handshake (no client certificate, no common protocol or cipher): reset,
            // as Redis's refused TLS connections look to clients.
            runtime.log.warning("Error accepting a client connection: \(error) (addr=\(session?.address ?? "?"))")
            TLSRecordGate.reset(context)
            return
        }
        context.close(promise: nil)
    }
}
