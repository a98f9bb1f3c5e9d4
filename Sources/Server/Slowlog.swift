import DataStore
import Glibc
import RESP

/// One SLOWLOG entry, as slowlog.c records it.
public struct SlowlogEntry {
    public var id: Int64
    public var time: Int64
    public var microseconds: Int64
    public var arguments: [[UInt8]]
    public var address: String
    public var name: [UInt8]
}

extension CommandContext {
    /// Records the command just run when it took at least `slowlog-log-slower-than`
    /// microseconds: at most 32 arguments of at most 128 bytes each, as Redis trims them.
    func recordSlowlog(_ command: Command, microseconds: Int64) {
        let threshold = config.limits.slowlogSlowerThan
        guard threshold >= 0, microseconds >= threshold, !command.flags.contains(.skipSlowlog) else { return }
        let maxArgs = 32
        let shown = min(argc, maxArgs)
        var args: [[UInt8]] = []
        args.reserveCapacity(shown)
        for i in 0..<shown {
            if shown < argc && i == shown - 1 {
                args.append(Array("... (\(argc - shown + 1) more arguments)".utf8))
                break
            }
            let a = arg(i)
            if a.count > 128 {
                args.append(Array(a.prefix(128)) + Array("... (\(a.count - 128) more bytes)".utf8))
            } else {
                args.append(Array(a))
            }
        }
        // Passwords never reach the log.
        for i in redactedArguments(command) where i < args.count && !(shown < argc && i == shown - 1) {
            args[i] = Array("(redacted)".utf8)
        }
        let s = server
        s.slowlog.insert(
            SlowlogEntry(
                id: s.nextSlowlogId, time: keyspace.now / 1000, microseconds: microseconds, arguments: args,
                address: session.address, name: session.name), at: 0)
        s.nextSlowlogId += 1
        let maxLen = Int(max(0, config.limits.slowlogMaxLen))
        if s.slowlog.count > maxLen { s.slowlog.removeLast(s.slowlog.count - maxLen) }
    }
}

extension CommandContext {
    /// The arguments Redis redacts from SLOWLOG and MONITOR (redactClientCommandArgument):
    /// AUTH's, HELLO AUTH's and MIGRATE AUTH/AUTH2's credentials, ACL SETUSER/DELUSER/GETUSER's
    /// arguments, and the values of sensitive directives in CONFIG SET.
    func redactedArguments(_ command: Command) -> [Int] {
        switch command.fullName {
        case "auth": return Array(1..<argc)
        case "hello":
            var out: [Int] = []
            var i = 2
            while i < argc {
                if argIs(i, "auth") && i + 2 < argc {
                    out += [i + 1, i + 2]
                    i += 3
                } else {
                    i += 1
                }
            }
            return out
        case "acl|setuser", "acl|deluser", "acl|getuser": return Array(2..<argc)
        case "migrate":
            var out: [Int] = []
            var i = 6
            while i < argc {
                if argIs(i, "keys") { break }
                if argIs(i, "auth") && i + 1 < argc {
                    out.append(i + 1)
                    i += 2
                } else if argIs(i, "auth2") && i + 2 < argc {
                    out += [i + 1, i + 2]
                    i += 3
                } else {
                    i += 1
                }
            }
            return out
        case "config|set":
            return stride(from: 2, to: argc - 1, by: 2).filter {
                let name = argString($0).lowercased()
                return name == "requirepass" || name == "masterauth" || name == "tls-key-file-pass"
                    || name == "tls-client-key-file-pass"
            }.map { $0 + 1 }
        default: return []
        }
    }
}
