/// One node of the cluster as this node knows it (cluster.h's clusterNode).
public final class ClusterNode {
    /// Its name; a node met by address has a random one until its first answer
    /// (`ClusterState.rename`).
    public internal(set) var name: NodeName
    public var ip: String
    public var port: Int
    public var busPort: Int
    public var tlsPort = 0
    /// `cluster-announce-hostname` (empty when none).
    public var hostname = ""
    /// `cluster-announce-human-nodename` (Redis 7.2; empty when none).
    public var humanNodename = ""
    /// Its shard: its own for a primary, its primary's for a replica (Redis 7.2's shard-id).
    public var shardID: NodeName
    /// `NodeFlags`.
    public var flags: UInt16
    /// Its primary, for a replica.
    public var primary: NodeName?
    /// When it was last pinged and last answered (Unix milliseconds, 0 for never).
    public var pingSent: Int64 = 0
    public var pongReceived: Int64 = 0
    public var configEpoch: UInt64 = 0
    /// Whether the bus link to it is up.
    public var connected = true
    public var slots = SlotBitmap()
    /// When it was created here (a handshake times out from then), when anything last came
    /// from it, when it was marked failing, when this node last voted for its replicas.
    public var createdAt: Int64 = 0
    public var dataReceived: Int64 = 0
    public var failTime: Int64 = 0
    public var votedTime: Int64 = 0
    /// Whether it sends the shard-id extension (Redis 7.2 and later): Redis 7.0 logs a
    /// warning for each extension it does not know, so it is sent only to nodes that do.
    public var speaksShardID = false
    /// The primaries that reported it failing, and when (Redis's fail_reports).
    public var failureReports: [NodeName: Int64] = [:]
    /// Its replication offset, as its last message said.
    public var replicationOffset: UInt64 = 0
    /// Since when it has been a primary left without working replicas, for replica
    /// migration (0: it is not).
    public var orphanedTime: Int64 = 0

    public init(name: NodeName, ip: String, port: Int, busPort: Int, flags: UInt16, shardID: NodeName? = nil) {
        self.name = name
        self.ip = ip
        self.port = port
        self.busPort = busPort
        self.flags = flags
        self.shardID = shardID ?? ClusterState.randomName()
    }

    public var isPrimary: Bool { flags & NodeFlags.primary != 0 }
    public var inHandshake: Bool { flags & NodeFlags.handshake != 0 }
    public var isFailing: Bool { flags & (NodeFlags.failing | NodeFlags.possiblyFailing) != 0 }
    public var isMyself: Bool { flags & NodeFlags.myself != 0 }

    /// Redis's representClusterNodeFlags: "myself,master", "slave", "fail?" and so on.
    public var flagsText: String {
        var words: [String] = []
        if flags & NodeFlags.myself != 0 { words.append("myself") }
        if flags & NodeFlags.primary != 0 { words.append("master") }
        if flags & NodeFlags.replica != 0 { words.append("slave") }
        if flags & NodeFlags.possiblyFailing != 0 { words.append("fail?") }
        if flags & NodeFlags.failing != 0 { words.append("fail") }
        if flags & NodeFlags.handshake != 0 { words.append("handshake") }
        if flags & NodeFlags.noAddress != 0 { words.append("noaddr") }
        if flags & NodeFlags.noFailover != 0 { words.append("nofailover") }
        return words.isEmpty ? "noflags" : words.joined(separator: ",")
    }
}

/// What this node knows of the cluster (cluster.h's clusterState): the nodes, who serves
/// each slot, the slots being migrated, the epochs. It knows nothing of sockets; the bus
/// and the commands change it, and `configText` is what `nodes.conf` holds.
public final class ClusterState {
    public let myself: ClusterNode
    /// Every known node by name, and the order they were learned in (for stable output).
    public private(set) var nodes: [NodeName: ClusterNode]
    public private(set) var order: [NodeName]
    /// The node serving each slot.
    public private(set) var owners: [ClusterNode?]
    /// Slots this node is moving out (to the node named) or taking in (from it).
    public var migrating: [Int: NodeName] = [:]
    public var importing: [Int: NodeName] = [:]
    public var currentEpoch: UInt64 = 0
    public var lastVoteEpoch: UInt64 = 0

    public init(myself: ClusterNode) {
        myself.flags |= NodeFlags.myself
        self.myself = myself
        nodes = [myself.name: myself]
        order = [myself.name]
        owners = [ClusterNode?](repeating: nil, count: HashSlot.count)
    }

    /// A new node name: 40 random hex digits, as Redis draws them.
    public static func randomName() -> NodeName {
        let digits = Array("0123456789abcdef".utf8)
        var generator = SystemRandomNumberGenerator()
        return NodeName(bytes: (0..<NodeName.length).map { _ in digits[Int(generator.next() % 16)] })!
    }

    public func node(_ name: NodeName) -> ClusterNode? { nodes[name] }

    public func add(_ node: ClusterNode) {
        if nodes[node.name] == nil { order.append(node.name) }
        nodes[node.name] = node
    }

    public func remove(_ name: NodeName) {
        guard let node = nodes.removeValue(forKey: name) else { return }
        order.removeAll { $0 == name }
        for slot in 0..<HashSlot.count where owners[slot] === node { owners[slot] = nil }
    }

    /// The node met by address learned its real name from its first answer.
    public func rename(_ node: ClusterNode, to name: NodeName) {
        guard nodes[node.name] === node, nodes[name] == nil else { return }
        nodes.removeValue(forKey: node.name)
        if let i = order.firstIndex(of: node.name) { order[i] = name }
        node.name = name
        nodes[name] = node
    }

    /// The replicas of `primary`, by name (Redis 7 keeps them sorted so every node lists
    /// them alike in CLUSTER SLOTS).
    public func replicas(of primary: ClusterNode) -> [ClusterNode] {
        nodes.values.filter { $0.primary == primary.name && !$0.isPrimary }.sorted {
            $0.name.bytes.lexicographicallyPrecedes($1.name.bytes)
        }
    }

    /// Gives `slot` to `node` (nil: to nobody).
    public func assign(_ slot: Int, to node: ClusterNode?) {
        owners[slot]?.slots[slot] = false
        owners[slot] = node
        node?.slots[slot] = true
    }

    /// Redis's clusterBumpConfigEpochWithoutConsensus: a new epoch for this node unless it
    /// already has the highest (of every node's and the current one). True when bumped.
    public func bumpEpochWithoutConsensus() -> Bool {
        let highest = max(currentEpoch, nodes.values.map(\.configEpoch).max() ?? 0)
        guard myself.configEpoch == 0 || myself.configEpoch != highest else { return false }
        currentEpoch += 1
        myself.configEpoch = currentEpoch
        return true
    }

    public var assignedSlots: Int { owners.reduce(0) { $0 + ($1 == nil ? 0 : 1) } }

    /// Primaries serving at least one slot (CLUSTER INFO's cluster_size).
    public var size: Int { nodes.values.filter { $0.isPrimary && $0.slots.count > 0 }.count }

    /// Redis's clusterUpdateState without its timing: ok when every slot is served by a
    /// node not failing, or, with `requireFullCoverage` off, whenever no served slot fails.
    public func isOK(requireFullCoverage: Bool) -> Bool {
        // By node rather than by slot: ten times a second this is a few popcounts.
        var served = 0
        for node in nodes.values {
            let count = node.slots.count
            guard count > 0 else { continue }
            if node.flags & NodeFlags.failing != 0 { return false }
            served += count
        }
        return !requireFullCoverage || served == HashSlot.count
    }
}

// MARK: CLUSTER NODES and nodes.conf

extension ClusterState {
    /// One node's line of CLUSTER NODES (`forConfig` false) or of nodes.conf (true: the
    /// address carries its auxiliary fields, as Redis 7.4 writes them).
    public func describe(_ node: ClusterNode, forConfig: Bool) -> String {
        var address = "\(node.ip):\(node.port)@\(node.busPort)"
        if forConfig {
            address += ",\(node.hostname),tls-port=\(node.tlsPort),shard-id=\(node.shardID)"
        } else if !node.hostname.isEmpty {
            address += ",\(node.hostname)"
        }
        // A replica shows its primary's epoch (Redis's clusterGenNodeDescription).
        var epoch = node.configEpoch
        if !node.isPrimary, let primary = node.primary.flatMap({ nodes[$0] }) { epoch = primary.configEpoch }
        var line =
            "\(node.name) \(address) \(node.flagsText) \(node.primary?.description ?? "-") \(node.pingSent) \(node.pongReceived) \(epoch) \(node.connected || node.isMyself ? "connected" : "disconnected")"
        // A replica lists its primary's slots only in the config (Redis omits them both
        // ways for replicas: a replica's own bitmap is empty).
        for range in node.slots.ranges {
            line += range.count == 1 ? " \(range.lowerBound)" : " \(range.lowerBound)-\(range.upperBound)"
        }
        if node.isMyself {
            for slot in migrating.keys.sorted() { line += " [\(slot)->-\(migrating[slot]!)]" }
            for slot in importing.keys.sorted() { line += " [\(slot)-<-\(importing[slot]!)]" }
        }
        return line
    }

    /// CLUSTER NODES: a line per node, myself included.
    public var nodesText: String {
        order.compactMap { nodes[$0] }.map { describe($0, forConfig: false) + "\n" }.joined()
    }

    /// What nodes.conf holds: the node lines, then the epochs.
    public var configText: String {
        order.compactMap { nodes[$0] }.map { describe($0, forConfig: true) + "\n" }.joined()
            + "vars currentEpoch \(currentEpoch) lastVoteEpoch \(lastVoteEpoch)\n"
    }

    public struct ConfigError: Error, Equatable, CustomStringConvertible {
        public let line: String
        public var description: String { "Unrecoverable error: corrupted cluster config file \"\(line)\"." }
    }

    /// Reads nodes.conf as Redis's clusterLoadConfig does (the 7.0 format and 7.4's
    /// auxiliary fields both); nil for an empty file, which means a new node.
    public static func load(configText text: String) throws(ConfigError) -> ClusterState? {
        var nodes: [ClusterNode] = []
        var myself: ClusterNode?
        var current: UInt64 = 0
        var lastVote: UInt64 = 0
        var slotOwners: [(Int, NodeName)] = []
        var migrating: [Int: NodeName] = [:]
        var importing: [Int: NodeName] = [:]
        var primaries: [(ClusterNode, NodeName)] = []
        for raw in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let line = String(raw)
            let words = line.split(separator: " ").map(String.init)
            if words.first == "vars" {
                var i = 1
                while i + 1 < words.count {
                    switch words[i] {
                    case "currentEpoch": current = UInt64(words[i + 1]) ?? 0
                    case "lastVoteEpoch": lastVote = UInt64(words[i + 1]) ?? 0
                    default: break
                    }
                    i += 2
                }
                continue
            }
            guard words.count >= 8, let name = NodeName(words[0]) else { throw ConfigError(line: line) }
            // ip:port@cport[,hostname[,aux=value...]]
            let fields = words[1].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard let at = fields[0].lastIndex(of: "@"), let colon = fields[0][..<at].lastIndex(of: ":"),
                let port = Int(fields[0][fields[0].index(after: colon)..<at]),
                let busPort = Int(fields[0][fields[0].index(after: at)...])
            else { throw ConfigError(line: line) }
            let node = ClusterNode(
                name: name, ip: String(fields[0][..<colon]), port: port, busPort: busPort, flags: 0)
            if fields.count > 1 { node.hostname = fields[1] }
            for aux in fields.dropFirst(2) {
                let pair = aux.split(separator: "=", maxSplits: 1).map(String.init)
                guard pair.count == 2 else { continue }
                if pair[0] == "tls-port" { node.tlsPort = Int(pair[1]) ?? 0 }
                if pair[0] == "shard-id", let id = NodeName(pair[1]) { node.shardID = id }
            }
            for flag in words[2].split(separator: ",") {
                switch flag {
                case "myself": node.flags |= NodeFlags.myself
                case "master": node.flags |= NodeFlags.primary
                case "slave": node.flags |= NodeFlags.replica
                case "fail?": node.flags |= NodeFlags.possiblyFailing
                case "fail": node.flags |= NodeFlags.failing
                case "handshake": node.flags |= NodeFlags.handshake
                case "noaddr": node.flags |= NodeFlags.noAddress
                case "nofailover": node.flags |= NodeFlags.noFailover
                case "noflags": break
                default: throw ConfigError(line: line)
                }
            }
            if words[3] != "-" {
                guard let primary = NodeName(words[3]) else { throw ConfigError(line: line) }
                primaries.append((node, primary))
            }
            guard let ping = Int64(words[4]), let pong = Int64(words[5]), let epoch = UInt64(words[6]) else {
                throw ConfigError(line: line)
            }
            node.pingSent = ping
            node.pongReceived = pong
            node.configEpoch = epoch
            node.connected = words[7] == "connected"
            for word in words.dropFirst(8) {
                if word.hasPrefix("[") {
                    // [slot->-node] migrating, [slot-<-node] importing.
                    let inner = word.dropFirst().dropLast()
                    let digits = inner.prefix { $0.isNumber }
                    let rest = inner.dropFirst(digits.count)
                    guard let slot = Int(digits), slot < HashSlot.count, rest.count == 3 + NodeName.length,
                        let other = NodeName(String(rest.dropFirst(3)))
                    else { throw ConfigError(line: line) }
                    switch rest.prefix(3) {
                    case "->-": migrating[slot] = other
                    case "-<-": importing[slot] = other
                    default: throw ConfigError(line: line)
                    }
                    continue
                }
                let bounds = word.split(separator: "-", maxSplits: 1).map { Int($0) }
                guard let low = bounds.first ?? nil, let high = bounds.last ?? nil, low >= 0, low <= high,
                    high < HashSlot.count
                else { throw ConfigError(line: line) }
                for slot in low...high { slotOwners.append((slot, name)) }
            }
            if node.isMyself {
                guard myself == nil else { throw ConfigError(line: line) }
                myself = node
            }
            nodes.append(node)
        }
        if nodes.isEmpty { return nil }
        guard let myself else { throw ConfigError(line: "no myself node") }
        let state = ClusterState(myself: myself)
        for node in nodes where node !== myself { state.add(node) }
        for (slot, name) in slotOwners { state.assign(slot, to: state.nodes[name]) }
        for (node, primary) in primaries {
            node.primary = primary
            // A primary that has replicas is a target of replica migration once they fail.
            state.nodes[primary]?.flags |= NodeFlags.migrateTo
        }
        state.migrating = migrating
        state.importing = importing
        state.currentEpoch = current
        state.lastVoteEpoch = lastVote
        return state
    }
}
