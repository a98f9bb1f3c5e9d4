import Cluster
import DataStore
import Persistence
import ServerConfig

#if canImport(Glibc)
    import Glibc
#endif

/// `cluster-enabled yes`: this node's place in a Redis Cluster — its nodes.conf, the slots
/// it serves, and the redirections (MOVED, ASK, CROSSSLOT, CLUSTERDOWN) a command gets when
/// its keys are served elsewhere or not at all.
extension ServerState {
    /// Reads nodes.conf, or makes this node (a random name) and writes it; nil when cluster
    /// mode is off or all went well, else the reason the server cannot start.
    public func setUpCluster(log: (String) -> Void) -> String? {
        guard config.bool("cluster-enabled") else { return nil }
        guard clientPort <= 55535 else {
            return
                "Redis port number too high. Cluster communication port is 10,000 port numbers higher than your Redis port. Your Redis port number must be 55535 or less."
        }
        let path = clusterConfigPath
        let text = (try? readFile(path)) ?? ""
        let state: ClusterState
        do {
            if let loaded = try ClusterState.load(configText: text) {
                state = loaded
                log("Node configuration loaded, I'm \(state.myself.name)")
            } else {
                let myself = ClusterNode(
                    name: ClusterState.randomName(), ip: config["cluster-announce-ip"], port: clientPort,
                    busPort: clusterBusPort,
                    flags: NodeFlags.primary)
                state = ClusterState(myself: myself)
                log("No cluster configuration found, I'm \(myself.name)")
            }
        } catch {
            return error.description
        }
        // No link is up yet: the bus's cron connects to each node.
        for node in state.nodes.values where !node.isMyself { node.connected = false }
        cluster = state
        keyspace.databases[0].table.indexBySlot()
        clusterBus = ClusterBus(server: self)
        clusterStartedAt = clock()
        applyAnnouncedAddress()
        // CONFIG SET of an announced address takes effect at once (the next ping spreads it).
        for name in [
            "cluster-announce-port", "cluster-announce-bus-port", "cluster-announce-tls-port",
            "cluster-announce-hostname", "cluster-announce-ip", "cluster-announce-human-nodename",
        ] {
            config.applyHooks[name] = { [unowned self] _ in
                self.applyAnnouncedAddress()
                self.saveClusterConfig()
                return nil
            }
        }
        guard saveClusterConfig() else { return "Cannot save the cluster configuration: \(path)" }
        return nil
    }

    /// The port a cluster node is known by: the plain one, else the TLS one.
    var clientPort: Int { Int(config.int("port") != 0 ? config.int("port") : config.int("tls-port")) }

    /// The cluster bus's port: `cluster-port`, else the client port plus 10 000.
    public var clusterBusPort: Int {
        config.int("cluster-port") != 0 ? Int(config.int("cluster-port")) : clientPort + 10000
    }

    /// This node's ports and hostname as announced: the configuration's, whatever
    /// nodes.conf said (Redis's clusterUpdateMyselfAnnouncedPorts and hostname).
    public func applyAnnouncedAddress() {
        guard let myself = cluster?.myself else { return }
        let plainPort = Int(config.int("port"))
        let tlsPort = Int(config.int("tls-port"))
        let announcedPort = Int(config.int("cluster-announce-port"))
        let announcedTLSPort = Int(config.int("cluster-announce-tls-port"))
        let announcedBusPort = Int(config.int("cluster-announce-bus-port"))
        // `port` is the one clients are sent to (the TLS one under tls-cluster), `tlsPort`
        // the other, as the bus header's port and pport carry them.
        if config.bool("tls-cluster") && tlsPort != 0 {
            myself.port = announcedTLSPort != 0 ? announcedTLSPort : tlsPort
            myself.tlsPort = announcedPort != 0 ? announcedPort : plainPort
        } else {
            myself.port = announcedPort != 0 ? announcedPort : clientPort
            myself.tlsPort = announcedTLSPort != 0 ? announcedTLSPort : tlsPort
        }
        myself.busPort = announcedBusPort != 0 ? announcedBusPort : clusterBusPort
        myself.hostname = config["cluster-announce-hostname"]
        myself.humanNodename = config["cluster-announce-human-nodename"]
        if !config["cluster-announce-ip"].isEmpty { myself.ip = config["cluster-announce-ip"] }
    }

    /// nodes.conf's path: `cluster-config-file`, relative to `dir` as Redis (which runs in
    /// its dir) reads it.
    public var clusterConfigPath: String {
        let file = config["cluster-config-file"]
        return file.hasPrefix("/") ? file : config["dir"] + "/" + file
    }

    /// Writes nodes.conf whole to a temporary file, syncs it and renames it over the old
    /// one, so a crash leaves either the old file or the new one.
    @discardableResult
    public func saveClusterConfig() -> Bool {
        guard let cluster else { return true }
        let path = clusterConfigPath
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { return false }
        guard SnapshotFile.writeAll(fd, Array(cluster.configText.utf8)) == 0 else {
            close(fd)
            unlink(temporary)
            return false
        }
        let synced = fsync(fd) == 0
        close(fd)
        guard synced, rename(temporary, path) == 0 else {
            unlink(temporary)
            return false
        }
        return true
    }

    /// Redis's clusterUpdateState: the cluster is up when every slot is served (or
    /// `cluster-require-full-coverage no`), but a primary waits 2 seconds after its start
    /// before it says so (CLUSTER_WRITABLE_DELAY), to learn the configuration first.
    public func updateClusterState() {
        guard let cluster else { return }
        let ok = cluster.isOK(requireFullCoverage: config.bool("cluster-require-full-coverage"))
        if ok && !clusterIsUp && cluster.myself.isPrimary && clock() - clusterStartedAt < 2000 { return }
        clusterIsUp = ok
    }
}

// MARK: Blocked clients

extension ServerState {
    /// Redis's clusterRedirectBlockedClientIfNeeded: a client blocked on keys whose slot
    /// moved away (or went unserved, or the cluster went down) is unblocked with the error
    /// that sends it on, rather than waiting for a write that will not come here.
    public func clusterRedirectionOfBlocked(keys: [[UInt8]], readOnlyClient: Bool, endpoint: (ClusterNode) -> String)
        -> CommandError?
    {
        guard let cluster, let key = keys.first else { return nil }
        if !clusterIsUp { return .clusterDown }
        let slot = HashSlot.of(key[...])
        let owner = cluster.owners[slot]
        if owner === cluster.myself || cluster.importing[slot] != nil { return nil }
        guard let owner else { return .clusterDownUnserved }
        // A READONLY client of a replica waits on its primary's slots.
        if readOnlyClient && !cluster.myself.isPrimary && cluster.myself.primary == owner.name { return nil }
        return .moved(slot: slot, endpoint: endpoint(owner))
    }
}

// MARK: Keys by slot

extension ServerState {
    /// Keys of database 0 in `slot`, up to `limit`, newest first: as Redis's GETKEYSINSLOT,
    /// keys whose time has passed count until expiry removes them.
    public func keys(inSlot slot: Int, limit: Int) -> [[UInt8]] {
        let table = keyspace.databases[0].table
        guard let index = table.slotIndex else { return [] }
        return index.tableSlots(inSlot: slot, limit: limit).map { table[$0].key }
    }

    public func keyCount(inSlot slot: Int) -> Int { keyspace.databases[0].table.slotIndex?.count(inSlot: slot) ?? 0 }

    /// A slot taken over by a node with a newer epoch: its keys here go (Redis's
    /// delKeysInSlot).
    public func deleteKeys(inSlot slot: Int) {
        let now = clock()
        for key in keys(inSlot: slot, limit: .max) { _ = keyspace.databases[0].delete(key[...], now: now) }
    }
}

// MARK: Redirections

extension CommandContext {
    /// Redis's getNodeByQuery for the command about to run: nil when this node serves it,
    /// else the error that sends the client elsewhere. Only commands with keys (and EXEC,
    /// for the commands it queued) are checked; the primary's link and the AOF loader are
    /// obeyed whatever the slots.
    func clusterRedirection(_ command: Command) -> CommandError? {
        guard server.cluster != nil else { return nil }
        // ASKING lasts one command (or a transaction), as Redis's resetClient clears it.
        let asking = session.asking
        if command.clusterRole != .asking && !session.inMulti { session.asking = false }
        session.commandSlot = -1
        guard !session.isPrimaryClient, !session.isLoader else { return nil }
        let (slot, error) = clusterRoute(command, asking: asking)
        session.commandSlot = slot
        return error
    }

    /// Redis's scriptVerifyClusterState: a script's command must be served here (with its
    /// caller's READONLY and ASKING), and, unless the script allows cross-slot keys, stay
    /// in the slot of the keys its caller declared or it touched first.
    public func scriptClusterCheck(_ command: Command, caller: ClientSession, allowCrossSlot: Bool)
        -> CommandError?
    {
        guard server.cluster != nil, !caller.isPrimaryClient, !caller.isLoader else { return nil }
        session.clusterReadOnly = caller.clusterReadOnly
        let (slot, error) = clusterRoute(command, asking: caller.asking)
        switch error {
        case nil: break
        case .clusterDownReadOnly?:
            return .generic("Script attempted to execute a write command while the cluster is down and readonly")
        case .clusterDown?:
            return .generic("Script attempted to execute a command while the cluster is down")
        default:
            return .generic("Script attempted to access a non local key in a cluster node")
        }
        if slot != -1 && !allowCrossSlot {
            if caller.commandSlot == -1 {
                caller.commandSlot = slot
            } else if caller.commandSlot != slot {
                return .generic("Script attempted to access keys that do not hash to the same slot")
            }
        }
        return nil
    }

    /// The slot the command's keys hash to (-1 without keys) and the refusal, if any.
    func clusterRoute(_ command: Command, asking: Bool) -> (Int, CommandError?) {
        guard let cluster = server.cluster else { return (-1, nil) }
        var slot = -1
        var firstKey: ArraySlice<UInt8>?
        var multipleKeys = false
        var migrating = false
        var importing = false
        var missingKeys = 0
        var existingKeys = 0
        var owner: ClusterNode?
        func visit(_ key: ArraySlice<UInt8>) -> CommandError? {
            let s = HashSlot.of(key)
            if let firstKey {
                if s != slot { return .crossSlot }
                if !multipleKeys && key != firstKey { multipleKeys = true }
            } else {
                firstKey = key
                slot = s
                // A slot nobody serves: refused whatever the cluster's state.
                guard let served = cluster.owners[s] else { return .clusterDownUnserved }
                owner = served
                // (Dictionary lookups only while some slot is moving.)
                if !cluster.migrating.isEmpty && served === cluster.myself && cluster.migrating[s] != nil {
                    migrating = true
                } else if !cluster.importing.isEmpty && cluster.importing[s] != nil {
                    importing = true
                }
            }
            if migrating || importing {
                if server.keyspace.databases[session.db].lookup(key, now: server.clock()) == nil {
                    missingKeys += 1
                } else {
                    existingKeys += 1
                }
            }
            return nil
        }
        if command.clusterRole == .exec {
            guard session.inMulti, !session.multiFailed else { return (-1, nil) }
            let queue = session.multiQueue
            for (i, queued) in session.multiCommands.enumerated() {
                let range = queue.arguments(of: i)
                let argument = { (j: Int) in queue.argument(range.lowerBound + j) }
                for position in queued.keyPositions(argc: range.count, arg: argument) where position < range.count {
                    if let error = visit(argument(position)) { return (slot, error) }
                }
            }
        } else if command.clusterRole == .shardChannels {
            let last = command.name == "spublish" ? min(1, argc - 1) : argc - 1
            if last >= 1 {
                for position in 1...last {
                    if let error = visit(arg(position)) { return (slot, error) }
                }
            }
        } else if !command.flags.contains(.movableKeys) && command.firstKey > 0 {
            // Keys at fixed places (the legacy range Redis routed by before key specs): no
            // array of positions on this path, which every GET and SET takes.
            let last = command.lastKey < 0 ? argc + command.lastKey : command.lastKey
            if last < argc {
                var position = command.firstKey
                while position <= last {
                    if let error = visit(arg(position)) { return (slot, error) }
                    position += max(1, command.keyStep)
                }
            }
        } else {
            for position in command.keyPositions(argc: argc, arg: { self.arg($0) }) where position < argc {
                if let error = visit(arg(position)) { return (slot, error) }
            }
        }
        guard let owner else { return (slot, nil) }
        let writes = command.flags.contains(.write) || (command.clusterRole == .exec && session.multiMayReplicate)
        guard server.clusterIsUp else {
            if !config.bool("cluster-allow-reads-when-down") { return (slot, .clusterDown) }
            if writes { return (slot, .clusterDownReadOnly) }
            return (slot, nil)
        }
        // MIGRATE moves the keys of a slot in either state.
        if (migrating || importing) && command.clusterRole == .migrate { return (slot, nil) }
        if migrating && missingKeys > 0 {
            // Some keys here, some moved already: the client tries again once all moved.
            if existingKeys > 0 { return (slot, .tryAgain) }
            guard let target = cluster.migrating[slot].flatMap(cluster.node) else {
                return (slot, .clusterDownUnserved)
            }
            return (slot, .ask(slot: slot, endpoint: endpoint(target)))
        }
        if importing && (asking || command.flags.contains(.asking)) {
            if multipleKeys && missingKeys > 0 { return (slot, .tryAgain) }
            return (slot, nil)
        }
        if owner === cluster.myself { return (slot, nil) }
        // A replica serves reads of its primary's slots to a READONLY client, and sharded
        // Pub/Sub to anyone.
        if (session.clusterReadOnly || command.clusterRole == .shardChannels) && !writes
            && !cluster.myself.isPrimary && cluster.myself.primary == owner.name
        {
            return (slot, nil)
        }
        return (slot, .moved(slot: slot, endpoint: endpoint(owner)))
    }

    /// A blocked client's redirection (see ServerState.clusterRedirectionOfBlocked).
    public func blockedClusterRedirection(keys: [[UInt8]]) -> CommandError? {
        server.clusterRedirectionOfBlocked(keys: keys, readOnlyClient: session.clusterReadOnly) { endpoint($0) }
    }

    /// How a redirection names a node (`cluster-preferred-endpoint-type`): its address or
    /// announced hostname, `?` when unknown.
    func endpoint(_ node: ClusterNode) -> String {
        let host: String
        switch config["cluster-preferred-endpoint-type"] {
        case "hostname": host = node.hostname.isEmpty ? "?" : node.hostname
        case "unknown-endpoint": host = "?"
        default: host = node.ip
        }
        return "\(host):\(node.port)"
    }
}
