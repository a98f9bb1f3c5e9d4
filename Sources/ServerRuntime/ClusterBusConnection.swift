import NIOCore
import NIOPosix
import NIOSSL
import Server

/// One cluster-bus socket: the bytes in go to `ClusterBus`, the messages it writes go out.
/// Inbound (accepted on the bus port) or outbound (opened by the bus's cron).
final class ClusterBusConnection: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let runtime: ServerRuntime
    var link: BusLink?

    init(runtime: ServerRuntime, link: BusLink?) {
        self.runtime = runtime
        self.link = link
    }

    static func ip(_ address: SocketAddress?) -> String { address?.ipAddress ?? "" }

    func channelActive(context: ChannelHandlerContext) {
        guard let bus = runtime.state.clusterBus else {
            context.close(promise: nil)
            return
        }
        let channel = context.channel
        let localIP = Self.ip(channel.localAddress)
        let link =
            self.link
            ?? bus.accepted(
                peerIP: Self.ip(channel.remoteAddress), localIP: localIP, now: runtime.state.clock())
        self.link = link
        link.peerIP = Self.ip(channel.remoteAddress)
        link.send = { bytes in
            var buffer = channel.allocator.buffer(capacity: bytes.count)
            buffer.writeBytes(bytes)
            channel.writeAndFlush(buffer, promise: nil)
        }
        link.close = { channel.close(promise: nil) }
        link.bufferedBytes = { (try? channel.syncOptions?.getOption(.bufferedWritableBytes)) ?? 0 }
        if !link.inbound { bus.connected(link, localIP: localIP, now: runtime.state.clock()) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let link, let bus = runtime.state.clusterBus else { return }
        let buffer = unwrapInboundIn(data)
        bus.received(Array(buffer.readableBytesView), on: link, now: runtime.state.clock())
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let link { runtime.state.clusterBus?.disconnected(link) }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}

extension ServerRuntime {
    /// Listens on the bus port at each address the clients' listeners use, and lets the
    /// bus open its outbound links.
    func startClusterBus() throws {
        guard let bus = state.clusterBus else { return }
        state.clusterLog = { [unowned self] in self.log.notice("\($0)") }
        bus.connectHook = { [unowned self] link, ip, port in self.connectBus(link, ip: ip, port: port) }
        var hosts: [(String, Bool)] = []
        for (address, optional) in wantedListenAddresses() where !hosts.contains(where: { $0.0 == address.host }) {
            hosts.append((address.host, optional))
        }
        for (host, optional) in hosts {
            var bootstrap = ServerBootstrap(group: loop)
                .serverChannelOption(ChannelOptions.backlog, value: 511)
                .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            if host.contains(":") {
                bootstrap = bootstrap.serverChannelOption(
                    ChannelOptions.Types.SocketOption(level: .ipv6, name: .ipv6_v6only), value: 1)
            }
            bootstrap = bootstrap.childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { [unowned self] channel in
                    channel.eventLoop.makeCompletedFuture {
                        // tls-cluster: the bus speaks TLS both ways, with the server's contexts.
                        if self.state.config.bool("tls-cluster") {
                            guard let contexts = self.tlsContexts else {
                                throw ChannelError.inappropriateOperationForState
                            }
                            try channel.pipeline.syncOperations.addHandlers(
                                TLSRecordGate(), NIOSSLServerHandler(context: contexts.server))
                        }
                        try channel.pipeline.syncOperations.addHandler(
                            ClusterBusConnection(runtime: self, link: nil))
                    }
                }
            do {
                channels.append(try bootstrap.bind(host: host, port: state.clusterBusPort).wait())
            } catch {
                if optional { continue }
                log.warning("Could not bind to \(host):\(state.clusterBusPort) for the cluster bus: \(error)")
                throw ServerStartError("Failed listening on port \(state.clusterBusPort) (cluster), aborting.")
            }
        }
    }

    func connectBus(_ link: BusLink, ip: String, port: Int) {
        let handler = ClusterBusConnection(runtime: self, link: link)
        let timeout = max(1, state.config.int("cluster-node-timeout"))
        ClientBootstrap(group: loop)
            .connectTimeout(.milliseconds(Int64(timeout)))
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { [unowned self] channel in
                channel.eventLoop.makeCompletedFuture {
                    if self.state.config.bool("tls-cluster") {
                        guard let contexts = self.tlsContexts else { throw ChannelError.inappropriateOperationForState }
                        let isAddress = (try? SocketAddress(ipAddress: ip, port: 0)) != nil
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(context: contexts.client, serverHostname: isAddress ? nil : ip))
                    }
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
            .connect(host: ip, port: port)
            // The handler (Sendable, on this loop) carries the link into the callback.
            .whenFailure { [weak self] _ in
                if let link = handler.link { self?.state.clusterBus?.disconnected(link) }
            }
    }
}
