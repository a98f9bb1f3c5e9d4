import Cluster
import CommandTestSupport
import Foundation
import RESP
import Testing

@testable import Server

/// The cluster bus as a state machine: nodes wired to each other in memory (each link's
/// `send` feeds the other side's bus) meet, learn slots and roles, detect a failure and
/// settle an epoch collision, with a manual clock.
@Suite struct ClusterBusTests {
    /// One node: its server, its bus, its address.
    final class Node {
        let runner: CommandRunner
        let port: Int
        var bus: ClusterBus { runner.server.clusterBus! }
        var state: ClusterState { runner.server.cluster! }

        init(port: Int, name: Character) {
            runner = CommandRunner()
            self.port = port
            let me = ClusterNode(
                name: NodeName(String(repeating: name, count: 40))!, ip: "", port: port, busPort: port + 10000,
                flags: NodeFlags.primary)
            runner.server.config.setQuietly(
                "cluster-config-file", NSTemporaryDirectory() + "swiftlet-bus-test-\(UUID().uuidString).conf")
            runner.server.config.setQuietly("cluster-node-timeout", "2000")
            runner.server.cluster = ClusterState(myself: me)
            runner.server.clusterBus = ClusterBus(server: runner.server)
        }

        func cleanUp() { try? FileManager.default.removeItem(atPath: runner.server.clusterConfigPath) }
    }

    /// Nodes on 127.0.0.1 whose outbound links reach each other through memory; `reachable`
    /// says which ports answer. Bytes sent are delivered after the tick, as a socket would.
    final class Network {
        var nodes: [Node] = []
        var inFlight: [() -> Void] = []
        var reachable: Set<Int> = []
        var now: Int64 = 1_700_000_000_000

        func add(_ node: Node) {
            nodes.append(node)
            reachable.insert(node.port)
            node.runner.clock.now = now
            node.bus.connectHook = { [unowned self, unowned node] link, _, busPort in
                guard let peer = self.nodes.first(where: { $0.port + 10000 == busPort }),
                    self.reachable.contains(peer.port)
                else {
                    node.bus.disconnected(link)
                    return
                }
                let inbound = peer.bus.accepted(peerIP: "127.0.0.1", localIP: "127.0.0.1", now: self.now)
                link.send = { [unowned self, unowned peer] bytes in
                    self.inFlight.append {
                        guard self.reachable.contains(peer.port) else { return }
                        peer.bus.received(bytes, on: inbound, now: self.now)
                    }
                }
                inbound.send = { [unowned self, unowned node] bytes in
                    self.inFlight.append {
                        guard self.reachable.contains(node.port) else { return }
                        node.bus.received(bytes, on: link, now: self.now)
                    }
                }
                link.close = { [unowned peer, unowned node] in
                    peer.bus.disconnected(inbound)
                    node.bus.disconnected(link)
                }
                inbound.close = link.close
                node.bus.connected(link, localIP: "127.0.0.1", now: self.now)
            }
        }

        /// Time passes in cron ticks of 100 ms.
        func run(milliseconds: Int64) {
            var left = milliseconds
            while left > 0 {
                now += 100
                left -= 100
                for node in nodes where reachable.contains(node.port) {
                    node.runner.clock.now = now
                    node.bus.cron(now: now)
                }
                // Answers go out in the same tick; a few rounds settle them.
                for _ in 0..<4 {
                    let batch = inFlight
                    inFlight = []
                    for delivery in batch { delivery() }
                }
            }
        }

        func cleanUp() { for node in nodes { node.cleanUp() } }
    }

    func cluster(_ count: Int) -> Network {
        let network = Network()
        for i in 0..<count { network.add(Node(port: 7000 + i, name: Character(String(i + 1)))) }
        return network
    }

    @Test func meetingOneNodeJoinsTheWholeCluster() {
        let net = cluster(3)
        defer { net.cleanUp() }
        let (a, b, c) = (net.nodes[0], net.nodes[1], net.nodes[2])
        #expect(a.bus.meet(ip: "127.0.0.1", port: b.port, busPort: b.port + 10000, now: net.now))
        #expect(c.bus.meet(ip: "127.0.0.1", port: b.port, busPort: b.port + 10000, now: net.now))
        net.run(milliseconds: 3000)
        for node in net.nodes {
            #expect(node.state.nodes.count == 3)
            #expect(node.state.nodes.values.allSatisfy { !$0.inHandshake })
            // A MEET taught each met node the address it is reached at.
            #expect(node.state.node(b.state.myself.name)?.ip == "127.0.0.1")
        }
        #expect(b.state.myself.ip == "127.0.0.1")
        #expect(a.state.node(c.state.myself.name) != nil)  // learned through gossip only
    }

    @Test func slotsAndRolesSpreadAndTheNewerEpochWins() {
        let net = cluster(3)
        defer { net.cleanUp() }
        let (a, b, c) = (net.nodes[0], net.nodes[1], net.nodes[2])
        for s in 0..<100 { a.state.assign(s, to: a.state.myself) }
        a.state.myself.configEpoch = 1
        b.state.myself.configEpoch = 2
        _ = a.bus.meet(ip: "127.0.0.1", port: b.port, busPort: b.port + 10000, now: net.now)
        _ = c.bus.meet(ip: "127.0.0.1", port: a.port, busPort: a.port + 10000, now: net.now)
        net.run(milliseconds: 3000)
        #expect(b.state.owners[42]?.name == a.state.myself.name)
        // B claims slot 42 with a newer epoch: everyone moves it, A included.
        b.state.assign(42, to: b.state.myself)
        net.run(milliseconds: 3000)
        for node in net.nodes { #expect(node.state.owners[42]?.name == b.state.myself.name) }
        #expect(a.state.myself.slots.count == 99)
        // C replicates A: the others see it as A's replica, with A's epoch in CLUSTER NODES.
        c.bus.becomeReplica(of: c.state.node(a.state.myself.name)!)
        net.run(milliseconds: 3000)
        let seen = b.state.node(c.state.myself.name)!
        #expect(!seen.isPrimary && seen.primary == a.state.myself.name)
        #expect(b.state.describe(seen, forConfig: false).contains(" slave \(a.state.myself.name) "))
    }

    @Test func anUnreachablePrimaryIsMarkedFailingByTheMajority() {
        let net = cluster(3)
        defer { net.cleanUp() }
        for (i, node) in net.nodes.enumerated() {
            node.state.assign(i, to: node.state.myself)
            node.state.myself.configEpoch = UInt64(i + 1)
        }
        _ = net.nodes[0].bus.meet(ip: "127.0.0.1", port: 7001, busPort: 17001, now: net.now)
        _ = net.nodes[2].bus.meet(ip: "127.0.0.1", port: 7001, busPort: 17001, now: net.now)
        net.run(milliseconds: 3000)
        let victim = net.nodes[2].state.myself.name
        net.reachable.remove(7002)
        for node in net.nodes.prefix(2) { node.bus.dropLinks(of: node.state.node(victim)!) }
        net.run(milliseconds: 1500)
        #expect(net.nodes[0].state.node(victim)!.flags & NodeFlags.failing == 0)
        net.run(milliseconds: 4000)
        for node in net.nodes.prefix(2) {
            #expect(node.state.node(victim)!.flags & NodeFlags.failing != 0)
        }
        // Back again: a primary with slots stays failed until twice the node timeout passed.
        net.reachable.insert(7002)
        net.run(milliseconds: 5000)
        #expect(net.nodes[0].state.node(victim)!.flags & NodeFlags.failing == 0)
    }

    @Test func anEpochCollisionIsSettledByTheGreaterName() {
        let net = cluster(2)
        defer { net.cleanUp() }
        let (a, b) = (net.nodes[0], net.nodes[1])
        a.state.myself.configEpoch = 5
        b.state.myself.configEpoch = 5
        a.state.currentEpoch = 5
        b.state.currentEpoch = 5
        _ = a.bus.meet(ip: "127.0.0.1", port: b.port, busPort: b.port + 10000, now: net.now)
        net.run(milliseconds: 3000)
        // The node with the smaller name moves to a new epoch ("1111..." < "2222...").
        #expect(a.state.myself.configEpoch == 6)
        #expect(b.state.myself.configEpoch == 5)
    }

    @Test func aBadFrameClosesTheLinkWithoutHarm() {
        let node = Node(port: 7000, name: "1")
        defer { node.cleanUp() }
        var closed = false
        let link = node.bus.accepted(peerIP: "127.0.0.1", localIP: "127.0.0.1", now: 0)
        link.close = { closed = true }
        node.bus.received(Array("GET / HTTP/1.1\r\n\r\n".utf8), on: link, now: 0)
        #expect(closed)
        #expect(node.bus.inboundLinks.isEmpty)
        // A well-framed message of an unknown sender that is not a MEET changes nothing.
        let other = Node(port: 7001, name: "2")
        defer { other.cleanUp() }
        let second = node.bus.accepted(peerIP: "127.0.0.1", localIP: "127.0.0.1", now: 0)
        var replies = 0
        second.send = { _ in replies += 1 }
        node.bus.received(other.bus.message(.ping, body: .gossip([], extensions: [])).encoded(), on: second, now: 0)
        #expect(node.state.nodes.count == 1)
        #expect(replies == 1)  // a PONG all the same, as Redis answers
    }
}
