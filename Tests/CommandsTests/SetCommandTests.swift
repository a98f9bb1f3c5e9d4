import CommandTestSupport
import DataStore
import RESP
import Testing

@testable import Commands
@testable import Server

@Suite struct SetCommandTests {
    // Redis 7.2+ (so 7.4): intset → listpack (insertion order) → hashtable.
    @Test func encodingsAndOrder() {
        let r = CommandRunner()
        r.run("SADD", "s", "30", "10", "20")
        #expect(r.run("SMEMBERS", "s") == .array([.b("10"), .b("20"), .b("30")]))
        #expect(r.run("OBJECT", "ENCODING", "s") == .b("intset"))
        r.run("SADD", "s", "x")
        #expect(r.run("OBJECT", "ENCODING", "s") == .b("listpack"))
        #expect(r.run("SMEMBERS", "s") == .array([.b("10"), .b("20"), .b("30"), .b("x")]))
        r.run("SADD", "s", String(repeating: "y", count: 65))
        #expect(r.run("OBJECT", "ENCODING", "s") == .b("hashtable"))
    }

    @Test func algebra() {
        let r = CommandRunner()
        r.run("SADD", "a", "1", "2", "3")
        r.run("SADD", "b", "2", "3", "4")
        #expect(r.run("SINTER", "a", "b") == .array([.b("2"), .b("3")]))
        #expect(r.run("SDIFF", "a", "b") == .array([.b("1")]))
        #expect(r.run("SUNIONSTORE", "u", "a", "b") == .integer(4))
        #expect(r.run("SINTERCARD", "2", "a", "b", "LIMIT", "1") == .integer(1))
        #expect(r.run("SINTERSTORE", "none", "a", "missing") == .integer(0))
        #expect(r.run("EXISTS", "none") == .integer(0))
    }

    @Test func popDeletesTheEmptySet() {
        let r = CommandRunner()
        r.run("SADD", "s", "a", "b")
        guard case .array(let popped) = r.run("SPOP", "s", "5") else { Issue.record("not an array"); return }
        #expect(popped.count == 2)
        #expect(r.run("EXISTS", "s") == .integer(0))
        #expect(r.run("SPOP", "s", "-1") == .error("ERR value is out of range, must be positive"))
    }
}
