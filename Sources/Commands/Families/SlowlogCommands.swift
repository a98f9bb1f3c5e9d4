import DataStore
import RESP
import Server

enum SlowlogCommands {
    /// SLOWLOG GET [count]
    static func get(_ ctx: CommandContext) throws(CommandError) -> Reply {
        var count = 10
        if ctx.argc == 3 {
            guard let n = parseInt64(ctx.arg(2)), n >= -1 else { throw .slowlogCount }
            count = n == -1 ? Int.max : Int(clamping: n)
        } else if ctx.argc > 3 {
            throw .wrongArity("slowlog|get")
        }
        return .array(
            ctx.server.slowlog.prefix(count).map { e in
                .array([
                    .integer(e.id), .integer(e.time), .integer(e.microseconds), .array(e.arguments.map { .bulk($0) }),
                    .bulk(Array(e.address.utf8)), .bulk(e.name),
                ])
            })
    }

    /// SLOWLOG LEN
    static func len(_ ctx: CommandContext) throws(CommandError) -> Reply { .integer(Int64(ctx.server.slowlog.count)) }

    /// SLOWLOG RESET
    static func reset(_ ctx: CommandContext) throws(CommandError) -> Reply {
        ctx.server.slowlog.removeAll()
        return .ok
    }

    /// SLOWLOG HELP
    static func help(_ ctx: CommandContext) throws(CommandError) -> Reply {
        helpReply(
            "SLOWLOG",
            [
                "GET [<count>]",
                "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
                "    Entries are made of:",
                "    id, timestamp, time in microseconds, arguments array, client IP and port,",
                "    client name",
                "LEN",
                "    Return the length of the slowlog.",
                "RESET",
                "    Reset the slowlog.",
            ])
    }
}

extension CommandTable {
    static let slowlogRegistrations: [(String, Handler)] = [
        ("slowlog", { _ throws(CommandError) in .null }),
        ("slowlog|get", SlowlogCommands.get),
        ("slowlog|len", SlowlogCommands.len),
        ("slowlog|reset", SlowlogCommands.reset),
        ("slowlog|help", SlowlogCommands.help),
    ]
}
