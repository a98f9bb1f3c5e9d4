import CommandTestSupport
import DataStore
import RESP
import Testing

@testable import Commands
@testable import Server

/// Lua scripts through the command runner: Redis's conversion rules both ways, the redis.*
/// library, the sandbox, and the script cache.
@Suite struct ScriptingCommandTests {
    static func b(_ s: String) -> Reply { .bulk(Array(s.utf8)) }

    @Test func luaValuesBecomeReplies() {
        let r = CommandRunner()
        #expect(r.run("EVAL", "return 3.99", "0") == .integer(3))  // numbers truncate
        #expect(
            r.run("EVAL", "return {1, 'a', {2}, nil, 5}", "0")
                == .array([.integer(1), Self.b("a"), .array([.integer(2)])]))
        #expect(r.run("EVAL", "return true", "0") == .integer(1))
        #expect(r.run("EVAL", "return false", "0") == .null)
        #expect(r.run("EVAL", "return {ok='FINE'}", "0") == .simple("FINE"))
        #expect(r.run("EVAL", "return redis.error_reply('CODE msg')", "0") == .error("CODE msg"))
    }

    /// The state's allocator hands out pooled small blocks and moves blocks across its
    /// classes and to and from malloc as strings and tables grow and shrink: the values
    /// survive every move, and a reply larger than the kept buffer comes back whole.
    @Test func blocksMoveAcrossAllocatorClasses() {
        let r = CommandRunner()
        let script = """
            local t = {}
            for i = 1, 5000 do t[i] = string.rep('x', i % 300) .. i end
            local total = 0
            for i = 1, 5000 do total = total + #t[i] end
            local s = table.concat(t, ',', 1, 50)
            t = nil
            collectgarbage()
            local u = {}
            for i = 1, 20 do u[i] = i end
            return {total, #s, #u}
            """
        for _ in 0..<3 {
            // (The figures redis-server 7.0.15 returns for the same script.)
            #expect(r.run("EVAL", script, "0") == .array([.integer(756_593), .integer(1415), .integer(20)]))
        }
        let big = r.run("EVAL", "return string.rep('ab', 50000)", "0")
        #expect(big == .bulk(Array(String(repeating: "ab", count: 50000).utf8)))
        #expect(r.run("EVAL", "return 'small'", "0") == Self.b("small"))
    }

    @Test func repliesBecomeLuaValues() {
        let r = CommandRunner()
        r.run("SET", "k", "v")
        #expect(r.run("EVAL", "return type(redis.call('get', 'nokey'))", "0") == Self.b("boolean"))
        #expect(r.run("EVAL", "return redis.call('get', KEYS[1])", "1", "k") == Self.b("v"))
        #expect(r.run("EVAL", "return redis.call('set', 'x', ARGV[1])['ok']", "0", "1") == Self.b("OK"))
        #expect(
            r.run("EVAL", "return redis.pcall('incr', 'k')['err']", "0")
                == Self.b("ERR value is not an integer or out of range"))
        #expect(r.run("GET", "x") == Self.b("1"))
    }

    @Test func sandboxAndErrors() {
        let r = CommandRunner()
        guard case .error(let write) = r.run("EVAL", "x = 1", "0") else {
            Issue.record("global write allowed")
            return
        }
        #expect(write.hasPrefix("ERR user_script:1: Attempt to modify a readonly table script: "))
        guard case .error(let call) = r.run("EVAL", "return redis.call('nosuch')", "0") else {
            Issue.record("unknown command allowed")
            return
        }
        #expect(call.hasPrefix("ERR Unknown Redis command called from script script: "))
        #expect(call.hasSuffix(", on @user_script:1."))
    }

    @Test func scriptCache() {
        let r = CommandRunner()
        #expect(r.run("SCRIPT", "LOAD", "return 7") == Self.b("59b6ab2fbe0ee4b25733de0f62e6cda4899ef8e9"))
        #expect(r.run("EVALSHA", "59b6ab2fbe0ee4b25733de0f62e6cda4899ef8e9", "0") == .integer(7))
        #expect(r.run("SCRIPT", "EXISTS", "59b6ab2fbe0ee4b25733de0f62e6cda4899ef8e9", "00") == .array([.one, .zero]))
        #expect(r.run("SCRIPT", "FLUSH") == .ok)
        #expect(
            r.run("EVALSHA", "59b6ab2fbe0ee4b25733de0f62e6cda4899ef8e9", "0") == .error(CommandError.noScript.message))
    }
}
