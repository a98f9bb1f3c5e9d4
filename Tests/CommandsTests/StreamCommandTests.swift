import CommandTestSupport
import DataStore
import Persistence
import RESP
import Testing

@testable import Commands
@testable import Server

/// Streams through the command runner: IDs from a manual clock, trimming, groups and their
/// pending entries, and the stream type in RDB files and DUMP payloads of every version.
@Suite struct StreamCommandTests {
    static func b(_ s: String) -> Reply { .bulk(Array(s.utf8)) }
    static func entry(_ id: String, _ fields: String...) -> Reply {
        .array([b(id), .array(fields.map { b($0) })])
    }

    @Test func idsComeFromTheClockAndNeverGoBack() {
        let r = CommandRunner()
        r.now = 1000
        #expect(r.run("XADD", "s", "*", "a", "1") == Self.b("1000-0"))
        #expect(r.run("XADD", "s", "*", "a", "2") == Self.b("1000-1"))
        r.now = 900  // the clock went back: the sequence goes on
        #expect(r.run("XADD", "s", "*", "a", "3") == Self.b("1000-2"))
        #expect(r.run("XADD", "s", "1000-*", "a", "4") == Self.b("1000-3"))
        #expect(r.run("XADD", "s", "2000-*", "a", "5") == Self.b("2000-0"))
        #expect(r.run("XADD", "s", "1500-0", "a", "6") == .error(CommandError.xaddIDTooSmall.message))
        #expect(r.run("XADD", "s", "0-0", "a", "6") == .error(CommandError.xaddIDZero.message))
        #expect(r.run("XADD", "s", "1-x", "a", "6") == .error(CommandError.invalidStreamID.message))
        #expect(r.run("XADD", "s", "*", "a") == .error("ERR wrong number of arguments for 'xadd' command"))
        #expect(r.run("XLEN", "s") == .integer(5))
        #expect(r.run("XRANGE", "s", "(1000-2", "+", "COUNT", "1") == .array([Self.entry("1000-3", "a", "4")]))
        #expect(r.run("XREVRANGE", "s", "+", "-", "COUNT", "1") == .array([Self.entry("2000-0", "a", "5")]))
        #expect(r.run("TYPE", "s") == .simple("stream"))
    }

    @Test func deletingEveryEntryKeepsTheKeyAndItsCounters() {
        let r = CommandRunner()
        r.run("XADD", "s", "1-0", "a", "1")
        r.run("XADD", "s", "2-0", "a", "2")
        #expect(r.run("XDEL", "s", "1-0", "2-0", "3-0") == .integer(2))
        #expect(r.run("EXISTS", "s") == .integer(1))
        #expect(r.run("XLEN", "s") == .integer(0))
        #expect(r.run("XADD", "s", "2-0", "a", "3") == .error(CommandError.xaddIDTooSmall.message))
        guard case .array(let info) = r.run("XINFO", "STREAM", "s") else {
            Issue.record("XINFO STREAM is not a map")
            return
        }
        #expect(info[7] == Self.b("2-0") && info[9] == Self.b("2-0") && info[11] == .integer(2))
    }

    @Test func approximateTrimsRemoveWholeNodesOnly() {
        let r = CommandRunner()
        for i in 1...250 { r.run("XADD", "s", "\(i)-0", "f", "v") }  // nodes of 100, 100, 50
        #expect(r.run("XTRIM", "s", "MAXLEN", "~", "180") == .integer(0))
        #expect(r.run("XTRIM", "s", "MAXLEN", "~", "150") == .integer(100))
        #expect(r.run("XTRIM", "s", "MAXLEN", "140") == .integer(10))
        #expect(r.run("XRANGE", "s", "-", "+", "COUNT", "1") == .array([Self.entry("111-0", "f", "v")]))
        #expect(r.run("XTRIM", "s", "MINID", "200") == .integer(89))
        #expect(r.run("XTRIM", "s", "MAXLEN", "1", "LIMIT", "5") == .error(CommandError.limitWithoutApprox.message))
    }

    @Test func groupsTrackPendingEntriesPerConsumer() {
        let r = CommandRunner()
        r.now = 10_000
        for i in 1...4 { r.run("XADD", "q", "\(i)-0", "n", "\(i)") }
        #expect(r.run("XGROUP", "CREATE", "q", "g", "0") == .ok)
        #expect(r.run("XGROUP", "CREATE", "q", "g", "0") == .error(CommandError.busyGroup.message))
        #expect(
            r.run("XREADGROUP", "GROUP", "g", "alice", "COUNT", "3", "STREAMS", "q", ">")
                == .array([
                    .array([
                        Self.b("q"),
                        .array([Self.entry("1-0", "n", "1"), Self.entry("2-0", "n", "2"), Self.entry("3-0", "n", "3")]),
                    ])
                ]))
        r.now += 5000
        #expect(
            r.run("XPENDING", "q", "g")
                == .array([
                    .integer(3), Self.b("1-0"), Self.b("3-0"), .array([.array([Self.b("alice"), Self.b("3")])]),
                ]))
        #expect(
            r.run("XPENDING", "q", "g", "IDLE", "4000", "-", "+", "1")
                == .array([.array([Self.b("1-0"), Self.b("alice"), .integer(5000), .integer(1)])]))
        #expect(r.run("XCLAIM", "q", "g", "bob", "4000", "2-0", "JUSTID") == .array([Self.b("2-0")]))
        #expect(r.run("XACK", "q", "g", "1-0", "2-0", "9-0") == .integer(2))
        #expect(
            r.run("XAUTOCLAIM", "q", "g", "bob", "0", "0", "COUNT", "10")
                == .array([Self.b("0-0"), .array([Self.entry("3-0", "n", "3")]), .array([])]))
        #expect(r.run("XGROUP", "DELCONSUMER", "q", "g", "bob") == .integer(1))
        #expect(r.run("XPENDING", "q", "g") == .array([.integer(0), .null, .null, .nullArray]))
        guard case .array(let groups) = r.run("XINFO", "GROUPS", "q"), case .array(let g) = groups.first else {
            Issue.record("XINFO GROUPS shape")
            return
        }
        // Three of four entries read: lag 1.
        #expect(g[7] == Self.b("3-0") && g[9] == .integer(3) && g[11] == .integer(1))
    }

    @Test func readsWithoutDataReturnNullOrBlock() {
        let r = CommandRunner()
        r.run("XADD", "s", "1-0", "a", "1")
        #expect(r.run("XREAD", "STREAMS", "s", "$") == .nullArray)
        #expect(
            r.run("XREAD", "STREAMS", "s", "0")
                == .array([.array([Self.b("s"), .array([Self.entry("1-0", "a", "1")])])]))
        #expect(
            r.run("XREAD", "STREAMS", "s", "t", "0") == .error(CommandError.unbalancedStreams("xread", "$").message))
        #expect(
            r.run("XREADGROUP", "GROUP", "nog", "c", "STREAMS", "s", ">")
                == .error(CommandError.noGroupInXreadgroup(Array("s".utf8), Array("nog".utf8)).message))
    }

    @Test func streamsSurviveRDBOfEveryVersionAndDump() throws {
        let r = CommandRunner()
        r.now = 50_000
        for i in 1...300 { r.run("XADD", "s", "\(i)-\(i % 4)", "f\(i % 2)", String(repeating: "x", count: i % 70)) }
        r.run("XDEL", "s", "5-1", "150-2")
        r.run("XGROUP", "CREATE", "s", "g", "0", "ENTRIESREAD", "0")
        r.run("XREADGROUP", "GROUP", "g", "c1", "COUNT", "7", "STREAMS", "s", ">")
        r.run("XGROUP", "CREATECONSUMER", "s", "g", "c2")
        r.run("XADD", "empty", "1-1", "a", "b")
        r.run("XDEL", "empty", "1-1")
        let before = r.run("DEBUG", "DIGEST")
        let full = r.run("XINFO", "STREAM", "s", "FULL", "COUNT", "0")
        for version in [9, 10, 11, 12] {
            var w = RDBWriter(version: version)
            w.dataset(r.server.keyspace, now: r.now)
            let back = CommandRunner(now: r.now)
            var reader = RDBReader(w.bytes)
            _ = try reader.load(into: back.server.keyspace, now: r.now)
            #expect(back.run("DEBUG", "DIGEST") == before, "version \(version)")
            if version >= 11 { #expect(back.run("XINFO", "STREAM", "s", "FULL", "COUNT", "0") == full) }
            #expect(back.run("XLEN", "empty") == .integer(0))
        }
        guard case .bulk(let payload) = r.run("DUMP", "s") else {
            Issue.record("DUMP")
            return
        }
        #expect(r.run([Array("RESTORE".utf8), Array("copy".utf8), Array("0".utf8), payload]) == .ok)
        #expect(r.run("XRANGE", "copy", "-", "+") == r.run("XRANGE", "s", "-", "+"))
        #expect(r.run("XINFO", "GROUPS", "copy") == r.run("XINFO", "GROUPS", "s"))
    }

    @Test func listpackSizesFollowRedis() {
        #expect(Listpack.integerSize(0) == 2 && Listpack.integerSize(127) == 2 && Listpack.integerSize(128) == 3)
        #expect(Listpack.integerSize(-4096) == 3 && Listpack.integerSize(4096) == 4)
        #expect(Listpack.elementSize(Array("abc".utf8)) == 5)
        #expect(Listpack.elementSize(Array(repeating: 120, count: 100)) == 103)
        var out: [UInt8] = []
        Listpack.appendElement(Array("12".utf8), to: &out)
        Listpack.appendElement(Array("hi".utf8), to: &out)
        #expect(out == [12, 1, 0x82, 104, 105, 3])
    }
}
