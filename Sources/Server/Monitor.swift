import DataStore
import Glibc
import RESP

extension CommandContext {
    /// Sends the command just run to MONITOR clients (replicationFeedMonitors). Scripts and
    /// functions (skip_monitor) are fed `explicitly` as they start, so the commands they run
    /// follow them, shown from `lua`.
    public func feedMonitors(_ command: Command, explicitly: Bool = false) {
        if (command.flags.contains(.skipMonitor) && !explicitly) || command.flags.contains(.admin) { return }
        var tv = timeval()
        gettimeofday(&tv, nil)
        var line: [UInt8] = Array("+\(tv.tv_sec).".utf8)
        let micros = String(tv.tv_usec)
        line += Array((String(repeating: "0", count: max(0, 6 - micros.count)) + micros).utf8)
        let origin =
            session.isScriptClient ? "lua" : session.isUnixSocket ? "unix:\(config["unixsocket"])" : session.address
        line += Array(" [\(session.db) \(origin)]".utf8)
        // Credentials never reach a monitor.
        let redacted = redactedArguments(command)
        for i in 0..<argc {
            line.append(32)
            if redacted.contains(i) {
                line += Array("\"(redacted)\"".utf8)
            } else {
                MonitorLine.quote(arg(i), into: &line)
            }
        }
        line += [13, 10]
        for m in server.monitors { m.deliverHook?(line) }
    }
}

/// MONITOR's line format.
public enum MonitorLine {
    /// sdscatrepr: a quoted string with C escapes for what is not printable.
    @inline(__always)
    public static func quote(_ bytes: ArraySlice<UInt8>, into out: inout [UInt8]) {
        Repr.append(bytes, into: &out)
    }
}
