import CommandTestSupport
import Commands
import RESP
import ServerConfig
import Testing

@testable import Server

/// The primary side of replication, in-process: the handshake a replica sends, the full
/// sync's framing, the stream it then gets, partial resyncs from the backlog.
@Suite struct ReplicationTests {
    func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    @Test func aFullSyncThenTheStreamWithSelects() {
        let r = CommandRunner()
        r.run("CONFIG", "SET", "repl-diskless-sync-delay", "0")
        r.run("SET", "before", "1")
        let replica = r.client()
        #expect(replica.run("REPLCONF", "listening-port", "7001") == .ok)
        #expect(replica.run("REPLCONF", "capa", "eof", "capa", "psync2") == .ok)
        #expect(replica.run("REPLCONF", "nosuch", "x") == .error("ERR Unrecognized REPLCONF option: nosuch"))
        // The snapshot starts at once (no diskless delay): +FULLRESYNC goes out then.
        #expect(replica.bytes([Array("PSYNC".utf8), Array("?".utf8), Array("-1".utf8)]).isEmpty)
        guard let primary = r.server.replication, let save = r.server.backgroundSave else {
            Issue.record("PSYNC did not start replication and its snapshot")
            return
        }
        #expect(save.purpose == .replication)
        #expect(text(replica.delivered.flatMap { $0 }) == "+FULLRESYNC \(primary.replicationID) 0\r\n")
        replica.delivered.removeAll()
        #expect(primary.replicas[0].stateName == "wait_bgsave")
        // A write while the snapshot is made is held for the replica.
        r.run("SET", "k", "v")
        r.server.finishBackgroundSave()
        let snapshot = text(replica.delivered.flatMap { $0 })
        replica.delivered.removeAll()
        #expect(snapshot.hasPrefix("$EOF:") && snapshot.contains("REDIS") && snapshot.contains("before"))
        #expect(!snapshot.contains("SET"))
        #expect(replica.session.isReplica && primary.replicas.count == 1)
        #expect(primary.replicas[0].stateName == "online")
        // After an EOF-marked snapshot the stream waits for the replica's first ACK (it
        // finds the mark only at the end of what it read).
        r.run("SELECT", "2")
        r.run("INCR", "n")
        r.run("GET", "k")  // reads send nothing
        #expect(replica.delivered.isEmpty)
        // ACKs get no reply and set the replica's offset; the first starts the stream: a
        // SELECT first, then the writes as they propagated.
        #expect(replica.bytes([Array("REPLCONF".utf8), Array("ACK".utf8), Array("12".utf8)]).isEmpty)
        #expect(primary.replicas[0].ackOffset == 12)
        let stream = text(replica.delivered.flatMap { $0 })
        #expect(
            stream
                == "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"
                + "*2\r\n$6\r\nSELECT\r\n$1\r\n2\r\n*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n")
        #expect(primary.offset == Int64(stream.utf8.count))
        #expect(r.server.stats.fullSyncs == 1 && r.server.stats.partialSyncsRefused == 0)
        guard case .bulk(let info) = r.run("INFO", "replication") else { return }
        let lines = text(info)
        #expect(lines.contains("connected_slaves:1\r\n"))
        #expect(lines.contains("slave0:ip=127.0.0.1,port=7001,state=online,offset=12,lag=0\r\n"))
        #expect(lines.contains("master_repl_offset:\(primary.offset)\r\n"))
        #expect(lines.contains("repl_backlog_active:1\r\n"))
        #expect(
            r.run("ROLE")
                == .array([
                    .b("master"), .integer(primary.offset), .array([.array([.b("127.0.0.1"), .b("7001"), .b("12")])]),
                ]))
    }

    @Test func waitAOFCountsTheReplicasFsyncedAcks() {
        let r = CommandRunner()
        #expect(r.run("WAITAOF", "2", "0", "0") == .error("ERR value is out of range, value must between 0 and 1"))
        #expect(r.run("WAITAOF", "0", "-1", "0") == .error("ERR value is out of range, must be positive"))
        #expect(r.run("WAITAOF", "0", "0", "-1") == .error("ERR timeout is negative"))
        #expect(
            r.run("WAITAOF", "1", "0", "0")
                == .error("ERR WAITAOF cannot be used when numlocal is set but appendonly is disabled."))
        #expect(r.run("WAITAOF", "0", "0", "0") == .array([.integer(0), .integer(0)]))
        r.run("CONFIG", "SET", "repl-diskless-sync-delay", "0")
        let replica = r.client()
        _ = replica.bytes([Array("PSYNC".utf8), Array("?".utf8), Array("-1".utf8)])
        r.server.finishBackgroundSave()
        r.run("SET", "k", "v")
        let offset = r.server.replicationOffset
        // An ACK without FACK (a replica without an AOF) counts for WAIT, not WAITAOF.
        _ = replica.bytes([Array("REPLCONF".utf8), Array("ACK".utf8), Array(String(offset).utf8)])
        #expect(r.run("WAIT", "1", "0") == .integer(1))
        // Not enough: the client blocks, with the counts so far for its timeout.
        #expect(r.run("WAITAOF", "0", "1", "0") == .raw([]))
        #expect(r.context.blockRequest?.timeoutReply == .array([.integer(0), .integer(0)]))
        #expect(r.context.blockRequest?.waitsForAcks?.local == 0)
        #expect(r.server.acknowledgements(of: AckWait(offset: offset, replicas: 1, local: 0)).satisfied == false)
        // FACK: its AOF has the write on disk.
        _ = replica.bytes(["REPLCONF", "ACK", String(offset), "FACK", String(offset)].map { Array($0.utf8) })
        #expect(r.run("WAITAOF", "0", "1", "0") == .array([.integer(0), .integer(1)]))
        #expect(r.server.acknowledgements(of: AckWait(offset: offset, replicas: 1, local: 0)).satisfied)
    }

    @Test func aReconnectingReplicaContinuesFromTheBacklog() {
        let r = CommandRunner()
        r.run("CONFIG", "SET", "repl-diskless-sync", "no")
        let first = r.client()
        _ = first.bytes([Array("PSYNC".utf8), Array("?".utf8), Array("-1".utf8)])
        r.server.finishBackgroundSave()
        guard let primary = r.server.replication else { return }
        r.run("SET", "a", "1")
        let seen = primary.offset
        r.server.unregister(first.session)
        r.run("SET", "b", "2")
        let again = r.client()
        let reply = text(
            again.bytes([Array("PSYNC".utf8), Array(primary.replicationID.utf8), Array(String(seen + 1).utf8)]))
        #expect(reply == "+CONTINUE \(primary.replicationID)\r\n*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\n2\r\n")
        // Another ID, or an offset the backlog does not hold: a full sync.
        let other = r.client()
        #expect(other.bytes([Array("PSYNC".utf8), Array(primary.replicationID.utf8), Array("999999".utf8)]).isEmpty)
        let full = text(other.delivered.flatMap { $0 })
        #expect(full.hasPrefix("+FULLRESYNC \(primary.replicationID) \(primary.offset)\r\n"))
        // Disk-based: the snapshot with its length, then the stream at once.
        r.server.finishBackgroundSave()
        r.run("SET", "c", "3")
        let sync = text(other.delivered.flatMap { $0 })
        #expect(sync.contains("\r\n$") && sync.contains("REDIS") && sync.hasSuffix("$1\r\nc\r\n$1\r\n3\r\n"))
        #expect(r.server.stats.partialSyncsAccepted == 1 && r.server.stats.partialSyncsRefused == 1)
    }

    /// FAILOVER's checks with Redis's texts, then the handover: writes pause, and once the
    /// named replica has acknowledged the whole stream the primary follows it, its PSYNC
    /// carrying FAILOVER; ABORT makes it a primary again.
    @Test func failoverWaitsForTheReplicaThenFollowsIt() {
        let r = CommandRunner()
        r.run("CONFIG", "SET", "repl-diskless-sync", "no")
        #expect(r.run("FAILOVER", "ABORT") == .error("ERR No failover in progress."))
        #expect(r.run("FAILOVER") == .error("ERR FAILOVER requires connected replicas."))
        let replica = r.client()
        _ = replica.run("REPLCONF", "listening-port", "7002")
        _ = replica.bytes([Array("PSYNC".utf8), Array("?".utf8), Array("-1".utf8)])
        r.server.finishBackgroundSave()
        #expect(r.run("FAILOVER", "TIMEOUT", "0") == .error("ERR FAILOVER timeout must be greater than 0"))
        #expect(r.run("FAILOVER", "TO", "127.0.0.1", "x") == .error("ERR value is not an integer or out of range"))
        #expect(
            r.run("FAILOVER", "TO", "127.0.0.1", "7002", "FORCE")
                == .error("ERR FAILOVER with force option requires both a timeout and target HOST and IP."))
        #expect(
            r.run("FAILOVER", "TO", "127.0.0.1", "7003")
                == .error("ERR FAILOVER target HOST and PORT is not a replica."))
        #expect(r.run("FAILOVER", "BOGUS") == .error("ERR syntax error"))
        r.run("SET", "k", "v")
        #expect(r.run("FAILOVER", "TO", "127.0.0.1", "7002") == .ok)
        #expect(r.run("FAILOVER") == .error("ERR FAILOVER already in progress."))
        #expect(r.run("REPLICAOF", "h", "1") == .error("ERR REPLICAOF not allowed while failing over."))
        #expect(r.server.failoverState == .waitingForSync)
        // Not caught up yet: still waiting.
        r.server.updateFailoverStatus()
        #expect(r.server.failoverState == .waitingForSync && r.server.primaryLink == nil)
        guard let primary = r.server.replication else { return }
        _ = replica.bytes([Array("REPLCONF".utf8), Array("ACK".utf8), Array(String(primary.offset).utf8)])
        r.server.updateFailoverStatus()
        #expect(r.server.failoverState == .inProgress)
        #expect(r.server.primaryLink?.port == 7002 && r.server.primaryLink?.failoverRequest == true)
        // Once the target answered, later reconnections ask a plain PSYNC.
        r.server.failoverPsyncAnswered()
        #expect(r.server.failoverState == .none && r.server.primaryLink?.failoverRequest == false)
        r.server.failoverState = .inProgress
        #expect(r.run("FAILOVER", "ABORT") == .ok)
        #expect(r.server.failoverState == .none && r.server.primaryLink == nil)
    }

    /// The replica end of PSYNC … FAILOVER: refused by a primary, and by a replica of
    /// another history; accepted it promotes the replica, which continues the stream.
    @Test func psyncFailoverPromotesTheReplica() {
        let r = CommandRunner()
        let other = r.client()
        #expect(
            other.run("PSYNC", "abc", "1", "FAILOVER") == .error("ERR PSYNC FAILOVER can't be sent to a master."))
        _ = r.server.follow(host: "127.0.0.1", port: 7004)
        guard let link = r.server.primaryLink else { return }
        link.replicationID = String(repeating: "a", count: 40)
        link.offset = 100
        #expect(
            other.run("PSYNC", "bbb", "101", "FAILOVER") == .error("ERR PSYNC FAILOVER replid must match my replid."))
        let reply = String(
            decoding: other.bytes(["PSYNC", link.replicationID, "101", "FAILOVER"].map { Array($0.utf8) }),
            as: UTF8.self
        )
        #expect(r.server.primaryLink == nil)
        #expect(reply.hasPrefix("+CONTINUE "))
        #expect(r.server.stats.partialSyncsAccepted == 1)
    }

    /// A writable replica expires the keys its own clients gave a TTL (the primary sends no
    /// DELs for them).
    @Test func aWritableReplicaExpiresItsOwnKeys() {
        let r = CommandRunner()
        _ = r.server.follow(host: "127.0.0.1", port: 7005)
        r.run("CONFIG", "SET", "replica-read-only", "no")
        #expect(r.run("SET", "own", "1", "PX", "100") == .ok)
        #expect(r.run("SET", "plain", "1") == .ok)
        r.now += 1000
        r.server.expireReplicaOwnKeys()
        #expect(r.server.keyspace.databases[0].table.find(Array("own".utf8)) == nil)
        #expect(r.server.keyspace.databases[0].table.find(Array("plain".utf8)) != nil)
    }

    /// A write on a writable replica replaces a key whose time has passed (held for the
    /// primary's DEL) instead of adding a second entry beside it.
    @Test func aWriteReplacesAHeldExpiredKey() {
        let r = CommandRunner()
        _ = r.server.follow(host: "127.0.0.1", port: 7006)
        r.run("CONFIG", "SET", "replica-read-only", "no")
        r.server.keyspace.databases[0].table.insertNew(Array("k".utf8), value: .int(5), expireAt: r.now - 1)
        #expect(r.run("EXISTS", "k") == .integer(0))
        #expect(r.run("DBSIZE") == .integer(1))  // held for the primary's DEL
        #expect(r.run("INCR", "k") == .integer(1))
        #expect(r.run("TTL", "k") == .integer(-1))
        #expect(r.run("DBSIZE") == .integer(1))
    }

    /// The snapshot's end mark is found wherever it lies, including a near-miss before it.
    @Test func theEndMarkSearch() {
        let mark = Array("abcd".utf8)
        #expect(PrimaryLink.find(mark, in: Array("xxabcabcdyy".utf8), from: 0) == 5)
        #expect(PrimaryLink.find(mark, in: Array("abcd".utf8), from: 0) == 0)
        #expect(PrimaryLink.find(mark, in: Array("xxabcd".utf8), from: 3) == nil)
        #expect(PrimaryLink.find(mark, in: Array("xxabc".utf8), from: 0) == nil)
        #expect(PrimaryLink.find(mark, in: Array("ab".utf8), from: 0) == nil)
    }

    @Test func theBacklogKeepsItsSizeAndOffsets() {
        let primary = ReplicationPrimary(backlogSize: 16 * 1024)
        let command = Array(repeating: UInt8(ascii: "x"), count: 1000)[...]
        for _ in 0..<100 { primary.append(db: 0, command: command) }
        #expect(primary.offset == 100_000 + Int64("*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n".utf8.count))
        #expect(primary.backlogLength == 16 * 1024)
        #expect(primary.backlogBytes(from: 1) == nil)  // long gone
        #expect(primary.backlogBytes(from: primary.offset + 1) == [])  // up to date
        #expect(primary.backlogBytes(from: primary.offset - 999) == Array(command))
        #expect(primary.backlogBytes(from: primary.offset + 2) == nil)  // the future
    }

    // MARK: The replica side

    func command(_ args: String...) -> [UInt8] {
        var out = Array("*\(args.count)\r\n".utf8)
        for a in args { out += Array("$\(a.utf8.count)\r\n\(a)\r\n".utf8) }
        return out
    }

    /// The handshake as Redis's replica sends it, a diskless full sync with stream bytes
    /// right behind the snapshot's mark, then a partial resync after the link drops.
    @Test func aReplicaHandshakesSyncsAndResumes() {
        let config = Config()
        try! config.set([("masteruser", "repl"), ("masterauth", "pw"), ("port", "7000")])
        let server = ServerState(config: config, commands: .standard())
        let link = PrimaryLink(host: "h", port: 6380)
        server.prepareConnection(link)
        #expect(link.connected(now: 0) == command("PING"))
        guard case .send(let pipelined) = link.receive(Array("-NOAUTH Authentication required.\r\n".utf8), now: 1).last
        else {
            Issue.record("no handshake after PING")
            return
        }
        #expect(
            pipelined
                == command("AUTH", "repl", "pw") + command("REPLCONF", "listening-port", "7000")
                + command("REPLCONF", "capa", "eof", "capa", "psync2"))
        var events = link.receive(Array("+OK\r\n+OK\r\n".utf8), now: 2)
        #expect(events.isEmpty)
        events = link.receive(Array("+OK\r\n".utf8), now: 3)
        guard case .send(let psync) = events.last else {
            Issue.record("no PSYNC")
            return
        }
        #expect(psync == command("PSYNC", "?", "-1"))
        let id = String(repeating: "a", count: 40)
        let mark = String(repeating: "m", count: 40)
        events = link.receive(Array("\n+FULLRESYNC \(id) 100\r\n$EOF:\(mark)\r\nSNAP".utf8), now: 4)
        #expect(link.state == .transfer)
        events = link.receive(Array("SHOT\(mark)*1\r\n$4\r\nPING\r\n".utf8), now: 5)
        guard events.count >= 2, case .fullSync(let syncedID, let offset, let snapshot) = events[0],
            case .stream(let rest) = events[1]
        else {
            Issue.record("no full sync: \(events)")
            return
        }
        #expect(syncedID == id && offset == 100 && snapshot == Array("SNAPSHOT".utf8))
        #expect(rest == Array("*1\r\n$4\r\nPING\r\n".utf8))
        #expect(link.state == .connected && link.roleState == "connected")
        link.offset += Int64(rest.count)
        #expect(link.ack == command("REPLCONF", "ACK", "114"))
        // The link drops; the next handshake asks to continue after offset 114.
        link.lost(now: 6)
        #expect(link.state == .connect)
        link.connecting()
        _ = link.connected(now: 7)
        _ = link.receive(Array("+PONG\r\n+OK\r\n+OK\r\n".utf8), now: 8)
        events = link.receive(Array("+OK\r\n".utf8), now: 9)
        guard case .send(let again) = events.last else {
            Issue.record("no second PSYNC")
            return
        }
        #expect(again == command("PSYNC", id, "115"))
        events = link.receive(Array("+CONTINUE \(id)\r\n*1\r\n$4\r\nPING\r\n".utf8), now: 10)
        #expect(link.state == .connected)
        guard events.count >= 2, case .partialSync = events[events.count - 2], case .stream = events.last else {
            Issue.record("no partial sync: \(events)")
            return
        }
        // A PSYNC the primary refuses fails the link (the cron retries).
        link.lost(now: 11)
        link.connecting()
        _ = link.connected(now: 12)
        _ = link.receive(Array("+PONG\r\n+OK\r\n+OK\r\n+OK\r\n".utf8), now: 13)
        guard case .failure(let why) = link.receive(Array("-LOADING busy\r\n".utf8), now: 14).last else {
            Issue.record("no failure")
            return
        }
        #expect(why.hasPrefix("Master is currently unable to PSYNC"))
    }

    /// A replica refuses writes but for its primary's, and answers ROLE and INFO as one.
    @Test func aReplicaIsReadOnlyButForItsPrimary() {
        let r = CommandRunner()
        #expect(r.run("REPLICAOF", "127.0.0.1", "1") == .ok)
        #expect(r.run("SET", "k", "v") == .error("READONLY You can't write against a read only replica."))
        #expect(r.run("GET", "k") == .null)
        let primary = r.client()
        primary.session.isPrimaryClient = true
        #expect(primary.run("SET", "k", "v") == .ok)
        #expect(r.run("GET", "k") == .bulk(Array("v".utf8)))
        guard case .array(let role) = r.run("ROLE") else {
            Issue.record("ROLE")
            return
        }
        #expect(role.prefix(2) == [.bulk(Array("slave".utf8)), .bulk(Array("127.0.0.1".utf8))])
        #expect(
            r.run("CONFIG", "GET", "replicaof")
                == .array([.bulk(Array("replicaof".utf8)), .bulk(Array("127.0.0.1 1".utf8))]))
        #expect(r.run("REPLICAOF", "NO", "ONE") == .ok)
        #expect(r.run("SET", "k", "w") == .ok)
    }

    /// Where a replica keeps back the open transaction at the end of its primary's stream:
    /// well-formed streams, and malformed ones (huge, negative or non-numeric lengths) that
    /// must end the search instead of trapping the replica.
    @Test func openTransactionStartSurvivesAnyStream() {
        func at(_ s: String) -> Int { PrimaryLink.openTransactionStart(in: Array(s.utf8)) }
        #expect(at("*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n") == 0)
        #expect(at("*1\r\n$4\r\nPING\r\n*1\r\n$5\r\nmulti\r\n") == 14)
        #expect(at("*1\r\n$4\r\nPING\r\n") == 0)
        for bad in [
            "*99999999999999999999999\r\n", "*-1\r\n$5\r\nMULTI\r\n", "*1\r\n$-7\r\nMULTI\r\n",
            "*1\r\n$99999999999999999999\r\nMULTI\r\n", "*1\r\n$1x\r\nMULTI\r\n", "*\r\n", "*1\r\n$",
        ] {
            #expect(at(bad) == 0)
        }
    }
}
