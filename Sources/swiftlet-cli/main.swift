// swiftlet-cli: redis-cli's command line and output, for Swiftlet and Redis alike.
//
// Options are read until the first argument that is not one (as redis-cli does, so that
// `INCRBY k -5` keeps its -5); the rest is the command. Without a command, commands come
// from standard input (one per line) or, on a terminal, from an interactive prompt.
// Replies print as redis-cli prints them: quoted and numbered on a terminal (or with
// --no-raw), raw when the output is a pipe (or with --raw).

import RESP

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

struct Options {
    var host = "127.0.0.1"
    var port = 6379
    var socketPath: String?
    var user: String?
    var password: String?
    var database = 0
    var resp3 = false
    var raw: Bool? = nil
    var csv = false  // the last of --raw, --no-raw and --csv wins, as in redis-cli
    var authWarning = true
    var repeatCount = 1
    var interval: Double = 0
    var lastArgFromStdin = false
    var exitCodeOnError = false
    var command: [[UInt8]] = []
    enum Mode { case command, scan, bigKeys, memKeys, pipe, stat, latency, latencyHistory, rdb }
    var rdbPath = ""
    var mode = Mode.command
    var pattern: String?
    var count: Int?
    var memKeysSamples: Int?
}

/// Writes to a file descriptor directly (stdio's streams are shared mutable state to Swift 6).
func writeBytes(_ fd: Int32, _ bytes: [UInt8]) {
    var sent = 0
    while sent < bytes.count {
        let n = bytes[sent...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if n <= 0 { return }
        sent += n
    }
}

func writeOut(_ fd: Int32, _ text: String) { writeBytes(fd, Array(text.utf8)) }

func fail(_ message: String, code: Int32 = 1) -> Never {
    writeOut(2, message + "\n")
    exit(code)
}

func parseOptions(_ argv: [String]) -> Options {
    var o = Options()
    var i = 1
    func value() -> String {
        guard i + 1 < argv.count else { fail("Unrecognized option or bad number of args for: '\(argv[i])'") }
        i += 1
        return argv[i]
    }
    while i < argv.count {
        let a = argv[i]
        switch a {
        case "-h": o.host = value()
        case "-p":
            guard let p = Int(value()) else { fail("Invalid port") }
            o.port = p
        case "-s": o.socketPath = value()
        case "-a", "--pass": o.password = value()
        case "--user": o.user = value()
        case "-u": applyURI(value(), to: &o)
        case "-n": o.database = Int(value()) ?? 0
        case "-3": o.resp3 = true
        case "-2": o.resp3 = false
        case "--raw":
            o.raw = true
            o.csv = false
        case "--no-raw":
            o.raw = false
            o.csv = false
        case "--csv": o.csv = true
        case "--no-auth-warning": o.authWarning = false
        case "-r": o.repeatCount = Int(value()) ?? 1
        case "-i": o.interval = Double(value()) ?? 0
        case "-x": o.lastArgFromStdin = true
        case "-e": o.exitCodeOnError = true
        case "--scan": o.mode = .scan
        case "--pattern": o.pattern = value()
        case "--count": o.count = Int(value())
        case "--bigkeys": o.mode = .bigKeys
        case "--memkeys": o.mode = .memKeys
        case "--memkeys-samples":
            o.mode = .memKeys
            o.memKeysSamples = Int(value())
        case "--pipe": o.mode = .pipe
        case "--stat": o.mode = .stat
        case "--latency": o.mode = .latency
        case "--latency-history": o.mode = .latencyHistory
        case "--rdb":
            o.mode = .rdb
            o.rdbPath = value()
        case "--help":
            writeOut(1, usage + "\n")
            exit(0)
        case "-v", "--version":
            writeOut(1, "swiftlet-cli 7.4.0\n")
            exit(0)
        default:
            if a.hasPrefix("-") && a.count > 1 && o.command.isEmpty && Double(a) == nil {
                fail("Unrecognized option or bad number of args for: '\(a)'")
            }
            o.command = argv[i...].map { Array($0.utf8) }
            return o
        }
        i += 1
    }
    return o
}

/// redis://[[user]:password@]host[:port][/db], as redis-cli's parseRedisUri.
func applyURI(_ uri: String, to o: inout Options) {
    var rest = Substring(uri)
    if rest.hasPrefix("redis://") {
        rest = rest.dropFirst(8)
    } else if rest.hasPrefix("rediss://") {
        fail("Insecure connection only: TLS is not supported")
    } else {
        fail("Invalid URI scheme")
    }
    if let at = rest.lastIndex(of: "@") {
        let credentials = rest[..<at]
        if let colon = credentials.firstIndex(of: ":") {
            let user = credentials[..<colon]
            if !user.isEmpty { o.user = percentDecoded(user) }
            o.password = percentDecoded(credentials[credentials.index(after: colon)...])
        } else {
            o.password = percentDecoded(credentials)
        }
        rest = rest[rest.index(after: at)...]
    }
    if let slash = rest.firstIndex(of: "/") {
        o.database = Int(rest[rest.index(after: slash)...]) ?? 0
        rest = rest[..<slash]
    }
    if let colon = rest.lastIndex(of: ":") {
        o.port = Int(rest[rest.index(after: colon)...]) ?? 6379
        rest = rest[..<colon]
    }
    if !rest.isEmpty { o.host = String(rest) }
}

func percentDecoded(_ s: Substring) -> String {
    var out: [UInt8] = []
    var bytes = Array(s.utf8)[...]
    while let b = bytes.first {
        bytes = bytes.dropFirst()
        if b == UInt8(ascii: "%"), bytes.count >= 2,
            let v = UInt8(String(decoding: bytes.prefix(2), as: UTF8.self), radix: 16)
        {
            out.append(v)
            bytes = bytes.dropFirst(2)
        } else {
            out.append(b)
        }
    }
    return String(decoding: out, as: UTF8.self)
}

let usage = """
    Usage: swiftlet-cli [OPTIONS] [cmd [arg [arg ...]]]
      -h <hostname>      Server hostname (default: 127.0.0.1).
      -p <port>          Server port (default: 6379).
      -s <socket>        Server socket (overrides hostname and port).
      -a <password>      Password to use when connecting to the server.
      --user <username>  Used to send ACL style 'AUTH username pass'. Needs -a.
      --pass <password>  Alias of -a for consistency with the new --user option.
      -u <uri>           Server URI: redis://user:password@host:port/dbnum
      -r <repeat>        Execute specified command N times.
      -i <interval>      When -r is used, waits <interval> seconds per command.
      -n <db>            Database number.
      -2                 Start session in RESP2 protocol mode.
      -3                 Start session in RESP3 protocol mode.
      -x                 Read last argument from STDIN.
      -e                 Return exit error code when command execution fails.
      --scan             List all keys using the SCAN command.
      --pattern <pat>    Keys pattern when using the --scan or --bigkeys options.
      --count <count>    Count option when using the --scan or --bigkeys options.
      --bigkeys          Sample keys looking for keys with many elements (complexity).
      --memkeys          Sample keys looking for keys consuming a lot of memory.
      --memkeys-samples <n> Like --memkeys, with MEMORY USAGE's SAMPLES.
      --pipe             Transfer raw Redis protocol from stdin to server.
      --stat             Print rolling stats about server: mem, clients, ...
      --latency          Enter a special mode continuously sampling latency.
      --rdb <filename>   Transfer an RDB dump from remote server to local file.
      --latency-history  Like --latency but tracking latency changes over time
                         (default interval 15 seconds; change it with -i).
      --raw              Use raw formatting for replies (default when STDOUT is not a tty).
      --csv              Output in CSV format.
      --no-raw           Force formatted output even when STDOUT is not a tty.
      --no-auth-warning  Don't show warning message when using password on command line.
      --help             Output this help and exit.
      --version          Output version and exit.
    """

// MARK: - Connection

final class Connection {
    let fd: Int32
    var buffer: [UInt8] = []
    var position = 0

    init(_ o: Options) {
        if let path = o.socketPath {
            fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            withUnsafeMutableBytes(of: &addr.sun_path) { dst in
                for (i, b) in bytes.prefix(dst.count - 1).enumerated() { dst[i] = b }
            }
            let ok = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
            if ok != 0 { fail("Could not connect to Redis at \(path): \(String(cString: strerror(errno)))") }
            return
        }
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(o.host, String(o.port), &hints, &result)
        guard status == 0, let first = result else {
            fail("Could not connect to Redis at \(o.host):\(o.port): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(result) }
        var lastError: Int32 = 0
        var info: UnsafeMutablePointer<addrinfo>? = first
        while let ai = info {
            let s = socket(ai.pointee.ai_family, ai.pointee.ai_socktype, ai.pointee.ai_protocol)
            if s >= 0 {
                if connect(s, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0 {
                    var one: Int32 = 1
                    setsockopt(s, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                    fd = s
                    return
                }
                lastError = errno
                close(s)
            }
            info = ai.pointee.ai_next
        }
        fail("Could not connect to Redis at \(o.host):\(o.port): \(String(cString: strerror(lastError)))")
    }

    func send(_ args: [[UInt8]]) {
        var out: [UInt8] = Array("*\(args.count)\r\n".utf8)
        for a in args {
            out += Array("$\(a.count)\r\n".utf8)
            out += a
            out += [13, 10]
        }
        var sent = 0
        while sent < out.count {
            let n = out[sent...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n <= 0 { fail("Error: Server closed the connection") }
            sent += n
        }
    }

    func byte() -> UInt8 {
        if position == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            position = 0
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = read(fd, &chunk, chunk.count)
            if n <= 0 { fail("Error: Server closed the connection") }
            buffer += chunk[0..<n]
        }
        position += 1
        return buffer[position - 1]
    }

    func line() -> [UInt8] {
        var out: [UInt8] = []
        while true {
            let b = byte()
            if b == 13 {
                _ = byte()
                return out
            }
            out.append(b)
        }
    }

    func bytes(_ n: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(byte()) }
        _ = byte()
        _ = byte()
        return out
    }

    func reply() -> CLIReply {
        let type = byte()
        let text = line()
        let n = Int(String(decoding: text, as: UTF8.self)) ?? -1
        switch type {
        case UInt8(ascii: "+"): return .status(text)
        case UInt8(ascii: "-"): return .error(text)
        case UInt8(ascii: ":"): return .integer(text)
        case UInt8(ascii: "$"): return n < 0 ? .null : .string(bytes(n))
        case UInt8(ascii: "="): return n < 0 ? .null : .verbatim(Array(bytes(n).dropFirst(4)))
        case UInt8(ascii: "!"): return .error(bytes(n))
        case UInt8(ascii: "_"): return .null
        case UInt8(ascii: "#"): return .bool(text == [UInt8(ascii: "t")])
        case UInt8(ascii: ","): return .double(text)
        case UInt8(ascii: "("): return .bigNumber(text)
        case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: ">"):
            if n < 0 { return .null }
            let kind: CLIReply.Kind = type == UInt8(ascii: "*") ? .array : type == UInt8(ascii: "~") ? .set : .push
            return .aggregate(kind, (0..<n).map { _ in reply() })
        case UInt8(ascii: "%"), UInt8(ascii: "|"):
            let items = (0..<(2 * max(n, 0))).map { _ in reply() }
            if type == UInt8(ascii: "|") { return reply() }  // attributes are skipped
            return .aggregate(.map, items)
        default:
            fail("Protocol error, got \"\(Character(Unicode.Scalar(type)))\" as reply type byte")
        }
    }
}

// MARK: - Replies, formatted as redis-cli formats them

indirect enum CLIReply {
    enum Kind { case array, set, map, push }
    case status([UInt8])
    case error([UInt8])
    case integer([UInt8])
    case string([UInt8])
    case verbatim([UInt8])
    case null
    case bool(Bool)
    case double([UInt8])
    case bigNumber([UInt8])
    case aggregate(Kind, [CLIReply])

    var isError: Bool { if case .error = self { return true } else { return false } }
}

/// sdscatrepr: a quoted string with C escapes.
func quoted(_ bytes: [UInt8]) -> [UInt8] { Repr.quoted(bytes) }

/// cliFormatReplyTTY.
func formatTTY(_ r: CLIReply, prefix: [UInt8] = []) -> [UInt8] {
    switch r {
    case .error(let e): return Array("(error) ".utf8) + e + [10]
    case .status(let s): return s + [10]
    case .integer(let n): return Array("(integer) ".utf8) + n + [10]
    case .double(let d): return Array("(double) ".utf8) + d + [10]
    case .bigNumber(let n): return Array("(big number) ".utf8) + n + [10]
    case .string(let s): return quoted(s) + [10]
    case .verbatim(let s): return s + [10]
    case .null: return Array("(nil)\n".utf8)
    case .bool(let b): return Array((b ? "(true)\n" : "(false)\n").utf8)
    case .aggregate(let kind, let items):
        if items.isEmpty {
            switch kind {
            case .array: return Array("(empty array)\n".utf8)
            case .map: return Array("(empty hash)\n".utf8)
            case .set: return Array("(empty set)\n".utf8)
            case .push: return Array("(empty push)\n".utf8)
            }
        }
        var count = kind == .map ? items.count / 2 : items.count
        var width = 0
        repeat {
            width += 1
            count /= 10
        } while count > 0
        let childPrefix = prefix + [UInt8](repeating: 32, count: width + 2)
        let separator: UInt8 = kind == .set ? UInt8(ascii: "~") : kind == .map ? UInt8(ascii: "#") : UInt8(ascii: ")")
        var out: [UInt8] = []
        var i = 0
        while i < items.count {
            let index = (kind == .map ? i / 2 : i) + 1
            let digits = Array(String(index).utf8)
            if i > 0 { out += prefix }
            out += [UInt8](repeating: 32, count: width - digits.count) + digits + [separator, 32]
            out += formatTTY(items[i], prefix: childPrefix)
            if kind == .map {
                i += 1
                out.removeLast()
                out += Array(" => ".utf8)
                // A value that spans several lines starts on its own, indented (redis-cli).
                if case .aggregate(let valueKind, let values) = items[i],
                    (valueKind == .map ? values.count / 2 : values.count) > 1
                {
                    out += [10] + childPrefix
                }
                out += formatTTY(items[i], prefix: childPrefix)
            }
            i += 1
        }
        return out
    }
}

/// cliFormatReplyRaw.
func formatRaw(_ r: CLIReply) -> [UInt8] {
    switch r {
    case .null: return []
    case .error(let e): return e + [10]
    case .status(let s), .string(let s), .verbatim(let s), .integer(let s), .double(let s), .bigNumber(let s):
        return s
    case .bool(let b): return Array((b ? "(true)" : "(false)").utf8)
    case .aggregate(let kind, let items):
        var out: [UInt8] = []
        if kind == .map {
            var i = 0
            while i + 1 < items.count {
                if i > 0 { out.append(10) }
                out += formatRaw(items[i]) + [32] + formatRaw(items[i + 1])
                i += 2
            }
            return out
        }
        for (i, item) in items.enumerated() {
            if i > 0 { out.append(10) }
            out += formatRaw(item)
        }
        return out
    }
}

/// cliFormatReplyCSV: strings quoted, aggregates (maps too) flattened with commas.
func formatCSV(_ r: CLIReply) -> [UInt8] {
    switch r {
    case .null: return Array("NULL".utf8)
    case .error(let e): return Array("ERROR,".utf8) + quoted(e)
    case .status(let s), .string(let s), .verbatim(let s): return quoted(s)
    case .integer(let s), .double(let s), .bigNumber(let s): return s
    case .bool(let b): return Array((b ? "true" : "false").utf8)
    case .aggregate(_, let items):
        var out: [UInt8] = []
        for (i, item) in items.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out += formatCSV(item)
        }
        return out
    }
}

@MainActor func output(_ r: CLIReply, raw: Bool) {
    let bytes = options.csv ? formatCSV(r) + [10] : raw ? formatRaw(r) + [10] : formatTTY(r)
    writeBytes(1, bytes)
}

// MARK: - Running

func readAllStdin() -> [UInt8] {
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = read(0, &chunk, chunk.count)
        if n <= 0 { return out }
        out += chunk[0..<n]
    }
}

func readLine(prompt: String) -> [UInt8]? {
    writeOut(1, prompt)
    var out: [UInt8] = []
    var c: UInt8 = 0
    while true {
        let n = read(0, &c, 1)
        if n <= 0 { return out.isEmpty ? nil : out }
        if c == 10 { return out }
        out.append(c)
    }
}

var options = parseOptions(CommandLine.arguments)
let raw = options.raw ?? (isatty(1) == 0)
if options.password != nil && options.authWarning {
    writeOut(2, "Warning: Using a password with '-a' or '-u' option on the command line interface may not be safe.\n")
}
let connection = Connection(options)
var hadError = false

/// Sends one command and prints its reply (SUBSCRIBE-style commands keep printing pushes).
@MainActor func run(_ args: [[UInt8]], quietReply: Bool = false) -> CLIReply {
    connection.send(args)
    let reply = connection.reply()
    if case .error(let text) = reply, options.exitCodeOnError {
        // With -e an error goes to standard error, bare, as redis-cli prints it.
        writeBytes(2, text + [10])
    } else if !quietReply {
        output(reply, raw: raw)
    }
    if reply.isError { hadError = true }
    return reply
}

/// `help` and `?` are answered by the client, as redis-cli does.
func isHelp(_ args: [[UInt8]]) -> Bool {
    let name = String(decoding: args[0], as: UTF8.self).lowercased()
    return name == "help" || name == "?"
}

@MainActor func handshake() {
    if options.resp3 {
        var hello: [[UInt8]] = [Array("HELLO".utf8), Array("3".utf8)]
        if let password = options.password {
            hello += [Array("AUTH".utf8), Array((options.user ?? "default").utf8), Array(password.utf8)]
        }
        connection.send(hello)
        let reply = connection.reply()
        if case .error(let e) = reply { fail("AUTH failed: " + String(decoding: e, as: UTF8.self)) }
    } else if let password = options.password {
        var auth: [[UInt8]] = [Array("AUTH".utf8)]
        if let user = options.user { auth.append(Array(user.utf8)) }
        auth.append(Array(password.utf8))
        connection.send(auth)
        if case .error(let e) = connection.reply() {
            writeOut(2, "AUTH failed: " + String(decoding: e, as: UTF8.self) + "\n")
        }
    }
    if options.database != 0 {
        connection.send([Array("SELECT".utf8), Array(String(options.database).utf8)])
        if case .error(let e) = connection.reply() {
            writeOut(2, "SELECT \(options.database) failed: " + String(decoding: e, as: UTF8.self) + "\n")
        }
    }
}

handshake()

switch options.mode {
case .scan: scanMode()
case .bigKeys, .memKeys: bigKeysMode(memory: options.mode == .memKeys)
case .pipe: pipeMode()
case .stat: statMode()
case .latency, .latencyHistory: latencyMode(history: options.mode == .latencyHistory)
case .rdb: rdbMode(path: options.rdbPath)
case .command: break
}

if !options.command.isEmpty {
    var command = options.command
    if options.lastArgFromStdin { command.append(readAllStdin()) }
    let name = String(decoding: command[0], as: UTF8.self).lowercased()
    for round in 0..<max(options.repeatCount, 1) {
        if round > 0 && options.interval > 0 { usleep(UInt32(options.interval * 1_000_000)) }
        _ = run(command)
    }
    // Subscribed: keep printing what arrives.
    if ["subscribe", "psubscribe", "ssubscribe", "monitor"].contains(name) {
        while true { output(connection.reply(), raw: raw) }
    }
    exit(options.exitCodeOnError && hadError ? 1 : 0)
}

if isatty(0) != 0 {
    // Interactive: redis-cli's prompt, `quit`/`exit` to leave.
    var database = options.database
    let editor = LineEditor()
    while true {
        let place = options.socketPath ?? "\(options.host):\(options.port)"
        let prompt = database == 0 ? "\(place)> " : "\(place)[\(database)]> "
        guard let text = editor.read(prompt: prompt) else { break }
        editor.remember(text)
        if text == ":set hints" || text == ":set nohints" {
            editor.hints = text == ":set hints"
            continue
        }
        let line = Array(text.utf8)
        guard let args = line.withUnsafeBytes({ splitArgs($0) }) else {
            writeOut(1, "Invalid argument(s)\n")
            continue
        }
        if args.isEmpty { continue }
        let name = String(decoding: args[0], as: UTF8.self).lowercased()
        if name == "quit" || name == "exit" { break }
        if isHelp(args) {
            outputHelp(args.dropFirst().map { String(decoding: $0, as: UTF8.self) })
            continue
        }
        let reply = run(args)
        if name == "select", case .status = reply, args.count > 1 {
            database = Int(String(decoding: args[1], as: UTF8.self)) ?? database
        }
    }
    exit(0)
}

// Commands from standard input, one per line.
let input = readAllStdin()
for line in input.split(separator: 10, omittingEmptySubsequences: true) {
    guard let args = Array(line).withUnsafeBytes({ splitArgs($0) }) else {
        writeOut(1, "Invalid argument(s)\n")
        continue
    }
    if args.isEmpty { continue }
    if isHelp(args) {
        outputHelp(args.dropFirst().map { String(decoding: $0, as: UTF8.self) })
        continue
    }
    _ = run(args)
}
exit(options.exitCodeOnError && hadError ? 1 : 0)
