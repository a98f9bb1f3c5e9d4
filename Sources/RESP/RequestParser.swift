import ByteStorage

/// The commands parsed from one read, stored flat so that a pipelined batch costs no
/// allocation once the buffers have grown: every argument's bytes are copied once into
/// `bytes`, and `spans` says where each argument lies.
public struct CommandBatch: Sendable {
    public var bytes: [UInt8] = []
    public var spans: [Range<Int>] = []
    /// Index into `spans` of each command's first argument.
    public var commandStarts: [Int] = []

    public init() {}

    public var count: Int { commandStarts.count }

    /// Empties the batch, keeping its storage for the next one unless a huge command grew
    /// it (a 100 000-argument SADD must not hold megabytes per connection afterwards, as
    /// Redis trims a query buffer that grew past its use).
    public mutating func removeAll() {
        let keep = bytes.capacity <= 256 * 1024 && spans.capacity <= 16 * 1024
        bytes.removeAll(keepingCapacity: keep)
        spans.removeAll(keepingCapacity: keep)
        commandStarts.removeAll(keepingCapacity: keep)
    }

    /// The argument spans of command `i`.
    public func arguments(of i: Int) -> Range<Int> {
        let start = commandStarts[i]
        let end = i + 1 < commandStarts.count ? commandStarts[i + 1] : spans.count
        return start..<end
    }

    public func argument(_ spanIndex: Int) -> ArraySlice<UInt8> {
        bytes[spans[spanIndex]]
    }

    /// Whether the arguments at two span indices hold the same bytes.
    @inline(__always)
    public func sameBytes(_ a: Int, _ b: Int) -> Bool {
        let ra = spans[a]
        let rb = spans[b]
        guard ra.count == rb.count else { return false }
        if ra.lowerBound == rb.lowerBound || ra.isEmpty { return true }
        return bytes.withUnsafeBytes { bytesEqual($0, at: ra.lowerBound, $0, at: rb.lowerBound, count: ra.count) }
    }

    /// Convenience for tests: the arguments of every command as arrays.
    public var commands: [[[UInt8]]] {
        (0..<count).map { i in arguments(of: i).map { Array(bytes[spans[$0]]) } }
    }
}

/// Redis's request parser (processMultibulkBuffer / processInlineBuffer), resumable: it
/// consumes whole commands only, so a partial command stays in the caller's buffer until
/// more bytes arrive. Limits and error texts are Redis's.
public struct RequestParser: Sendable {
    /// `proto-max-bulk-len`.
    public var maxBulkLength: Int = 512 * 1024 * 1024
    /// Redis's PROTO_INLINE_MAX_SIZE: the longest inline command or count line.
    public static let maxInlineSize = 64 * 1024
    /// Before AUTH, Redis accepts only small requests.
    public var authenticated = true
    /// Stop after this many commands (1 for an unauthenticated client, whose limits change
    /// after AUTH).
    public var maxCommands = Int.max
    /// A long multibulk command still arriving: what is parsed of it, kept between reads so
    /// each read parses only what is new (re-parsing every argument at every read made a
    /// command of millions of small arguments cost quadratic time, a hostile client's CPU
    /// sink). Relative to the command's first byte, which the next parse starts at.
    var partial: Partial?

    struct Partial: Sendable {
        /// The command's argument count, and the data of each argument parsed so far.
        var count: Int
        var arguments: [Range<Int>]
        /// Where the next argument's `$` line starts.
        var next: Int
    }

    /// Only commands with at least this many arguments parsed are kept between reads.
    static let partialThreshold = 64

    public init() {}

    public struct Result: Sendable, Equatable {
        /// Bytes consumed: every complete command (and skipped empty ones).
        public var consumed: Int
        /// A protocol error: Redis replies with it and closes the connection.
        public var error: String?
    }

    public mutating func parse(_ input: UnsafeRawBufferPointer, into batch: inout CommandBatch) -> Result {
        if partial != nil && (input.isEmpty || input.byte(0) != UInt8(ascii: "*")) { partial = nil }
        var pos = 0
        var parsed = 0
        let n = input.count
        // Consecutive multibulk commands are copied to the batch in one piece when the run
        // ends (a copy per command cost more than the parsing around it); their spans are
        // laid out for that copy as they are parsed.
        var run = Run(inputStart: 0, bytesStart: batch.bytes.count)
        defer { run.copy(input, upTo: pos, into: &batch) }
        while pos < n && parsed < maxCommands {
            let step: Step
            if input.byte(pos) == UInt8(ascii: "*") {
                step = parseMultibulk(input, from: pos, run: run, into: &batch)
            } else {
                run.copy(input, upTo: pos, into: &batch)
                step = parseInline(input, from: pos, into: &batch)
                switch step {
                case .command(let next), .skipped(let next): run = Run(inputStart: next, bytesStart: batch.bytes.count)
                case .incomplete, .failed: break
                }
            }
            switch step {
            case .incomplete:
                return Result(consumed: pos, error: nil)
            case .failed(let message):
                return Result(consumed: pos, error: message)
            case .command(let next):
                pos = next
                parsed += 1
            case .skipped(let next):
                pos = next
            }
        }
        return Result(consumed: pos, error: nil)
    }

    /// Input from `inputStart` parsed into spans but not yet copied: its bytes go to the
    /// batch at `bytesStart`.
    struct Run {
        var inputStart: Int
        var bytesStart: Int

        /// Where the input byte at `position` lands in the batch.
        @inline(__always)
        func batchOffset(_ position: Int) -> Int { bytesStart + position - inputStart }

        /// Copies the run's bytes up to `end` (the first byte of no complete command).
        @inline(__always)
        mutating func copy(_ input: UnsafeRawBufferPointer, upTo end: Int, into batch: inout CommandBatch) {
            if end > inputStart {
                batch.bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[inputStart..<end]))
            }
            self = Run(inputStart: end, bytesStart: batch.bytes.count)
        }
    }

    enum Step {
        case incomplete
        case failed(String)
        case command(next: Int)
        case skipped(next: Int)
    }

    @inline(__always)
    static func findCR(_ input: UnsafeRawBufferPointer, from: Int) -> Int? {
        var i = from
        let n = input.count
        while i < n {
            if input.byte(i) == 13 { return i }
            i += 1
        }
        return nil
    }

    /// The common length line: 1 to 18 digits, no leading zero, then CR. The value and
    /// where the CR is, in one pass with no overflow to check; nil for anything else (a
    /// sign, a zero, more digits, no CR yet), which the general path then reads.
    @inline(__always)
    static func quickLength(_ input: UnsafeRawBufferPointer, _ from: Int) -> (value: Int, cr: Int)? {
        let n = input.count
        guard from < n, input.byte(from) != UInt8(ascii: "0") else { return nil }
        let limit = Swift.min(n, from + 18)
        var i = from
        var value = 0
        while i < limit {
            let d = Int(input.byte(i)) &- 48
            if d < 0 || d > 9 { break }
            value = value &* 10 &+ d
            i += 1
        }
        guard i > from, i < n, input.byte(i) == 13 else { return nil }
        return (value, i)
    }

    /// A `*<count>` or `$<length>` line read from `from` (after its type byte): its value
    /// and where its CR is, or that more input is needed, or why it is refused.
    enum LengthLine {
        case length(Int, cr: Int)
        case incomplete
        case failed(String)
    }

    @inline(__always)
    static func lengthLine(_ input: UnsafeRawBufferPointer, at from: Int, tooBig: String, invalid: String)
        -> LengthLine
    {
        let n = input.count
        if let (value, cr) = quickLength(input, from) { return cr + 1 >= n ? .incomplete : .length(value, cr: cr) }
        guard let cr = findCR(input, from: from) else {
            return n - (from - 1) > maxInlineSize ? .failed(tooBig) : .incomplete
        }
        if cr + 1 >= n { return .incomplete }
        guard let value = parseLength(input, from, cr) else { return .failed(invalid) }
        return .length(value, cr: cr)
    }

    /// What of an unfinished multibulk command at the start of `input` Redis would already
    /// have taken out of its query buffer: the bytes of its parsed header lines and complete
    /// arguments (`parsed`), the complete arguments' lengths summed (`argumentBytes`, Redis's
    /// argv_len_sum) and their count, and the length of the argument being read when its
    /// `$` line is in (`bulkLength`). CLIENT LIST's qbuf is what is left, and client
    /// eviction weighs both. Zeros for inline commands and anything malformed.
    public static func partialCommandShape(_ input: UnsafeRawBufferPointer) -> (
        parsed: Int, argumentBytes: Int, arguments: Int, bulkLength: Int
    ) {
        guard input.count > 0, input[0] == UInt8(ascii: "*"),
            case .length(let count, let cr) = lengthLine(input, at: 1, tooBig: "", invalid: "")
        else { return (0, 0, 0, 0) }
        var parsed = cr + 2
        var argumentBytes = 0
        var arguments = 0
        // Bounded: past 1 024 arguments the rest counts as unparsed (it is information for
        // CLIENT LIST and eviction, and this runs on every read of a long command).
        while arguments < min(count, 1024), parsed < input.count, input[parsed] == UInt8(ascii: "$"),
            case .length(let length, let cr) = lengthLine(input, at: parsed + 1, tooBig: "", invalid: ""), length >= 0
        {
            let dataStart = cr + 2
            guard length <= input.count - dataStart - 2 else { return (dataStart, argumentBytes, arguments, length) }
            parsed = dataStart + length + 2
            argumentBytes += length
            arguments += 1
        }
        return (parsed, argumentBytes, arguments, 0)
    }

    /// Redis's string2ll over `input[from..<to]`: optional '-', no leading zeros, no '+'.
    static func parseLength(_ input: UnsafeRawBufferPointer, _ from: Int, _ to: Int) -> Int? {
        var i = from
        if i >= to { return nil }
        var negative = false
        if input[i] == UInt8(ascii: "-") {
            negative = true
            i += 1
            if i >= to { return nil }
        }
        if input[i] == UInt8(ascii: "0") { return to - i == 1 ? 0 : nil }
        var value = 0
        while i < to {
            let d = Int(input[i]) - 48
            if d < 0 || d > 9 { return nil }
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(d)
            if o1 || o2 { return nil }
            value = s
            i += 1
        }
        return negative ? -value : value
    }

    mutating func parseMultibulk(
        _ input: UnsafeRawBufferPointer, from start: Int, run: Run, into batch: inout CommandBatch
    ) -> Step {
        let n = input.count
        let count: Int
        var pos: Int
        // The command's bytes go to the batch with its run's (its `$len` lines with them: a
        // copy per argument costs more than the few bytes it saves); its spans point into
        // that copy. An incomplete command leaves no trace in the batch.
        let spanStart = batch.spans.count
        let commandIndex = batch.commandStarts.count
        var parsedArguments = 0
        // A resumed command's arguments parsed by earlier reads (relative to its first
        // byte); this read's go to the batch as usual, these join them once it is complete.
        var earlierArguments: [Range<Int>]? = nil
        if partial != nil && start == 0, let resumed = partial.take() {
            count = resumed.count
            pos = resumed.next
            batch.commandStarts.append(spanStart)
            parsedArguments = resumed.arguments.count
            earlierArguments = resumed.arguments
        } else {
            if partial != nil { partial = nil }
            let cr: Int
            switch Self.lengthLine(
                input, at: start + 1, tooBig: "Protocol error: too big mbulk count string",
                invalid: "Protocol error: invalid multibulk length")
            {
            case .length(let value, let end): (count, cr) = (value, end)
            case .incomplete: return .incomplete
            case .failed(let why): return .failed(why)
            }
            guard count <= Int(Int32.max) else { return .failed("Protocol error: invalid multibulk length") }
            if !authenticated && count > 10 {
                return .failed("Protocol error: unauthenticated multibulk length")
            }
            pos = cr + 2
            if count <= 0 { return .skipped(next: pos) }
            batch.commandStarts.append(spanStart)
        }
        func rollback() {
            batch.spans.removeSubrange(spanStart...)
            batch.commandStarts.removeSubrange(commandIndex...)
        }
        // Keeps what was parsed of a long command for the next read, then rolls back.
        func suspend(_ next: Int) -> Step {
            if earlierArguments != nil || batch.spans.count - spanStart >= Self.partialThreshold {
                var arguments = earlierArguments.take() ?? []
                for span in batch.spans[spanStart...] {
                    let at = span.lowerBound - run.bytesStart + run.inputStart - start
                    arguments.append(at..<(at + span.count))
                }
                partial = Partial(count: count, arguments: arguments, next: next - start)
            }
            rollback()
            return .incomplete
        }
        for _ in parsedArguments..<count {
            if pos >= n { return suspend(pos) }
            if input.byte(pos) != UInt8(ascii: "$") {
                rollback()
                let c = Character(Unicode.Scalar(input[pos]))
                return .failed("Protocol error: expected '$', got '\(c)'")
            }
            let len: Int
            let lcr: Int
            switch Self.lengthLine(
                input, at: pos + 1, tooBig: "Protocol error: too big bulk count string",
                invalid: "Protocol error: invalid bulk length")
            {
            case .length(let value, let end): (len, lcr) = (value, end)
            case .incomplete: return suspend(pos)
            case .failed(let why):
                rollback()
                return .failed(why)
            }
            guard len >= 0, len <= maxBulkLength else {
                rollback()
                return .failed("Protocol error: invalid bulk length")
            }
            if !authenticated && len > 16384 {
                rollback()
                return .failed("Protocol error: unauthenticated bulk length")
            }
            let dataStart = lcr + 2
            // Redis skips the two bytes after the data without checking them.
            if dataStart + len + 2 > n { return suspend(pos) }
            let begin = run.batchOffset(dataStart)
            batch.spans.append(begin..<(begin + len))
            pos = dataStart + len + 2
        }
        if let earlier = earlierArguments {
            // Complete: the earlier reads' arguments go in before this read's (a resumed
            // command starts at 0).
            batch.spans.insert(
                contentsOf: earlier.map {
                    run.batchOffset($0.lowerBound)..<(run.batchOffset($0.lowerBound) + $0.count)
                },
                at: spanStart)
        }
        return .command(next: pos)
    }

    func parseInline(_ input: UnsafeRawBufferPointer, from start: Int, into batch: inout CommandBatch) -> Step {
        let n = input.count
        var nl = start
        while nl < n && input[nl] != 10 { nl += 1 }
        if nl == n {
            if n - start > Self.maxInlineSize { return .failed("Protocol error: too big inline request") }
            return .incomplete
        }
        var end = nl
        if end > start && input[end - 1] == 13 { end -= 1 }
        guard let args = splitArgs(UnsafeRawBufferPointer(rebasing: input[start..<end])) else {
            return .failed("Protocol error: unbalanced quotes in request")
        }
        if args.isEmpty { return .skipped(next: nl + 1) }
        batch.commandStarts.append(batch.spans.count)
        for arg in args {
            let begin = batch.bytes.count
            batch.bytes.append(contentsOf: arg)
            batch.spans.append(begin..<(begin + arg.count))
        }
        return .command(next: nl + 1)
    }
}

/// Redis's sdssplitargs: splits a line into arguments with "double quotes" (with \n, \t,
/// \xHH escapes) and 'single quotes'. Returns nil on unbalanced quotes.
public func splitArgs(_ line: UnsafeRawBufferPointer) -> [[UInt8]]? {
    var result: [[UInt8]] = []
    var i = 0
    let n = line.count
    func isSpace(_ c: UInt8) -> Bool { c == 32 || c == 10 || c == 13 || c == 9 || c == 11 || c == 12 || c == 0 }
    func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: return c - 48
        case 97...102: return c - 87
        case 65...70: return c - 55
        default: return nil
        }
    }
    while true {
        while i < n && isSpace(line[i]) { i += 1 }
        if i >= n { return result }
        var current: [UInt8] = []
        var inDouble = false
        var inSingle = false
        var done = false
        while !done {
            if inDouble {
                if i >= n { return nil }
                let c = line[i]
                if c == UInt8(ascii: "\\") && i + 3 < n && line[i + 1] == UInt8(ascii: "x"),
                    let h = hexValue(line[i + 2]), let l = hexValue(line[i + 3])
                {
                    current.append(h * 16 + l)
                    i += 3
                } else if c == UInt8(ascii: "\\") && i + 1 < n {
                    i += 1
                    switch line[i] {
                    case UInt8(ascii: "n"): current.append(10)
                    case UInt8(ascii: "r"): current.append(13)
                    case UInt8(ascii: "t"): current.append(9)
                    case UInt8(ascii: "b"): current.append(8)
                    case UInt8(ascii: "a"): current.append(7)
                    default: current.append(line[i])
                    }
                } else if c == UInt8(ascii: "\"") {
                    // A closing quote must be followed by a space or nothing.
                    if i + 1 < n && !isSpace(line[i + 1]) { return nil }
                    done = true
                } else {
                    current.append(c)
                }
            } else if inSingle {
                if i >= n { return nil }
                let c = line[i]
                if c == UInt8(ascii: "\\") && i + 1 < n && line[i + 1] == UInt8(ascii: "'") {
                    i += 1
                    current.append(UInt8(ascii: "'"))
                } else if c == UInt8(ascii: "'") {
                    if i + 1 < n && !isSpace(line[i + 1]) { return nil }
                    done = true
                } else {
                    current.append(c)
                }
            } else {
                if i >= n { break }
                let c = line[i]
                if isSpace(c) {
                    done = true
                } else if c == UInt8(ascii: "\"") {
                    inDouble = true
                } else if c == UInt8(ascii: "'") {
                    inSingle = true
                } else {
                    current.append(c)
                }
            }
            if i < n { i += 1 }
        }
        result.append(current)
    }
}

public func splitArgs(_ line: [UInt8]) -> [[UInt8]]? {
    line.withUnsafeBytes { splitArgs($0) }
}

public func splitArgs(_ line: String) -> [[UInt8]]? {
    splitArgs(Array(line.utf8))
}
