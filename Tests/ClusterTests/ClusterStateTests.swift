import Testing

@testable import Cluster

@Suite struct ClusterStateTests {
    /// nodes.conf as Redis 8.0.2 wrote it for a node of a two-node cluster (the other a
    /// redis-server 7.0.15), slot 5 of the peer being migrated.
    static let redis8Config = """
        d15a30671ce39adeb0b8bf0ec8987c76a01d6dbd 127.0.0.1:31132@41132,h8,tls-port=0,shard-id=ea7a8e5fd022ac61d41fea0aca78f60bf8bc9244 myself,master - 0 0 0 connected 101-200
        cfa46f79d2a63736619b7ba3d3621e52041441c6 127.0.0.1:31131@41131,,tls-port=0,shard-id=0b212f10868023eb38c74c0f15211c5fe79f10f1 master - 0 1796660259957 1 connected 0-100
        vars currentEpoch 1 lastVoteEpoch 0

        """
    /// The same cluster's nodes.conf as redis-server 7.0.15 wrote it (no auxiliary fields).
    static let redis7Config = """
        cfa46f79d2a63736619b7ba3d3621e52041441c6 127.0.0.1:31131@41131 myself,master - 0 0 1 connected 0-100 [5->-d15a30671ce39adeb0b8bf0ec8987c76a01d6dbd]
        d15a30671ce39adeb0b8bf0ec8987c76a01d6dbd 127.0.0.1:31132@41132 master - 0 1796660259961 0 connected 101-200
        vars currentEpoch 1 lastVoteEpoch 0

        """

    @Test func readsAndWritesRedis8Config() throws {
        let state = try #require(try ClusterState.load(configText: Self.redis8Config))
        #expect(state.myself.name.description == "d15a30671ce39adeb0b8bf0ec8987c76a01d6dbd")
        #expect(state.myself.hostname == "h8")
        #expect(state.myself.slots.ranges == [101...200])
        #expect(state.currentEpoch == 1)
        let peer = try #require(state.node(NodeName("cfa46f79d2a63736619b7ba3d3621e52041441c6")!))
        #expect(peer.configEpoch == 1 && peer.pongReceived == 1_796_660_259_957)
        #expect(state.owners[0] === peer && state.owners[150] === state.myself && state.owners[201] == nil)
        #expect(state.assignedSlots == 201)
        // Written back as it was read; CLUSTER NODES as Redis 8.0.2 printed it.
        #expect(state.configText == Self.redis8Config)
        #expect(
            state.nodesText == """
                d15a30671ce39adeb0b8bf0ec8987c76a01d6dbd 127.0.0.1:31132@41132,h8 myself,master - 0 0 0 connected 101-200
                cfa46f79d2a63736619b7ba3d3621e52041441c6 127.0.0.1:31131@41131 master - 0 1796660259957 1 connected 0-100

                """)
    }

    @Test func readsRedis7ConfigWithAMigratingSlot() throws {
        let state = try #require(try ClusterState.load(configText: Self.redis7Config))
        #expect(state.migrating == [5: NodeName("d15a30671ce39adeb0b8bf0ec8987c76a01d6dbd")!])
        #expect(
            state.nodesText.split(separator: "\n").first
                == "cfa46f79d2a63736619b7ba3d3621e52041441c6 127.0.0.1:31131@41131 myself,master - 0 0 1 connected 0-100 [5->-d15a30671ce39adeb0b8bf0ec8987c76a01d6dbd]"
        )
        // A round trip through the 7.4 format keeps everything.
        let again = try #require(try ClusterState.load(configText: state.configText))
        #expect(again.configText == state.configText)
    }

    @Test func corruptConfigIsRefused() throws {
        #expect(throws: ClusterState.ConfigError.self) {
            try ClusterState.load(configText: "abc 127.0.0.1:1@2 myself,master - 0 0 0 connected\n")
        }
        #expect(throws: ClusterState.ConfigError.self) {
            try ClusterState.load(
                configText:
                    "cfa46f79d2a63736619b7ba3d3621e52041441c6 127.0.0.1:31131@41131 myself,master - 0 0 1 connected 0-99999\n"
            )
        }
        #expect(throws: ClusterState.ConfigError.self) {
            try ClusterState.load(
                configText:
                    "cfa46f79d2a63736619b7ba3d3621e52041441c6 127.0.0.1:31131@41131 master - 0 0 1 connected\n")
        }
        #expect(try ClusterState.load(configText: "") == nil)
    }

    @Test func coverageDecidesTheState() {
        let me = ClusterNode(
            name: ClusterState.randomName(), ip: "127.0.0.1", port: 7000, busPort: 17000, flags: NodeFlags.primary)
        let state = ClusterState(myself: me)
        #expect(!state.isOK(requireFullCoverage: true))
        #expect(state.isOK(requireFullCoverage: false))
        for slot in 0..<HashSlot.count { state.assign(slot, to: me) }
        #expect(state.isOK(requireFullCoverage: true))
        #expect(state.size == 1 && me.slots.ranges == [0...16383])
        state.assign(42, to: nil)
        #expect(!state.isOK(requireFullCoverage: true) && me.slots.count == 16383)
        #expect(ClusterState.randomName().description.allSatisfy { $0.isHexDigit })
    }
}
