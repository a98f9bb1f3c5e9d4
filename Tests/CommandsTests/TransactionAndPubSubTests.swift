import CommandTestSupport
import DataStore
import RESP
import ServerConfig
import Testing

@testable import Commands
@testable import Server

/// MULTI/WATCH as a state machine, Pub/Sub glob patterns, and notify-keyspace-events flags.
@Suite struct TransactionAndPubSubTests {
    @Test func multiQueuesAndExecRunsInOrder() {
        let r = CommandRunner()
        #expect(r.run("MULTI") == .ok)
        #expect(r.run("SET", "a", "1") == .simple("QUEUED"))
        #expect(r.run("INCR", "a") == .simple("QUEUED"))
        #expect(r.run("MULTI") == .error("ERR MULTI calls can not be nested"))
        #expect(r.run("EXEC") == .array([.ok, .integer(2)]))
        #expect(r.run("EXEC") == .error("ERR EXEC without MULTI"))
        #expect(r.run("DISCARD") == .error("ERR DISCARD without MULTI"))
    }

    @Test func queueErrorsAbortAndRuntimeErrorsDoNot() {
        let r = CommandRunner()
        r.run("MULTI")
        #expect(r.run("SET", "a") == .error("ERR wrong number of arguments for 'set' command"))
        r.run("SET", "b", "1")
        #expect(r.run("EXEC") == .error("EXECABORT Transaction discarded because of previous errors."))
        #expect(r.run("EXISTS", "b") == .integer(0))
        r.run("SET", "s", "text")
        r.run("MULTI")
        r.run("INCR", "s")
        r.run("SET", "c", "1")
        #expect(r.run("EXEC") == .array([.error("ERR value is not an integer or out of range"), .ok]))
    }

    @Test func watchedKeyChangeFailsExec() {
        let r = CommandRunner()
        r.run("SET", "w", "1")
        #expect(r.run("WATCH", "w") == .ok)
        r.run("SET", "w", "2")  // a write by anyone, this client included, touches it
        r.run("MULTI")
        r.run("GET", "w")
        #expect(r.run("EXEC") == .nullArray)
        // UNWATCH (and any EXEC) forgets watched keys.
        r.run("WATCH", "w")
        r.run("UNWATCH")
        r.run("SET", "w", "3")
        r.run("MULTI")
        r.run("GET", "w")
        #expect(r.run("EXEC") == .array([.b("3")]))
        r.run("MULTI")
        #expect(r.run("WATCH", "w") == .error("ERR WATCH inside MULTI is not allowed"))
        r.run("DISCARD")
    }

    @Test func globPatternsMatchAsRedis() {
        let cases: [(String, String, Bool)] = [
            ("news.*", "news.tech", true), ("news.*", "sport", false), ("h?llo", "hello", true),
            ("h?llo", "hllo", false),
            ("h[ae]llo", "hallo", true), ("h[ae]llo", "hillo", false), ("h[^e]llo", "hallo", true),
            ("h[^e]llo", "hello", false),
            ("h[a-c]llo", "hbllo", true), ("h[a-c]llo", "hdllo", false), ("a\\*b", "a*b", true),
            ("a\\*b", "axb", false),
            ("user:*:name", "user:42:name", true),
            ("*", "", false),  // as stringmatchlen: the loop never runs, so nothing is matched
        ]
        for (pattern, subject, expected) in cases {
            #expect(globMatch(Array(pattern.utf8), Array(subject.utf8)) == expected, "\(pattern) ~ \(subject)")
        }
    }

    @Test func keyspaceEventFlagsParseAsRedis() {
        #expect(KeyspaceEvents(parsing: "KEA") == [.keyspace, .keyevent, .all])
        #expect(KeyspaceEvents(parsing: "Egx") == [.keyevent, .generic, .expired])
        #expect(KeyspaceEvents(parsing: "KEn")?.contains(.newKey) == true)
        #expect(KeyspaceEvents(parsing: "A")?.contains(.keyMiss) == false)
        #expect(KeyspaceEvents(parsing: "KQ") == nil)
    }

    @Test func subscribedRESP2ClientIsLimited() {
        let r = CommandRunner()
        r.run("SUBSCRIBE", "ch")
        #expect(
            r.run("GET", "k")
                == .error(
                    "ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
                ))
        #expect(r.run("PING") == .array([.b("pong"), .b("")]))
        r.run("UNSUBSCRIBE")
        #expect(r.run("PING") == .simple("PONG"))
    }
}
