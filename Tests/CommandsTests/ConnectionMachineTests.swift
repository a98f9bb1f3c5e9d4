import CommandTestSupport
import RESP
import ServerConfig
import Testing

@testable import Server

/// The connection's request/reply state machine, fed bytes as a socket would.
@Suite struct ConnectionMachineTests {
    /// A machine on a client of `runner`'s server, and what the runtime was told.
    final class Harness {
        let runner: CommandRunner
        let machine: ConnectionMachine
        var blocks: [BlockRequest] = []
        var readyServings = 0
        var logged: [String] = []

        init(_ runner: CommandRunner = CommandRunner(), authenticated: Bool = true) {
            self.runner = runner
            machine = ConnectionMachine(context: runner.client(authenticated: authenticated).context)
        }

        /// Feeds `input`; returns the bytes consumed, why it stopped, and the output.
        func feed(_ input: String) -> (Int, ConnectionMachine.Stop, String) {
            let bytes = Array(input.utf8)
            let (consumed, stop) = bytes.withUnsafeBytes {
                machine.run(
                    $0, block: { self.blocks.append($0) }, serveReadyKeys: { self.readyServings += 1 },
                    log: { self.logged.append($0) })
            }
            let output = String(decoding: machine.context.output, as: UTF8.self)
            machine.context.output.removeAll()
            return (consumed, stop, output)
        }
    }

    @Test func pipelinedCommandsRunAndAPartialOneWaits() {
        let h = Harness()
        let input = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\nGET k\r\n*2\r\n$3\r\nGET\r\n$1"
        let (consumed, stop, output) = h.feed(input)
        #expect(stop == .input)
        #expect(output == "+OK\r\n$1\r\nv\r\n")
        // The partial GET stays unconsumed for the next read.
        #expect(consumed == input.utf8.count - "*2\r\n$3\r\nGET\r\n$1".utf8.count)
        let (_, _, rest) = h.feed("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
        #expect(rest == "$1\r\nv\r\n")
    }

    /// Past the hard output limit of its class the client's pipeline stops (Redis's
    /// CLOSE_ASAP); a negative random count is cut to what the limit can hold.
    @Test func theOutputHardLimitStopsThePipeline() throws {
        let config = Config()
        try config.set([("client-output-buffer-limit", "normal 1000 0 0")])
        let h = Harness(CommandRunner(config: config))
        _ = h.feed("SET big \(String(repeating: "x", count: 1500))\r\nHSET h a b\r\n")
        let (_, stop, output) = h.feed("GET big\r\nSET after 1\r\n")
        #expect(stop == .closing)
        #expect(h.machine.context.outputHardLimitPassed == false)  // the output was taken
        #expect(output.hasPrefix("$1500"))
        #expect(h.runner.run("EXISTS", "after") == .integer(0))
        let runner = CommandRunner(config: config)
        runner.run("HSET", "h", "a", "b")
        guard case .array(let picks) = runner.run("HRANDFIELD", "h", "-999999999") else {
            Issue.record("no array")
            return
        }
        #expect(picks.count == 1000 / 6 + 1)
    }

    @Test func aProtocolErrorAnswersAndCloses() {
        let h = Harness()
        let (_, stop, output) = h.feed("PING\r\n*1\r\n$x\r\n")
        #expect(stop == .closing)
        #expect(output == "+PONG\r\n-ERR Protocol error: invalid bulk length\r\n")
        #expect(h.logged.count == 1 && h.logged[0].hasPrefix("Protocol error (Protocol error: invalid bulk length)"))
    }

    @Test func beforeAuthEachCommandIsParsedAsTheClientThenIs() throws {
        let config = Config()
        try config.set([("requirepass", "secret")])
        let h = Harness(CommandRunner(config: config), authenticated: false)
        let (_, stop, output) = h.feed("PING\r\nAUTH secret\r\nPING\r\n")
        #expect(stop == .input)
        #expect(output == "-NOAUTH Authentication required.\r\n+OK\r\n+PONG\r\n")
    }

    @Test func quitClosesAfterItsReply() {
        let h = Harness()
        let (_, stop, output) = h.feed("QUIT\r\nPING\r\n")
        #expect(stop == .closing)
        #expect(output == "+OK\r\n")
    }

    @Test func aBlockedCommandHoldsTheRestOfItsBatchUntilServed() {
        let h = Harness()
        let (_, stop, output) = h.feed("BLPOP q 0\r\nPING\r\n")
        #expect(stop == .blocked && output.isEmpty)
        #expect(h.blocks.count == 1 && h.blocks[0].keys == [Array("q".utf8)])
        #expect(h.machine.resumeFrom == 0 && h.machine.blocked != nil)
        #expect(!h.machine.retryBlocked())  // still empty
        h.runner.run("RPUSH", "q", "x")
        #expect(h.machine.retryBlocked())
        h.machine.finishBlocked()
        #expect(h.machine.blocked == nil && h.machine.resumeFrom == 1)
        // Going on runs the held PING before any new input.
        let (_, after, rest) = h.feed("ECHO hi\r\n")
        #expect(after == .input)
        #expect(rest == "*2\r\n$1\r\nq\r\n$1\r\nx\r\n+PONG\r\n$2\r\nhi\r\n")
    }

    @Test func aTimedOutBlockAnswersItsTimeoutReply() {
        let h = Harness()
        _ = h.feed("BRPOP q 1\r\n")
        guard let request = h.machine.blocked else {
            Issue.record("BRPOP did not block")
            return
        }
        h.machine.answerBlocked(request, error: nil)
        h.machine.finishBlocked()
        #expect(String(decoding: h.machine.context.output, as: UTF8.self) == "*-1\r\n")
        #expect(h.machine.resumeFrom == nil)
    }

    @Test func aPauseHoldsWritesAndTheRestRunsAfter() {
        let h = Harness()
        h.runner.run("CLIENT", "PAUSE", "100000", "WRITE")
        let (_, stop, output) = h.feed("GET k\r\nSET k v\r\nGET k\r\n")
        #expect(stop == .paused)
        #expect(output == "$-1\r\n")
        #expect(h.machine.resumeFrom == 1)
        h.runner.run("CLIENT", "UNPAUSE")
        let (_, after, rest) = h.feed("")
        #expect(after == .input)
        #expect(rest == "+OK\r\n$1\r\nv\r\n")
    }

    @Test func aLongPartialCommandPastTheQueryBufferLimitCloses() throws {
        let config = Config()
        try config.set([("client-query-buffer-limit", "1048576")])
        let h = Harness(CommandRunner(config: config))
        #expect(h.machine.keepsPartialInput(1000))
        #expect(!h.machine.keepsPartialInput(2_000_000))
        #expect(h.machine.session.closeAfterReply)
    }
}
