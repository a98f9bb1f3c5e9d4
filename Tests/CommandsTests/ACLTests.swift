import CommandTestSupport
import DataStore
import RESP
import ServerConfig
import Testing

@testable import Commands
@testable import Server

/// ACL users: rule parsing and description, password hashes, key specs, and the checks the
/// dispatcher makes (Redis 7.4's acl.c).
@Suite struct ACLTests {
    @Test func passwordHashIsSHA256Hex() {
        #expect(
            AccessControl.hashPassword(Array("pw".utf8)[...])
                == "30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4")
        #expect(
            AccessControl.hashPassword([][...]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        // Two blocks of padding (56..63 bytes of input).
        #expect(
            AccessControl.hashPassword(Array(repeating: UInt8(ascii: "a"), count: 60)[...])
                == "11ee391211c6256460b6ed375957fadd8061cafbb31daf967db875aebd5aaad4")
        #expect(AccessControl.isPasswordHash(Array(String(repeating: "0f", count: 32).utf8)[...]))
        #expect(!AccessControl.isPasswordHash(Array(String(repeating: "0F", count: 32).utf8)[...]))
    }

    @Test func setuserDescribesRulesInTheOrderGiven() {
        let r = CommandRunner()
        #expect(
            r.run(
                "ACL", "SETUSER", "alice", "on", ">pw", "~cache:*", "%R~ro:*", "%W~wo:*", "%RW~both:*", "&news", "+get",
                "+@hash", "-hdel", "+config|get", "+select|0")
                == .ok)
        #expect(
            r.run("ACL", "LIST")
                == .array([
                    .bulk(
                        "user alice on sanitize-payload #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 ~cache:* %R~ro:* %W~wo:* ~both:* resetchannels &news -@all +get +@hash -hdel +config|get +select|0"
                    ),
                    .bulk("user default on nopass sanitize-payload ~* &* +@all"),
                ]))
        // A later rule for the same command (or its container) replaces the earlier one.
        // (This runner speaks RESP2: GETUSER's map and set arrive as arrays.)
        r.run("ACL", "SETUSER", "alice", "-get", "-config", "+@hash")
        #expect(
            r.run("ACL", "GETUSER", "alice")
                == .array([
                    .bulk("flags"), .array([.bulk("on"), .bulk("sanitize-payload")]),
                    .bulk("passwords"),
                    .array([.bulk("30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4")]),
                    .bulk("commands"), .bulk("-@all -hdel +select|0 -get -config +@hash"),
                    .bulk("keys"), .bulk("~cache:* %R~ro:* %W~wo:* ~both:*"),
                    .bulk("channels"), .bulk("&news"),
                    .bulk("selectors"), .array([]),
                ]))
    }

    @Test func badRulesChangeNothing() {
        let r = CommandRunner()
        let cases: [([String], String)] = [
            (["+nosuch"], "Error in ACL SETUSER modifier '+nosuch': Unknown command or category name in ACL"),
            (["on", "allkeys", "~x"], "Error in ACL SETUSER modifier '~x': Adding a pattern after the * pattern"),
            (["+config|get|x"], "Error in ACL SETUSER modifier '+config|get|x': Allowing first-arg of a subcommand"),
            (["#ABC"], "Error in ACL SETUSER modifier '#ABC': The password hash must be exactly 64 characters"),
            (["<nope"], "Error in ACL SETUSER modifier '<nope': The password you are trying to remove"),
            (["(+get", "~x"], "Unmatched parenthesis in acl selector starting at '(+get'."),
        ]
        for (rules, prefix) in cases {
            guard case .error(let text) = r.run((["ACL", "SETUSER", "u"] + rules).map { Array($0.utf8) }) else {
                Issue.record("no error for \(rules)")
                continue
            }
            #expect(text.hasPrefix("ERR " + prefix), "\(text)")
        }
        #expect(r.run("ACL", "GETUSER", "u") == .null)
    }

    @Test func keysAreCheckedWithTheAccessTheirSpecsNeed() {
        let r = CommandRunner()
        r.run("ACL", "SETUSER", "u", "on", "nopass", "+@all", "%R~r:*", "%W~w:*")
        #expect(r.run("AUTH", "u", "x") == .ok)
        #expect(r.run("GET", "r:1") == .null)
        #expect(r.run("SET", "w:1", "v") == .ok)
        #expect(r.run("SET", "w:1", "v", "GET") == .error("NOPERM No permissions to access a key"))
        #expect(r.run("SET", "r:1", "v") == .error("NOPERM No permissions to access a key"))
        // LMOVE reads and deletes from its source, inserts into its destination.
        #expect(r.run("LMOVE", "w:src", "w:dst", "LEFT", "RIGHT") == .error("NOPERM No permissions to access a key"))
        // COPY only reads its source.
        #expect(r.run("COPY", "r:1", "w:2") == .integer(0))
        #expect(r.run("BITFIELD", "r:1", "GET", "u8", "0") == .array([.integer(0)]))
        #expect(r.run("BITFIELD", "r:1", "SET", "u8", "0", "1") == .error("NOPERM No permissions to access a key"))
        // Keys after a numkeys count, and XREAD's STREAMS keyword.
        #expect(r.run("ZUNIONSTORE", "w:z", "1", "r:z") == .integer(0))
        #expect(r.run("ZUNIONSTORE", "w:z", "2", "r:z", "x") == .error("NOPERM No permissions to access a key"))
        #expect(r.run("XREAD", "STREAMS", "r:s", "0") == .nullArray)
        #expect(r.run("XREAD", "STREAMS", "x", "0") == .error("NOPERM No permissions to access a key"))
        // A key count past the arguments finds no keys (the command reports the error).
        #expect(
            r.run("EVAL", "return 1", "9223372036854775807")
                == .error("ERR Number of keys can't be greater than number of args"))
        #expect(r.run("ZUNIONSTORE", "w:z", "9223372036854775807", "r:z") != .integer(0))
    }

    @Test func selectorsAllowWhatAnyOfThemAllows() {
        let r = CommandRunner()
        r.run("ACL", "SETUSER", "s", "on", "nopass", "(+get ~g:*)", "(+set ~s:*)")
        r.run("AUTH", "s", "x")
        #expect(r.run("GET", "g:1") == .null)
        #expect(r.run("SET", "s:1", "v") == .ok)
        // Both selectors fail: the key refusal (the further one) is reported.
        #expect(r.run("GET", "s:1") == .error("NOPERM No permissions to access a key"))
        #expect(r.run("DEL", "g:1") == .error("NOPERM User s has no permissions to run the 'del' command"))
    }

    @Test func channelsForPublishAndSubscribe() {
        let r = CommandRunner()
        r.run("ACL", "SETUSER", "p", "on", "nopass", "+@pubsub", "&news.*")
        r.run("AUTH", "p", "x")
        #expect(r.run("PUBLISH", "news.1", "m") == .integer(0))
        #expect(r.run("PUBLISH", "other", "m") == .error("NOPERM No permissions to access a channel"))
        // A pattern subscription must equal an allowed pattern.
        #expect(r.run("PSUBSCRIBE", "news.1*") == .error("NOPERM No permissions to access a channel"))
        #expect(
            r.run("ACL", "DRYRUN", "p", "publish", "x", "m")
                == .error("NOPERM User p has no permissions to run the 'acl|dryrun' command"))
    }

    @Test func requirepassIsTheDefaultUsersPassword() {
        let config = Config()
        try? config.set([("requirepass", "secret")])
        let r = CommandRunner(config: config, authenticated: false)
        #expect(r.run("GET", "x") == .error("NOAUTH Authentication required."))
        #expect(r.run("AUTH", "nope") == .error("WRONGPASS invalid username-password pair or user is disabled."))
        #expect(r.run("AUTH", "secret") == .ok)
        #expect(r.run("ACL", "WHOAMI") == .bulk("default"))
        r.run("CONFIG", "SET", "requirepass", "")
        #expect(
            r.run("AUTH", "x")
                == .error(
                    "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"
                ))
        #expect(r.run("ACL", "SETUSER", "default", "off") == .ok)
        #expect(
            r.run("AUTH", "default", "x") == .error("WRONGPASS invalid username-password pair or user is disabled."))
    }

    @Test func aclLogGroupsSimilarRefusals() {
        let r = CommandRunner()
        r.run("ACL", "SETUSER", "l", "on", "nopass", "+get")
        r.run("AUTH", "l", "x")
        r.run("SET", "a", "1")
        r.run("SET", "a", "1")
        r.run("GET", "k")
        r.run("AUTH", "default", "x")
        guard case .array(let entries) = r.run("ACL", "LOG") else {
            Issue.record("no log")
            return
        }
        #expect(entries.count == 2)
        guard case .map(let newest) = entries[0], case .map(let oldest) = entries[1] else { return }
        #expect(
            Array(newest[0..<8]) == [
                .bulk("count"), .integer(1), .bulk("reason"), .bulk("key"), .bulk("context"), .bulk("toplevel"),
                .bulk("object"), .bulk("k"),
            ])
        #expect(Array(oldest[0..<4]) == [.bulk("count"), .integer(2), .bulk("reason"), .bulk("command")])
        #expect(r.run("ACL", "LOG", "RESET") == .ok)
        #expect(r.run("ACL", "LOG") == .array([]))
    }
}
