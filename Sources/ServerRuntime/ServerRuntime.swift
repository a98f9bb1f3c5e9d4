import Commands
import DataStore
import Dispatch
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import RESP
import Scripting
import Server
import ServerConfig

#if canImport(Glibc)
    import Glibc
#endif

/// The running server: one event loop owns the keyspace and every connection (as Redis's
/// main thread does), so commands run without locks; background work (active expiry,
/// client timeouts) runs as timers on the same loop.
public final class ServerRuntime: @unchecked Sendable {
    public let state: ServerState
    public var log: Logger
    let group: MultiThreadedEventLoopGroup
    let loop: EventLoop
    var channels: [Channel] = []
    /// The TCP listeners by address (CONFIG SET port/bind changes them).
    var tcpListeners: [ListenAddress: Channel] = [:]
    /// The TLS contexts while TLS is configured (a `tls-port`, `tls-replication`).
    var tlsContexts: TLSContexts?
    var connections: [Int64: ConnectionHandler] = [:]
    /// Connections with Pub/Sub or MONITOR output waiting: written once per loop turn (as
    /// Redis's handleClientsWithPendingWrites), not once per message.
    var pendingFlushes: [ConnectionHandler] = []
    /// Clients whose unsent output is past their soft limit, for the cron to look at again.
    var overSoftLimit: [ConnectionHandler] = []
    /// The memory of all normal and Pub/Sub clients (ConnectionHandler.accountMemory), which
    /// `maxmemory-clients` bounds.
    var clientMemory = 0
    var evictingClients = false
    /// The link to the primary while this server is a replica.
    var primaryConnection: PrimaryConnection?

    func scheduleFlush(_ handler: ConnectionHandler) {
        if pendingFlushes.isEmpty { loop.execute { self.flushPendingWrites() } }
        pendingFlushes.append(handler)
    }

    func flushPendingWrites() {
        let handlers = pendingFlushes
        pendingFlushes.removeAll(keepingCapacity: true)
        for h in handlers {
            h.flushScheduled = false
            if let c = h.channelContext, !h.closed { h.flush(c) }
        }
    }
    var parked: [ConnectionHandler] = []
    var fdCounter: Int32 = 7
    var shuttingDown = false
    let exitPromise: EventLoopPromise<Int32>

    static let protectedModeMessage =
        "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n"

    public init(config: Config) {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        loop = group.next()
        state = ServerState(config: config, commands: .standard(), scriptEngine: { ScriptEngine(server: $0) })
        let level = RedisLogHandler.level(config["loglevel"])
        let logfile = config["logfile"]
        log = Logger(label: "swiftlet") { _ in RedisLogHandler(level: level, logfile: logfile) }
        exitPromise = loop.makePromise(of: Int32.self)
        state.tcpPort = Int(config.int("port"))
        state.shutdownHook = { [unowned self] request in
            if request.abort { return self.abortSignalledShutdown() ? nil : .noShutdownInProgress }
            self.log.warning("User requested shutdown...")
            if !self.finalSave(save: request.save) && !request.force { return .shutdownFailed }
            self.loop.execute { self.shutdown(exitCode: 0) }
            return nil
        }
        state.persistenceLog = { [unowned self] message in self.log.notice("\(message)") }
        state.backgroundSaveHook = { [unowned self] in self.scheduleBackgroundSaveStep() }
        state.scriptLogHook = { [unowned self] level, message in
            switch level {
            case 0: self.log.debug("\(message)")
            case 1: self.log.info("\(message)")
            case 2: self.log.notice("\(message)")
            default: self.log.warning("\(message)")
            }
        }
        state.scriptSuspendedHook = { [unowned self] in self.continueScript() }
        state.primaryLinkHook = { [unowned self] in self.primaryLinkChanged() }
        state.replicaAckHook = { [unowned self] in
            self.answerWaits()
            // Not inside the ACK's command: a failover may close this very link.
            if self.state.failoverState == .waitingForSync {
                self.loop.execute { self.state.updateFailoverStatus() }
            }
        }
        state.snapshotTransferHook = { [unowned self] transfer in self.sendSnapshot(transfer) }
        state.loadHook = { [unowned self] load in
            load.suspendsScripts = true
            self.state.loading = load
            self.loop.execute { self.stepLoading() }
        }
        state.blockedKeysHook = { [unowned self] db in self.waiting.keys.filter { $0.db == db }.map(\.key) }
        // The snapshot's fsync and rename run off the loop, as Redis's happen in its child.
        state.backgroundSync = { [unowned self] work, report in
            // The work touches only the snapshot's own file; the report runs on the loop.
            nonisolated(unsafe) let work = work
            nonisolated(unsafe) let report = report
            DispatchQueue.global().async {
                let failure = work()
                self.loop.execute { report(failure) }
            }
        }
        state.sleepHook = { seconds in
            if seconds > 0 { usleep(UInt32(min(seconds, 4000) * 1_000_000)) }
        }
        state.unblockHook = { [unowned self] id, error in
            guard let handler = self.connections[id], handler.blocked != nil else { return false }
            // Answer after the current command's reply, as Redis does.
            self.loop.execute { handler.blockTimedOut(error: error) }
            return true
        }
        state.unpauseHook = { [unowned self] in
            self.loop.execute { self.resumeParked() }
        }
        config.applyHooks["loglevel"] = { [unowned self] value in
            self.log.logLevel = RedisLogHandler.level(value)
            return nil
        }
        config.applyHooks["port"] = { [unowned self] _ in
            self.rebindTCP() ? nil : "Unable to listen on this port. Check server logs."
        }
        config.applyHooks["bind"] = { [unowned self] _ in
            self.rebindTCP() ? nil : "Failed to bind to specified addresses."
        }
        installTLSHooks()
        // A lower maxmemory-clients (or maxmemory, for a percentage) evicts after the reply.
        for name in ["maxmemory-clients", "maxmemory"] {
            let previous = config.applyHooks[name]
            config.applyHooks[name] = { [unowned self] value in
                if let failure = previous?(value) { return failure }
                self.loop.execute { self.evictClients() }
                return nil
            }
        }
    }

    /// Redis's evictClients: while the clients' memory is at or past `maxmemory-clients`,
    /// the client using the most goes (never a replica, the primary's link or a client
    /// with CLIENT NO-EVICT on).
    func evictClients() {
        let limit = Int(state.config.limits.maxmemoryClients)
        guard limit > 0, clientMemory >= limit, !evictingClients else { return }
        evictingClients = true
        defer { evictingClients = false }
        var candidates: [ConnectionHandler] = []
        for handler in connections.values where !handler.closed {
            guard let session = handler.session, !session.isReplica, !session.isPrimaryClient else { continue }
            handler.refreshOutputBytes()
            if !session.noEvict { candidates.append(handler) }
        }
        candidates.sort { $0.accountedMemory > $1.accountedMemory }
        for handler in candidates {
            guard clientMemory >= limit else { break }
            handler.evict()
        }
    }

    func nextFD() -> Int32 {
        fdCounter += 1
        return fdCounter
    }

    /// Binds every listener; returns an error text when none could be bound.
    public func start() throws {
        log.notice("oO0OoO0OoO0Oo Swiftlet is starting oO0OoO0OoO0Oo")
        log.notice(
            "Swiftlet version=\(swiftletVersion), Redis version=\(redisCompatibleVersion), bits=64, pid=\(getpid()), just started"
        )
        // The banner's port: the TLS one when there is no plain one, as Redis shows.
        let port = Int(state.config.int("port") != 0 ? state.config.int("port") : state.config.int("tls-port"))
        if let error = state.applyOOMScoreAdjustment() { log.warning("\(error)") }
        if let error = state.loadUsersAtStartup() {
            showBanner(port: port)
            log.warning("\(error)")
            throw ServerStartError("Critical error while loading ACLs. Exiting.")
        }
        // What to load is settled before any socket opens; the loading itself runs in steps
        // on the loop, clients getting -LOADING until it ends.
        let load: DatasetLoad?
        do {
            load = try state.prepareDatasetLoad()
        } catch {
            // An AOF that cannot be loaded (its manifest, a missing file): Redis's message is
            // the last line it logs.
            showBanner(port: port)
            throw ServerStartError("\(error)")
        }
        // Loading is the server's state before any listener opens: a client that connects at
        // once gets -LOADING, never an answer from the empty dataset.
        load?.suspendsScripts = true
        state.loading = load
        if let failure = state.setUpCluster(log: { [log] in log.notice("\($0)") }) {
            showBanner(port: port)
            log.warning("\(failure)")
            throw ServerStartError(failure)
        }
        if tlsWanted, let failure = configureTLS() {
            showBanner(port: port)
            log.warning("\(failure)")
            throw ServerStartError("Failed to configure TLS. Check logs for more info.")
        }
        let keepalive = Int(state.config.int("tcp-keepalive"))
        for (address, optional) in wantedListenAddresses() {
            do {
                let channel = try makeBootstrap(
                    ipv6: address.host.contains(":"), keepalive: keepalive, tls: address.tls
                )
                .bind(host: address.host, port: address.port).wait()
                channels.append(channel)
                tcpListeners[address] = channel
            } catch {
                if optional { continue }
                log.warning(
                    "Warning: Could not create server TCP listening socket \(address.host):\(address.port): \(error)")
                throw ServerStartError(
                    "Failed listening on port \(address.port) (\(address.tls ? "tls" : "tcp")), aborting.")
            }
        }
        let unixPath = state.config["unixsocket"]
        if !unixPath.isEmpty {
            let channel = try makeBootstrap(ipv6: false, keepalive: 0).bind(
                unixDomainSocketPath: unixPath, cleanupExistingSocketFile: true
            ).wait()
            if let perm = Int(state.config["unixsocketperm"], radix: 8), perm != 0 { chmod(unixPath, mode_t(perm)) }
            channels.append(channel)
            log.notice("The server is now ready to accept connections at \(unixPath)")
        }
        // `bind ""` (or port 0) listens on no TCP address: fine beside a unix socket.
        if channels.isEmpty { throw ServerStartError("Configured to not listen anywhere, exiting.") }
        showBanner(port: port)
        try startClusterBus()
        do {
            try startMetricsEndpoint()
        } catch {
            log.warning("Could not open the metrics port: \(error)")
            throw ServerStartError("Failed listening on metrics port \(state.config.int("metrics-port")), aborting.")
        }

        log.notice("Server initialized")
        if load != nil {
            loop.execute { self.stepLoading() }
        } else {
            log.notice("Ready to accept connections tcp")
        }
        scheduleCron()
        installSignalHandlers()
        // `replicaof host port` in the configuration: a replica from the start.
        let primary = state.config["replicaof"].split(separator: " ")
        if primary.count == 2, let primaryPort = Int(primary[1]) {
            loop.execute { _ = self.state.follow(host: String(primary[0]), port: primaryPort) }
        }
    }

    var bannerShown = false

    /// With always-show-logo (or on a terminal) a banner, as Redis's logo, else one line.
    /// Tools read the PID from it (Redis's test suite connects once it sees " PID: <pid>"),
    /// so it comes, as Redis's, once the listeners are bound — or just before a failure of
    /// the users or the dataset, which then follows it in the log.
    func showBanner(port: Int) {
        guard !bannerShown else { return }
        bannerShown = true
        if state.config.bool("always-show-logo") || (isatty(1) != 0 && state.config["logfile"].isEmpty) {
            let banner = [
                "", "    Swiftlet \(swiftletVersion) (Redis \(redisCompatibleVersion) compatible) 64 bit",
                "    Running in \(state.cluster == nil ? "standalone" : "cluster") mode", "    Port: \(port)",
                "    PID: \(getpid())", "",
            ]
            log.notice("\(banner.joined(separator: "\n"))", metadata: ["raw": "1"])
        } else {
            log.notice("Running mode=\(state.cluster == nil ? "standalone" : "cluster"), port=\(port).")
        }
    }

    var lastLoadingReport: Int64 = 0

    /// One step of the load at start (about 5 ms), then the loop serves clients before
    /// the next; a failed load stops the server as Redis's does.
    func stepLoading() {
        guard let load = state.loading else { return }
        let done: Bool
        do {
            done = try load.step(budget: 5000)
        } catch {
            // An AOF's error is the last line Redis logs; an RDB's gets the fatal line after.
            for line in "\(error)".split(separator: "\n") { log.warning("\(line)") }
            if !load.isAOF { log.warning("Fatal error loading the DB, check server logs. Exiting.") }
            exit(1)
        }
        guard done else {
            let now = monotonicMicrosNow()
            if now - lastLoadingReport > 1_000_000 {
                lastLoadingReport = now
                log.notice("Loading the dataset: \(String(format3: load.loadedPercent))% done")
            }
            // Due a little later, so the loop polls its sockets first (NIO runs tasks that
            // are already due one after another without polling).
            loop.scheduleTask(in: .microseconds(100)) { self.stepLoading() }
            return
        }
        state.loading = nil
        if load.reloading != nil {
            // DEBUG LOADAOF: its client gets its OK now.
            log.warning("Append Only File loaded by DEBUG LOADAOF")
            if let id = state.reloadCallerID, let handler = connections[id], handler.blocked != nil {
                handler.blocked?.timeoutReply = .ok
                handler.blockTimedOut()
            }
            state.reloadCallerID = nil
            return
        }
        let seconds = String(format3: load.elapsedSeconds)
        if load.isAOF {
            if load.commands > 0 || load.keysLoaded > 0 {
                log.notice("DB loaded from append only file: \(seconds) seconds")
            }
        } else {
            log.notice("Done loading RDB, keys loaded: \(load.keysLoaded), keys expired: \(load.keysExpired).")
            log.notice("DB loaded from disk: \(seconds) seconds")
        }
        log.notice("Ready to accept connections tcp")
    }

    struct ListenAddress: Hashable {
        var host: String
        var port: Int
        /// A `tls-port` listener: its connections speak TLS.
        var tls = false
    }

    /// The addresses `bind` with `port` and `tls-port` ask for, with whether each may fail
    /// ("-addr").
    func wantedListenAddresses() -> [(address: ListenAddress, optional: Bool)] {
        var wanted: [(address: ListenAddress, optional: Bool)] = []
        for (port, tls) in [(Int(state.config.int("port")), false), (Int(state.config.int("tls-port")), true)]
        where port != 0 {
            for spec in state.config["bind"].split(separator: " ") {
                let optional = spec.hasPrefix("-")
                var host = optional ? String(spec.dropFirst()) : String(spec)
                if host == "*" { host = "0.0.0.0" }
                if host == "::*" { host = "::" }
                wanted.append((ListenAddress(host: host, port: port, tls: tls), optional))
            }
        }
        return wanted
    }

    /// CONFIG SET port / bind: listeners no longer wanted close, then the new addresses are
    /// bound at once, so a failure (the port taken) is the command's error and the old
    /// listeners are opened again; addresses that stay keep their listener (Redis's
    /// changeListenPort and changeBindAddr). Closing first lets `*` give way to
    /// `127.0.0.1` on the same port.
    func rebindTCP() -> Bool {
        let wanted = wantedListenAddresses()
        let keep = Set(wanted.map(\.address))
        var closed: [ListenAddress] = []
        for (address, channel) in tcpListeners where !keep.contains(address) {
            // On the loop's thread the close is immediate: the port is free after it.
            channel.close(promise: nil)
            tcpListeners[address] = nil
            channels.removeAll { $0 === channel }
            closed.append(address)
        }
        var opened: [(ListenAddress, Int32)] = []
        for (address, optional) in wanted where tcpListeners[address] == nil {
            switch listeningSocket(address) {
            case .success(let fd):
                opened.append((address, fd))
            case .failure(let why):
                if optional { continue }
                log.warning("Could not create server TCP listening socket \(address.host):\(address.port): \(why)")
                for (_, fd) in opened { close(fd) }
                for address in closed {
                    if case .success(let fd) = listeningSocket(address) { register(listener: fd, at: address) }
                }
                return false
            }
        }
        for (address, fd) in opened { register(listener: fd, at: address) }
        return true
    }

    /// Hands a listening socket to NIO as a listener of `address`.
    func register(listener fd: Int32, at address: ListenAddress) {
        let keepalive = Int(state.config.int("tcp-keepalive"))
        makeBootstrap(ipv6: address.host.contains(":"), keepalive: keepalive, tls: address.tls).withBoundSocket(fd)
            .whenSuccess {
                channel in
                self.tcpListeners[address] = channel
                self.channels.append(channel)
            }
    }

    /// A socket bound and listening on `address` (Redis's anetTcpServer), or errno's text.
    func listeningSocket(_ address: ListenAddress) -> Result<Int32, ListenError> {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE
        var found: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(address.host, String(address.port), &hints, &found)
        guard rc == 0, let info = found else { return .failure(ListenError(String(cString: gai_strerror(rc)))) }
        defer { freeaddrinfo(found) }
        let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
        guard fd >= 0 else { return .failure(ListenError(String(cString: strerror(errno)))) }
        var one: Int32 = 1
        let size = socklen_t(MemoryLayout<Int32>.size)
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, size)
        if info.pointee.ai_family == AF_INET6 { _ = setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, size) }
        if bind(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) != 0
            || listen(fd, Int32(state.config.int("tcp-backlog"))) != 0
        {
            let why = String(cString: strerror(errno))
            close(fd)
            return .failure(ListenError(why))
        }
        return .success(fd)
    }

    struct ListenError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    func makeBootstrap(ipv6: Bool, keepalive: Int, tls: Bool = false) -> ServerBootstrap {
        var bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: Int32(state.config.int("tcp-backlog")))
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(ChannelOptions.maxMessagesPerRead, value: 16)
            .childChannelOption(
                ChannelOptions.recvAllocator,
                value: AdaptiveRecvByteBufferAllocator(minimum: 1024, initial: 16384, maximum: 1024 * 1024))
        if ipv6 {
            // As Redis: an IPv6 listener takes IPv6 only, so `* -::*` binds both families.
            bootstrap = bootstrap.serverChannelOption(
                ChannelOptions.Types.SocketOption(level: .ipv6, name: .ipv6_v6only), value: 1)
        }
        if keepalive > 0 {
            // Redis's anetKeepAlive: probe after `tcp-keepalive` idle seconds, every third of that, 3 times.
            let tcp = NIOBSDSocket.OptionLevel.tcp
            bootstrap = bootstrap.childChannelOption(ChannelOptions.socketOption(.so_keepalive), value: 1)
                .childChannelOption(
                    ChannelOptions.Types.SocketOption(level: tcp, name: NIOBSDSocket.Option(rawValue: TCP_KEEPIDLE)),
                    value: SocketOptionValue(keepalive)
                )
                .childChannelOption(
                    ChannelOptions.Types.SocketOption(level: tcp, name: NIOBSDSocket.Option(rawValue: TCP_KEEPINTVL)),
                    value: SocketOptionValue(max(1, keepalive / 3))
                )
                .childChannelOption(
                    ChannelOptions.Types.SocketOption(level: tcp, name: NIOBSDSocket.Option(rawValue: TCP_KEEPCNT)),
                    value: 3
                )
        }
        return bootstrap.childChannelInitializer { [unowned self] channel in
            channel.eventLoop.makeCompletedFuture {
                // The context current at accept: CONFIG SET of a certificate affects new
                // connections only, as Redis's does.
                if tls {
                    guard let contexts = self.tlsContexts else { throw ChannelError.inappropriateOperationForState }
                    try channel.pipeline.syncOperations.addHandlers(
                        TLSRecordGate(), NIOSSLServerHandler(context: contexts.server))
                }
                try channel.pipeline.syncOperations.addHandler(ConnectionHandler(runtime: self, tls: tls))
            }
        }
    }

    /// The server's periodic work, at `hz` times per second: active expiry, client timeouts,
    /// pause expiry.
    func scheduleCron() {
        let hz = max(1, min(500, Int(state.config.int("hz"))))
        loop.scheduleRepeatedTask(initialDelay: .milliseconds(Int64(1000 / hz)), delay: .milliseconds(Int64(1000 / hz)))
        {
            [unowned self] _ in
            self.cron(hz: hz)
        }
    }

    var cronLoops = 0

    /// Steps of a background save, about 1 ms each, with the loop free for about 1.5 ms in
    /// between: commands keep about 60% of the thread while a snapshot runs.
    func scheduleBackgroundSaveStep() {
        loop.scheduleTask(in: .microseconds(state.backgroundSaveStepInterval)) { [unowned self] in
            if !self.state.stepBackgroundSave(budget: 1000) { self.scheduleBackgroundSaveStep() }
        }
    }

    /// The save at shutdown: when asked (SHUTDOWN SAVE) or when save points exist, unless
    /// NOSAVE. Returns false when it was needed and failed.
    func finalSave(save: Bool?) -> Bool {
        // Never save a half-loaded dataset.
        if state.loading != nil { return true }
        // A background save in progress is dropped, as Redis kills its child (a SHUTDOWN
        // NOSAVE leaves no new dump behind; a replica being synced gets no snapshot).
        switch state.backgroundSave?.purpose {
        case .aofBase?: log.warning("There is a child rewriting the AOF. Killing it!")
        case nil: break
        default: log.warning("There is a child saving an .rdb. Killing it!")
        }
        state.abandonBackgroundSave()
        if let aof = state.aof {
            log.notice("Calling fsync() on the AOF file.")
            aof.closeFile()
        }
        let wanted = save ?? !state.config.savePoints.isEmpty
        guard wanted else { return true }
        log.notice("Saving the final RDB snapshot before exiting.")
        if let failure = state.saveRDB() {
            log.warning("\(failure)")
            return false
        }
        log.notice("DB saved on disk")
        return true
    }

    /// The AOF's buffer goes to its file before replies go out, whatever the fsync policy
    /// (Redis writes in beforeSleep, before replies): an acknowledged write is in the
    /// kernel even if the process is killed right after. `always` also syncs it.
    func flushAppendOnly() {
        guard let aof = state.aof else { return }
        aof.bufferOffset = state.replicationOffset
        let synced = aof.syncedOffset
        // WAITAOF waiters learn of a local fsync once this turn's work is done.
        defer { if ackWaiters > 0 && aof.syncedOffset != synced { loop.execute { self.answerWaits() } } }
        guard !aof.buffer.isEmpty else {
            aof.noteAllSynced()
            return
        }
        if !aof.flush() && aof.policy == .always {
            // As Redis: with `always`, an unwritable AOF stops the server.
            log.warning("Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting...")
            exit(1)
        }
    }

    /// An eviction round stopped at its time limit: it goes on between commands (Redis's
    /// eviction time proc) until memory is under `maxmemory` or nothing may be evicted.
    func continueEvictions() {
        guard !evictionScheduled else { return }
        evictionScheduled = true
        loop.execute {
            self.evictionScheduled = false
            if self.state.performEvictions() == .running { self.continueEvictions() }
        }
    }

    var evictionScheduled = false

    /// A script past busy-reply-threshold runs in slices, the loop serving other clients
    /// (with BUSY) in between; when it ends its caller gets the reply and goes on.
    func continueScript() {
        // A scheduled task, not execute(): the loop polls sockets before it runs, so other
        // clients are read (and answered BUSY) between slices.
        loop.scheduleTask(in: .microseconds(100)) {
            guard self.state.scriptIsBusy else { return }
            if let (callerID, reply) = self.state.resumeSuspendedScript() {
                if let handler = self.connections[callerID], handler.blocked != nil {
                    handler.blocked?.timeoutReply = .raw(reply)
                    handler.blockTimedOut()
                }
            } else {
                self.continueScript()
            }
        }
    }

    func cron(hz: Int) {
        if state.cronPaused { return }
        cronLoops += 1
        if let signal = signalledShutdown.withLockedValue({ $0 }) { shutdownOnSignal(signal) }
        if state.loading != nil { return }
        flushAppendOnly()
        state.aof?.fsyncIfDue(background: state.backgroundSync)
        // Redis Cluster: whether the cluster is up (Redis decides it in clusterCron and
        // before sleeping).
        if state.cluster != nil {
            state.clusterBus?.cron(now: state.clock())
            state.updateClusterState()
            if cronLoops % max(1, hz / 10) == 0 { redirectBlockedClients() }
        }
        // WAITAOF learns of the local fsync (and of `appendonly no`) here.
        answerWaits()
        // Replicas waiting for a full sync come before a scheduled rewrite or save.
        if state.replication != nil { state.startReplicationSnapshotIfDue() }
        if state.backgroundSave == nil {
            if state.aofRewriteScheduled {
                state.aofRewriteScheduled = false
                state.startAOFRewrite()
            } else if state.aofRewriteDue() {
                log.notice("Starting automatic rewriting of AOF on \(state.aofGrowthPercent)% growth")
                state.startAOFRewrite()
            }
        }
        if cronLoops % hz == 0 && state.backgroundSave == nil {
            if state.backgroundSaveScheduled {
                state.backgroundSaveScheduled = false
                if state.startBackgroundSave() { log.notice("Background saving started") }
            } else if let point = state.savePointReached() {
                log.notice("\(point.changes) changes in \(point.seconds) seconds. Saving...")
                if state.startBackgroundSave() {
                    log.notice("Background saving started")
                } else {
                    state.lastSaveOK = false
                    log.warning("Can't save in background: \(String(cString: strerror(errno)))")
                }
            }
        }
        if state.pausedUntil > 0 && state.clock() >= state.pausedUntil {
            state.pausedUntil = 0
            state.applyPauseToExpiry()
        }
        if state.activeExpireEnabled && !state.expiryHeld { activeExpireCycle(hz: hz) }
        if state.activeExpireEnabled && state.primaryLink != nil { state.expireReplicaOwnKeys() }
        if state.hasBroadcastPending { state.flushBroadcastInvalidations() }
        if state.trackingClients > 0 { state.limitTrackingTable() }
        if cronLoops % hz == 0 {
            clientsTimeoutCheck()
            primaryLinkCron()
            state.expireReplicationBacklog()
            state.keepWaitingReplicasAlive()
        }
        // A client past the soft output limit is cut off when its seconds run out, even if
        // nothing more is written to it.
        for handler in overSoftLimit where handler.softLimitSince != nil { handler.recheckOutputLimits() }
        state.updateFailoverStatus()
        // A PING in the replication stream every repl-ping-replica-period seconds (not while
        // writes are paused: the offset a FAILOVER or CLIENT PAUSE waits on stays put).
        if let primary = state.replication, !primary.replicas.isEmpty, state.failoverState == .none,
            state.pausedUntil == 0,
            cronLoops % (hz * max(1, Int(state.config.int("repl-ping-replica-period")))) == 0
        {
            primary.ping()
        }
        // Every client's reply buffer each tick while there are few (Redis's clientsCron
        // visits at least five a tick), else each once a second.
        if connections.count <= 5 * hz || cronLoops % hz == 0 { resizeReplyBuffers() }
        trackInstantaneousOps()
        if !parked.isEmpty && (state.pausedUntil == 0 || state.clock() >= state.pausedUntil) { resumeParked() }
        // Peak memory is sampled when INFO or MEMORY asks: glibc's mallinfo walks the heap,
        // far too slow for every cron tick.
    }

    /// Redis's slow active expire cycle: at most 25% of one cron period of CPU.
    func activeExpireCycle(hz: Int) {
        let start = monotonicMicrosNow()
        let budget = Int64(1_000_000 / hz / 4)
        let effort = max(1, min(10, Int(state.config.int("active-expire-effort"))))
        let samples = 20 + 20 / 4 * (effort - 1)
        let stale = 10 - (effort - 1)
        let now = state.clock()
        for i in state.keyspace.databases.indices where state.keyspace.databases[i].volatileCount > 0 {
            _ = state.keyspace.databases[i].activeExpire(
                now: now, samplesPerRound: samples, acceptableStalePercent: stale, rng: &state.keyspace.rng,
                timeUp: { monotonicMicrosNow() - start > budget })
            if monotonicMicrosNow() - start > budget { break }
        }
        if state.expiryLogging { state.drainExpiredEvents() }
        // Hash fields with a time to live (Redis 7.4), a bounded number of hashes per tick.
        for i in state.keyspace.databases.indices where !state.keyspace.databases[i].fieldExpiryKeys.isEmpty {
            _ = state.keyspace.databases[i].activeExpireFields(now: now, maxKeys: 20 * effort)
            if monotonicMicrosNow() - start > budget { break }
        }
        if state.expiryLogging { state.drainExpiredEvents() }
        state.recordLatencyEvent("expire-cycle", micros: monotonicMicrosNow() - start)
    }

    /// Redis's trackInstantaneousMetric: ops per second over the last 16 samples.
    var opsSamples: [Double] = []
    var lastOpsSample: (time: Int64, ops: Int) = (0, 0)

    func trackInstantaneousOps() {
        let now = monotonicMicrosNow()
        let ops = state.stats.totalCommands
        if lastOpsSample.time > 0 && now > lastOpsSample.time {
            let rate = Double(ops - lastOpsSample.ops) * 1_000_000 / Double(now - lastOpsSample.time)
            opsSamples.append(rate)
            if opsSamples.count > 16 { opsSamples.removeFirst() }
            state.stats.instantaneousOps = Int(opsSamples.reduce(0, +) / Double(opsSamples.count))
        }
        lastOpsSample = (now, ops)
    }

    func resizeReplyBuffers() {
        let now = state.clock()
        for (_, handler) in connections {
            guard let session = handler.session, let size = state.resizeReplyBuffer(session, now: now) else { continue }
            // An idle client's output storage shrinks with it.
            if let ctx = handler.context, ctx.output.isEmpty && ctx.output.capacity > size {
                ctx.resetOutput(capacity: size)
            }
        }
    }

    /// Clients blocked on keys of a slot this node no longer serves get the redirection.
    func redirectBlockedClients() {
        for (_, handler) in connections {
            guard let request = handler.blocked, !request.keys.isEmpty, let context = handler.machine?.context,
                let error = context.blockedClusterRedirection(keys: request.keys)
            else { continue }
            handler.blockTimedOut(error: error)
        }
    }

    func clientsTimeoutCheck() {
        let timeout = state.config.int("timeout")
        guard timeout > 0 else { return }
        let now = state.clock()
        for (_, handler) in connections {
            // Replicas, subscribers and blocked clients are never idle (Redis's
            // clientsCronHandleTimeout; a blocked one has its own timeout).
            guard let s = handler.session, !s.isReplica, !s.inPubSubMode, handler.blocked == nil else { continue }
            if (now - s.lastInteraction) / 1000 > timeout {
                log.info("Closing idle client")
                s.closeHook?()
            }
        }
    }

    struct WaitKey: Hashable {
        var db: Int
        var key: [UInt8]
    }

    /// Clients blocked in WAIT or WAITAOF.
    var ackWaiters = 0

    /// Clients blocked on each key, in the order they blocked.
    var waiting: [WaitKey: [ConnectionHandler]] = [:]

    func block(_ handler: ConnectionHandler, _ request: BlockRequest) {
        handler.blocked = request
        state.blockedClients += 1
        if request.waitsForAcks != nil { ackWaiters += 1 }
        for key in request.keys { waiting[WaitKey(db: request.db, key: key), default: []].append(handler) }
        if let deadline = request.deadline {
            let delay = max(0, deadline - state.clock())
            handler.timeoutTask = loop.scheduleTask(in: .milliseconds(delay)) { [weak handler] in
                handler?.blockTimedOut()
            }
        }
    }

    func unblock(_ handler: ConnectionHandler) {
        guard let request = handler.blocked else { return }
        handler.blocked = nil
        state.blockedClients -= 1
        if request.waitsForAcks != nil { ackWaiters -= 1 }
        handler.timeoutTask?.cancel()
        handler.timeoutTask = nil
        for key in request.keys {
            let k = WaitKey(db: request.db, key: key)
            waiting[k]?.removeAll { $0 === handler }
            if waiting[k]?.isEmpty == true { waiting[k] = nil }
        }
    }

    /// Redis's handleClientsBlockedOnKeys: for every key written while clients waited on it,
    /// retry the waiting clients in the order they blocked.
    func serveReadyKeys() {
        var guardCount = 0
        while guardCount < 100_000, let (db, key) = state.readyKeys.popFirst() {
            guardCount += 1
            guard let clients = waiting[WaitKey(db: db, key: key)] else { continue }
            let type = state.keyspace.typeName(db: db, key: key)
            for handler in clients {
                guard let request = handler.blocked else { continue }
                if request.groupRead && type != "stream" {
                    handler.blockTimedOut(error: .streamKeyGone)
                } else if request.awaits == nil || request.awaits == type {
                    _ = handler.retryBlocked()
                }
            }
        }
    }

    func parkPaused(_ handler: ConnectionHandler) {
        if !parked.contains(where: { $0 === handler }) { parked.append(handler) }
        state.pausedClients = parked.count
    }

    func resumeParked() {
        let list = parked
        parked = []
        state.pausedClients = 0
        for h in list { h.resume() }
    }

    /// SIGTERM and SIGINT (Redis's sigShutdownHandler) only record the request: the cron
    /// shuts down (SHUTDOWN ABORT may cancel it before). A second SIGINT while one is
    /// pending — a save on shutdown taking long — exits at once, its temporary RDB removed;
    /// this runs on the signal queue, so it works while the loop is busy saving.
    func installSignalHandlers() {
        signal(SIGPIPE, SIG_IGN)
        for sig in [SIGTERM, SIGINT] {
            signal(sig, SIG_IGN)
            let source = DispatchSourceSignalBox(signal: sig) { [unowned self] in
                let insists = self.signalledShutdown.withLockedValue { pending -> Bool in
                    if pending != nil && sig == SIGINT { return true }
                    pending = sig
                    return false
                }
                if insists {
                    self.log.warning("You insist on killing Redis, exiting now.")
                    unlink("temp-\(getpid()).rdb")
                    exit(1)
                }
                self.log.warning("Received \(sig == SIGTERM ? "SIGTERM" : "SIGINT") scheduling shutdown...")
            }
            signalSources.append(source)
        }
    }

    /// The signal that asked for a shutdown the cron has not carried out yet.
    let signalledShutdown = NIOLockedValueBox<Int32?>(nil)

    /// The cron's side of a signal: `shutdown-on-sigterm` / `shutdown-on-sigint` say
    /// whether to save (`default`: as the save points say) and whether a failed save may
    /// be ignored (`force`). A failed save keeps the server running.
    func shutdownOnSignal(_ signal: Int32) {
        let mode = state.config[signal == SIGINT ? "shutdown-on-sigint" : "shutdown-on-sigterm"].split(separator: " ")
        let save: Bool? = mode.contains("nosave") ? false : mode.contains("save") ? true : nil
        if !finalSave(save: save) && !mode.contains("force") {
            log.warning("Error trying to save the DB, can't exit.")
            signalledShutdown.withLockedValue { $0 = nil }
            log.warning("Errors trying to shut down the server. Check the logs for more information.")
            return
        }
        shutdown(exitCode: 0)
    }

    /// SHUTDOWN ABORT: cancels a shutdown a signal asked for; false when none is pending.
    func abortSignalledShutdown() -> Bool {
        let pending = signalledShutdown.withLockedValue { pending -> Bool in
            defer { pending = nil }
            return pending != nil
        }
        if pending { log.warning("Shutdown manually aborted.") }
        return pending
    }

    var signalSources: [DispatchSourceSignalBox] = []

    func shutdown(exitCode: Int32) {
        guard !shuttingDown else { return }
        shuttingDown = true
        log.warning("User requested shutdown...")
        for (_, h) in connections { h.channelContext?.close(promise: nil) }
        let unixPath = state.config["unixsocket"]
        if !unixPath.isEmpty { unlink(unixPath) }
        log.warning("Swiftlet is now ready to exit, bye bye...")
        let closes = channels.map { $0.close() }
        EventLoopFuture.andAllComplete(closes, on: loop).whenComplete { _ in
            self.exitPromise.succeed(exitCode)
        }
    }

    /// A start that failed: the exit promise is settled so nothing waits on it.
    public func abandonStart() {
        exitPromise.succeed(1)
    }

    /// Blocks until the server shuts down; returns the exit code.
    public func waitForExit() -> Int32 {
        (try? exitPromise.futureResult.wait()) ?? 1
    }
}

extension String {
    /// Three decimals, as Redis's "%.3f" in its load message.
    init(format3 v: Double) {
        let scaled = Int((v * 1000).rounded())
        self = "\(scaled / 1000).\(String(repeating: "0", count: 3 - String(scaled % 1000).count))\(scaled % 1000)"
    }
}

public struct ServerStartError: Error, CustomStringConvertible {
    public let description: String
    init(_ d: String) { description = d }
}
