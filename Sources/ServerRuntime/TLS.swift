// BoringSSL itself, which swift-nio-ssl builds in, to check a cipher list before NIOSSL
// takes it: NIOSSL stops the process on one BoringSSL refuses (a precondition), and a
// CONFIG SET must not be able to do that.
internal import CNIOBoringSSL
import NIOCore
import NIOSSL
import ServerConfig

#if canImport(Glibc)
    import Glibc
#endif

/// The TLS contexts made of Redis's `tls-*` directives (TLSOptions): one for the server's
/// side (the `tls-port` listeners, the metrics endpoint) and one for the connections this
/// server opens (the replication link). Made again by CONFIG SET of a `tls-*` directive,
/// so new connections use new certificates without a restart; open ones keep theirs.
struct TLSContexts {
    let server: NIOSSLContext
    let client: NIOSSLContext

    /// Loads the files and makes both contexts; the error is the line for the log.
    static func make(_ options: TLSOptions) throws(ConfigError) -> TLSContexts {
        let chain = try certificates(options.certFile)
        let key = try privateKey(options.keyFile, passphrase: options.keyFilePass)
        let clientChain =
            options.clientCertFile == options.certFile ? chain : try certificates(options.clientCertFile)
        let clientKey =
            options.clientKeyFile == options.keyFile && options.clientKeyFilePass == options.keyFilePass
            ? key : try privateKey(options.clientKeyFile, passphrase: options.clientKeyFilePass)
        if !options.ciphers.isEmpty && !cipherListAccepted(options.ciphers) {
            throw ConfigError("Failed to configure ciphers: \(options.ciphers)")
        }
        var trust: [NIOSSLCertificate] = []
        if !options.caCertFile.isEmpty { trust = try certificates(options.caCertFile) }

        var server = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        var client = TLSConfiguration.makeClientConfiguration()
        client.certificateChain = clientChain.map { .certificate($0) }
        client.privateKey = .privateKey(clientKey)
        // Redis checks the primary's certificate against the CA, not against its host name.
        client.certificateVerification = .noHostnameVerification
        shared(options, trust: trust, &server)
        shared(options, trust: trust, &client)
        switch options.clientAuthentication {
        case .required: server.certificateVerification = .noHostnameVerification
        case .optional: server.certificateVerification = .optionalVerification
        case .off: server.certificateVerification = .none
        }
        do {
            return TLSContexts(
                server: try NIOSSLContext(configuration: server), client: try NIOSSLContext(configuration: client))
        } catch {
            throw ConfigError("Failed to configure TLS: \(error)")
        }
    }

    /// Whether BoringSSL makes a cipher list of `list` (names it does not know are skipped,
    /// as OpenSSL does; nothing left, or bad syntax, is a refusal).
    static func cipherListAccepted(_ list: String) -> Bool {
        guard let scratch = SSL_CTX_new(TLS_method()) else { return false }
        defer {
            SSL_CTX_free(scratch)
            // A refusal leaves its reason queued on this thread, where NIOSSL would read it
            // as part of a later, unrelated error.
            ERR_clear_error()
        }
        return SSL_CTX_set_cipher_list(scratch, list) == 1
    }

    /// What both sides take from the directives: versions, ciphers, the CA.
    static func shared(_ options: TLSOptions, trust: [NIOSSLCertificate], _ configuration: inout TLSConfiguration) {
        configuration.minimumTLSVersion = version(options.minimumVersion)
        configuration.maximumTLSVersion = version(options.maximumVersion)
        if !options.ciphers.isEmpty { configuration.cipherSuites = options.ciphers }
        if !trust.isEmpty || options.caCertDir.isEmpty {
            configuration.trustRoots = .certificates(trust)
            if !options.caCertDir.isEmpty { configuration.additionalTrustRoots = [.file(options.caCertDir)] }
        } else {
            configuration.trustRoots = .file(options.caCertDir)
        }
    }

    static func version(_ version: TLSOptions.ProtocolVersion) -> TLSVersion {
        switch version {
        case .tls1_0: .tlsv1
        case .tls1_1: .tlsv11
        case .tls1_2: .tlsv12
        case .tls1_3: .tlsv13
        }
    }

    static func certificates(_ path: String) throws(ConfigError) -> [NIOSSLCertificate] {
        do {
            let found = try NIOSSLCertificate.fromPEMFile(path)
            if found.isEmpty { throw ConfigError("no certificate in the file") }
            return found
        } catch {
            throw ConfigError("Failed to load certificate: \(path): \(error)")
        }
    }

    static func privateKey(_ path: String, passphrase: String) throws(ConfigError) -> NIOSSLPrivateKey {
        do {
            // A key without a passphrase never asks; an encrypted one gets the (maybe empty)
            // configured passphrase and fails on a wrong one, as OpenSSL's load does.
            return try NIOSSLPrivateKey(file: path, format: .pem) { (setter: ([UInt8]) -> Void) in
                setter(Array(passphrase.utf8))
            }
        } catch {
            throw ConfigError("Failed to load private key: \(path): \(error)")
        }
    }
}

extension ServerRuntime {
    /// Redis's tlsConfigure: the contexts made anew from the directives, or the reason.
    func configureTLS() -> String? {
        do {
            tlsContexts = try TLSContexts.make(try TLSOptions(state.config))
            return nil
        } catch {
            return error.message
        }
    }

    /// Whether TLS is wanted: a TLS port, or TLS for the replication or cluster links.
    var tlsWanted: Bool {
        state.config.int("tls-port") != 0 || state.config.bool("tls-replication") || state.config.bool("tls-cluster")
    }

    /// The apply step of CONFIG SET for the TLS directives (Redis's applyTlsCfg).
    func applyTLSChange() -> String? {
        guard tlsWanted else { return nil }
        if let failure = configureTLS() {
            log.warning("\(failure)")
            return "Unable to update TLS configuration. Check server logs."
        }
        return nil
    }

    func installTLSHooks() {
        for name in [
            "tls-cert-file", "tls-key-file", "tls-key-file-pass", "tls-client-cert-file", "tls-client-key-file",
            "tls-client-key-file-pass", "tls-dh-params-file", "tls-ca-cert-file", "tls-ca-cert-dir", "tls-protocols",
            "tls-ciphers", "tls-ciphersuites", "tls-prefer-server-ciphers", "tls-session-caching",
            "tls-session-cache-size", "tls-session-cache-timeout", "tls-auth-clients", "tls-replication",
            "tls-cluster",
        ] {
            state.config.applyHooks[name] = { [unowned self] _ in self.applyTLSChange() }
        }
        // Redis's applyTLSPort: TLS is configured first when it was not, then the port bound.
        state.config.applyHooks["tls-port"] = { [unowned self] value in
            if value != "0" && self.tlsContexts == nil, let failure = self.configureTLS() {
                self.log.warning("\(failure)")
                return "Unable to update TLS configuration. Check server logs."
            }
            return self.rebindTCP() ? nil : "Unable to listen on this port. Check server logs."
        }
    }
}

/// First on a TLS connection: bytes that do not open with a TLS handshake record (a
/// plain-text client on the TLS port) get the connection reset, with nothing written back,
/// as OpenSSL's refusal looks to Redis's clients ("Connection reset by peer", an I/O
/// error), not a TLS alert read as a reply. Leaves the pipeline after the first bytes.
final class TLSRecordGate: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        guard let first = bytes.getInteger(at: bytes.readerIndex, as: UInt8.self) else { return }
        // 0x16: a TLS record of type handshake (the ClientHello).
        if first != 0x16 {
            Self.reset(context)
            return
        }
        context.fireChannelRead(data)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    /// Closes with a reset (SO_LINGER 0), as a socket closed with unread input is.
    static func reset(_ context: ChannelHandlerContext) {
        // On the channel's own loop the option is set before the close below runs.
        _ = (context.channel as? SocketOptionProvider)?.setSoLinger(linger(l_onoff: 1, l_linger: 0))
        context.close(promise: nil)
    }
}
