import CommandTestSupport
import DataStore
import RESP
import ServerConfig
import Testing

@testable import Commands
@testable import Server

extension Reply {
    static func b(_ s: String) -> Reply { .bulk(Array(s.utf8)) }
}

@Suite struct StringCommandTests {
    @Test func setAndGetWithOptions() {
        let r = CommandRunner()
        #expect(r.run("SET", "k", "v") == .ok)
        #expect(r.run("GET", "k") == .b("v"))
        #expect(r.run("SET", "k", "w", "NX") == .null)
        #expect(r.run("SET", "k", "w", "XX", "GET") == .b("v"))
        #expect(r.run("SET", "k", "x", "NX", "XX") == .error("ERR syntax error"))
        #expect(r.run("SET", "k", "x", "EX", "0") == .error("ERR invalid expire time in 'set' command"))
        #expect(r.run("SET", "k", "x", "EX", "1.5") == .error("ERR value is not an integer or out of range"))
        #expect(r.run("GET", "nope") == .null)
        #expect(r.run("GET") == .error("ERR wrong number of arguments for 'get' command"))
    }

    @Test func expiryWithAManualClock() {
        let r = CommandRunner()
        r.run("SET", "session:1", "{}", "EX", "86400")
        #expect(r.run("TTL", "session:1") == .integer(86400))
        r.now += 86_399_000
        #expect(r.run("TTL", "session:1") == .integer(1))
        #expect(r.run("GET", "session:1") == .b("{}"))
        r.now += 1_001
        #expect(r.run("GET", "session:1") == .null)
        #expect(r.run("TTL", "session:1") == .integer(-2))
        r.run("SET", "k", "v", "PX", "100")
        r.run("SET", "k", "v2", "KEEPTTL")
        #expect(r.run("PTTL", "k") == .integer(100))
        r.run("PERSIST", "k")
        #expect(r.run("TTL", "k") == .integer(-1))
    }

    @Test func counters() {
        let r = CommandRunner()
        #expect(r.run("INCR", "c") == .integer(1))
        #expect(r.run("INCRBY", "c", "41") == .integer(42))
        #expect(r.run("DECRBY", "c", "2") == .integer(40))
        #expect(r.run("GET", "c") == .b("40"))
        r.run("SET", "max", "9223372036854775807")
        #expect(r.run("INCR", "max") == .error("ERR increment or decrement would overflow"))
        r.run("SET", "s", "abc")
        #expect(r.run("INCR", "s") == .error("ERR value is not an integer or out of range"))
        #expect(r.run("INCRBYFLOAT", "f", "10.5") == .b("10.5"))
        #expect(r.run("INCRBYFLOAT", "f", "0.1") == .b("10.6"))
        #expect(r.run("INCRBYFLOAT", "f", "abc") == .error("ERR value is not a valid float"))
        #expect(r.run("OBJECT", "ENCODING", "c") == .b("int"))
    }

    @Test func rangesAndAppend() {
        let r = CommandRunner()
        #expect(r.run("APPEND", "a", "Hello") == .integer(5))
        #expect(r.run("APPEND", "a", " World") == .integer(11))
        #expect(r.run("GETRANGE", "a", "0", "4") == .b("Hello"))
        #expect(r.run("GETRANGE", "a", "-5", "-1") == .b("World"))
        #expect(r.run("SETRANGE", "a", "6", "Redis") == .integer(11))
        #expect(r.run("GET", "a") == .b("Hello Redis"))
        #expect(r.run("SETRANGE", "z", "3", "x") == .integer(4))
        #expect(r.run("GET", "z") == .bulk([0, 0, 0, UInt8(ascii: "x")]))
        #expect(r.run("OBJECT", "ENCODING", "a") == .b("raw"))
        #expect(r.run("STRLEN", "a") == .integer(11))
    }

    @Test func multiKey() {
        let r = CommandRunner()
        #expect(r.run("MSET", "a", "1", "b", "2") == .ok)
        #expect(r.run("MGET", "a", "b", "c") == .array([.b("1"), .b("2"), .null]))
        #expect(r.run("MSETNX", "b", "3", "c", "4") == .integer(0))
        #expect(r.run("MSET", "a", "1", "b") == .error("ERR wrong number of arguments for 'mset' command"))
        #expect(r.run("GETDEL", "a") == .b("1"))
        #expect(r.run("EXISTS", "a") == .integer(0))
    }

    @Test func bitmaps() {
        let r = CommandRunner()
        #expect(r.run("SETBIT", "bm", "7", "1") == .integer(0))
        #expect(r.run("GETBIT", "bm", "7") == .integer(1))
        #expect(r.run("BITCOUNT", "bm") == .integer(1))
        r.run("SET", "foo", "foobar")
        #expect(r.run("BITCOUNT", "foo", "1", "1") == .integer(6))
        #expect(r.run("BITPOS", "foo", "1") == .integer(1))
        #expect(
            r.run("BITFIELD", "bf", "SET", "i8", "0", "-100", "GET", "i8", "0")
                == .array([.integer(0), .integer(-100)]))
        #expect(
            r.run("BITFIELD", "bf", "OVERFLOW", "SAT", "INCRBY", "i8", "0", "-100") == .array([.integer(-128)]))
        #expect(r.run("BITOP", "NOT", "n", "foo") == .integer(6))
        #expect(r.run("SETBIT", "bm", "1", "2") == .error("ERR bit is not an integer or out of range"))
    }
}

@Suite struct KeyCommandTests {
    @Test func expireOptions() {
        let r = CommandRunner()
        r.run("SET", "k", "v")
        #expect(r.run("EXPIRE", "k", "100", "XX") == .integer(0))
        #expect(r.run("EXPIRE", "k", "100", "NX") == .integer(1))
        #expect(r.run("EXPIRE", "k", "50", "GT") == .integer(0))
        #expect(r.run("EXPIRE", "k", "50", "LT") == .integer(1))
        #expect(r.run("TTL", "k") == .integer(50))
        #expect(r.run("EXPIRETIME", "k") == .integer((r.now + 50_000) / 1000))
        #expect(
            r.run("EXPIRE", "k", "1", "NX", "GT")
                == .error("ERR NX and XX, GT or LT options at the same time are not compatible"))
        #expect(r.run("EXPIRE", "k", "-1") == .integer(1))
        #expect(r.run("EXISTS", "k") == .integer(0))
    }

    @Test func renameCopyMove() {
        let r = CommandRunner()
        r.run("SET", "a", "1", "EX", "100")
        #expect(r.run("RENAME", "a", "b") == .ok)
        #expect(r.run("TTL", "b") == .integer(100))
        #expect(r.run("RENAME", "a", "c") == .error("ERR no such key"))
        #expect(r.run("COPY", "b", "c") == .integer(1))
        #expect(r.run("COPY", "b", "c") == .integer(0))
        #expect(r.run("MOVE", "c", "1") == .integer(1))
        #expect(r.run("MOVE", "c", "0") == .error("ERR source and destination objects are the same"))
        r.run("SELECT", "1")
        #expect(r.run("GET", "c") == .b("1"))
        #expect(r.run("SWAPDB", "0", "1") == .ok)
        #expect(r.run("GET", "b") == .b("1"))
        #expect(r.run("DBSIZE") == .integer(1))
    }

    @Test func keysScanAndRandom() {
        let r = CommandRunner()
        for i in 0..<50 { r.run("SET", "user:\(i)", "x") }
        r.run("SET", "other", "x")
        guard case .array(let keys) = r.run("KEYS", "user:*") else { Issue.record("not an array"); return }
        #expect(keys.count == 50)
        var seen = Set<Reply>()
        var cursor = "0"
        repeat {
            guard case .array(let parts) = r.run("SCAN", cursor, "MATCH", "user:*", "COUNT", "7"),
                case .bulk(let next) = parts[0], case .array(let found) = parts[1]
            else { Issue.record("bad SCAN reply"); return }
            found.forEach { seen.insert($0) }
            cursor = String(decoding: next, as: UTF8.self)
        } while cursor != "0"
        #expect(seen.count == 50)
        #expect(r.run("RANDOMKEY") != .null)
        r.run("FLUSHALL")
        #expect(r.run("RANDOMKEY") == .null)
    }

    @Test func typeAndObject() {
        let r = CommandRunner()
        r.run("SET", "s", "hello")
        #expect(r.run("TYPE", "s") == .simple("string"))
        #expect(r.run("TYPE", "x") == .simple("none"))
        #expect(r.run("OBJECT", "ENCODING", "s") == .b("embstr"))
        #expect(r.run("OBJECT", "FREQ", "s") == .error(CommandError.lfuNotSelected.message))
        #expect(r.run("OBJECT", "IDLETIME", "s") == .integer(0))
    }
}

@Suite struct ConnectionAndServerTests {
    @Test func unknownCommandAndSubcommand() {
        let r = CommandRunner()
        #expect(r.run("FOO", "a", "b") == .error("ERR unknown command 'FOO', with args beginning with: 'a' 'b' "))
        #expect(r.run("CONFIG", "NOPE") == .error("ERR unknown subcommand 'NOPE'. Try CONFIG HELP."))
        #expect(r.run("CONFIG") == .error("ERR wrong number of arguments for 'config' command"))
        #expect(r.run("config", "get") == .error("ERR wrong number of arguments for 'config|get' command"))
    }

    @Test func renameCommandMovesOrRemovesAName() {
        let r = CommandRunner()
        guard case .integer(let count) = r.run("COMMAND", "COUNT") else { Issue.record("not an integer"); return }
        let table = r.context.server.commands
        #expect(table.rename("flushall", to: "wipe-all") == nil)
        #expect(table.rename("CONFIG", to: "") == nil)
        #expect(table.rename("nosuch", to: "x") == "No such command in rename-command")
        #expect(table.rename("get", to: "SET") == "Target command name already exists")
        #expect(table.rename("config|get", to: "x") == "No such command in rename-command")
        #expect(r.run("SET", "k", "v") == .ok)
        #expect(r.run("FLUSHALL") == .error("ERR unknown command 'FLUSHALL', with args beginning with: "))
        #expect(
            r.run("config", "get", "port")
                == .error("ERR unknown command 'config', with args beginning with: 'get' 'port' "))
        #expect(r.run("WIPE-ALL") == .ok)
        #expect(r.run("GET", "k") == .null)
        // The table answers to names only: COMMAND COUNT has one less (CONFIG gone).
        #expect(r.run("COMMAND", "COUNT") == .integer(count - 1))
        #expect(table.lookup("wipe-all")?.name == "flushall")
    }

    @Test func authRequired() {
        let config = Config()
        try! config.set([("requirepass", "pw")])
        let r = CommandRunner(config: config, authenticated: false)
        #expect(r.run("GET", "k") == .error("NOAUTH Authentication required."))
        #expect(r.run("AUTH", "bad") == .error("WRONGPASS invalid username-password pair or user is disabled."))
        #expect(r.run("AUTH", "pw") == .ok)
        #expect(r.run("GET", "k") == .null)
    }

    @Test func helloSwitchesProtocol() {
        let r = CommandRunner()
        guard case .map(let fields) = r.run("HELLO", "3") else { Issue.record("not a map"); return }
        #expect(fields.count == 14)
        #expect(fields[3] == .b(redisCompatibleVersion))
        #expect(r.context.session.protocolVersion == 3)
        #expect(r.bytes("GET", "nope") == Array("_\r\n".utf8))
        #expect(r.run("HELLO", "4") == .error("NOPROTO unsupported protocol version"))
    }

    @Test func selectAndConfig() {
        let r = CommandRunner()
        #expect(r.run("SELECT", "16") == .error("ERR DB index is out of range"))
        #expect(r.run("CONFIG", "SET", "maxmemory", "100mb", "maxmemory-policy", "allkeys-lru") == .ok)
        #expect(r.run("CONFIG", "GET", "maxmemory") == .array([.b("maxmemory"), .b("104857600")]))
        #expect(
            r.run("CONFIG", "SET", "maxmemory-policy", "nope")
                == .error(
                    "ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction"
                ))
        #expect(
            r.run("CONFIG", "SET", "databases", "4")
                == .error(
                    "ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config"))
    }

    @Test func infoAndCommandStats() {
        let r = CommandRunner()
        r.run("SET", "a", "1")
        r.run("GET", "a")
        guard case .bulk(let text) = r.run("INFO", "keyspace", "commandstats") else { Issue.record("not bulk"); return }
        let s = String(decoding: text, as: UTF8.self)
        #expect(s.contains("db0:keys=1,expires=0,avg_ttl=0"))
        #expect(s.contains("cmdstat_get:calls=1,"))
    }

    @Test func commandTableIsConsistent() {
        let r = CommandRunner()
        for command in r.server.commands.allCommands {
            #expect(command.handler != nil, "\(command.fullName) has no handler")
            #expect(command.row.name == command.fullName, "\(command.fullName) has another command's row")
            #expect(!command.row.docs.group.isEmpty, "\(command.fullName) has no docs")
            if command.flags.contains(.write) { #expect(!command.flags.contains(.readonly)) }
        }
        guard case .integer(let n) = r.run("COMMAND", "COUNT") else { Issue.record("not an integer"); return }
        #expect(Int(n) == r.server.commands.commands.count)
        #expect(r.run("COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2") == .array([.b("a"), .b("b")]))
    }

    /// The last-name cache tells apart names of one length that share their first or last
    /// four bytes, in any case, short and long, through both lookups.
    @Test func commandLookupCacheTellsNamesApart() {
        let table = CommandRunner().server.commands
        let names = [
            "GET", "get", "SET", "gEt", "hset", "HSETNX", "hsetnx", "LPUSHX", "RPUSHX", "lpushx", "HINCRBY", "ZINCRBY",
            "incr", "INCRBY", "DECRBY", "sadd", "SADD", "srem", "zadd", "ZREM", "ping", "PING", "echo", "x", "nosuch",
            "bitfield_ro", "BITFIELD", "bitcount", "getdel", "getex", "GETSET", "GET",
        ]
        for name in names + names.reversed() + names {
            let bytes = Array(name.utf8)
            let viaLookup = bytes.withUnsafeBytes { table.lookup($0) }
            let viaBatch = bytes.withUnsafeBytes { table.lookupUnretained($0) }?.takeUnretainedValue()
            let known = !["x", "nosuch"].contains(name)
            #expect(viaLookup?.fullName == (known ? name.lowercased() : nil), "\(name)")
            #expect(viaBatch === viaLookup, "\(name)")
        }
    }
}

@Suite struct ErrorCatalogueTests {
    // Texts checked against redis-server 7.0.15 replies (see tests/integration/test_differential.py).
    @Test func texts() {
        #expect(CommandError.wrongType.message == "WRONGTYPE Operation against a key holding the wrong kind of value")
        #expect(CommandError.syntax.message == "ERR syntax error")
        #expect(CommandError.notInteger.message == "ERR value is not an integer or out of range")
        #expect(CommandError.wrongArity("get").message == "ERR wrong number of arguments for 'get' command")
        #expect(CommandError.wrongType.code == "WRONGTYPE")
        #expect(
            CommandError.unknownCommand(Array("x".utf8), args: [Array(repeating: 97, count: 200)]).message.count
                < 200)
    }
}
