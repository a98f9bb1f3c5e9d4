import CommandTestSupport
import DataStore
import RESP
import Testing

@testable import Commands
@testable import Persistence
@testable import Server

/// What each write logs in the AOF (a replay must reach the same state at any later time),
/// with the file's buffer read back through the scanner.
@Suite struct AppendOnlyTests {
    func logging() -> (CommandRunner, AppendOnlyFile) {
        let r = CommandRunner()
        let file = AppendOnlyFile(directory: "/nonexistent", fileName: "appendonly.aof", policy: .no, log: nil)
        r.server.aof = file
        r.server.updateExpiryLogging()
        return (r, file)
    }

    func logged(_ file: AppendOnlyFile) -> [String] {
        var s = AOFCommandScanner(file.buffer)
        var out: [String] = []
        while case .command(let args) = s.next() {
            out.append(args.map { String(decoding: $0, as: UTF8.self) }.joined(separator: " "))
        }
        file.buffer.removeAll()
        return out
    }

    @Test func relativeTimesAreLoggedAsDeadlines() {
        let (r, file) = logging()
        let now = r.now
        r.run("SET", "a", "1", "EX", "10")
        r.run("SETEX", "b", "5", "v")
        r.run("PSETEX", "c", "500", "v")
        r.run("EXPIRE", "a", "100", "GT")
        r.run("PEXPIREAT", "a", String(now + 200_000))
        r.run("GETEX", "b", "PX", "700")
        r.run("GETEX", "b", "PERSIST")
        r.run("SET", "k", "v", "KEEPTTL")
        #expect(
            logged(file) == [
                "SELECT 0", "SET a 1 PXAT \(now + 10_000)", "SET b v PXAT \(now + 5000)", "SET c v PXAT \(now + 500)",
                "PEXPIREAT a \(now + 100_000) GT", "PEXPIREAT a \(now + 200_000)", "PEXPIREAT b \(now + 700)",
                "PERSIST b", "SET k v KEEPTTL",
            ])
    }

    @Test func randomAndFloatResultsAreLoggedAsWhatHappened() {
        let (r, file) = logging()
        r.run("SADD", "s", "only")
        r.run("SPOP", "s")
        r.run("INCRBYFLOAT", "f", "0.1")
        r.run("HINCRBYFLOAT", "h", "x", "1.5")
        r.run("HEXPIRE", "h", "100", "FIELDS", "1", "x")
        r.run("HINCRBYFLOAT", "h", "x", "1")
        #expect(
            logged(file) == [
                "SELECT 0", "SADD s only", "SREM s only", "SET f 0.1 KEEPTTL", "HSET h x 1.5",
                "HPEXPIREAT h \(r.now + 100_000) FIELDS 1 x",
                // HSET would drop the field's TTL: the deadline follows it.
                "MULTI", "HSET h x 2.5", "HPEXPIREAT h \(r.now + 100_000) FIELDS 1 x", "EXEC",
            ])
    }

    @Test func transactionsExpiryAndFailuresLogAsRedisDoes() {
        let (r, file) = logging()
        r.run("SET", "t", "1", "PX", "100")
        r.run("SELECT", "2")
        r.run("MULTI")
        r.run("INCR", "n")
        r.run("GET", "n")
        r.run("INCR", "n")
        r.run("EXEC")
        r.run("MULTI")
        r.run("INCR", "single")
        r.run("EXEC")
        r.run("GET", "missing")  // reads log nothing
        r.run("INCR", "missing:str")
        r.run("SET", "str", "x")
        r.run("INCR", "str")  // failed: nothing logged
        r.run("SELECT", "0")
        r.now += 1000
        r.run("GET", "t")  // expired on access: a DEL
        #expect(
            logged(file) == [
                "SELECT 0", "SET t 1 PXAT \(r.now - 900)", "SELECT 2", "MULTI", "INCR n", "INCR n", "EXEC",
                "INCR single", "INCR missing:str", "SET str x", "SELECT 0", "DEL t",
            ])
    }
}
