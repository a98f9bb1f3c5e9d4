import CommandTestSupport
import DataStore
import RESP
import Testing

@testable import Commands
@testable import Server

@Suite struct HashCommandTests {
    @Test func sessionHash() {
        let r = CommandRunner()
        #expect(r.run("HSET", "session:1", "user", "ann", "step", "3") == .integer(2))
        #expect(r.run("HINCRBY", "session:1", "step", "1") == .integer(4))
        #expect(r.run("HGETALL", "session:1") == .array([.b("user"), .b("ann"), .b("step"), .b("4")]))
        #expect(r.run("HDEL", "session:1", "user", "step") == .integer(2))
        #expect(r.run("EXISTS", "session:1") == .integer(0))
    }

    @Test func encodingConvertsPastThresholds() {
        let r = CommandRunner()
        r.run("HSET", "h", "a", "1")
        #expect(r.run("OBJECT", "ENCODING", "h") == .b("listpack"))
        r.run("HSET", "h", "long", String(repeating: "x", count: 65))
        #expect(r.run("OBJECT", "ENCODING", "h") == .b("hashtable"))
        r.run("HDEL", "h", "long")
        #expect(r.run("OBJECT", "ENCODING", "h") == .b("hashtable"))  // Redis never converts back
    }

    @Test func errors() {
        let r = CommandRunner()
        r.run("HSET", "h", "s", "abc")
        #expect(r.run("HINCRBY", "h", "s", "1") == .error("ERR hash value is not an integer"))
        #expect(r.run("HINCRBYFLOAT", "h", "s", "1") == .error("ERR hash value is not a float"))
        #expect(r.run("HSET", "h", "a") == .error("ERR wrong number of arguments for 'hset' command"))
        r.run("SET", "str", "x")
        #expect(r.run("HGET", "str", "a") == .error(CommandError.wrongType.message))
    }

    @Test func randomFieldsFollowCountRules() {
        let r = CommandRunner()
        r.run("HSET", "h", "a", "1", "b", "2", "c", "3")
        guard case .array(let distinct) = r.run("HRANDFIELD", "h", "10") else { Issue.record("not an array"); return }
        #expect(Set(distinct).count == 3)
        guard case .array(let repeated) = r.run("HRANDFIELD", "h", "-10") else { Issue.record("not an array"); return }
        #expect(repeated.count == 10)
        #expect(r.run("HRANDFIELD", "h", "-9223372036854775807", "WITHVALUES") == .error("ERR value is out of range"))
    }
}
