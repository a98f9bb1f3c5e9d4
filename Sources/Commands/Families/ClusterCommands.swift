import Cluster
import DataStore
import RESP
import Server

#if canImport(Glibc)
    import Glibc
#endif

/// CLUSTER and its companions (READONLY, READWRITE, ASKING) under `cluster-enabled yes`,
/// with Redis's replies and error texts; a standalone server refuses them all. What needs
/// the cluster bus (MEET, FORGET, REPLICATE, FAILOVER) goes through `ClusterBus`.
enum ClusterCommands {
    static func cluster(_ ctx: CommandContext) throws(CommandError) -> ClusterState {
        guard let cluster = ctx.server.cluster else { throw StandaloneCommands.clusterDisabled }
        return cluster
    }

    static let busNeeded = CommandError(
        "ERR This command needs the cluster bus, which this Swiftlet version does not run yet")

    /// A slot argument (Redis's getSlotOrReply).
    static func slot(_ ctx: CommandContext, _ i: Int) throws(CommandError) -> Int {
        guard let v = parseInt64(ctx.arg(i)), v >= 0, v < Int64(HashSlot.count) else {
            throw CommandError("ERR Invalid or out of range slot")
        }
        return Int(v)
    }

    /// Writes nodes.conf after a change, as Redis's clusterSaveConfigOrDie does.
    static func changed(_ ctx: CommandContext) {
        ctx.server.saveClusterConfig()
        ctx.server.updateClusterState()
    }

    // MARK: Reading the state

    /// CLUSTER INFO
    static func info(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let c = try cluster(ctx)
        var ok = 0
        var pfail = 0
        var fail = 0
        for owner in c.owners {
            guard let owner else { continue }
            if owner.flags & NodeFlags.failing != 0 {
                fail += 1
            } else if owner.flags & NodeFlags.possiblyFailing != 0 {
                pfail += 1
            } else {
                ok += 1
            }
        }
        let myEpoch = c.myself.isPrimary ? c.myself.configEpoch : (c.myself.primary.flatMap(c.node)?.configEpoch ?? 0)
        let fields: [(String, String)] = [
            ("cluster_state", ctx.server.clusterIsUp ? "ok" : "fail"),
            ("cluster_slots_assigned", "\(c.assignedSlots)"), ("cluster_slots_ok", "\(ok)"),
            ("cluster_slots_pfail", "\(pfail)"), ("cluster_slots_fail", "\(fail)"),
            ("cluster_known_nodes", "\(c.nodes.count)"), ("cluster_size", "\(c.size)"),
            ("cluster_current_epoch", "\(c.currentEpoch)"), ("cluster_my_epoch", "\(myEpoch)"),
        ]
        var stats: [(String, String)] = []
        if let bus = ctx.server.clusterBus {
            for (direction, counts) in [("sent", bus.sentByType), ("received", bus.receivedByType)] {
                for type in counts.keys.sorted() where counts[type]! > 0 {
                    stats.append(
                        ("cluster_stats_messages_\(BusMessage.typeName(type))_\(direction)", "\(counts[type]!)"))
                }
                stats.append(("cluster_stats_messages_\(direction)", "\(counts.values.reduce(0, +))"))
            }
        }
        let exceeded = ctx.server.clusterBus?.linksOverBufferLimit ?? 0
        let all = fields + stats + [("total_cluster_links_buffer_limit_exceeded", "\(exceeded)")]
        return .verbatim(format: "txt", Array(all.map { "\($0.0):\($0.1)\r\n" }.joined().utf8))
    }

    /// CLUSTER MYID
    static func myID(_ ctx: CommandContext) throws(CommandError) -> Reply {
        .bulk(try cluster(ctx).myself.name.description)
    }

    /// CLUSTER MYSHARDID
    static func myShardID(_ ctx: CommandContext) throws(CommandError) -> Reply {
        .bulk(try cluster(ctx).myself.shardID.description)
    }

    /// CLUSTER KEYSLOT key
    static func keySlot(_ ctx: CommandContext) throws(CommandError) -> Reply {
        _ = try cluster(ctx)
        return .integer(Int64(HashSlot.of(ctx.arg(2))))
    }

    /// CLUSTER NODES
    static func nodes(_ ctx: CommandContext) throws(CommandError) -> Reply {
        .verbatim(format: "txt", Array(try cluster(ctx).nodesText.utf8))
    }

    /// A node as CLUSTER SLOTS lists it: endpoint, port, name, and a map of the other
    /// ways to reach it (its hostname, when the endpoint is not that).
    static func slotsNode(_ ctx: CommandContext, _ node: ClusterNode) -> Reply {
        let preferHostname = ctx.config["cluster-preferred-endpoint-type"] == "hostname"
        let endpoint: Reply =
            preferHostname ? .bulk(node.hostname.isEmpty ? "?" : node.hostname) : .bulk(node.ip)
        var metadata: [Reply] = []
        if !preferHostname && !node.hostname.isEmpty { metadata = [.bulk("hostname"), .bulk(node.hostname)] }
        return .array([endpoint, .integer(Int64(node.port)), .bulk(node.name.description), .map(metadata)])
    }

    /// CLUSTER SLOTS
    static func slots(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let c = try cluster(ctx)
        var out: [Reply] = []
        // By slot, as Redis walks them: each run of slots one primary serves.
        var start = 0
        while start < HashSlot.count {
            guard let node = c.owners[start] else {
                start += 1
                continue
            }
            var end = start
            while end + 1 < HashSlot.count && c.owners[end + 1] === node { end += 1 }
            var entry: [Reply] = [.integer(Int64(start)), .integer(Int64(end)), slotsNode(ctx, node)]
            for replica in c.replicas(of: node) where replica.flags & NodeFlags.failing == 0 {
                entry.append(slotsNode(ctx, replica))
            }
            out.append(.array(entry))
            start = end + 1
        }
        return .array(out)
    }

    /// CLUSTER SHARDS
    static func shards(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let c = try cluster(ctx)
        var out: [Reply] = []
        for name in c.order {
            guard let node = c.nodes[name], node.isPrimary else { continue }
            let slots = node.slots.ranges.flatMap {
                [Reply.integer(Int64($0.lowerBound)), .integer(Int64($0.upperBound))]
            }
            let members = [node] + c.replicas(of: node)
            out.append(
                .map([.bulk("slots"), .array(slots), .bulk("nodes"), .array(members.map { shardNode(ctx, $0) })]))
        }
        return .array(out)
    }

    static func shardNode(_ ctx: CommandContext, _ node: ClusterNode) -> Reply {
        var fields: [Reply] = [.bulk("id"), .bulk(node.name.description), .bulk("port"), .integer(Int64(node.port))]
        fields += [.bulk("ip"), .bulk(node.ip), .bulk("endpoint"), .bulk(node.ip)]
        if !node.hostname.isEmpty { fields += [.bulk("hostname"), .bulk(node.hostname)] }
        let offset = node.isMyself ? ctx.server.replicationOffset : 0
        fields += [.bulk("role"), .bulk(node.isPrimary ? "master" : "replica")]
        fields += [.bulk("replication-offset"), .integer(offset)]
        let health = node.flags & NodeFlags.failing != 0 ? "fail" : "online"
        fields += [.bulk("health"), .bulk(health)]
        return .map(fields)
    }

    /// CLUSTER COUNT-FAILURE-REPORTS node-id
    static func countFailureReports(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let c = try cluster(ctx)
        guard let name = NodeName(ctx.argString(2)), let node = c.node(name) else {
            throw CommandError("ERR Unknown node \(ctx.argString(2))")
        }
        return .integer(Int64(ctx.server.clusterBus?.failureReportCount(node, now: ctx.server.clock()) ?? 0))
    }

    /// CLUSTER LINKS: each bus link, to a node or from one.
    static func links(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let c = try cluster(ctx)
        guard let bus = ctx.server.clusterBus else { return .array([]) }
        var out: [Reply] = []
        // By node, its link to it then its link from it (Redis's clusterReplyLinks).
        var ordered: [BusLink] = []
        for name in c.order {
            guard let node = c.node(name), !node.isMyself else { continue }
            if let link = bus.outboundLink(of: node) { ordered.append(link) }
            if let link = bus.inboundLink(of: node) { ordered.append(link) }
        }
        for link in ordered where !link.closed {
            guard let node = link.node else { continue }
            let buffered = link.bufferedBytes()
            out.append(
                .map([
                    .bulk("direction"), .bulk(link.inbound ? "from" : "to"), .bulk("node"),
                    .bulk(node.name.description), .bulk("create-time"), .integer(link.createdAt), .bulk("events"),
                    .bulk(link.inbound ? "r" : "rw"), .bulk("send-buffer-allocated"),
                    .integer(Int64(buffered)), .bulk("send-buffer-used"), .integer(Int64(buffered)),
                ]))
        }
        return .array(out)
    }

    /// CLUSTER REPLICAS / SLAVES node-id
    static func replicasCommand(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let c = try cluster(ctx)
        guard let name = NodeName(ctx.argString(2)), let node = c.node(name) else {
            throw CommandError("ERR Unknown node \(ctx.argString(2))")
        }
        guard node.isPrimary else { throw CommandError("ERR The specified node is not a master") }
        return .array(c.replicas(of: node).map { .bulk(c.describe($0, forConfig: false)) })
    }

    // MARK: Slots

    /// CLUSTER ADDSLOTS / DELSLOTS slot [slot ...]
    static func addSlots(_ ctx: CommandContext) throws(CommandError) -> Reply {
        try changeSlots(ctx, (2..<ctx.argc).map { ($0, $0) }, adding: true)
    }

    static func delSlots(_ ctx: CommandContext) throws(CommandError) -> Reply {
        try changeSlots(ctx, (2..<ctx.argc).map { ($0, $0) }, adding: false)
    }

    /// CLUSTER ADDSLOTSRANGE / DELSLOTSRANGE start end [start end ...]
    static func addSlotsRange(_ ctx: CommandContext) throws(CommandError) -> Reply {
        _ = try cluster(ctx)
        guard ctx.argc % 2 == 0 else { throw .wrongArity("cluster|addslotsrange") }
        return try changeSlots(ctx, stride(from: 2, to: ctx.argc, by: 2).map { ($0, $0 + 1) }, adding: true)
    }

    static func delSlotsRange(_ ctx: CommandContext) throws(CommandError) -> Reply {
        _ = try cluster(ctx)
        guard ctx.argc % 2 == 0 else { throw .wrongArity("cluster|delslotsrange") }
        return try changeSlots(ctx, stride(from: 2, to: ctx.argc, by: 2).map { ($0, $0 + 1) }, adding: false)
    }

    /// Checks every slot first (Redis changes nothing when one is refused), then assigns.
    static func changeSlots(_ ctx: CommandContext, _ ranges: [(Int, Int)], adding: Bool) throws(CommandError)
        -> Reply
    {
        let c = try cluster(ctx)
        var seen = [Bool](repeating: false, count: HashSlot.count)
        var chosen: [Int] = []
        for (low, high) in ranges {
            let start = try slot(ctx, low)
            let end = try slot(ctx, high)
            guard start <= end else {
                throw CommandError("ERR start slot number \(start) is greater than end slot number \(end)")
            }
            for s in start...end {
                if adding && c.owners[s] != nil { throw CommandError("ERR Slot \(s) is already busy") }
                if !adding && c.owners[s] == nil { throw CommandError("ERR Slot \(s) is already unassigned") }
                if seen[s] { throw CommandError("ERR Slot \(s) specified multiple times") }
                seen[s] = true
                chosen.append(s)
            }
        }
        for s in chosen {
            c.assign(s, to: adding ? c.myself : nil)
            // A slot taken in is no longer being imported (Redis's clusterAddSlot path).
            if adding { c.importing[s] = nil }
        }
        changed(ctx)
        return .ok
    }

    /// CLUSTER FLUSHSLOTS
    static func flushSlots(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let c = try cluster(ctx)
        guard ctx.keyspace.databases[0].table.count == 0 else {
            throw CommandError("ERR DB must be empty to perform CLUSTER FLUSHSLOTS.")
        }
        for s in 0..<HashSlot.count where c.owners[s] === c.myself { c.assign(s, to: nil) }
        changed(ctx)
        return .ok
    }

    /// CLUSTER COUNTKEYSINSLOT slot
    static func countKeysInSlot(_ ctx: CommandContext) throws(CommandError) -> Reply {
        _ = try cluster(ctx)
        guard let v = parseInt64(ctx.arg(2)), v >= 0, v < Int64(HashSlot.count) else {
            throw CommandError("ERR Invalid slot")
        }
        return .integer(Int64(ctx.server.keyCount(inSlot: Int(v))))
    }

    /// CLUSTER GETKEYSINSLOT slot count
    static func getKeysInSlot(_ ctx: CommandContext) throws(CommandError) -> Reply {
        _ = try cluster(ctx)
        guard let v = parseInt64(ctx.arg(2)), let n = parseInt64(ctx.arg(3)), v >= 0, v < Int64(HashSlot.count),
            n >= 0
        else { throw CommandError("ERR Invalid slot or number of keys") }
        return .array(ctx.server.keys(inSlot: Int(v), limit: Int(n)).map { .bulk($0) })
    }

    /// CLUSTER SETSLOT slot IMPORTING node | MIGRATING node | NODE node | STABLE
    static func setSlot(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let c = try cluster(ctx)
        guard c.myself.isPrimary else { throw CommandError("ERR Please use SETSLOT only with masters.") }
        let s = try slot(ctx, 2)
        let action = ctx.argString(3).lowercased()
        func target() throws(CommandError) -> ClusterNode {
            guard ctx.argc >= 5 else {
                throw CommandError("ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP")
            }
            guard let name = NodeName(ctx.argString(4)), let node = c.node(name) else {
                throw CommandError("ERR I don't know about node \(ctx.argString(4))")
            }
            return node
        }
        switch (action, ctx.argc) {
        case ("migrating", 5):
            let node = try target()
            guard c.owners[s] === c.myself else { throw CommandError("ERR I'm not the owner of hash slot \(s)") }
            guard node.isPrimary else { throw CommandError("ERR Target node is not a master") }
            c.migrating[s] = node.name
        case ("importing", 5):
            let node = try target()
            guard c.owners[s] !== c.myself else {
                throw CommandError("ERR I'm already the owner of hash slot \(s)")
            }
            guard node.isPrimary else { throw CommandError("ERR Target node is not a master") }
            c.importing[s] = node.name
        case ("stable", 4):
            c.migrating[s] = nil
            c.importing[s] = nil
        case ("node", 5):
            let node = try target()
            if c.owners[s] === c.myself && node !== c.myself && !ctx.server.keys(inSlot: s, limit: 1).isEmpty {
                throw CommandError(
                    "ERR Can't assign hashslot \(s) to a different node while I still hold keys for this hash slot.")
            }
            c.migrating[s] = nil
            let wasMine = c.owners[s] === c.myself
            if node === c.myself && c.importing[s] != nil {
                c.importing[s] = nil
                // Taking a slot in bumps this node's epoch, unless it has the highest already.
                _ = c.bumpEpochWithoutConsensus()
                c.assign(s, to: node)
                // The other nodes learn of it at once.
                ctx.server.clusterBus?.broadcastPong(now: ctx.server.clock())
            }
            c.assign(s, to: node)
            // A primary that gave away its last slot follows the node that took it (Redis's
            // SETSLOT NODE; the owner's pings may come too late to show it the change).
            if wasMine && node !== c.myself && c.myself.slots.count == 0
                && ctx.server.config.bool("cluster-allow-replica-migration"), let bus = ctx.server.clusterBus
            {
                ctx.server.clusterLog?(
                    "Configuration change detected. Reconfiguring myself as a replica of \(node.name)")
                bus.becomeReplica(of: node)
            }
        default:
            throw CommandError("ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP")
        }
        changed(ctx)
        return .ok
    }

    // MARK: Epochs and configuration

    /// CLUSTER SAVECONFIG
    static func saveConfig(_ ctx: CommandContext) throws(CommandError) -> Reply {
        _ = try cluster(ctx)
        guard ctx.server.saveClusterConfig() else {
            throw CommandError("ERR error saving the cluster node config: \(String(cString: strerror(errno)))")
        }
        return .ok
    }

    /// CLUSTER SET-CONFIG-EPOCH epoch
    static func setConfigEpoch(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let c = try cluster(ctx)
        guard let epoch = parseInt64(ctx.arg(2)) else { throw .notInteger }
        guard epoch >= 0 else { throw CommandError("ERR Invalid config epoch specified: \(epoch)") }
        guard c.nodes.count == 1 else {
            throw CommandError(
                "ERR The user can assign a config epoch only when the node does not know any other node.")
        }
        guard c.myself.configEpoch == 0 else { throw CommandError("ERR Node config epoch is already non-zero") }
        c.myself.configEpoch = UInt64(epoch)
        if c.currentEpoch < UInt64(epoch) { c.currentEpoch = UInt64(epoch) }
        changed(ctx)
        return .ok
    }

    /// CLUSTER BUMPEPOCH
    static func bumpEpoch(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let c = try cluster(ctx)
        if c.bumpEpochWithoutConsensus() {
            changed(ctx)
            return .status("BUMPED \(c.myself.configEpoch)")
        }
        return .status("STILL \(c.myself.configEpoch)")
    }

    /// CLUSTER RESET [HARD | SOFT]
    static func reset(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let c = try cluster(ctx)
        var hard = false
        if ctx.argc == 3 {
            switch ctx.argString(2).lowercased() {
            case "hard": hard = true
            case "soft": hard = false
            default: throw .syntax
            }
        } else if ctx.argc > 3 {
            throw .syntax
        }
        if c.myself.isPrimary && ctx.keyspace.databases[0].table.count > 0 {
            throw CommandError("ERR CLUSTER RESET can't be called with master nodes containing keys")
        }
        // A replica becomes an empty primary (Redis's clusterReset).
        if !c.myself.isPrimary {
            ctx.server.stopFollowing()
            for i in ctx.keyspace.databases.indices { ctx.keyspace.databases[i].removeAll() }
        }
        ctx.server.clusterBus?.reset()
        for s in 0..<HashSlot.count { c.assign(s, to: nil) }
        c.migrating = [:]
        c.importing = [:]
        for name in c.order where name != c.myself.name { c.remove(name) }
        c.myself.flags = NodeFlags.primary | NodeFlags.myself
        c.myself.primary = nil
        if hard {
            let fresh = ClusterNode(
                name: ClusterState.randomName(), ip: c.myself.ip, port: c.myself.port, busPort: c.myself.busPort,
                flags: NodeFlags.primary)
            fresh.hostname = c.myself.hostname
            ctx.server.cluster = ClusterState(myself: fresh)
        }
        changed(ctx)
        return .ok
    }

    // MARK: The bus

    static func bus(_ ctx: CommandContext) throws(CommandError) -> (ClusterState, ClusterBus) {
        let c = try cluster(ctx)
        guard let bus = ctx.server.clusterBus else { throw busNeeded }
        return (c, bus)
    }

    static func needsBus(_ ctx: CommandContext) throws(CommandError) -> Reply {
        _ = try cluster(ctx)
        throw busNeeded
    }

    /// CLUSTER MEET ip port [cluster-bus-port]
    static func meet(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let (_, bus) = try bus(ctx)
        guard ctx.argc <= 5 else { throw .subcommandSyntax(ctx.argBytes(1), container: "CLUSTER") }
        guard let port = parseInt64(ctx.arg(3)) else {
            throw CommandError("ERR Invalid TCP base port specified: \(ctx.argString(3))")
        }
        var busPort = port + 10000
        if ctx.argc == 5 {
            guard let given = parseInt64(ctx.arg(4)) else {
                throw CommandError("ERR Invalid TCP bus port specified: \(ctx.argString(4))")
            }
            busPort = given
        }
        // An IP address only (Redis's clusterStartHandshake takes no hostname), written
        // back in its normal form.
        guard let ip = normalizedAddress(ctx.argString(2)), port > 0, port <= 65535, busPort > 0, busPort <= 65535
        else {
            throw CommandError("ERR Invalid node address specified: \(ctx.argString(2)):\(ctx.argString(3))")
        }
        _ = bus.meet(ip: ip, port: Int(port), busPort: Int(busPort), now: ctx.server.clock())
        return .ok
    }

    /// `text` as inet_ntop writes it back, nil when it is not an IPv4 or IPv6 address.
    static func normalizedAddress(_ text: String) -> String? {
        var v4 = in_addr()
        var v6 = in6_addr()
        var out = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        if inet_pton(AF_INET, text, &v4) == 1 {
            guard inet_ntop(AF_INET, &v4, &out, socklen_t(out.count)) != nil else { return nil }
        } else if inet_pton(AF_INET6, text, &v6) == 1 {
            guard inet_ntop(AF_INET6, &v6, &out, socklen_t(out.count)) != nil else { return nil }
        } else {
            return nil
        }
        return String(decoding: out.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// CLUSTER FORGET node-id
    static func forget(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let (c, bus) = try bus(ctx)
        guard let name = NodeName(ctx.argString(2)), let node = c.node(name) else {
            throw CommandError("ERR Unknown node \(ctx.argString(2))")
        }
        guard name != c.myself.name else { throw CommandError("ERR I tried hard but I can't forget myself...") }
        if !c.myself.isPrimary && c.myself.primary == name { throw CommandError("ERR Can't forget my master!") }
        bus.forgetByCommand(node, now: ctx.server.clock())
        return .ok
    }

    /// CLUSTER REPLICATE node-id
    static func replicate(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let (c, bus) = try bus(ctx)
        guard let name = NodeName(ctx.argString(2)), let node = c.node(name) else {
            throw CommandError("ERR Unknown node \(ctx.argString(2))")
        }
        guard node !== c.myself else { throw CommandError("ERR Can't replicate myself") }
        guard node.isPrimary else { throw CommandError("ERR I can only replicate a master, not a replica.") }
        if c.myself.isPrimary && (c.myself.slots.count != 0 || ctx.keyspace.databases[0].count != 0) {
            throw CommandError("ERR To set a master the node must be empty and without assigned slots.")
        }
        bus.becomeReplica(of: node)
        changed(ctx)
        return .ok
    }

    /// CLUSTER FAILOVER [FORCE | TAKEOVER]
    static func failover(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let (c, bus) = try bus(ctx)
        var force = false
        var takeover = false
        if ctx.argc == 3 {
            switch ctx.argString(2).lowercased() {
            case "force": force = true
            case "takeover":
                takeover = true
                force = true
            default: throw .syntax
            }
        } else if ctx.argc > 3 {
            throw .syntax
        }
        guard !c.myself.isPrimary else { throw CommandError("ERR You should send CLUSTER FAILOVER to a replica") }
        guard let primary = c.myself.primary.flatMap(c.node) else {
            throw CommandError("ERR I'm a replica but my master is unknown to me")
        }
        if !force && (primary.flags & NodeFlags.failing != 0 || bus.outboundLink(of: primary) == nil) {
            throw CommandError("ERR Master is down or failed, please use CLUSTER FAILOVER FORCE")
        }
        bus.startManualFailover(force: force, takeover: takeover, now: ctx.server.clock())
        return .ok
    }

    // MARK: READONLY, READWRITE, ASKING

    static func readOnly(_ ctx: CommandContext) throws(CommandError) -> Reply {
        _ = try cluster(ctx)
        ctx.session.clusterReadOnly = true
        return .ok
    }

    static func readWrite(_ ctx: CommandContext) throws(CommandError) -> Reply {
        _ = try cluster(ctx)
        ctx.session.clusterReadOnly = false
        return .ok
    }

    static func asking(_ ctx: CommandContext) throws(CommandError) -> Reply {
        _ = try cluster(ctx)
        ctx.session.asking = true
        return .ok
    }

    static let subcommands: [String: Handler] = [
        "cluster|info": info, "cluster|myid": myID, "cluster|myshardid": myShardID, "cluster|keyslot": keySlot,
        "cluster|nodes": nodes, "cluster|slots": slots, "cluster|shards": shards,
        "cluster|count-failure-reports": countFailureReports, "cluster|links": links,
        "cluster|replicas": replicasCommand, "cluster|slaves": replicasCommand, "cluster|addslots": addSlots,
        "cluster|delslots": delSlots, "cluster|addslotsrange": addSlotsRange, "cluster|delslotsrange": delSlotsRange,
        "cluster|flushslots": flushSlots, "cluster|countkeysinslot": countKeysInSlot,
        "cluster|getkeysinslot": getKeysInSlot, "cluster|setslot": setSlot, "cluster|saveconfig": saveConfig,
        "cluster|set-config-epoch": setConfigEpoch, "cluster|bumpepoch": bumpEpoch, "cluster|reset": reset,
        "cluster|forget": forget, "cluster|help": help, "cluster|meet": meet, "cluster|replicate": replicate,
        "cluster|failover": failover,
    ]

    /// CLUSTER HELP
    static func help(_ ctx: CommandContext) throws(CommandError) -> Reply {
        _ = try cluster(ctx)
        let lines = [
            "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "ADDSLOTS <slot> [<slot> ...]", "    Assign slots to current node.",
            "ADDSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
            "    Assign slots which are between <start-slot> and <end-slot> to current node.",
            "BUMPEPOCH", "    Advance the cluster config epoch.",
            "COUNT-FAILURE-REPORTS <node-id>", "    Return number of failure reports for <node-id>.",
            "COUNTKEYSINSLOT <slot>", "    Return the number of keys in <slot>.",
            "DELSLOTS <slot> [<slot> ...]", "    Delete slots information from current node.",
            "DELSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
            "    Delete slots information which are between <start-slot> and <end-slot>.",
            "FAILOVER [FORCE|TAKEOVER]", "    Promote current replica node to being a master.",
            "FORGET <node-id>", "    Remove a node from the cluster.",
            "FLUSHSLOTS", "    Delete current node own slots information.",
            "GETKEYSINSLOT <slot> <count>", "    Return key names stored by current node in a slot.",
            "INFO", "    Return information about the cluster.",
            "KEYSLOT <key>", "    Return the hash slot for <key>.",
            "LINKS", "    Return information about all network links between this node and its peers.",
            "MEET <ip> <port> [<bus-port>]", "    Connect nodes into a working cluster.",
            "MYID", "    Return the node id.",
            "MYSHARDID", "    Return the node's shard id.",
            "NODES", "    Return cluster configuration seen by node. Output format:",
            "    <id> <ip:port@bus-port[,hostname]> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
            "REPLICAS <node-id>", "    Return <node-id> replicas.",
            "REPLICATE <node-id>", "    Configure current node as replica to <node-id>.",
            "RESET [HARD|SOFT]", "    Reset current node (default: soft).",
            "SAVECONFIG", "    Force saving cluster configuration on disk.",
            "SET-CONFIG-EPOCH <epoch>", "    Set config epoch of current node.",
            "SETSLOT <slot> (IMPORTING <node-id>|MIGRATING <node-id>|STABLE|NODE <node-id>)",
            "    Set slot state.",
            "SHARDS", "    Return information about slot range mappings and the nodes associated with them.",
            "SLOTS", "    Return information about slots range mappings. Each range is made of:",
            "    start, end, master and replicas IP addresses, ports and ids",
            "HELP", "    Print this help.",
        ]
        return .array(lines.map { .simple($0) })
    }
}
