import DataStore
import Persistence
import RESP
import Server

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// MIGRATE: keys move to another server as DUMP payloads in RESTORE commands. As in Redis
/// the command blocks the server until the target answers or `timeout` milliseconds pass
/// (it is an administrator's tool, and the keys must not change while they travel).
/// Unlike Redis, the connection is not kept for the next MIGRATE.
enum MigrateCommand {
    /// MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE]
    /// [AUTH password | AUTH2 username password] [KEYS key [key ...]]
    static func migrate(_ ctx: CommandContext) throws(CommandError) -> Reply {
        var copy = false
        var replace = false
        var auth: [[UInt8]] = []
        var firstKey = 3
        var keyCount = 1
        var args = ArgumentReader(ctx, from: 6)
        while !args.isAtEnd {
            if args.take("copy") {
                copy = true
            } else if args.take("replace") {
                replace = true
            } else if args.take("auth", values: 1) {
                auth = [try args.bytes()]
            } else if args.take("auth2", values: 2) {
                auth = [try args.bytes(), try args.bytes()]
            } else if args.take("keys") {
                guard ctx.arg(3).isEmpty else {
                    throw CommandError(
                        "ERR When using MIGRATE KEYS option, the key argument must be set to the empty string")
                }
                firstKey = args.position
                keyCount = args.remaining
                break
            } else {
                throw .syntax
            }
        }
        let timeoutArgument = try ctx.int64(5)
        let db = try ctx.int64(4)
        let timeout = timeoutArgument <= 0 ? 1000 : timeoutArgument

        // The keys that exist, with their payloads and time to live.
        var keys: [[UInt8]] = []
        var restores: [[[UInt8]]] = []
        let compress = ctx.config.bool("rdbcompression")
        for i in firstKey..<(firstKey + keyCount) {
            guard let slot = ctx.lookupRead(i) else { continue }
            let entry = ctx.db.table[slot]
            var ttl: Int64 = 0
            if entry.expireAt != KeyEntry.noExpiry {
                ttl = max(entry.expireAt - ctx.now, 1)
            }
            // In a cluster the target takes the keys while it imports the slot.
            var restore = [
                Array((ctx.server.cluster != nil ? "RESTORE-ASKING" : "RESTORE").utf8), ctx.argBytes(i),
                formatInt64(ttl),
                RDBWriter.dumpPayload(entry.value, compress: compress),
            ]
            if replace { restore.append(Array("REPLACE".utf8)) }
            keys.append(ctx.argBytes(i))
            restores.append(restore)
        }
        if keys.isEmpty { return .simple("NOKEY") }

        guard let target = TargetConnection(host: ctx.argString(1), port: ctx.argString(2), timeoutMs: timeout) else {
            throw CommandError("IOERR error or timeout connecting to the client")
        }
        defer { target.disconnect() }
        var request: [UInt8] = []
        if !auth.isEmpty { RequestEncoding.append([Array("AUTH".utf8)] + auth, into: &request) }
        RequestEncoding.append([Array("SELECT".utf8), formatInt64(db)], into: &request)
        for restore in restores { RequestEncoding.append(restore, into: &request) }
        guard target.write(request) else { throw CommandError("IOERR error or timeout writing to target instance") }

        var authReply: [UInt8] = []
        if !auth.isEmpty {
            guard let line = target.readLine() else {
                throw CommandError("IOERR error or timeout reading to target instance")
            }
            authReply = line
        }
        guard let selectReply = target.readLine() else {
            throw CommandError("IOERR error or timeout reading to target instance")
        }
        var targetError: [UInt8]?
        var moved: [[UInt8]] = []
        var socketError = false
        for key in keys {
            guard let reply = target.readLine() else {
                socketError = true
                break
            }
            if authReply.first == UInt8(ascii: "-") || selectReply.first == UInt8(ascii: "-")
                || reply.first == UInt8(ascii: "-")
            {
                if targetError == nil {
                    let failed =
                        authReply.first == UInt8(ascii: "-")
                        ? authReply : selectReply.first == UInt8(ascii: "-") ? selectReply : reply
                    targetError = Array(failed.dropFirst())
                }
            } else if !copy {
                // Restored there: gone from here, as a DEL that the AOF logs.
                _ = ctx.db.delete(key[...], now: ctx.now)
                moved.append(key)
            }
        }
        if !copy {
            ctx.markDirty(moved.count)
            ctx.propagate(moved.isEmpty ? [] : [[Array("DEL".utf8)] + moved])
        }
        if socketError { throw CommandError("IOERR error or timeout reading to target instance") }
        if let targetError {
            throw CommandError(
                "ERR Target instance replied with error: " + String(decoding: targetError, as: UTF8.self))
        }
        return .ok
    }
}

/// Encodes a command as a RESP array of bulk strings (what a client sends).
enum RequestEncoding {
    static func append(_ arguments: [[UInt8]], into out: inout [UInt8]) {
        out += Array("*\(arguments.count)\r\n".utf8)
        for a in arguments {
            out += Array("$\(a.count)\r\n".utf8)
            out += a
            out += [13, 10]
        }
    }
}

/// A blocking TCP connection with a deadline on connecting, and on each write and read.
final class TargetConnection {
    let fd: Int32
    var buffer: [UInt8] = []

    init?(host: String, port: String, timeoutMs: Int64) {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, port, &hints, &result) == 0, let info = result else { return nil }
        defer { freeaddrinfo(result) }
        let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
        guard fd >= 0 else { return nil }
        // Connect without blocking, then wait for it at most `timeoutMs`.
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        var connected = connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0
        if !connected && errno == EINPROGRESS {
            var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            // Ready is enough, as for Redis: a refused connection shows as a failed write.
            connected = poll(&poller, 1, Int32(clamping: timeoutMs)) == 1
        }
        guard connected else {
            close(fd)
            return nil
        }
        _ = fcntl(fd, F_SETFL, flags)
        var deadline = timeval(tv_sec: Int(timeoutMs / 1000), tv_usec: Int(timeoutMs % 1000) * 1000)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &deadline, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &deadline, socklen_t(MemoryLayout<timeval>.size))
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        self.fd = fd
    }

    func write(_ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            sent += n
        }
        return true
    }

    /// One reply line without its CRLF; nil on a timeout, an error or a closed connection.
    func readLine() -> [UInt8]? {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            if let end = buffer.firstIndex(of: 10) {
                var line = Array(buffer[..<end])
                if line.last == 13 { line.removeLast() }
                buffer.removeSubrange(...end)
                return line
            }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return nil }
            buffer += chunk[..<n]
        }
    }

    func disconnect() { close(fd) }
}

extension CommandTable {
    static let migrateRegistrations: [(String, Handler)] = [
        ("migrate", MigrateCommand.migrate)
    ]
}
