import Cluster

/// One connection of the cluster bus (Redis's clusterLink): outbound to a node this node
/// pings, or inbound from a node that pings it. The runtime owns the socket and sets
/// `send` and `close`; the bus hands it whole messages.
public final class BusLink {
    public let inbound: Bool
    /// The node it is to (outbound) or, once a known node spoke on it, from (inbound).
    public internal(set) var node: ClusterNode?
    public let createdAt: Int64
    /// The peer's address, and this end's (a MEET teaches a node its own address).
    public var peerIP = ""
    public var localIP = ""
    public var send: ([UInt8]) -> Void = { _ in }
    public var close: () -> Void = {}
    /// Bytes written to it and not yet taken by the socket (CLUSTER LINKS's send buffer,
    /// `cluster-link-sendbuf-limit`).
    public var bufferedBytes: () -> Int = { 0 }
    public internal(set) var closed = false
    /// Bytes of a message not yet whole.
    var pending: [UInt8] = []
    public internal(set) var sentBytes = 0
    public internal(set) var receivedBytes = 0
    public internal(set) var lastSent: Int64 = 0
    public internal(set) var lastReceived: Int64 = 0

    init(inbound: Bool, node: ClusterNode?, now: Int64) {
        self.inbound = inbound
        self.node = node
        createdAt = now
    }
}

/// Redis Cluster's bus as a state machine (Redis's cluster_legacy.c without its sockets):
/// it answers PING and MEET, learns nodes from gossip and handshakes, takes slot
/// ownership from the highest config epoch, detects failures (PFAIL, then FAIL when most
/// primaries agree), elects a replica when its primary fails, and relays PUBLISH. The
/// runtime feeds it bytes and ticks; it writes through the links.
public final class ClusterBus {
    unowned let server: ServerState
    /// Outbound links by node (a node being met keeps its link while it is renamed).
    var outbound: [ObjectIdentifier: BusLink] = [:]
    public internal(set) var inboundLinks: [BusLink] = []
    /// The runtime opens a connection for an outbound link.
    public var connectHook: ((BusLink, _ ip: String, _ busPort: Int) -> Void)?
    /// Messages sent and received, by type (CLUSTER INFO's cluster_stats_messages_*).
    public internal(set) var sentByType: [UInt16: Int] = [:]
    public internal(set) var receivedByType: [UInt16: Int] = [:]
    /// Links closed for passing `cluster-link-sendbuf-limit` (CLUSTER INFO's
    /// total_cluster_links_buffer_limit_exceeded).
    public internal(set) var linksOverBufferLimit = 0
    /// Nodes CLUSTER FORGET removed, not to be added back from gossip until the time given.
    var forgotten: [NodeName: Int64] = [:]
    var lastCron: Int64 = 0
    var cronTicks = 0
    /// This replica's election: when it may ask, whether it asked, the votes, the epoch.
    var failoverAuthTime: Int64 = 0
    var failoverAuthSent = false
    var failoverAuthCount = 0
    var failoverAuthEpoch: UInt64 = 0
    var failoverAuthRank = 0
    /// The last reason this replica could not fail over, and when it was logged.
    var cannotFailOverReason = ""
    var cannotFailOverLogged: Int64 = 0
    /// A manual failover (CLUSTER FAILOVER): until when it runs, whether it may start the
    /// election, the primary's offset this replica must reach, and the replica a primary
    /// is paused for.
    public internal(set) var manualFailoverEnd: Int64 = 0
    var manualFailoverCanStart = false
    var manualFailoverPrimaryOffset: Int64 = -1
    var manualFailoverReplica: ClusterNode?
    var manualFailoverForce = false
    /// Set when something changed nodes.conf or the cluster's state; done once per tick.
    var saveNeeded = false
    var stateUpdateNeeded = false

    init(server: ServerState) {
        self.server = server
    }

    var cluster: ClusterState { server.cluster! }
    var myself: ClusterNode { cluster.myself }
    var nodeTimeout: Int64 { max(1, server.config.int("cluster-node-timeout")) }
    /// This node's shard's primary: itself, or the primary it replicates.
    var shardPrimary: ClusterNode? { myself.isPrimary ? myself : myself.primary.flatMap(cluster.node) }

    public var allLinks: [BusLink] { Array(outbound.values) + inboundLinks }

    public func outboundLink(of node: ClusterNode) -> BusLink? { outbound[ObjectIdentifier(node)] }

    public func inboundLink(of node: ClusterNode) -> BusLink? {
        inboundLinks.first { $0.node === node && !$0.closed }
    }

    // MARK: Links

    /// A node connected to the bus port.
    public func accepted(peerIP: String, localIP: String, now: Int64) -> BusLink {
        let link = BusLink(inbound: true, node: nil, now: now)
        link.peerIP = peerIP
        link.localIP = localIP
        inboundLinks.append(link)
        return link
    }

    /// An outbound connection is up: the first PING (a MEET to a node being met).
    public func connected(_ link: BusLink, localIP: String, now: Int64) {
        guard let node = link.node, !link.closed else { return }
        link.localIP = localIP
        node.connected = true
        let previous = node.pingSent
        sendPing(on: link, type: node.flags & NodeFlags.meet != 0 ? .meet : .ping, now: now)
        if previous != 0 { node.pingSent = previous }
        node.flags &= ~NodeFlags.meet
    }

    /// The socket closed (or never opened): the cron connects again.
    public func disconnected(_ link: BusLink) {
        guard !link.closed else { return }
        link.closed = true
        link.pending = []
        if link.inbound {
            inboundLinks.removeAll { $0 === link }
        } else if let node = link.node, outbound[ObjectIdentifier(node)] === link {
            outbound[ObjectIdentifier(node)] = nil
            node.connected = false
        }
    }

    func drop(_ link: BusLink) {
        disconnected(link)
        link.close()
    }

    /// DEBUG CLUSTERLINK KILL: the links to and/or from `node` close (the cron reconnects).
    public func killLinks(of node: ClusterNode, outbound killOutbound: Bool, inbound killInbound: Bool) {
        if killOutbound, let link = outbound[ObjectIdentifier(node)] { drop(link) }
        if killInbound { for link in inboundLinks where link.node === node { drop(link) } }
    }

    func dropLinks(of node: ClusterNode) {
        if let link = outbound[ObjectIdentifier(node)] { drop(link) }
        for link in inboundLinks where link.node === node { drop(link) }
    }

    /// Bytes from a link: each whole message is processed; a bad frame closes the link, as
    /// Redis's clusterReadHandler does.
    public func received(_ bytes: [UInt8], on link: BusLink, now: Int64) {
        guard !link.closed else { return }
        link.pending += bytes
        link.receivedBytes += bytes.count
        link.lastReceived = now
        var start = 0
        while !link.closed {
            let available = link.pending.count - start
            let length: Int?
            do {
                length = try link.pending.withUnsafeBytes { buffer throws(BusMessage.DecodeError) in
                    try BusMessage.frameLength(UnsafeRawBufferPointer(rebasing: buffer[start...]))
                }
            } catch {
                server.clusterLog?("\(error)")
                drop(link)
                return
            }
            guard let length, available >= length else { break }
            let frame = Array(link.pending[start..<(start + length)])
            start += length
            do {
                let message = try BusMessage.decode(frame)
                process(message, on: link, now: now)
            } catch .unsupportedVersion {
                continue
            } catch {
                server.clusterLog?("\(error)")
            }
        }
        if !link.closed { link.pending.removeFirst(start) }
        finishChanges()
    }

    func send(_ message: BusMessage, on link: BusLink, now: Int64) {
        guard !link.closed else { return }
        let bytes = message.encoded()
        link.sentBytes += bytes.count
        link.lastSent = now
        sentByType[message.type, default: 0] += 1
        link.send(bytes)
    }

    /// The outbound links of every other node past its handshake, in the order learned.
    var peerLinks: [BusLink] {
        cluster.order.compactMap { name in
            guard let node = cluster.node(name), !node.isMyself, !node.inHandshake else { return nil }
            return outbound[ObjectIdentifier(node)]
        }
    }

    /// A message to every node with a link up (Redis's clusterBroadcastMessage).
    func broadcast(_ message: BusMessage, now: Int64) {
        for link in peerLinks { send(message, on: link, now: now) }
    }

    /// Writes nodes.conf and settles the cluster's state once, after a batch of changes.
    func finishChanges() {
        if saveNeeded {
            saveNeeded = false
            server.saveClusterConfig()
        }
        if stateUpdateNeeded {
            stateUpdateNeeded = false
            server.updateClusterState()
        }
    }

    func changed(save: Bool = true) {
        if save { saveNeeded = true }
        stateUpdateNeeded = true
    }

    // MARK: Messages out

    /// The header every message carries (Redis's clusterBuildMessageHdr): this node's
    /// ports, epochs, offset, and its primary's slots when it is a replica.
    func message(_ type: BusMessage.MessageType, body: BusMessage.Body) -> BusMessage {
        let primary = shardPrimary
        // The port clients are sent to, and the other one (plain or TLS).
        let port = UInt16(truncatingIfNeeded: myself.port)
        let otherPort = UInt16(truncatingIfNeeded: myself.tlsPort)
        var flags = myself.flags
        if !myself.isPrimary { flags &= ~NodeFlags.primary }
        var messageFlags: [UInt8] = [0, 0, 0]
        if myself.isPrimary && manualFailoverEnd != 0 && manualFailoverReplica != nil {
            messageFlags[0] |= BusMessage.flagPaused
        }
        return BusMessage(
            type: type, sender: myself.name, port: port,
            busPort: UInt16(truncatingIfNeeded: myself.busPort),
            body: body, currentEpoch: cluster.currentEpoch, configEpoch: primary?.configEpoch ?? 0,
            offset: UInt64(max(0, server.replicationOffset)), slots: primary?.slots ?? SlotBitmap(),
            primary: myself.isPrimary ? .none : (myself.primary ?? .none), ip: server.config["cluster-announce-ip"],
            plaintextPort: otherPort, flags: flags, state: server.clusterIsUp ? 0 : 1,
            messageFlags: messageFlags)
    }

    func gossip(about node: ClusterNode) -> BusMessage.Gossip {
        BusMessage.Gossip(
            node: node.name, pingSent: UInt32(truncatingIfNeeded: node.pingSent / 1000),
            pongReceived: UInt32(truncatingIfNeeded: node.pongReceived / 1000), ip: node.ip,
            port: UInt16(truncatingIfNeeded: node.port), busPort: UInt16(truncatingIfNeeded: node.busPort),
            flags: node.flags & ~NodeFlags.myself, plaintextPort: UInt16(truncatingIfNeeded: node.tlsPort))
    }

    /// PING, PONG or MEET with gossip about a tenth of the other nodes (at least three)
    /// and every node thought failing, then this node's extensions (Redis's clusterSendPing).
    func sendPing(on link: BusLink, type: BusMessage.MessageType, now: Int64) {
        let others = cluster.order.compactMap { cluster.node($0) }.filter { !$0.isMyself }
        let wanted = min(max(3, cluster.nodes.count / 10), max(0, cluster.nodes.count - 2))
        var chosen: [ClusterNode] = []
        var candidates = others.shuffled()
        while chosen.count < wanted, let node = candidates.popLast() {
            // Not nodes failing (they come below), mid-handshake, without an address, or
            // neither linked nor serving slots.
            if node.isFailing || node.inHandshake || node.flags & NodeFlags.noAddress != 0 { continue }
            if outbound[ObjectIdentifier(node)] == nil && node.slots.count == 0 { continue }
            chosen.append(node)
        }
        for node in others where node.flags & NodeFlags.possiblyFailing != 0 && !node.inHandshake {
            if !chosen.contains(where: { $0 === node }) { chosen.append(node) }
        }
        var extensions: [BusMessage.Extension] = []
        if !myself.hostname.isEmpty { extensions.append(.hostname(myself.hostname)) }
        for (name, until) in forgotten where until > now {
            extensions.append(.forgottenNode(name, ttl: UInt64((until - now) / 1000)))
        }
        // Redis 7.0 warns of each extension it does not know: the 7.2 ones go to nodes that
        // send them.
        if link.node.map({ $0.speaksShardID || $0.inHandshake }) ?? true {
            if !myself.humanNodename.isEmpty { extensions.append(.humanNodename(myself.humanNodename)) }
            extensions.append(.shardID(myself.shardID))
        }
        if type == .ping, let node = link.node, !link.inbound, node.pingSent == 0 { node.pingSent = now }
        send(message(type, body: .gossip(chosen.map(gossip), extensions: extensions)), on: link, now: now)
    }

    /// A PONG to every linked node (after a promotion or an epoch change).
    public func broadcastPong(now: Int64) {
        for link in peerLinks { sendPing(on: link, type: .pong, now: now) }
    }

    /// PUBLISH and SPUBLISH reach the other nodes (SPUBLISH only this node's shard).
    public func propagatePublish(channel: [UInt8], message body: [UInt8], shard: Bool, now: Int64) {
        let msg = message(shard ? .publishShard : .publish, body: .publish(channel: channel, message: body))
        if !shard {
            broadcast(msg, now: now)
            return
        }
        guard let primary = shardPrimary else { return }
        for node in [primary] + cluster.replicas(of: primary) where !node.isMyself {
            if let link = outbound[ObjectIdentifier(node)] { send(msg, on: link, now: now) }
        }
    }

    // MARK: Messages in

    func process(_ message: BusMessage, on link: BusLink, now: Int64) {
        receivedByType[message.type, default: 0] += 1
        guard let type = message.messageType else { return }
        var sender = cluster.node(message.sender)
        if let known = sender, known.inHandshake { sender = nil }
        if let sender {
            sender.dataReceived = now
            if link.inbound && link.node == nil { link.node = sender }
            if message.currentEpoch > cluster.currentEpoch {
                cluster.currentEpoch = message.currentEpoch
                changed()
            }
            if message.configEpoch > sender.configEpoch && sender.isPrimary {
                sender.configEpoch = message.configEpoch
                changed()
            }
            sender.replicationOffset = message.offset
            if message.messageFlags[0] & BusMessage.flagPaused != 0, manualFailoverEnd != 0,
                myself.primary == sender.name, manualFailoverPrimaryOffset < 0
            {
                // The primary paused for this replica's manual failover: its offset is the
                // one to reach.
                manualFailoverPrimaryOffset = Int64(message.offset)
            }
        }
        switch type {
        case .ping, .meet, .pong:
            processPing(message, type: type, sender: sender, on: link, now: now)
        case .fail:
            guard sender != nil, case .fail(let name) = message.body, let failing = cluster.node(name),
                failing.flags & (NodeFlags.failing | NodeFlags.myself) == 0
            else { return }
            server.clusterLog?("FAIL message received from \(message.sender) about \(name)")
            failing.flags |= NodeFlags.failing
            failing.flags &= ~NodeFlags.possiblyFailing
            failing.failTime = now
            changed()
        case .publish, .publishShard:
            guard sender != nil, case .publish(let channel, let body) = message.body else { return }
            _ = server.publish(channel: channel, message: body, shard: type == .publishShard)
        case .update:
            guard sender != nil, case .update(let epoch, let name, let slots) = message.body,
                let node = cluster.node(name), node.configEpoch < epoch
            else { return }
            if !node.isPrimary { setAsPrimary(node) }
            node.configEpoch = epoch
            updateSlots(of: node, epoch: epoch, slots: slots, now: now)
            changed()
        case .failoverAuthRequest:
            guard let sender else { return }
            voteIfNeeded(for: sender, request: message, now: now)
        case .failoverAuthAck:
            guard let sender, sender.isPrimary, sender.slots.count > 0,
                message.currentEpoch >= failoverAuthEpoch
            else { return }
            failoverAuthCount += 1
        // The election is decided at the next tick, as Redis's beforeSleep does.
        case .mfstart:
            guard let sender, sender.primary == myself.name, myself.isPrimary else { return }
            // A replica of this primary starts a manual failover: clients pause (writes
            // stop so the replica catches up), and PINGs carry the paused flag.
            manualFailoverEnd = now + 5000
            manualFailoverReplica = sender
            pauseWrites(until: now + 5000 * 2)
            if let link = outbound[ObjectIdentifier(sender)] { sendPing(on: link, type: .ping, now: now) }
        case .module:
            break
        }
    }

    func processPing(
        _ message: BusMessage, type: BusMessage.MessageType, sender: ClusterNode?, on link: BusLink, now: Int64
    ) {
        if type == .ping || type == .meet {
            // A MEET tells this node the address others reach it by (a PING too while it
            // has none), unless it announces one.
            if (type == .meet || myself.ip.isEmpty) && server.config["cluster-announce-ip"].isEmpty
                && !link.localIP.isEmpty && link.localIP != myself.ip
            {
                myself.ip = link.localIP
                server.clusterLog?("IP address for this node updated to \(myself.ip)")
                changed()
            }
            if sender == nil && type == .meet {
                let node = ClusterNode(
                    name: ClusterState.randomName(), ip: message.ip.isEmpty ? link.peerIP : message.ip,
                    port: Int(message.port), busPort: Int(message.busPort), flags: NodeFlags.handshake)
                node.createdAt = now
                node.connected = false
                cluster.add(node)
                changed()
            }
            sendPing(on: link, type: .pong, now: now)
        }
        if !link.inbound, let node = link.node {
            if node.inHandshake {
                if let known = sender {
                    // Already known under its real name: the handshake node goes.
                    updateAddress(of: known, ip: message.ip.isEmpty ? link.peerIP : message.ip, message: message)
                    forget(node)
                    return
                }
                guard cluster.node(message.sender) == nil else {
                    forget(node)
                    return
                }
                cluster.rename(node, to: message.sender)
                server.clusterLog?("Handshake with node \(message.sender) completed.")
                node.flags &= ~NodeFlags.handshake
                node.flags |= message.flags & (NodeFlags.primary | NodeFlags.replica)
                changed()
            } else if node.name != message.sender {
                // Another node answers at this address now.
                server.clusterLog?(
                    "PONG contains mismatching sender ID. About node \(node.name) added \(now - node.createdAt) ms ago, having flags \(node.flags)"
                )
                node.flags |= NodeFlags.noAddress
                node.ip = ""
                node.port = 0
                node.busPort = 0
                drop(link)
                changed()
                return
            }
        }
        let sender = sender ?? (link.node.flatMap { $0.inHandshake ? nil : $0 })
        if let sender, type == .ping {
            updateAddress(of: sender, ip: message.ip.isEmpty ? link.peerIP : message.ip, message: message)
        }
        if !link.inbound, let node = link.node, type == .pong {
            node.pongReceived = now
            node.pingSent = 0
            if node.flags & NodeFlags.possiblyFailing != 0 {
                node.flags &= ~NodeFlags.possiblyFailing
                changed(save: false)
            } else if node.flags & NodeFlags.failing != 0 {
                clearFailureIfNeeded(node, now: now)
            }
        }
        guard let sender, cluster.node(message.sender) === sender else { return }
        // Its role, as it says.
        if message.primary.isNone {
            if !sender.isPrimary { setAsPrimary(sender) }
        } else {
            if sender.isPrimary {
                for range in sender.slots.ranges {
                    for slot in range { cluster.assign(slot, to: nil) }
                }
                sender.flags &= ~(NodeFlags.primary | NodeFlags.migrateTo)
                sender.flags |= NodeFlags.replica
                changed()
            }
            if sender.primary != message.primary {
                setPrimary(of: sender, to: message.primary)
                if let primary = cluster.node(message.primary) { sender.shardID = primary.shardID }
                changed()
            }
        }
        // Its slots: the claim wins where its epoch is newer.
        let senderPrimary = sender.isPrimary ? sender : sender.primary.flatMap(cluster.node)
        let dirty = senderPrimary.map { $0.slots != message.slots } ?? false
        if sender.isPrimary && dirty {
            updateSlots(of: sender, epoch: message.configEpoch, slots: message.slots, now: now)
        }
        // A claim older than what this node knows: the sender learns the newer owner.
        if dirty, let link = outbound[ObjectIdentifier(sender)] {
            search: for range in message.slots.ranges {
                for slot in range {
                    guard let owner = cluster.owners[slot], owner !== sender, owner.configEpoch > message.configEpoch
                    else { continue }
                    send(
                        self.message(
                            .update, body: .update(configEpoch: owner.configEpoch, node: owner.name, slots: owner.slots)
                        ),
                        on: link, now: now)
                    break search
                }
            }
        }
        // Two primaries with one config epoch: the one with the smaller name moves on.
        if sender.isPrimary && myself.isPrimary && message.configEpoch == myself.configEpoch
            && sender.name.description > myself.name.description
        {
            cluster.currentEpoch += 1
            myself.configEpoch = cluster.currentEpoch
            server.clusterLog?(
                "WARNING: configEpoch collision with node \(sender.name) (). configEpoch set to \(myself.configEpoch)")
            changed()
        }
        if case .gossip(let entries, let extensions) = message.body {
            processGossip(entries, from: sender, now: now)
            for e in extensions {
                switch e {
                case .hostname(let name):
                    if sender.hostname != name {
                        sender.hostname = name
                        changed()
                    }
                case .humanNodename(let name):
                    sender.humanNodename = name
                case .shardID(let id):
                    sender.speaksShardID = true
                    if sender.isPrimary && sender.shardID != id {
                        sender.shardID = id
                        changed()
                    }
                case .forgottenNode(let name, let ttl):
                    if name != myself.name, let node = cluster.node(name), node !== sender {
                        forget(node)
                        forgotten[name] = now + Int64(ttl) * 1000
                    }
                default: break
                }
            }
        }
    }

    func updateAddress(of node: ClusterNode, ip: String, message: BusMessage) {
        guard !node.isMyself else { return }
        let port = Int(message.port)
        let busPort = Int(message.busPort)
        guard node.ip != ip || node.port != port || node.busPort != busPort else { return }
        node.ip = ip
        node.port = port
        node.busPort = busPort
        node.flags &= ~NodeFlags.noAddress
        if let link = outbound[ObjectIdentifier(node)] { drop(link) }
        server.clusterLog?("Address updated for node \(node.name), now \(ip):\(port)")
        changed()
    }

    func setAsPrimary(_ node: ClusterNode) {
        node.flags &= ~NodeFlags.replica
        node.flags |= NodeFlags.primary
        if node.primary != nil {
            setPrimary(of: node, to: nil)
            // A replica that took over a primary which had replicas wants some too.
            if node !== myself { node.flags |= NodeFlags.migrateTo }
        }
        changed()
    }

    /// `replica` follows `name` now (Redis's clusterNodeRemoveSlave and
    /// clusterNodeAddSlave): a primary that has had replicas is a target of replica
    /// migration once none of them works; it stops being one when its last replica leaves.
    func setPrimary(of replica: ClusterNode, to name: NodeName?) {
        let old = replica.primary.flatMap(cluster.node)
        replica.primary = name
        if let old, cluster.replicas(of: old).isEmpty { old.flags &= ~NodeFlags.migrateTo }
        if let name { cluster.node(name)?.flags |= NodeFlags.migrateTo }
    }

    /// Redis's clusterUpdateSlotsConfigWith: `node` claims `slots` at `epoch`; each slot
    /// served by nobody or under an older epoch goes to it. When this node's shard loses
    /// its last slot to it, this node follows it (with `cluster-allow-replica-migration
    /// no`, only if it took every one of its slots from this shard); a replica whose
    /// primary became a replica follows that one's primary.
    func updateSlots(of node: ClusterNode, epoch: UInt64, slots: SlotBitmap, now: Int64) {
        guard node !== myself else { return }
        let currentPrimary = shardPrimary
        var newPrimary: ClusterNode?
        var dirty: [Int] = []
        var claimed = 0
        var takenFromThisShard = 0
        for range in slots.ranges {
            for slot in range {
                claimed += 1
                let owner = cluster.owners[slot]
                if owner === node || cluster.importing[slot] != nil { continue }
                guard owner == nil || owner!.configEpoch < epoch else { continue }
                if owner === myself && server.keyCount(inSlot: slot) > 0 { dirty.append(slot) }
                if owner != nil && owner === currentPrimary {
                    newPrimary = node
                    takenFromThisShard += 1
                }
                cluster.assign(slot, to: node)
                cluster.migrating[slot] = nil
            }
        }
        changed()
        if let newPrimary, let currentPrimary, currentPrimary.slots.count == 0,
            server.config.bool("cluster-allow-replica-migration") || claimed == takenFromThisShard
        {
            server.clusterLog?("Configuration change detected. Reconfiguring myself as a replica of \(newPrimary.name)")
            becomeReplica(of: newPrimary)
        } else if !myself.isPrimary, let primary = myself.primary.flatMap(cluster.node),
            let grandPrimary = primary.primary.flatMap(cluster.node), grandPrimary !== myself
        {
            server.clusterLog?(
                "I'm a sub-replica! Reconfiguring myself as a replica of grandmaster \(grandPrimary.name)")
            becomeReplica(of: grandPrimary)
        } else {
            for slot in dirty { server.deleteKeys(inSlot: slot) }
        }
    }

    /// CLUSTER REPLICATE, or a primary that lost its slots: this node follows `primary`.
    public func becomeReplica(of primary: ClusterNode) {
        if myself.isPrimary {
            myself.flags &= ~(NodeFlags.primary | NodeFlags.migrateTo)
            myself.flags |= NodeFlags.replica
            cluster.migrating = [:]
            cluster.importing = [:]
        }
        setPrimary(of: myself, to: primary.name)
        myself.shardID = primary.shardID
        _ = server.follow(host: primary.ip, port: primary.port)
        resetManualFailover()
        changed()
    }

    // MARK: Gossip and failures

    func processGossip(_ entries: [BusMessage.Gossip], from sender: ClusterNode, now: Int64) {
        for g in entries {
            if let node = cluster.node(g.node) {
                if sender.isPrimary && !node.isMyself {
                    if g.flags & (NodeFlags.failing | NodeFlags.possiblyFailing) != 0 {
                        if node.failureReports[sender.name] == nil {
                            server.clusterLog?("Node \(sender.name) reported node \(node.name) as not reachable.")
                        }
                        node.failureReports[sender.name] = now
                        markFailingIfNeeded(node, now: now)
                    } else if node.failureReports.removeValue(forKey: sender.name) != nil {
                        server.clusterLog?("Node \(sender.name) reported node \(node.name) is back online.")
                    }
                }
                if g.flags & (NodeFlags.failing | NodeFlags.possiblyFailing) == 0 && node.pingSent == 0
                    && node.failureReports.isEmpty
                {
                    let pongTime = Int64(g.pongReceived) * 1000
                    if pongTime <= now + 500 && pongTime > node.pongReceived { node.pongReceived = pongTime }
                }
                if node.isFailing && g.flags & NodeFlags.noAddress == 0 && outbound[ObjectIdentifier(node)] == nil
                    && (node.ip != g.ip || node.port != Int(g.port) || node.busPort != Int(g.busPort))
                {
                    node.ip = g.ip
                    node.port = Int(g.port)
                    node.busPort = Int(g.busPort)
                    node.flags &= ~NodeFlags.noAddress
                    changed()
                }
            } else if g.flags & NodeFlags.noAddress == 0, (forgotten[g.node] ?? 0) <= now, !g.node.isNone {
                // Added under the name gossip gives: pinging it confirms (a handshake by
                // address could join another cluster reusing the address).
                let node = ClusterNode(
                    name: g.node, ip: g.ip, port: Int(g.port), busPort: Int(g.busPort),
                    flags: g.flags & ~(NodeFlags.myself | NodeFlags.handshake | NodeFlags.meet))
                node.createdAt = now
                node.connected = false
                cluster.add(node)
                changed()
            }
        }
    }

    /// PFAIL becomes FAIL when most primaries serving slots report it (this one counting
    /// itself); the FAIL goes to every node.
    func markFailingIfNeeded(_ node: ClusterNode, now: Int64) {
        let needed = cluster.size / 2 + 1
        guard node.flags & NodeFlags.possiblyFailing != 0, node.flags & NodeFlags.failing == 0 else { return }
        expireFailureReports(node, now: now)
        var failures = node.failureReports.count
        if myself.isPrimary { failures += 1 }
        guard failures >= needed else { return }
        server.clusterLog?("Marking node \(node.name) as failing (quorum reached).")
        node.flags &= ~NodeFlags.possiblyFailing
        node.flags |= NodeFlags.failing
        node.failTime = now
        broadcast(message(.fail, body: .fail(node.name)), now: now)
        changed()
    }

    func expireFailureReports(_ node: ClusterNode, now: Int64) {
        let validity = nodeTimeout * 2
        node.failureReports = node.failureReports.filter { now - $0.value <= validity }
    }

    /// A failed node answers again: a replica or a primary without slots is cleared at
    /// once, a primary with slots once nobody took them over in twice the node timeout.
    func clearFailureIfNeeded(_ node: ClusterNode, now: Int64) {
        if !node.isPrimary || node.slots.count == 0 {
            server.clusterLog?(
                "Clear FAIL state for node \(node.name): \(node.isPrimary ? "master without slots" : "replica") is reachable again."
            )
            node.flags &= ~NodeFlags.failing
            changed()
        } else if now - node.failTime > nodeTimeout * 2 {
            server.clusterLog?(
                "Clear FAIL state for node \(node.name): is reachable again and nobody is serving its slots after some time."
            )
            node.flags &= ~NodeFlags.failing
            changed()
        }
    }

    public func failureReportCount(_ node: ClusterNode, now: Int64) -> Int {
        expireFailureReports(node, now: now)
        return node.failureReports.count
    }

    // MARK: Nodes

    /// CLUSTER MEET: a node by address, with a random name until it answers.
    public func meet(ip: String, port: Int, busPort: Int, now: Int64) -> Bool {
        // Not when a handshake with that address is already under way.
        for node in cluster.nodes.values where node.inHandshake && node.ip == ip && node.port == port {
            if node.busPort == busPort { return true }
        }
        let node = ClusterNode(
            name: ClusterState.randomName(), ip: ip, port: port, busPort: busPort,
            flags: NodeFlags.handshake | NodeFlags.meet)
        node.createdAt = now
        node.connected = false
        cluster.add(node)
        changed()
        finishChanges()
        return true
    }

    /// CLUSTER FORGET (and a handshake that ended): the node and its links go, its reports
    /// with it.
    public func forget(_ node: ClusterNode) {
        dropLinks(of: node)
        for other in cluster.nodes.values { other.failureReports[node.name] = nil }
        for other in cluster.nodes.values where other.primary == node.name && !other.isMyself { other.primary = nil }
        cluster.remove(node.name)
        changed()
    }

    /// CLUSTER FORGET: not learned again from gossip for a minute.
    public func forgetByCommand(_ node: ClusterNode, now: Int64) {
        if myself.primary == node.name { return }
        forget(node)
        forgotten[node.name] = now + 60_000
        finishChanges()
    }

    /// CLUSTER RESET: every link closes, the failover state goes.
    public func reset() {
        for link in allLinks { drop(link) }
        forgotten = [:]
        failoverAuthTime = 0
        failoverAuthSent = false
        failoverAuthCount = 0
        resetManualFailover()
    }

    // MARK: The tick

    /// Redis's clusterCron, ten times a second: links opened, pings sent, handshakes and
    /// links timed out, failures detected, a replica's election run.
    public func cron(now: Int64) {
        guard now - lastCron >= 100 else { return }
        lastCron = now
        cronTicks += 1
        let timeout = nodeTimeout
        let handshakeTimeout = max(timeout, 1000)
        forgotten = forgotten.filter { $0.value > now }
        for name in cluster.order {
            guard let node = cluster.node(name), !node.isMyself, node.flags & NodeFlags.noAddress == 0 else {
                continue
            }
            if node.inHandshake && now - node.createdAt > handshakeTimeout {
                forget(node)
                continue
            }
            if outbound[ObjectIdentifier(node)] == nil, let connectHook {
                let link = BusLink(inbound: false, node: node, now: now)
                outbound[ObjectIdentifier(node)] = link
                // Failure detection counts from this attempt, if the node never answers.
                if node.pingSent == 0 { node.pingSent = now }
                connectHook(link, node.ip, node.busPort)
            }
        }
        // Once a second, a ping to the node heard from least recently of five random ones.
        if cronTicks % 10 == 0 {
            var oldest: ClusterNode?
            let candidates = cluster.nodes.values.filter {
                !$0.isMyself && !$0.inHandshake && $0.pingSent == 0 && outbound[ObjectIdentifier($0)] != nil
            }
            for node in candidates.shuffled().prefix(5) where oldest == nil || node.pongReceived < oldest!.pongReceived
            {
                oldest = node
            }
            if let oldest, let link = outbound[ObjectIdentifier(oldest)] { sendPing(on: link, type: .ping, now: now) }
        }
        closeLinksOverBufferLimit()
        for name in cluster.order {
            guard let node = cluster.node(name), !node.isMyself, !node.inHandshake,
                node.flags & NodeFlags.noAddress == 0
            else { continue }
            let link = outbound[ObjectIdentifier(node)]
            // A link waiting for a pong past half the timeout is reconnected.
            if let link, now - link.createdAt > timeout, node.pingSent != 0, now - node.pingSent > timeout / 2,
                now - node.dataReceived > timeout / 2
            {
                drop(link)
            }
            if let link, node.pingSent == 0, now - node.pongReceived > timeout / 2 {
                sendPing(on: link, type: .ping, now: now)
                continue
            }
            // The manual failover's replica is pinged every tick.
            if let replica = manualFailoverReplica, replica === node, let link {
                sendPing(on: link, type: .ping, now: now)
                continue
            }
            guard node.pingSent != 0 else { continue }
            let delay = min(now - node.pingSent, now - node.dataReceived)
            if delay > timeout && node.flags & (NodeFlags.possiblyFailing | NodeFlags.failing) == 0 {
                server.clusterLog?("*** NODE \(node.name) possibly failing")
                node.flags |= NodeFlags.possiblyFailing
                changed(save: false)
            }
        }
        for node in cluster.nodes.values where node.flags & NodeFlags.possiblyFailing != 0 {
            markFailingIfNeeded(node, now: now)
        }
        if manualFailoverEnd != 0 && now > manualFailoverEnd {
            server.clusterLog?("Manual failover timed out.")
            resetManualFailover()
        }
        // cluster-replica-no-failover shows in this node's flags (Redis's
        // clusterUpdateMyselfFlags).
        let flags =
            server.config.bool("cluster-replica-no-failover")
            ? myself.flags | NodeFlags.noFailover : myself.flags & ~NodeFlags.noFailover
        if flags != myself.flags {
            myself.flags = flags
            changed()
        }
        if !myself.isPrimary {
            handleReplicaFailover(now: now)
            considerReplicaMigration(now: now)
        }
        // (The runtime's cron settles the cluster's state right after this, every tick.)
        finishChanges()
    }

    /// Redis's clusterNodeCronFreeLinkOnBufferLimitReached: a link whose unsent bytes pass
    /// `cluster-link-sendbuf-limit` (a peer that stopped reading) is closed; the outbound
    /// one is made again by the next tick.
    func closeLinksOverBufferLimit() {
        let limit = server.config.int("cluster-link-sendbuf-limit")
        guard limit > 0 else { return }
        for link in allLinks where !link.closed {
            let used = link.bufferedBytes()
            guard used > limit else { continue }
            server.clusterLog?(
                "Freeing cluster link(\(link.inbound ? "from" : "to") node \(link.node?.name.description ?? ""), used memory: \(used)) due to exceeding send buffer memory limit."
            )
            linksOverBufferLimit += 1
            drop(link)
        }
    }

    // MARK: Failover

    /// This replica's rank among its primary's replicas: 0 for the one with the highest
    /// offset (it asks first).
    func replicaRank() -> Int {
        guard let primary = myself.primary.flatMap(cluster.node) else { return 0 }
        let mine = UInt64(max(0, server.replicationOffset))
        return cluster.replicas(of: primary).filter { $0 !== myself && $0.replicationOffset > mine }.count
    }

    /// Redis's clusterHandleSlaveFailover: when the primary has failed (or a manual
    /// failover is ready), after a delay by rank, ask the primaries for votes in a new
    /// epoch; with a majority, take the primary's slots.
    func handleReplicaFailover(now: Int64) {
        guard let primary = myself.primary.flatMap(cluster.node) else { return }
        let manual = manualFailoverEnd != 0 && manualFailoverCanStart
        if manualFailoverEnd != 0 && !manualFailoverCanStart { checkManualFailoverReady(primary: primary) }
        guard primary.slots.count > 0, primary.flags & NodeFlags.failing != 0 || manual else { return }
        guard manual || !server.config.bool("cluster-replica-no-failover") else { return }
        let timeout = nodeTimeout
        if !manual && dataTooOld(now: now) {
            logCannotFailOver(
                "Disconnected from master for longer than allowed. Please check the 'cluster-replica-validity-factor' configuration option.",
                primary: primary, now: now)
            return
        }
        let authTimeout = max(timeout * 2, 2000)
        let authRetry = authTimeout * 2
        if now - failoverAuthTime > authRetry {
            failoverAuthTime = now + (manual ? 0 : 500 + Int64.random(in: 0..<500))
            failoverAuthCount = 0
            failoverAuthSent = false
            failoverAuthRank = manual ? 0 : replicaRank()
            failoverAuthTime += Int64(failoverAuthRank) * 1000
            server.clusterLog?(
                "Start of election delayed for \(failoverAuthTime - now) milliseconds (rank #\(failoverAuthRank), offset \(server.replicationOffset))."
            )
            return
        }
        if !failoverAuthSent && !manual {
            let rank = replicaRank()
            if rank > failoverAuthRank {
                failoverAuthTime += Int64(rank - failoverAuthRank) * 1000
                failoverAuthRank = rank
            }
        }
        if now < failoverAuthTime { return }
        if now - failoverAuthTime > authTimeout { return }
        if !failoverAuthSent {
            cluster.currentEpoch += 1
            failoverAuthEpoch = cluster.currentEpoch
            server.clusterLog?("Starting a failover election for epoch \(cluster.currentEpoch).")
            var request = message(.failoverAuthRequest, body: .none)
            if manual { request.messageFlags[0] |= BusMessage.flagForceAck }
            broadcast(request, now: now)
            failoverAuthSent = true
            changed()
            return
        }
        let needed = cluster.size / 2 + 1
        guard failoverAuthCount >= needed else { return }
        server.clusterLog?("Failover election won: I'm the new master.")
        if myself.configEpoch < failoverAuthEpoch {
            myself.configEpoch = failoverAuthEpoch
            server.clusterLog?("configEpoch set to \(myself.configEpoch) after successful failover")
        }
        takeOver(from: primary, now: now)
    }

    /// Redis's data age check: a replica cut off from its primary for longer than
    /// `repl-ping-replica-period` + node timeout × `cluster-replica-validity-factor` (the
    /// node timeout not counted) does not ask to take over; 0 turns the check off.
    func dataTooOld(now: Int64) -> Bool {
        let factor = server.config.int("cluster-replica-validity-factor")
        guard factor > 0 else { return false }
        var age: Int64
        if let link = server.primaryLink, link.state == .connected {
            age = now - link.lastIO
        } else if let link = server.primaryLink, link.downSince > 0 {
            age = now - link.downSince
        } else {
            age = now  // never connected: Redis counts from the epoch
        }
        if age > nodeTimeout { age -= nodeTimeout }
        let (allowed, overflow) = nodeTimeout.multipliedReportingOverflow(by: factor)
        if overflow { return false }
        return age > server.config.int("repl-ping-replica-period") * 1000 + allowed
    }

    /// Redis's clusterLogCantFailover: why this replica does not fail over, once per
    /// reason (again after five minutes), and only once its primary has been failing for
    /// a node timeout and five seconds.
    func logCannotFailOver(_ reason: String, primary: ClusterNode, now: Int64) {
        if reason == cannotFailOverReason && now - cannotFailOverLogged < 300_000 { return }
        cannotFailOverReason = reason
        if primary.flags & NodeFlags.failing != 0 && now - primary.failTime < nodeTimeout + 5000 { return }
        cannotFailOverLogged = now
        server.clusterLog?("Currently unable to failover: \(reason)")
    }

    // MARK: Replica migration

    /// Redis's orphaned-primary check in clusterCron: when a primary with slots has lost
    /// all its working replicas (and had some), and this replica belongs to a shard with
    /// the most working replicas (at least two), it may move over.
    func considerReplicaMigration(now: Int64) {
        guard server.config.bool("cluster-allow-replica-migration") else { return }
        var orphaned = 0
        var most = 0
        var mine = 0
        for node in cluster.nodes.values
        where !node.isMyself && !node.inHandshake && node.flags & NodeFlags.noAddress == 0 && node.isPrimary
            && node.flags & NodeFlags.failing == 0
        {
            let working = workingReplicas(of: node)
            if working == 0 && node.slots.count > 0 && node.flags & NodeFlags.migrateTo != 0 { orphaned += 1 }
            most = max(most, working)
            if myself.primary == node.name { mine = working }
        }
        if orphaned > 0 && most >= 2 && mine == most { migrateIfCandidate(mostReplicas: most, now: now) }
    }

    /// Replicas of `primary` not marked failing.
    func workingReplicas(of primary: ClusterNode) -> Int {
        cluster.replicas(of: primary).filter { $0.flags & NodeFlags.failing == 0 }.count
    }

    /// Redis's clusterHandleSlaveMigration: with the cluster up, and this shard keeping
    /// more than `cluster-migration-barrier` working replicas without this one, the
    /// replica with the smallest name among the shards with the most replicas moves to
    /// the first orphaned primary, once it has been orphaned for five seconds.
    func migrateIfCandidate(mostReplicas: Int, now: Int64) {
        guard server.clusterIsUp, let primary = myself.primary.flatMap(cluster.node) else { return }
        let healthy = cluster.replicas(of: primary).filter { !$0.isFailing }.count
        guard healthy > server.config.int("cluster-migration-barrier") else { return }
        var target: ClusterNode?
        var candidate = myself
        for name in cluster.order {
            guard let node = cluster.node(name) else { continue }
            let working = node.isPrimary ? workingReplicas(of: node) : 0
            let isOrphaned =
                node.isPrimary && node.flags & NodeFlags.failing == 0 && node.flags & NodeFlags.migrateTo != 0
                && working == 0
            if isOrphaned {
                if target == nil && node.slots.count > 0 { target = node }
                if node.orphanedTime == 0 { node.orphanedTime = now }
            } else {
                node.orphanedTime = 0
            }
            if node.isPrimary && working == mostReplicas {
                for replica in cluster.replicas(of: node)
                where replica.name.bytes.lexicographicallyPrecedes(candidate.name.bytes) {
                    candidate = replica
                }
            }
        }
        guard let target, candidate === myself, now - target.orphanedTime > 5000 else { return }
        server.clusterLog?("Migrating to orphaned master \(target.name)")
        becomeReplica(of: target)
    }

    /// This replica becomes the primary of `primary`'s slots (Redis's
    /// clusterFailoverReplaceYourMaster), and tells every node at once.
    func takeOver(from primary: ClusterNode, now: Int64) {
        setAsPrimary(myself)
        myself.shardID = primary.shardID
        server.stopFollowing()
        for range in primary.slots.ranges {
            for slot in range { cluster.assign(slot, to: myself) }
        }
        resetManualFailover()
        changed()
        finishChanges()
        broadcastPong(now: now)
    }

    /// A primary with slots votes for `replica` once per epoch, when its primary failed
    /// (or the request forces an ack) and no newer owner holds the slots it claims.
    func voteIfNeeded(for replica: ClusterNode, request: BusMessage, now: Int64) {
        guard myself.isPrimary, myself.slots.count > 0 else { return }
        guard request.currentEpoch >= cluster.currentEpoch, cluster.lastVoteEpoch != cluster.currentEpoch else {
            return
        }
        let force = request.messageFlags[0] & BusMessage.flagForceAck != 0
        guard !replica.isPrimary, let primary = replica.primary.flatMap(cluster.node),
            primary.flags & NodeFlags.failing != 0 || force
        else { return }
        guard now - primary.votedTime >= nodeTimeout * 2 else { return }
        for range in request.slots.ranges {
            for slot in range {
                if let owner = cluster.owners[slot], owner.configEpoch > request.configEpoch { return }
            }
        }
        cluster.lastVoteEpoch = cluster.currentEpoch
        primary.votedTime = now
        server.clusterLog?("Failover auth granted to \(replica.name) () for epoch \(cluster.currentEpoch)")
        changed()
        if let link = outbound[ObjectIdentifier(replica)] {
            send(message(.failoverAuthAck, body: .none), on: link, now: now)
        }
    }

    /// CLUSTER FAILOVER [FORCE | TAKEOVER] on a replica.
    public func startManualFailover(force: Bool, takeover: Bool, now: Int64) {
        guard let primary = myself.primary.flatMap(cluster.node) else { return }
        resetManualFailover()
        if takeover {
            // No votes: a new epoch of this node's own, then the slots.
            cluster.currentEpoch += 1
            myself.configEpoch = cluster.currentEpoch
            server.clusterLog?("Taking over the master (user request).")
            takeOver(from: primary, now: now)
            return
        }
        manualFailoverEnd = now + 5000
        manualFailoverForce = force
        if force {
            manualFailoverCanStart = true
            server.clusterLog?("Forced failover user request accepted.")
            return
        }
        server.clusterLog?("Manual failover user request accepted.")
        if let link = outbound[ObjectIdentifier(primary)] {
            send(message(.mfstart, body: .none), on: link, now: now)
        }
    }

    /// The replica has applied all its paused primary sent: the election may start.
    func checkManualFailoverReady(primary: ClusterNode) {
        guard manualFailoverPrimaryOffset >= 0 else { return }
        if server.replicationOffset >= manualFailoverPrimaryOffset {
            manualFailoverCanStart = true
            server.clusterLog?("All master replication stream processed, manual failover can start.")
        }
    }

    /// A primary in a manual failover holds writes so its replica catches up (0: resumes).
    func pauseWrites(until: Int64) {
        if until == 0 {
            server.pausedUntil = 0
            server.applyPauseToExpiry()
            server.unpauseHook?()
            return
        }
        if server.pausedUntil == 0 { server.pauseWritesOnly = true }
        server.pausedUntil = max(server.pausedUntil, until)
        server.applyPauseToExpiry()
    }

    func resetManualFailover() {
        if manualFailoverReplica != nil { pauseWrites(until: 0) }
        manualFailoverEnd = 0
        manualFailoverCanStart = false
        manualFailoverPrimaryOffset = -1
        manualFailoverReplica = nil
        manualFailoverForce = false
    }
}
