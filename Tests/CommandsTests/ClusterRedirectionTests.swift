import Cluster
import CommandTestSupport
import RESP
import Testing

@testable import Server

/// Redis Cluster's redirections on a node that knows a second primary: MOVED for its
/// slots, CROSSSLOT across slots, ASK's one-command permission on an importing slot, and
/// EXEC checking the keys of what it queued.
@Suite struct ClusterRedirectionTests {
    func twoNodeCluster() -> (CommandRunner, ClusterState, ClusterNode) {
        let r = CommandRunner()
        let me = ClusterNode(
            name: NodeName("a".padding(40))!, ip: "127.0.0.1", port: 7000, busPort: 17000, flags: NodeFlags.primary)
        let state = ClusterState(myself: me)
        let other = ClusterNode(
            name: NodeName("b".padding(40))!, ip: "10.0.0.2", port: 7001, busPort: 17001, flags: NodeFlags.primary)
        other.hostname = "node-b.example"
        state.add(other)
        for slot in 0..<8192 { state.assign(slot, to: other) }
        for slot in 8192..<HashSlot.count { state.assign(slot, to: me) }
        r.server.cluster = state
        r.server.clusterIsUp = true
        return (r, state, other)
    }

    @Test func keysServedElsewhereAreMoved() {
        let (r, _, _) = twoNodeCluster()
        #expect(r.run("SET", "foo", "1") == .ok)  // slot 12182, this node's
        #expect(r.run("SET", "bar", "1") == .error("MOVED 5061 10.0.0.2:7001"))
        #expect(
            r.run("MSET", "foo", "1", "bar", "2") == .error("CROSSSLOT Keys in request don't hash to the same slot"))
        #expect(r.run("PING") == .simple("PONG"))  // no keys, no redirection
        #expect(r.run("CONFIG", "SET", "cluster-preferred-endpoint-type", "hostname") == .ok)
        #expect(r.run("GET", "bar") == .error("MOVED 5061 node-b.example:7001"))
    }

    @Test func askingServesAnImportingSlotForOneCommand() {
        let (r, state, other) = twoNodeCluster()
        state.importing[5061] = other.name
        #expect(r.run("GET", "bar") == .error("MOVED 5061 10.0.0.2:7001"))
        #expect(r.run("ASKING") == .ok)
        #expect(r.run("GET", "bar") == .null)
        #expect(r.run("GET", "bar") == .error("MOVED 5061 10.0.0.2:7001"))
    }

    /// Each queued command is checked as it comes (a MOVED one aborts the transaction, as in
    /// Redis), and EXEC checks that all of them share one slot.
    @Test func execChecksItsQueuedKeys() {
        let (r, _, _) = twoNodeCluster()
        #expect(r.run("MULTI") == .ok)
        #expect(r.run("SET", "foo", "1") == .simple("QUEUED"))  // slot 12182
        #expect(r.run("SET", "a", "1") == .simple("QUEUED"))  // slot 15495, also here
        #expect(r.run("EXEC") == .error("CROSSSLOT Keys in request don't hash to the same slot"))
        #expect(r.run("MULTI") == .ok)
        #expect(r.run("SET", "bar", "1") == .error("MOVED 5061 10.0.0.2:7001"))
        #expect(r.run("EXEC") == .error("EXECABORT Transaction discarded because of previous errors."))
    }

    @Test func aDownClusterRefusesKeys() {
        let (r, state, _) = twoNodeCluster()
        state.assign(5061, to: nil)
        r.server.clusterIsUp = false
        #expect(r.run("GET", "foo") == .error("CLUSTERDOWN The cluster is down"))
        #expect(r.run("CONFIG", "SET", "cluster-allow-reads-when-down", "yes") == .ok)
        #expect(r.run("GET", "foo") == .null)
        #expect(r.run("SET", "foo", "1") == .error("CLUSTERDOWN The cluster is down and only accepts read commands"))
        r.server.clusterIsUp = true
        #expect(r.run("GET", "bar") == .error("CLUSTERDOWN Hash slot not served"))
        // An unserved slot is named as such even while the cluster is down.
        r.server.clusterIsUp = false
        #expect(r.run("GET", "bar") == .error("CLUSTERDOWN Hash slot not served"))
    }

    /// A slot being moved out: keys still here are served, a missing one is asked of the
    /// target, a mix of both is tried again later (Redis's getNodeByQuery).
    @Test func aMigratingSlotAsksForMissingKeys() {
        let (r, state, other) = twoNodeCluster()
        #expect(r.run("SET", "foo", "1") == .ok)  // slot 12182
        state.migrating[12182] = other.name
        #expect(r.run("GET", "foo") == .bulk("1"))
        #expect(r.run("GET", "{foo}gone") == .error("ASK 12182 10.0.0.2:7001"))
        #expect(
            r.run("MGET", "foo", "{foo}gone") == .error("TRYAGAIN Multiple keys request during rehashing of slot"))
    }

    /// A slot being taken in: with ASKING, one key is served; several keys not all here
    /// are tried again.
    @Test func anImportingSlotServesAskingClients() {
        let (r, state, other) = twoNodeCluster()
        state.importing[5061] = other.name
        #expect(r.run("ASKING") == .ok)
        #expect(r.run("SET", "bar", "1") == .ok)
        #expect(r.run("ASKING") == .ok)
        #expect(
            r.run("MGET", "bar", "{bar}x") == .error("TRYAGAIN Multiple keys request during rehashing of slot"))
        #expect(r.run("ASKING") == .ok)
        #expect(r.run("RESTORE-ASKING", "{bar}y", "0", "bogus") != .error("MOVED 5061 10.0.0.2:7001"))
    }

    /// A READONLY client of a replica reads its primary's slots; writes still move.
    @Test func aReadOnlyClientReadsFromAReplica() {
        let (r, state, other) = twoNodeCluster()
        state.myself.flags = NodeFlags.replica | NodeFlags.myself
        state.myself.primary = other.name
        #expect(r.run("GET", "bar") == .error("MOVED 5061 10.0.0.2:7001"))
        #expect(r.run("READONLY") == .ok)
        #expect(r.run("GET", "bar") == .null)
        #expect(r.run("SET", "bar", "1") == .error("MOVED 5061 10.0.0.2:7001"))
    }
}

extension String {
    fileprivate func padding(_ length: Int) -> String { String(repeating: self, count: length) }
}
