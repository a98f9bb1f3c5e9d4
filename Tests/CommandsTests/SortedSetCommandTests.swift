import CommandTestSupport
import DataStore
import RESP
import Testing

@testable import Commands
@testable import Server

@Suite struct SortedSetCommandTests {
    /// A sliding-window rate limiter as apps write it: ZADD now, drop old, count.
    @Test func slidingWindowRateLimiter() {
        let r = CommandRunner()
        for t in 0..<10 { r.run("ZADD", "rate:u1", "\(1000 + t * 100)", "req\(t)") }
        #expect(r.run("ZREMRANGEBYSCORE", "rate:u1", "-inf", "(1500") == .integer(5))
        #expect(r.run("ZCARD", "rate:u1") == .integer(5))
        #expect(r.run("ZRANGE", "rate:u1", "0", "0", "WITHSCORES") == .array([.b("req5"), .b("1500")]))
    }

    @Test func orderingByScoreThenMember() {
        let r = CommandRunner()
        r.run("ZADD", "z", "1", "b", "1", "a", "0", "c")
        #expect(r.run("ZRANGE", "z", "0", "-1") == .array([.b("c"), .b("a"), .b("b")]))
        #expect(r.run("ZRANK", "z", "b") == .integer(2))
        #expect(r.run("ZREVRANK", "z", "b", "WITHSCORE") == .array([.integer(0), .b("1")]))
    }

    @Test func flagsAndIncr() {
        let r = CommandRunner()
        #expect(r.run("ZADD", "z", "INCR", "2", "m") == .b("2"))
        #expect(r.run("ZADD", "z", "GT", "INCR", "-1", "m") == .null)
        #expect(r.run("ZINCRBY", "z", "0.5", "m") == .b("2.5"))
        #expect(r.run("ZADD", "z", "+inf", "m") == .integer(0))
        #expect(r.run("ZINCRBY", "z", "-inf", "m") == .error("ERR resulting score is not a number (NaN)"))
        #expect(r.run("ZPOPMIN", "z") == .array([.b("m"), .b("inf")]))
        #expect(r.run("EXISTS", "z") == .integer(0))
    }
}
