import Commands
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Server

/// The optional Prometheus endpoint (`metrics-port`): GET /metrics over HTTP/1.1 on the
/// server's own loop, so a scrape reads the server's state as a command does.
final class MetricsHTTPHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let exporter: MetricsExporter
    var head: HTTPRequestHead?

    init(exporter: MetricsExporter) { self.exporter = exporter }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h): head = h
        case .body: break
        case .end:
            guard let head else { return }
            self.head = nil
            let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
            let status: HTTPResponseStatus
            let body: [UInt8]
            var headers = HTTPHeaders()
            if head.method != .GET && head.method != .HEAD {
                status = .methodNotAllowed
                body = Array("only GET\n".utf8)
                headers.add(name: "Allow", value: "GET, HEAD")
            } else if path == "/metrics" {
                status = .ok
                body = exporter.scrape()
                headers.add(name: "Content-Type", value: "text/plain; version=0.0.4; charset=utf-8")
            } else {
                status = .notFound
                body = Array("metrics are at /metrics\n".utf8)
            }
            headers.add(name: "Content-Length", value: String(body.count))
            if !head.isKeepAlive { headers.add(name: "Connection", value: "close") }
            context.write(
                wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))),
                promise: nil)
            if head.method != .HEAD {
                context.write(
                    wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
            }
            let keepAlive = head.isKeepAlive
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
                if !keepAlive { channel.close(promise: nil) }
            }
        }
    }
}

extension ServerRuntime {
    /// Opens the metrics listener when `metrics-port` is set, on the first `bind` address.
    func startMetricsEndpoint() throws {
        let port = Int(state.config.int("metrics-port"))
        guard port > 0 else { return }
        var host = state.config["bind"].split(separator: " ").first.map(String.init) ?? "*"
        if host.hasPrefix("-") { host.removeFirst() }
        if host == "*" { host = "0.0.0.0" }
        if host == "::*" { host = "::" }
        let exporter = MetricsExporter(server: state)
        // metrics-tls: HTTPS with the server's certificate and client-certificate rule.
        let tls = state.config.bool("metrics-tls")
        if tls && tlsContexts == nil, let failure = configureTLS() {
            log.warning("\(failure)")
            throw ServerStartError("Failed to configure TLS. Check logs for more info.")
        }
        let channel = try ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [unowned self] channel in
                channel.eventLoop.makeCompletedFuture {
                    if tls, let contexts = self.tlsContexts {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: contexts.server))
                    }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(MetricsHTTPHandler(exporter: exporter))
                }
            }
            .bind(host: host, port: port).wait()
        channels.append(channel)
        log.notice("Metrics for Prometheus at \(tls ? "https" : "http")://\(host):\(port)/metrics")
    }
}
