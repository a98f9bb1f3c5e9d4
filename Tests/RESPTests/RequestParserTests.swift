import Testing

@testable import RESP

func parseAll(_ text: [UInt8], parser initial: RequestParser = RequestParser()) -> (CommandBatch, RequestParser.Result)
{
    var parser = initial
    var batch = CommandBatch()
    let result = text.withUnsafeBytes { parser.parse($0, into: &batch) }
    return (batch, result)
}

func strings(_ batch: CommandBatch) -> [[String]] {
    batch.commands.map { $0.map { String(decoding: $0, as: UTF8.self) } }
}

@Suite struct RequestParserTests {
    @Test func multibulkCommand() {
        let input = Array("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n".utf8)
        let (batch, result) = parseAll(input)
        #expect(result == .init(consumed: input.count, error: nil))
        #expect(strings(batch) == [["SET", "key", "value"]])
    }

    @Test func pipelinedCommandsAndInline() {
        let input = Array("*1\r\n$4\r\nPING\r\nECHO hi\r\n\r\n*2\r\n$3\r\nGET\r\n$0\r\n\r\n".utf8)
        let (batch, result) = parseAll(input)
        #expect(result.consumed == input.count)
        #expect(strings(batch) == [["PING"], ["ECHO", "hi"], ["GET", ""]])
    }

    /// Multibulk commands are copied to the batch a run at a time: a run cut by an inline
    /// command, a skipped `*0`, a protocol error or an incomplete tail keeps its commands,
    /// and a second read appends after what the batch already holds.
    @Test func runsOfCommandsKeepTheirBytes() {
        var batch = CommandBatch()
        let first = Array("*2\r\n$3\r\nGET\r\n$1\r\na\r\n*0\r\n*1\r\n$4\r\nPING\r\nECHO x\r\n*2\r\n$3\r\nGE".utf8)
        var p1 = RequestParser()
        let r1 = first.withUnsafeBytes { p1.parse($0, into: &batch) }
        #expect(r1.consumed == first.count - "*2\r\n$3\r\nGE".utf8.count)
        let second = Array("*2\r\n$3\r\nDEL\r\n$2\r\nbc\r\n*1\r\n+x\r\n".utf8)
        var p2 = RequestParser()
        let r2 = second.withUnsafeBytes { p2.parse($0, into: &batch) }
        #expect(r2 == .init(consumed: second.count - 8, error: "Protocol error: expected '$', got '+'"))
        #expect(strings(batch) == [["GET", "a"], ["PING"], ["ECHO", "x"], ["DEL", "bc"]])
    }

    @Test func everySplitGivesTheSameCommands() {
        let input = Array("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\n0123456789\r\nPING\r\n*1\r\n$4\r\nPING\r\n".utf8)
        let expected = [["SET", "k", "0123456789"], ["PING"], ["PING"]]
        for split in 0...input.count {
            var batch = CommandBatch()
            var buffer = Array(input[0..<split])
            var parser = RequestParser()
            var r = buffer.withUnsafeBytes { parser.parse($0, into: &batch) }
            buffer.removeFirst(r.consumed)
            buffer += input[split...]
            r = buffer.withUnsafeBytes { parser.parse($0, into: &batch) }
            #expect(r.consumed == buffer.count)
            #expect(strings(batch) == expected, "split at \(split)")
        }
    }

    /// A command of many arguments arriving in small reads parses to what it parses to
    /// whole, with each read taking up only what is new (the parser keeps the arguments
    /// parsed so far), also after complete commands in the same read and across a
    /// pipelined command behind it.
    @Test func longCommandInSmallReadsResumes() {
        var text = Array("*1\r\n$4\r\nPING\r\n".utf8)
        text += Array("*301\r\n$5\r\nRPUSH\r\n".utf8)
        for i in 0..<300 { text += Array("$\(String(i).utf8.count)\r\n\(i)\r\n".utf8) }
        text += Array("*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n".utf8)
        let (whole, _) = parseAll(text)
        for chunk in [1, 7, 64, 1000] {
            var parser = RequestParser()
            var pending: [UInt8] = []
            var batch = CommandBatch()
            var commands: [[String]] = []
            var i = 0
            while i < text.count {
                pending += text[i..<min(text.count, i + chunk)]
                i += chunk
                batch.removeAll()
                let r = pending.withUnsafeBytes { parser.parse($0, into: &batch) }
                #expect(r.error == nil)
                commands += strings(batch)
                pending.removeFirst(r.consumed)
            }
            #expect(pending.isEmpty)
            #expect(commands == strings(whole), "chunk \(chunk)")
        }
    }

    @Test func oneByteAtATime() {
        let input = Array("*2\r\n$4\r\nECHO\r\n$3\r\nabc\r\n".utf8)
        var buffer: [UInt8] = []
        var batch = CommandBatch()
        var parser = RequestParser()
        for byte in input {
            buffer.append(byte)
            let r = buffer.withUnsafeBytes { parser.parse($0, into: &batch) }
            buffer.removeFirst(r.consumed)
            #expect(r.error == nil)
        }
        #expect(buffer.isEmpty)
        #expect(strings(batch) == [["ECHO", "abc"]])
    }

    @Test func incompleteCommandLeavesNoTrace() {
        let (batch, result) = parseAll(Array("*2\r\n$3\r\nGET\r\n$5\r\nab".utf8))
        #expect(result.consumed == 0)
        #expect(batch.count == 0 && batch.bytes.isEmpty && batch.spans.isEmpty)
    }

    @Test(arguments: [
        ("*abc\r\n", "Protocol error: invalid multibulk length"),
        ("*1\r\n$-1\r\n", "Protocol error: invalid bulk length"),
        ("*1\r\nxyz\r\n", "Protocol error: expected '$', got 'x'"),
        ("*1\r\n$600000000\r\n", "Protocol error: invalid bulk length"),
        ("SET \"a\r\n", "Protocol error: unbalanced quotes in request"),
        ("*01\r\n", "Protocol error: invalid multibulk length"),
    ])
    func malformedInput(input: String, error: String) {
        let (_, result) = parseAll(Array(input.utf8))
        #expect(result.error == error)
    }

    @Test func tooBigInline() {
        let (_, result) = parseAll([UInt8](repeating: UInt8(ascii: "a"), count: 70000))
        #expect(result.error == "Protocol error: too big inline request")
        let (_, r2) = parseAll(Array("*".utf8) + [UInt8](repeating: UInt8(ascii: "1"), count: 70000))
        #expect(r2.error == "Protocol error: too big mbulk count string")
    }

    @Test func emptyAndNegativeMultibulkAreSkipped() {
        let (batch, result) = parseAll(Array("*0\r\n*-1\r\nPING\r\n".utf8))
        #expect(result.consumed == 15)
        #expect(strings(batch) == [["PING"]])
    }

    @Test func unauthenticatedLimits() {
        var p = RequestParser()
        p.authenticated = false
        #expect(
            parseAll(Array("*11\r\n".utf8), parser: p).1.error == "Protocol error: unauthenticated multibulk length")
        #expect(
            parseAll(Array("*1\r\n$16385\r\n".utf8), parser: p).1.error
                == "Protocol error: unauthenticated bulk length")
    }

    @Test func splitArgsQuoting() {
        #expect(splitArgs("set \"a b\" 'c d'")!.map { String(decoding: $0, as: UTF8.self) } == ["set", "a b", "c d"])
        #expect(splitArgs("\"\\x41\\n\"") == [[0x41, 0x0A]])
        #expect(splitArgs("'it\\'s'") == [Array("it's".utf8)])
        #expect(splitArgs("\"a\"b") == nil)
        #expect(splitArgs("   ") == [])
    }
}

@Suite struct ReplyEncoderTests {
    @Test func resp2Encodings() {
        #expect(ReplyEncoder.encode(.simple("OK"), resp3: false) == Array("+OK\r\n".utf8))
        #expect(ReplyEncoder.encode(.integer(-42), resp3: false) == Array(":-42\r\n".utf8))
        #expect(ReplyEncoder.encode(.integer(Int64.min), resp3: false) == Array(":-9223372036854775808\r\n".utf8))
        #expect(ReplyEncoder.encode(.null, resp3: false) == Array("$-1\r\n".utf8))
        #expect(ReplyEncoder.encode(.nullArray, resp3: false) == Array("*-1\r\n".utf8))
        #expect(
            ReplyEncoder.encode(.map([.bulk("a"), .integer(1)]), resp3: false) == Array("*2\r\n$1\r\na\r\n:1\r\n".utf8))
        #expect(ReplyEncoder.encode(.bool(true), resp3: false) == Array(":1\r\n".utf8))
        #expect(ReplyEncoder.encode(.double(1.5), resp3: false) == Array("$3\r\n1.5\r\n".utf8))
        #expect(ReplyEncoder.encode(.error("ERR bad\r\nline"), resp3: false) == Array("-ERR bad  line\r\n".utf8))
        #expect(ReplyEncoder.encode(.integer(0), resp3: false) == Array(":0\r\n".utf8))
        #expect(ReplyEncoder.encode(.integer(Int64.max), resp3: false) == Array(":9223372036854775807\r\n".utf8))
        #expect(ReplyEncoder.encode(.bulk([]), resp3: false) == Array("$0\r\n\r\n".utf8))
    }

    /// Short payloads are assembled on the stack, longer ones appended in parts: the bytes
    /// are the same either side of the boundary, after what the buffer already holds.
    @Test func bulkLengthsAroundTheSmallPath() {
        for n in 0...70 {
            let payload = (0..<n).map { UInt8(truncatingIfNeeded: 65 + $0 % 26) }
            var out = Array("+OK\r\n".utf8)
            ReplyEncoder.appendBulk(payload, to: &out)
            #expect(out == Array("+OK\r\n$\(n)\r\n".utf8) + payload + [13, 10])
        }
    }

    /// A part of a stored buffer is sent as the bulk string of those bytes; `bulk(_:_:)`
    /// shares a whole array as it is.
    @Test func bulkParts() {
        let buffer = Array("fieldvalue".utf8)
        #expect(ReplyEncoder.encode(.bulk(buffer, 5..<10), resp3: false) == Array("$5\r\nvalue\r\n".utf8))
        #expect(ReplyEncoder.encode(.bulk(buffer, 0..<0), resp3: true) == Array("$0\r\n\r\n".utf8))
        #expect(Reply.bulk(buffer, 0..<10) == .bulk(buffer))
        // The part is kept as offsets: a reply is no larger than its largest other case.
        #expect(MemoryLayout<Reply>.size <= 25)
    }

    @Test func resp3Encodings() {
        #expect(ReplyEncoder.encode(.null, resp3: true) == Array("_\r\n".utf8))
        #expect(
            ReplyEncoder.encode(.map([.bulk("a"), .integer(1)]), resp3: true) == Array("%1\r\n$1\r\na\r\n:1\r\n".utf8))
        #expect(ReplyEncoder.encode(.set([.integer(1)]), resp3: true) == Array("~1\r\n:1\r\n".utf8))
        #expect(ReplyEncoder.encode(.bool(false), resp3: true) == Array("#f\r\n".utf8))
        #expect(ReplyEncoder.encode(.double(.infinity), resp3: true) == Array(",inf\r\n".utf8))
        #expect(
            ReplyEncoder.encode(.verbatim(format: "txt", Array("hi".utf8)), resp3: true)
                == Array("=6\r\ntxt:hi\r\n".utf8))
        #expect(ReplyEncoder.encode(.push([.bulk("x")]), resp3: true) == Array(">1\r\n$1\r\nx\r\n".utf8))
    }

    @Test func roundTripThroughTheReplyParser() {
        let reply = Reply.array([.bulk("a"), .integer(3), .null, .map([.bulk("k"), .set([.bool(true)])])])
        for resp3 in [false, true] {
            let bytes = ReplyEncoder.encode(reply, resp3: resp3)
            #expect(ReplyParser.parse(bytes)?.1 == bytes.count)
        }
        #expect(ReplyParser.parse(ReplyEncoder.encode(reply, resp3: true))?.0 == reply)
    }

    @Test func doubles() {
        #expect(formatDouble(3) == "3")
        #expect(formatDouble(-0.5) == "-0.5")
        #expect(formatDouble(.infinity) == "inf")
        #expect(formatDouble(-.infinity) == "-inf")
    }
}
