import CommandTestSupport
import DataStore
import RESP
import Testing

@testable import Commands
@testable import Server

@Suite struct ListCommandTests {
    @Test func pushPopAndRanges() {
        let r = CommandRunner()
        #expect(r.run("RPUSH", "q", "a", "b", "c") == .integer(3))
        #expect(r.run("LPUSH", "q", "z") == .integer(4))
        #expect(r.run("LRANGE", "q", "0", "-1") == .array([.b("z"), .b("a"), .b("b"), .b("c")]))
        #expect(r.run("LPOP", "q") == .b("z"))
        #expect(r.run("RPOP", "q", "2") == .array([.b("c"), .b("b")]))
        #expect(r.run("LPOP", "q") == .b("a"))
        // The empty list is gone.
        #expect(r.run("EXISTS", "q") == .integer(0))
        #expect(r.run("LPOP", "q", "2") == .nullArray)
    }

    @Test func wrongTypeBothWays() {
        let r = CommandRunner()
        r.run("SET", "s", "v")
        #expect(r.run("LPUSH", "s", "x") == .error(CommandError.wrongType.message))
        r.run("RPUSH", "l", "x")
        #expect(r.run("GET", "l") == .error(CommandError.wrongType.message))
        #expect(r.run("TYPE", "l") == .simple("list"))
    }

    // Redis 7.2+ (and so 7.4) keeps small lists as a single listpack; 7.0 said "quicklist".
    @Test func encodingFollowsRedis74() {
        let r = CommandRunner()
        r.run("RPUSH", "l", "a", "b")
        #expect(r.run("OBJECT", "ENCODING", "l") == .b("listpack"))
        let big = String(repeating: "x", count: 5000)
        r.run("RPUSH", "l", big, big)
        #expect(r.run("OBJECT", "ENCODING", "l") == .b("quicklist"))
    }

    @Test func moveAndBlockingFreeVariants() {
        let r = CommandRunner()
        r.run("RPUSH", "src", "1", "2", "3")
        #expect(r.run("LMOVE", "src", "dst", "LEFT", "RIGHT") == .b("1"))
        #expect(r.run("RPOPLPUSH", "src", "dst") == .b("3"))
        #expect(r.run("LRANGE", "dst", "0", "-1") == .array([.b("3"), .b("1")]))
        #expect(
            r.run("LMPOP", "2", "nope", "dst", "LEFT", "COUNT", "5")
                == .array([.b("dst"), .array([.b("3"), .b("1")])]))
        #expect(r.run("LMPOP", "1", "dst", "LEFT") == .nullArray)
    }
}
