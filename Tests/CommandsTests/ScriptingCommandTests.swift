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
