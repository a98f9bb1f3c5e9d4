import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// A swift-log handler that writes Redis's log line format:
/// `pid:role dd Mon yyyy hh:mm:ss.mmm <level-char> message`, to stdout or `logfile`.
public struct RedisLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    nonisolated(unsafe) let file: UnsafeMutablePointer<FILE>?
    let role: Character

    /// The role lines show while the server follows a primary ("S"), as Redis's log does;
    /// set on the event loop when REPLICAOF changes it (one byte: a log line from another
    /// thread reads it whole).
    nonisolated(unsafe) static var replicaRole: UInt8 = 0

    public init(level: Logger.Level, logfile: String, role: Character = "M") {
        self.logLevel = level
        self.role = role
        if logfile.isEmpty {
            file = nil
        } else {
            file = fopen(logfile, "a")
        }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Redis's loglevel names mapped onto swift-log levels.
    public static func level(_ redisLevel: String) -> Logger.Level {
        switch redisLevel {
        case "debug": return .debug
        case "verbose": return .info
        case "notice": return .notice
        case "warning": return .warning
        default: return .critical
        }
    }

    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    public static func timestamp() -> String {
        var tv = timeval()
        gettimeofday(&tv, nil)
        var t = time_t(tv.tv_sec)
        var tmv = tm()
        localtime_r(&t, &tmv)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let ms = Int(tv.tv_usec / 1000)
        let msText = ms < 10 ? "00\(ms)" : ms < 100 ? "0\(ms)" : "\(ms)"
        return "\(two(tmv.tm_mday)) \(months[Int(tmv.tm_mon)]) \(tmv.tm_year + 1900) "
            + "\(two(tmv.tm_hour)):\(two(tmv.tm_min)):\(two(tmv.tm_sec)).\(msText)"
    }

    public func log(event: LogEvent) {
        let level = event.level
        let message = event.message
        let mark: Character
        switch level {
        case .trace, .debug: mark = "."
        case .info: mark = "-"
        case .notice: mark = "*"
        default: mark = "#"
        }
        // The start-up banner goes out as it is (Redis's serverLogRaw).
        let raw = event.metadata?["raw"] != nil || metadata["raw"] != nil
        let role = Self.replicaRole != 0 && self.role == "M" ? "S" : self.role
        let text = raw ? "\(message)\n" : "\(getpid()):\(role) \(Self.timestamp()) \(mark) \(message)\n"
        if let out = self.file {
            fputs(text, out)
            fflush(out)
        } else {
            // Whole lines with one write, so concurrent writers never interleave.
            var bytes = Array(text.utf8)
            _ = bytes.withUnsafeMutableBytes { write(1, $0.baseAddress, $0.count) }
        }
    }
}
