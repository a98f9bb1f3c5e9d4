import NIOCore
import NIOPosix
import NIOSSL
import Server

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A replica's connection to its primary: the socket side of `PrimaryLink`. It writes the
/// handshake, replaces the dataset with the snapshot of a full sync, and runs the stream as
/// the primary's client (CLIENT LIST flag M) through a connection machine of its own; the
/// replies are dropped but for REPLCONF GETACK's ACK. The applied offset advances by the
/// bytes of the commands run.
final class PrimaryConnection: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let runtime: ServerRuntime
    let link: PrimaryLink
    var channelContext: ChannelHandlerContext?
    var session: ClientSession?
    var machine: ConnectionMachine?
    /// Stream bytes of a command not yet whole.
    var pending: [UInt8] = []
    /// Stream bytes run but not yet counted: a MULTI whose EXEC has not come. Redis counts a
    /// transaction in the applied offset (and passes it on) only once it is whole, so a
    /// PSYNC after a dropped link asks for it again.
    var openTransaction: [UInt8] = []

    init(runtime: ServerRuntime, link: PrimaryLink) {
        self.runtime = runtime
        self.link = link
    }

    var state: ServerState { runtime.state }

    func write(_ bytes: [UInt8]) {
        guard let context = channelContext else { return }
        var buffer = context.channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }

    /// REPLCONF ACK with the applied offset, and FACK with what the AOF has fsynced.
    func writeAck() {
        write(link.ack(fsynced: state.fsyncedReplicationOffset))
    }

    func channelActive(context: ChannelHandlerContext) {
        channelContext = context
        runtime.log.notice("Non blocking connect for SYNC fired the event.")
        write(link.connected(now: state.clock()))
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        guard state.primaryLink === link else { return }
        let bytes = Array(buffer.readableBytesView)
        for event in link.receive(bytes, now: state.clock()) {
            switch event {
            case .send(let out):
                write(out)
            case .log(let message):
                runtime.log.notice("\(message)")
            case .failure(let message):
                runtime.log.warning("\(message)")
                context.close(promise: nil)
                // A PSYNC FAILOVER refused: a primary again.
                if state.failoverState == .inProgress { state.abortFailover("Failover target rejected psync request") }
                return
            case .fullSync(let id, let offset, let snapshot):
                runtime.log.notice("MASTER <-> REPLICA sync: Flushing old data")
                runtime.log.notice("MASTER <-> REPLICA sync: Loading DB in memory")
                if let failure = state.loadPrimarySnapshot(snapshot) {
                    runtime.log.warning("Failed trying to load the MASTER synchronization DB from socket: \(failure)")
                    context.close(promise: nil)
                    return
                }
                runtime.log.notice("MASTER <-> REPLICA sync: Finished with success")
                state.followPrimaryHistory(afterFullSync: id, offset: offset)
                state.failoverPsyncAnswered()
                startPrimaryClient()
                // The stream goes on in the database the snapshot names (a primary's next
                // command selects one; a replica passing its primary's stream on does not).
                session?.db = link.streamDB
                // The first ACK puts this replica online on a primary that waits for it.
                writeAck()
            case .partialSync(let previousID, let newID):
                state.followPrimaryHistory(continuing: previousID, newID: newID, offset: link.offset)
                state.failoverPsyncAnswered()
                startPrimaryClient()
                // The stream continues in the database it had selected.
                session?.db = link.streamDB
            case .stream(let chunk):
                runStream(chunk)
            }
        }
    }

    /// The client the primary's commands run as.
    func startPrimaryClient() {
        if session != nil { return }
        let session = ClientSession(
            id: state.makeClientId(), address: "\(link.host):\(link.port)", localAddress: "", fd: runtime.nextFD(),
            authenticated: true, now: state.clock())
        session.isPrimaryClient = true
        session.aclUser = nil
        // CLIENT KILL of the primary's client drops the link (it reconnects with PSYNC).
        session.closeHook = { [weak self] in self?.channelContext?.close(promise: nil) }
        self.session = session
        let context = CommandContext(server: state, session: session)
        context.mayBlock = false
        machine = ConnectionMachine(context: context)
        state.register(session)
        pending = []
        openTransaction = []
    }

    func runStream(_ chunk: [UInt8]) {
        guard let machine, let session else { return }
        pending += chunk
        let consumed = state.asPrimaryClient {
            pending.withUnsafeBytes { input in
                machine.run(
                    input, block: { _ in }, serveReadyKeys: { self.runtime.serveReadyKeys() },
                    log: { self.runtime.log.warning("\($0)") }
                ).consumed
            }
        }
        if openTransaction.isEmpty && !session.inMulti {
            applied(pending[..<consumed])
        } else {
            var run = openTransaction + pending[..<consumed]
            openTransaction = []
            if session.inMulti {
                let start = PrimaryLink.openTransactionStart(in: run)
                openTransaction = Array(run[start...])
                run.removeSubrange(start...)
            }
            applied(run[...])
        }
        pending.removeFirst(consumed)
        machine.context.output.removeAll(keepingCapacity: true)
        session.lastInteraction = state.clock()
        runtime.flushAppendOnly()
        if session.ackRequested {
            session.ackRequested = false
            writeAck()
        }
    }

    /// Stream bytes applied: counted in the offset and passed on to this server's replicas.
    func applied(_ bytes: ArraySlice<UInt8>) {
        link.offset += Int64(bytes.count)
        state.replication?.passOn(bytes)
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        runtime.log.warning("Error condition on socket for SYNC: \(error)")
        context.close(promise: nil)
    }

    /// The link is gone: the primary's client goes, the link waits for the cron to retry.
    func finish() {
        channelContext = nil
        if let session {
            link.streamDB = session.db
            state.unregister(session)
            self.session = nil
        }
        machine = nil
        if state.primaryLink === link {
            if link.state == .connected { runtime.log.notice("Connection with master lost.") }
            link.lost(now: state.clock())
        }
        if runtime.primaryConnection === self { runtime.primaryConnection = nil }
    }
}

extension ServerRuntime {
    /// REPLICAOF changed: the old link closes; a new one connects (and the cron retries it
    /// every second while it is down).
    func primaryLinkChanged() {
        RedisLogHandler.replicaRole = state.primaryLink == nil ? 0 : 1
        // Clients blocked on this server as a primary get an error and are closed (Redis's
        // disconnectAllBlockedClients): what they waited for will not come from here.
        // (Blocking commands and WAIT/WAITAOF: not a caller waiting for its own suspended
        // script or for DEBUG LOADAOF, which end as they would anyway.)
        if state.primaryLink != nil {
            for (_, handler) in connections {
                guard let request = handler.blocked, !request.keys.isEmpty || request.waitsForAcks != nil else {
                    continue
                }
                handler.machine?.session.closeAfterReply = true
                handler.blockTimedOut(error: .unblockedByRoleChange)
            }
        }
        if let old = primaryConnection {
            primaryConnection = nil
            old.channelContext?.close(promise: nil)
            old.finish()
        }
        connectToPrimary()
    }

    func connectToPrimary() {
        // Not while the dataset loads at start: the cron connects once it is loaded.
        guard let link = state.primaryLink, link.state == .connect, primaryConnection == nil, state.loading == nil
        else { return }
        log.notice("Connecting to MASTER \(link.host):\(link.port)")
        state.prepareConnection(link)
        let handler = PrimaryConnection(runtime: self, link: link)
        primaryConnection = handler
        log.notice("MASTER <-> REPLICA sync started")
        let primaryHost = link.host
        var bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(.seconds(Int64(max(1, state.config.int("repl-timeout")))))
            // ACKs answer GETACKs at once (WAIT waits on them), not after a delayed ACK.
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { [unowned self] channel in
                channel.eventLoop.makeCompletedFuture {
                    // tls-replication: the link speaks TLS, with tls-client-cert-file (or the
                    // server's own certificate) shown to the primary.
                    if self.state.config.bool("tls-replication") {
                        guard let contexts = self.tlsContexts else { throw ChannelError.inappropriateOperationForState }
                        let isAddress = (try? SocketAddress(ipAddress: primaryHost, port: 0)) != nil
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(context: contexts.client, serverHostname: isAddress ? nil : primaryHost)
                        )
                    }
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
        // bind-source-addr: the address the link leaves from.
        let source = state.config["bind-source-addr"]
        if !source.isEmpty, let address = try? SocketAddress(ipAddress: source, port: 0) {
            bootstrap = bootstrap.bind(to: address)
        }
        bootstrap.connect(host: link.host, port: link.port)
            .whenFailure { [weak self] error in
                guard let self else { return }
                self.log.warning("Error condition on socket for SYNC: \(error)")
                if self.primaryConnection === handler { self.primaryConnection = nil }
                if self.state.primaryLink === handler.link { handler.link.lost(now: self.state.clock()) }
            }
    }

    /// replicationCron's part: reconnect a link that is down, ACK the applied offset every
    /// second.
    func primaryLinkCron() {
        guard let link = state.primaryLink else { return }
        let now = state.clock()
        if link.state != .connect && now - link.lastIO > state.config.int("repl-timeout") * 1000 {
            switch link.state {
            case .connecting, .handshake: log.warning("Timeout connecting to the MASTER...")
            case .transfer:
                log.warning(
                    "Timeout receiving bulk data from MASTER... If the problem persists try to set the 'repl-timeout' parameter in redis.conf to a larger value."
                )
            default: log.warning("MASTER timeout: no data nor PING received...")
            }
            if let connection = primaryConnection {
                connection.channelContext?.close(promise: nil)
            } else {
                link.lost(now: now)
            }
            return
        }
        if link.state == .connect {
            connectToPrimary()
        } else if link.state == .connected {
            primaryConnection?.writeAck()
        }
    }

    /// A replica acknowledged: each WAIT learns the count, and those it satisfies return.
    func answerWaits() {
        guard ackWaiters > 0 else { return }
        for (_, handler) in connections {
            guard let wait = handler.blocked?.waitsForAcks else { continue }
            // WAITAOF's local AOF turned off meanwhile: an error, as Redis's.
            if (wait.local ?? 0) > 0 && state.aof == nil {
                handler.blockTimedOut(error: .waitAOFWithoutAOF)
                continue
            }
            let (satisfied, reply) = state.acknowledgements(of: wait)
            handler.blocked?.timeoutReply = reply
            if satisfied { handler.blockTimedOut() }
        }
    }
}

extension ServerRuntime {
    /// Writes the snapshot file from `offset` in 256 KB chunks, the next once the previous
    /// is written; closes `fd` at the end and reports whether all of it went.
    func sendSnapshotChunks(
        fd: Int32, from offset: Int, size: Int, context: ChannelHandlerContext, done: @escaping (Bool) -> Void
    ) {
        let count = min(262_144, size - offset)
        guard count > 0 else {
            close(fd)
            done(true)
            return
        }
        var chunk = context.channel.allocator.buffer(capacity: count)
        let read = chunk.writeWithUnsafeMutableBytes(minimumWritableBytes: count) {
            max(0, pread(fd, $0.baseAddress, count, off_t(offset)))
        }
        guard read > 0 else {
            close(fd)
            log.warning("SYNC failed: can't read the snapshot at \(offset) of \(size) bytes")
            context.close(promise: nil)
            done(false)
            return
        }
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(NIOAny(chunk), promise: written)
        nonisolated(unsafe) let context = context
        nonisolated(unsafe) let done = done
        written.futureResult.whenComplete { [unowned self] result in
            guard case .success = result else {
                close(fd)
                done(false)
                return
            }
            self.sendSnapshotChunks(fd: fd, from: offset + read, size: size, context: context, done: done)
        }
    }

    /// A full sync's snapshot to a replica's socket: the header, the file from its
    /// descriptor (sendfile, no copy through memory), the trailer; the stream held meanwhile
    /// follows (the caller delivers it). The replica is online once the file is written.
    func sendSnapshot(_ transfer: SnapshotTransfer) {
        guard let handler = connections[transfer.replica.session.id], let context = handler.channelContext,
            !handler.closed
        else { return }
        handler.flush(context)
        let fd = dup(transfer.fd)
        guard fd >= 0 else {
            log.warning("SYNC failed: can't open the snapshot for replica \(transfer.replica.session.address)")
            context.close(promise: nil)
            return
        }
        var header = context.channel.allocator.buffer(capacity: transfer.header.count)
        header.writeBytes(transfer.header)
        context.write(NIOAny(IOData.byteBuffer(header)), promise: nil)
        nonisolated(unsafe) let replica = transfer.replica
        if handler.tls {
            // TLS encrypts in this process, so no sendfile: the file goes in chunks, each
            // read once the previous one is on the socket (a large snapshot is never all in
            // memory), and the replica's stream waits in its buffer until the last.
            handler.sendingSnapshot = true
            let trailer = transfer.trailer
            sendSnapshotChunks(fd: fd, from: 0, size: transfer.size, context: context) { [unowned self] succeeded in
                handler.sendingSnapshot = false
                guard succeeded, !handler.closed else { return }
                handler.context?.output.insert(contentsOf: trailer, at: 0)
                handler.flush(context)
                self.state.snapshotSent(to: replica)
            }
            return
        }
        let file = NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: fd)
        let sent = context.eventLoop.makePromise(of: Void.self)
        context.write(
            NIOAny(IOData.fileRegion(FileRegion(fileHandle: file, readerIndex: 0, endIndex: transfer.size))),
            promise: sent)
        if !transfer.trailer.isEmpty {
            var trailer = context.channel.allocator.buffer(capacity: transfer.trailer.count)
            trailer.writeBytes(transfer.trailer)
            context.write(NIOAny(IOData.byteBuffer(trailer)), promise: nil)
        }
        context.flush()
        // The completion runs on this loop, where the replica lives.
        sent.futureResult.whenComplete { [unowned self] result in
            try? file.close()
            if case .success = result { self.state.snapshotSent(to: replica) }
        }
    }
}
