import CommandTestSupport
import RESP
import ServerConfig
import Testing

@testable import Commands
@testable import Server

/// The families tested mostly from Python before: CLIENT, SLOWLOG, LATENCY, client-side
/// caching, blocking commands, FUNCTION and MEMORY, in-process with several clients of one
/// server. Replies are redis-server 7.0.15's unless a test says 7.4.

func text(_ reply: Reply) -> String {
    switch reply {
    case .bulk(let b), .verbatim(_, let b): return String(decoding: b, as: UTF8.self)
    case .simple(let s), .error(let s): return s
    default: return ""
    }
}

@Suite struct ClientCommandTests {
    @Test func idNameAndInfo() {
        let r = CommandRunner()
        let other = r.client()
        guard case .integer(let id) = r.run("CLIENT", "ID"), case .integer(let otherID) = other.run("CLIENT", "ID")
        else {
            Issue.record("CLIENT ID is not an integer")
            return
        }
        #expect(otherID > id)
        #expect(r.run("CLIENT", "GETNAME") == .null)
        #expect(r.run("CLIENT", "SETNAME", "worker-1") == .ok)
        #expect(r.run("CLIENT", "GETNAME") == .b("worker-1"))
        #expect(
            r.run("CLIENT", "SETNAME", "has space")
                == .error("ERR Client names cannot contain spaces, newlines or special characters."))
        let info = text(r.run("CLIENT", "INFO"))
        #expect(info.hasPrefix("id=\(id) addr=127.0.0.1:50000 "))
        #expect(info.contains(" name=worker-1 ") && info.contains(" cmd=client|info "))
        // CLIENT LIST: one line per client, filtered by ID.
        let all = text(r.run("CLIENT", "LIST")).split(separator: "\n")
        #expect(all.count == 2)
        let mine = text(r.run("CLIENT", "LIST", "ID", String(otherID))).split(separator: "\n")
        #expect(mine.count == 1 && mine[0].hasPrefix("id=\(otherID) "))
        #expect(r.run("CLIENT", "LIST", "ID", "x") == .error("ERR Invalid client ID"))
        #expect(r.run("CLIENT", "LIST", "TYPE", "nosuch") == .error("ERR Unknown client type 'nosuch'"))
    }

    @Test func killByIDAndFilters() {
        let r = CommandRunner()
        let victim = r.client()
        guard case .integer(let id) = victim.run("CLIENT", "ID") else { return }
        var closed = false
        victim.session.closeHook = { closed = true }
        #expect(r.run("CLIENT", "KILL", "ID", "999999") == .integer(0))
        #expect(r.run("CLIENT", "KILL", "127.0.0.1:1") == .error("ERR No such client"))
        #expect(r.run("CLIENT", "KILL", "ID", String(id)) == .integer(1))
        #expect(closed)
        #expect(r.run("CLIENT", "KILL", "ID", "x") == .error("ERR client-id should be greater than 0"))
        #expect(r.run("CLIENT", "KILL", "NOSUCH", "x") == .error("ERR syntax error"))
    }

    @Test func replyOffAndSkip() {
        let r = CommandRunner()
        #expect(r.bytes("CLIENT", "REPLY", "OFF").isEmpty)
        #expect(r.bytes("SET", "k", "v").isEmpty)
        #expect(r.bytes("CLIENT", "REPLY", "ON") == Array("+OK\r\n".utf8))
        #expect(r.bytes("CLIENT", "REPLY", "SKIP").isEmpty)
        #expect(r.bytes("GET", "k").isEmpty)  // skipped
        #expect(r.bytes("GET", "k") == Array("$1\r\nv\r\n".utf8))
        #expect(r.run("CLIENT", "REPLY", "MAYBE") == .error("ERR syntax error"))
    }

    @Test func noEvictAndNoTouchAreFlags() {
        let r = CommandRunner()
        #expect(r.run("CLIENT", "NO-EVICT", "ON") == .ok)
        #expect(text(r.run("CLIENT", "INFO")).contains(" flags=e "))
        #expect(r.run("CLIENT", "NO-EVICT", "maybe") == .error("ERR syntax error"))
        #expect(r.run("CLIENT", "NO-EVICT", "OFF") == .ok)
        // Redis 7.2: CLIENT NO-TOUCH leaves the keys' access time alone.
        #expect(r.run("CLIENT", "NO-TOUCH", "ON") == .ok)
        #expect(text(r.run("CLIENT", "INFO")).contains(" flags=T "))
    }
}

@Suite struct SlowlogTests {
    @Test func everyCommandSlowerThanZeroIsLogged() {
        let config = Config()
        try! config.set([("slowlog-log-slower-than", "0")])
        let r = CommandRunner(config: config)
        r.run("SLOWLOG", "RESET")
        r.run("SET", "k", "v")
        r.run("GET", "k")
        // A command is logged after it ran: the RESET itself is the first entry.
        guard case .integer(let n) = r.run("SLOWLOG", "LEN") else { return }
        #expect(n == 3)
        guard case .array(let entries) = r.run("SLOWLOG", "GET", "2") else {
            Issue.record("SLOWLOG GET is not an array")
            return
        }
        #expect(entries.count == 2)
        // Newest first: SLOWLOG LEN, then GET k.
        guard case .array(let newest) = entries[0], case .array(let second) = entries[1] else { return }
        #expect(newest.count == 6)
        #expect(newest[3] == .array([.b("SLOWLOG"), .b("LEN")]))
        #expect(second[3] == .array([.b("GET"), .b("k")]))
        #expect(newest[4] == .b("127.0.0.1:50000"))
        #expect(r.run("SLOWLOG", "GET", "-2") == .error("ERR count should be greater than or equal to -1"))
        #expect(r.run("SLOWLOG", "RESET") == .ok)
        #expect(r.run("SLOWLOG", "LEN") == .integer(1))
    }

    @Test func longArgumentsAreTrimmedAsRedisDoes() {
        let config = Config()
        try! config.set([("slowlog-log-slower-than", "0")])
        let r = CommandRunner(config: config)
        r.run("SLOWLOG", "RESET")
        var args = ["DEL"]
        args += (1...40).map { "k\($0)" }
        r.run(args.map { Array($0.utf8) })
        r.run("SET", "big", String(repeating: "x", count: 200))
        guard case .array(let entries) = r.run("SLOWLOG", "GET", "2"), entries.count == 2,
            case .array(let set) = entries[0], case .array(let del) = entries[1],
            case .array(let delArgs) = del[3], case .array(let setArgs) = set[3]
        else {
            Issue.record("unexpected SLOWLOG GET shape")
            return
        }
        // 32 arguments at most, the last saying how many more there were.
        #expect(delArgs.count == 32)
        #expect(delArgs[31] == .b("... (10 more arguments)"))
        // Arguments past 128 bytes are cut, saying how many bytes more.
        #expect(setArgs[2] == .b(String(repeating: "x", count: 128) + "... (72 more bytes)"))
    }

    @Test func disabledWithNegativeThreshold() {
        let config = Config()
        try! config.set([("slowlog-log-slower-than", "-1")])
        let r = CommandRunner(config: config)
        r.run("SET", "k", "v")
        #expect(r.run("SLOWLOG", "LEN") == .integer(0))
    }
}

@Suite struct LatencyTests {
    @Test func histogramCountsCallsPerCommandUntilReset() {
        let r = CommandRunner()
        r.run("HELLO", "3")
        r.run("SET", "a", "1")
        r.run("SET", "b", "2")
        r.run("GET", "a")
        guard case .map(let fields) = r.run("LATENCY", "HISTOGRAM", "set"), fields.count == 2,
            case .map(let set) = fields[1]
        else {
            Issue.record("LATENCY HISTOGRAM set is not a map of one command")
            return
        }
        #expect(fields[0] == .b("set"))
        #expect(set[0] == .b("calls") && set[1] == .integer(2))
        #expect(set[2] == .b("histogram_usec"))
        // Every command called so far when none is named; unknown names are skipped.
        guard case .map(let everything) = r.run("LATENCY", "HISTOGRAM") else { return }
        #expect(everything.contains(.b("get")) && everything.contains(.b("set")))
        #expect(r.run("LATENCY", "HISTOGRAM", "nosuch") == .map([]))
        r.run("CONFIG", "RESETSTAT")
        #expect(r.run("LATENCY", "HISTOGRAM", "set") == .map([]))
    }

    @Test func eventsAndReset() {
        let r = CommandRunner()
        #expect(r.run("LATENCY", "LATEST") == .array([]))
        #expect(r.run("LATENCY", "HISTORY", "command") == .array([]))
        #expect(r.run("LATENCY", "RESET") == .integer(0))
        r.run("CONFIG", "SET", "latency-monitor-threshold", "100")
        r.server.recordLatencyEvent("command", micros: 250_000)
        guard case .array(let latest) = r.run("LATENCY", "LATEST"), latest.count == 1,
            case .array(let event) = latest[0]
        else {
            Issue.record("LATENCY LATEST did not list the event")
            return
        }
        #expect(event == [.b("command"), .integer(1_700_000_000), .integer(250), .integer(250)])
        #expect(r.run("LATENCY", "RESET", "nosuch") == .integer(0))
        #expect(r.run("LATENCY", "RESET", "command") == .integer(1))
        #expect(r.run("LATENCY", "LATEST") == .array([]))
        #expect(
            r.run("LATENCY", "NOSUCH")
                == .error(
                    "ERR unknown subcommand 'NOSUCH'. Try LATENCY HELP."))
    }
}

@Suite struct TrackingTests {
    @Test func aReadKeyIsInvalidatedWhenAnotherClientWritesIt() {
        let r = CommandRunner()
        let reader = r.client()
        let writer = r.client()
        #expect(reader.run("HELLO", "3") != .error(""))
        #expect(reader.run("CLIENT", "TRACKING", "ON") == .ok)
        writer.run("SET", "k", "1")
        reader.run("GET", "k")
        #expect(reader.takeDelivered().isEmpty)
        writer.run("SET", "k", "2")
        #expect(reader.takeDelivered() == [.push([.b("invalidate"), .array([.b("k")])])])
        // Once invalidated, the key is forgotten until read again.
        writer.run("SET", "k", "3")
        #expect(reader.takeDelivered().isEmpty)
        // FLUSHALL invalidates everything: a null key list.
        reader.run("GET", "k")
        writer.run("FLUSHALL")
        #expect(reader.takeDelivered() == [.push([.b("invalidate"), .null])])
    }

    @Test func noloopAndBroadcastPrefixes() {
        let r = CommandRunner()
        let client = r.client()
        client.run("HELLO", "3")
        #expect(client.run("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "user:", "NOLOOP") == .ok)
        client.run("SET", "user:1", "x")  // its own write: NOLOOP
        r.run("SET", "order:1", "x")  // another prefix
        #expect(client.takeDelivered().isEmpty)
        r.run("SET", "user:2", "x")
        #expect(client.takeDelivered() == [.push([.b("invalidate"), .array([.b("user:2")])])])
        #expect(
            client.run("CLIENT", "TRACKING", "ON", "PREFIX", "a")
                == .error("ERR PREFIX option requires BCAST mode to be enabled"))
        guard case .map(let info) = client.run("CLIENT", "TRACKINGINFO") else { return }
        #expect(info[0] == .b("flags") && info[1] == .set([.b("on"), .b("bcast"), .b("noloop")]))
    }
}

@Suite struct BlockingCommandTests {
    @Test func anAvailableElementIsServedAtOnce() {
        let r = CommandRunner()
        r.run("RPUSH", "q", "a", "b")
        #expect(r.run("BLPOP", "empty", "q", "0") == .array([.b("q"), .b("a")]))
        #expect(r.run("BRPOP", "q", "1") == .array([.b("q"), .b("b")]))
        #expect(r.context.blockRequest == nil)
    }

    @Test func anEmptyKeyBlocksAndAWriteMakesItReady() {
        let r = CommandRunner()
        let waiter = r.client()
        #expect(waiter.bytes([Array("BLPOP".utf8), Array("q".utf8), Array("0.5".utf8)]).isEmpty)
        guard let request = waiter.context.blockRequest else {
            Issue.record("BLPOP on an empty list did not block")
            return
        }
        #expect(request.keys == [Array("q".utf8)])
        // The runtime counts blocked clients; with one, a push marks its key ready.
        r.server.blockedClients = 1
        r.run("LPUSH", "q", "x")
        // Once, though the push both added and grew the list.
        #expect(r.server.readyKeys.keys.map { $0.key } == [Array("q".utf8)])
    }

    @Test func timeoutsAndTransactions() {
        let r = CommandRunner()
        #expect(r.run("BLPOP", "q", "-1") == .error("ERR timeout is negative"))
        #expect(r.run("BLPOP", "q", "x") == .error("ERR timeout is not a float or out of range"))
        // Inside MULTI a blocking command does not wait: an empty key answers null.
        r.run("MULTI")
        r.run("BLPOP", "q", "0")
        #expect(r.run("EXEC") == .array([.nullArray]))
    }
}

@Suite struct FunctionCommandTests {
    static let library = """
        #!lua name=mylib
        redis.register_function('hello', function(keys, args) return 'hi ' .. args[1] end)
        redis.register_function{function_name='ro', callback=function() return 1 end, flags={'no-writes'}}
        """

    @Test func loadCallListDeleteAndFlush() {
        let r = CommandRunner()
        #expect(r.run("FUNCTION", "LOAD", Self.library) == .b("mylib"))
        #expect(
            r.run("FUNCTION", "LOAD", Self.library) == .error("ERR Library 'mylib' already exists"))
        #expect(r.run("FCALL", "hello", "0", "there") == .b("hi there"))
        #expect(r.run("FCALL_RO", "ro", "0") == .integer(1))
        #expect(
            r.run("FCALL_RO", "hello", "0", "x")
                == .error("ERR Can not execute a script with write flag using *_ro command."))
        #expect(r.run("FCALL", "nosuch", "0") == .error("ERR Function not found"))
        guard case .array(let libraries) = r.run("FUNCTION", "LIST"), libraries.count == 1,
            case .array(let lib) = libraries[0]
        else {
            Issue.record("FUNCTION LIST did not list the library")
            return
        }
        #expect(lib[0] == .b("library_name") && lib[1] == .b("mylib"))
        #expect(r.run("FUNCTION", "DELETE", "nosuch") == .error("ERR Library not found"))
        #expect(r.run("FUNCTION", "DELETE", "mylib") == .ok)
        #expect(r.run("FUNCTION", "LIST") == .array([]))
        r.run("FUNCTION", "LOAD", Self.library)
        #expect(r.run("FUNCTION", "FLUSH", "ASYNC") == .ok)
        #expect(r.run("FCALL", "hello", "0", "x") == .error("ERR Function not found"))
    }

    @Test func dumpAndRestoreWithPolicies() {
        let r = CommandRunner()
        r.run("FUNCTION", "LOAD", Self.library)
        guard case .bulk(let dump) = r.run("FUNCTION", "DUMP") else {
            Issue.record("FUNCTION DUMP is not a bulk string")
            return
        }
        r.run("FUNCTION", "FLUSH")
        #expect(r.run([Array("FUNCTION".utf8), Array("RESTORE".utf8), dump]) == .ok)
        #expect(r.run("FCALL", "hello", "0", "again") == .b("hi again"))
        // APPEND (the default) refuses a library that exists; REPLACE takes it.
        #expect(
            r.run([Array("FUNCTION".utf8), Array("RESTORE".utf8), dump])
                == .error("ERR Library mylib already exists"))
        #expect(r.run([Array("FUNCTION".utf8), Array("RESTORE".utf8), dump, Array("REPLACE".utf8)]) == .ok)
        #expect(
            r.run([Array("FUNCTION".utf8), Array("RESTORE".utf8), dump, Array("NOSUCH".utf8)])
                == .error("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE."))
        #expect(
            r.run("FUNCTION", "RESTORE", "garbage") == .error("ERR DUMP payload version or checksum are wrong"))
    }
}

@Suite struct MemoryCommandTests {
    @Test func usageGrowsWithTheValue() {
        let r = CommandRunner()
        r.run("SET", "small", "x")
        r.run("SET", "large", String(repeating: "x", count: 10_000))
        guard case .integer(let small) = r.run("MEMORY", "USAGE", "small"),
            case .integer(let large) = r.run("MEMORY", "USAGE", "large")
        else {
            Issue.record("MEMORY USAGE is not an integer")
            return
        }
        #expect(small > 0 && small < 100)
        #expect(large > 10_000)
        #expect(r.run("MEMORY", "USAGE", "nosuch") == .null)
        #expect(
            r.run("MEMORY", "USAGE", "small", "SAMPLES", "x") == .error("ERR value is not an integer or out of range"))
        #expect(r.run("MEMORY", "USAGE", "small", "NOSUCH", "1") == .error("ERR syntax error"))
    }

    @Test func statsDoctorAndPurge() {
        let r = CommandRunner()
        r.run("SET", "k", "v")
        r.run("HELLO", "3")
        guard case .map(let stats) = r.run("MEMORY", "STATS") else {
            Issue.record("MEMORY STATS is not a map")
            return
        }
        #expect(stats.contains(.b("peak.allocated")) && stats.contains(.b("keys.count")))
        if let i = stats.firstIndex(of: .b("keys.count")) { #expect(stats[i + 1] == .integer(1)) }
        #expect(text(r.run("MEMORY", "DOCTOR")).contains("Sam"))
        #expect(r.run("MEMORY", "PURGE") == .ok)
        #expect(r.run("MEMORY", "NOSUCH") == .error("ERR unknown subcommand 'NOSUCH'. Try MEMORY HELP."))
    }
}
