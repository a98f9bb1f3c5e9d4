import CommandTestSupport
import Persistence
import Testing

@testable import Commands
@testable import Server

/// The one path a write's effects take: every sink gets the same commands, transactions
/// whole, each sink naming databases for itself.
@Suite struct PropagationTests {
    final class Recorder: PropagationSink {
        var selected = -1
        var lines: [String] = []
        /// A replication stream's recorder (it takes PUBLISH), or the AOF's.
        let takesReplicaOnlyCommands: Bool

        init(replica: Bool = false) { takesReplicaOnlyCommands = replica }

        func append(db: Int, command: ArraySlice<UInt8>) {
            if db != selected {
                lines.append("SELECT \(db)")
                selected = db
            }
            var scanner = AOFCommandScanner(Array(command))
            while case .command(let args) = scanner.next() {
                lines.append(args.map { String(decoding: $0, as: UTF8.self) }.joined(separator: " "))
            }
        }
    }

    @Test func nothingIsEncodedWithoutASink() {
        let path = Propagation()
        path.record(db: 0, [Array("SET".utf8), Array("k".utf8), Array("v".utf8)])
        #expect(!path.isActive && path.pending.isEmpty && path.pendingCommands.isEmpty)
    }

    @Test func severalCommandsGoOutAsOneTransactionOnlyWhenClosed() {
        let path = Propagation()
        let sink = Recorder()
        path.add(sink)
        path.beginTransaction()
        path.record(db: 3, [Array("INCR".utf8), Array("a".utf8)])
        path.beginTransaction()
        path.record(db: 3, [Array("DEL".utf8), Array("b".utf8)])
        path.endTransaction()
        #expect(sink.lines.isEmpty)  // the outer transaction is still open
        path.record(db: 4, [Array("INCR".utf8), Array("c".utf8)])
        path.endTransaction()
        // SELECT comes before MULTI, EXEC stays in the last command's database (Redis 7.0.15's
        // propagatePendingCommands).
        #expect(sink.lines == ["SELECT 3", "MULTI", "INCR a", "DEL b", "SELECT 4", "INCR c", "EXEC"])
        path.beginTransaction()
        path.record(db: 4, [Array("INCR".utf8), Array("d".utf8)])
        path.endTransaction()
        #expect(sink.lines.suffix(1) == ["INCR d"])  // one command needs no MULTI
        path.endTransaction()  // unbalanced: ignored
        #expect(!path.inTransaction)
    }

    @Test func aFlushPropagatesEvenWhenNothingWasThere() {
        let r = CommandRunner()
        let sink = Recorder()
        r.server.propagation.add(sink)
        r.run("FLUSHDB")
        r.run("FLUSHDB")
        r.run("FLUSHALL")
        r.run("DEL", "nothing")  // a write that changed nothing is not logged
        #expect(sink.lines == ["SELECT 0", "FLUSHDB", "FLUSHDB", "FLUSHALL"])
    }

    /// PUBLISH reaches replicas (which publish it to their subscribers) but not the AOF;
    /// in a transaction each sink gets its share inside the MULTI/EXEC of the whole.
    @Test func publishGoesToReplicasOnly() {
        let r = CommandRunner()
        let aof = Recorder()
        let replica = Recorder(replica: true)
        r.server.propagation.add(aof)
        r.server.propagation.add(replica)
        r.run("PUBLISH", "ch", "hello")
        r.run("MULTI")
        r.run("SET", "k", "v")
        r.run("PUBLISH", "ch", "again")
        r.run("EXEC")
        #expect(aof.lines == ["SELECT 0", "MULTI", "SET k v", "EXEC"])
        #expect(
            replica.lines == ["SELECT 0", "PUBLISH ch hello", "MULTI", "SET k v", "PUBLISH ch again", "EXEC"])
    }

    @Test func everySinkSeesTheSameWritesOfAnExecAndAScript() {
        let r = CommandRunner()
        let first = Recorder()
        let second = Recorder()
        r.server.propagation.add(first)
        r.server.propagation.add(second)
        r.server.updateExpiryLogging()
        r.run("SELECT", "1")
        r.run("SET", "k", "v", "EX", "100")
        r.run("MULTI")
        r.run("INCR", "n")
        r.run("GET", "n")
        r.run("LPUSH", "l", "x")
        r.run("EXEC")
        r.run("EVAL", "redis.call('incr','n'); redis.call('incr','m'); return 1", "0")
        r.run("GET", "nothing")
        #expect(
            first.lines == [
                "SELECT 1", "SET k v PXAT \(r.now + 100_000)", "MULTI", "INCR n", "LPUSH l x", "EXEC",
                "MULTI", "incr n", "incr m", "EXEC",  // as the script called them
            ])
        #expect(second.lines == first.lines)
        r.server.propagation.remove(second)
        r.run("DEL", "k")
        #expect(first.lines.last == "DEL k" && second.lines.last == "EXEC")
        #expect(r.server.propagation.isActive)
    }
}
