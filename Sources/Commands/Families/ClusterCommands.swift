import Cluster
import DataStore
import RESP
import Server

#if canImport(Glibc)
    import Glibc
#endif

/// CLUSTER and its companions (READONLY, READWRITE, ASKING) under `cluster-enabled yes`,
/// with Redis's replies and error texts; a standalone server refuses them all. What needs
/// the cluster bus (MEET, FORGET, REPLICATE, FAILOVER) says so until the bus exists.
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
            ("cluster_stats_messages_sent", "0"), ("cluster_stats_messages_received", "0"),
            ("total_cluster_links_buffer_limit_exceeded", "0"),
        ]
        return .verbatim(format: "txt", Array(fields.map { "\($0.0):\($0.1)\r\n" }.joined().utf8))
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

    /// The replicas of `primary`.
    static func replicas(of primary: ClusterNode, in c: ClusterState) -> [ClusterNode] {
        c.order.compactMap { c.nodes[$0] }.filter { $0.primary == primary.name }
    }

    /// CLUSTER SLOTS
    static func slots(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let c = try cluster(ctx)
        var out: [Reply] = []
        for name in c.order {
            guard let node = c.nodes[name], node.isPrimary else { continue }
            for range in node.slots.ranges {
                var entry: [Reply] = [.integer(Int64(range.lowerBound)), .integer(Int64(range.upperBound))]
                entry.append(slotsNode(ctx, node))
                for replica in replicas(of: node, in: c) where replica.flags & NodeFlags.failing == 0 {
                    entry.append(slotsNode(ctx, replica))
                }
                out.append(.array(entry))
            }
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
            let members = [node] + replicas(of: node, in: c)
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
        guard let name = NodeName(ctx.argString(2)), c.node(name) != nil else {
            throw CommandError("ERR Unknown node \(ctx.argString(2))")
        }
        return .zero
    }

    /// CLUSTER LINKS: the bus links (none without the bus).
    static func links(_ ctx: CommandContext) throws(CommandError) -> Reply {
        _ = try cluster(ctx)
        return .array([])
    }

    /// CLUSTER REPLICAS / SLAVES node-id
    static func replicasCommand(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let c = try cluster(ctx)
        guard let name = NodeName(ctx.argString(2)), let node = c.node(name) else {
            throw CommandError("ERR Unknown node \(ctx.argString(2))")
        }
        guard node.isPrimary else { throw CommandError("ERR The specified node is not a master") }
        return .array(replicas(of: node, in: c).map { .bulk(c.describe($0, forConfig: false)) })
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

    /// The live keys of database 0 in `slot`, in table order, up to `limit`.
    static func keys(in slot: Int, _ ctx: CommandContext, limit: Int) -> [[UInt8]] {
        var out: [[UInt8]] = []
        let now = ctx.server.clock()
        ctx.keyspace.databases[0].table.forEach { entry in
            guard out.count < limit, entry.expireAt == KeyEntry.noExpiry || entry.expireAt > now else { return }
            let matches = entry.withKey { HashSlot.of($0) == slot }
            if matches { out.append(entry.key) }
        }
        return out
    }

    /// CLUSTER COUNTKEYSINSLOT slot
    static func countKeysInSlot(_ ctx: CommandContext) throws(CommandError) -> Reply {
        _ = try cluster(ctx)
        guard let v = parseInt64(ctx.arg(2)), v >= 0, v < Int64(HashSlot.count) else {
            throw CommandError("ERR Invalid slot")
        }
        return .integer(Int64(keys(in: Int(v), ctx, limit: .max).count))
    }

    /// CLUSTER GETKEYSINSLOT slot count
    static func getKeysInSlot(_ ctx: CommandContext) throws(CommandError) -> Reply {
        _ = try cluster(ctx)
        guard let v = parseInt64(ctx.arg(2)), let n = parseInt64(ctx.arg(3)), v >= 0, v < Int64(HashSlot.count),
            n >= 0
        else { throw CommandError("ERR Invalid slot or number of keys") }
        return .array(keys(in: Int(v), ctx, limit: Int(n)).map { .bulk($0) })
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
            if c.owners[s] === c.myself && node !== c.myself && !keys(in: s, ctx, limit: 1).isEmpty {
                throw CommandError(
                    "ERR Can't assign hashslot \(s) to a different node while I still hold keys for this hash slot.")
            }
            c.migrating[s] = nil
            if node === c.myself && c.importing[s] != nil {
                c.importing[s] = nil
                // Taking a slot in bumps this node's epoch, as Redis's clusterBumpConfigEpochWithoutConsensus.
                c.currentEpoch += 1
                c.myself.configEpoch = c.currentEpoch
            }
            c.assign(s, to: node)
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
        // Redis's clusterBumpConfigEpochWithoutConsensus: bumped unless already the highest.
        let highest = c.nodes.values.map(\.configEpoch).max() ?? 0
        if c.myself.configEpoch == 0 || c.myself.configEpoch != highest {
            c.currentEpoch += 1
            c.myself.configEpoch = c.currentEpoch
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

    // MARK: Needing the bus

    static func needsBus(_ ctx: CommandContext) throws(CommandError) -> Reply {
        _ = try cluster(ctx)
        throw busNeeded
    }

    /// CLUSTER FORGET node-id
    static func forget(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let c = try cluster(ctx)
        guard let name = NodeName(ctx.argString(2)), c.node(name) != nil else {
            throw CommandError("ERR Unknown node \(ctx.argString(2))")
        }
        guard name != c.myself.name else { throw CommandError("ERR I tried hard but I can't forget myself...") }
        throw busNeeded
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
        "cluster|forget": forget, "cluster|help": help,
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
            "FLUSHSLOTS", "    Delete current node own slots information.",
            "GETKEYSINSLOT <slot> <count>", "    Return key names stored by current node in a slot.",
            "INFO", "    Return information about the cluster.",
            "KEYSLOT <key>", "    Return the hash slot for <key>.",
            "LINKS", "    Return information about all network links between this node and its peers.",
            "MYID", "    Return the node id.",
            "MYSHARDID", "    Return the node's shard id.",
            "NODES", "    Return cluster configuration seen by node. Output format:",
            "    <id> <ip:port@bus-port[,hostname]> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
            "REPLICAS <node-id>", "    Return <node-id> replicas.",
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
