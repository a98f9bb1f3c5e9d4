import DataStore
import RESP
import Server

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// MONITOR: every command the server runs, as one status line per command in Redis's format
/// (`+<seconds>.<micros> [<db> <addr>] "arg" …`), passwords redacted, admin commands left out.
enum MonitorCommands {
    /// MONITOR
    static func monitor(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let s = ctx.session
        if !s.isMonitor {
            s.isMonitor = true
            ctx.server.monitors.append(s)
        }
        return .ok
    }
}

extension CommandTable {
    static let monitorRegistrations: [(String, Handler)] = [
        ("monitor", MonitorCommands.monitor)
    ]
}
