import DataStore
import RESP
import Server

enum ClientCommands {
    /// Redis's validateClientAttr: printable ASCII without spaces.
    static func validateName(_ name: [UInt8], error: CommandError) throws(CommandError) {
        for c in name where c < UInt8(ascii: "!") || c > UInt8(ascii: "~") { throw error }
    }

    /// CLIENT ID
    static func id(_ ctx: CommandContext) throws(CommandError) -> Reply { .integer(ctx.session.id) }

    /// CLIENT SETNAME connection-name
    static func setname(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let name = ctx.argBytes(2)
        try validateName(name, error: .clientNameSpaces)
        ctx.session.name = name
        return .ok
    }

    /// CLIENT GETNAME
    static func getname(_ ctx: CommandContext) throws(CommandError) -> Reply {
        ctx.session.name.isEmpty ? .null : .bulk(ctx.session.name)
    }

    /// CLIENT SETINFO <LIB-NAME libname | LIB-VER libver>
    static func setinfo(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let attr = ctx.argString(2)
        let value = ctx.argBytes(3)
        let isName: Bool
        if ctx.argIs(2, "lib-name") {
            isName = true
        } else if ctx.argIs(2, "lib-ver") {
            isName = false
        } else {
            throw .unrecognizedOption(attr)
        }
        try validateName(
            value, error: .attributeSpaces(attr))
        if isName {
            ctx.session.libName = String(decoding: value, as: UTF8.self)
        } else {
            ctx.session.libVersion = String(decoding: value, as: UTF8.self)
        }
        return .ok
    }

    /// CLIENT INFO
    static func info(_ ctx: CommandContext) throws(CommandError) -> Reply {
        ctx.session.lastCommand = "client|info"
        let line = ctx.session.infoLine(now: ctx.server.clock(), runningArgv: runningArgv(ctx))
        return .verbatim(format: "txt", Array((line + "\n").utf8))
    }

    /// The running command's argument bytes and count, for the caller's own line.
    static func runningArgv(_ ctx: CommandContext) -> (bytes: Int, count: Int) {
        ((0..<ctx.argc).reduce(0) { $0 + ctx.argLength($1) }, ctx.argc)
    }

    /// Redis's getClientType: subscribers are `pubsub`, everyone else here `normal`.
    /// Redis's getClientType name (`slave` is the same class as `replica`).
    static func clientType(_ c: ClientSession) -> String {
        c.isReplica ? "replica" : c.inPubSubMode ? "pubsub" : "normal"
    }

    /// A TYPE filter's class name.
    static func typeClass(_ name: String) -> String { name == "slave" ? "replica" : name }

    static func isKnownType(_ t: String) -> Bool {
        ["normal", "master", "replica", "slave", "pubsub"].contains(t)
    }

    /// CLIENT LIST [TYPE <NORMAL | MASTER | REPLICA | PUBSUB>] [ID client-id [client-id ...]]
    static func list(_ ctx: CommandContext) throws(CommandError) -> Reply {
        ctx.session.lastCommand = "client|list"
        var typeFilter: String?
        var ids: Set<Int64>?
        if ctx.argc == 4 && ctx.argIs(2, "type") {
            let t = ctx.argString(3).lowercased()
            guard isKnownType(t) else { throw .unknownClientType(ctx.argString(3)) }
            typeFilter = t
        } else if ctx.argc >= 4 && ctx.argIs(2, "id") {
            var set = Set<Int64>()
            for j in 3..<ctx.argc {
                guard let v = parseInt64(ctx.arg(j)), v > 0 else { throw .invalidClientID }
                set.insert(v)
            }
            ids = set
        } else if ctx.argc != 2 {
            throw .syntax
        }
        var text = ""
        for c in ctx.server.clients.values.sorted(by: { $0.id < $1.id }) {
            if let typeFilter, typeClass(typeFilter) != clientType(c) { continue }
            if let ids, !ids.contains(c.id) { continue }
            let running = c === ctx.session ? runningArgv(ctx) : (0, 0)
            text += c.infoLine(now: ctx.server.clock(), runningArgv: running) + "\n"
        }
        return .verbatim(format: "txt", Array(text.utf8))
    }

    /// CLIENT KILL <ip:port | <[ID client-id] | [TYPE <NORMAL | MASTER | SLAVE | REPLICA | PUBSUB>] |
    /// [USER username] | [ADDR ip:port] | [LADDR ip:port] | [SKIPME <YES | NO>] | [MAXAGE maxage]> ...>
    static func kill(_ ctx: CommandContext) throws(CommandError) -> Reply {
        if ctx.argc == 3 {
            let addr = ctx.argString(2)
            guard let target = ctx.server.clients.values.first(where: { $0.address == addr }) else {
                throw .noSuchClient
            }
            target.close(caller: ctx.session)
            return .ok
        }
        var id: Int64?
        var type: String?
        var user: String?
        var addr: String?
        var laddr: String?
        var skipMe = true
        var maxAge: Int64?
        var args = ArgumentReader(ctx, from: 2)
        while !args.isAtEnd {
            // Every filter takes a value.
            guard args.remaining >= 2 else { throw .syntax }
            if args.take("id") {
                id = try args.int64(in: 1...Int64.max, error: .clientIDNotPositive, else: .clientIDNotPositive)
            } else if args.take("type") {
                let value = try args.string()
                let t = value.lowercased()
                guard isKnownType(t) else { throw .unknownClientType(value) }
                type = t
            } else if args.take("user") {
                let value = try args.string()
                guard ctx.server.acl.user(named: value) != nil else {
                    throw CommandError("ERR No such user '\(value)'")
                }
                user = value
            } else if args.take("addr") {
                addr = try args.string()
            } else if args.take("laddr") {
                laddr = try args.string()
            } else if args.take("skipme") {
                if args.take("yes") {
                    skipMe = true
                } else if args.take("no") {
                    skipMe = false
                } else {
                    throw .syntax
                }
            } else if args.take("maxage") {
                maxAge = try args.int64()
            } else {
                throw .syntax
            }
        }
        let now = ctx.server.clock()
        var killed: Int64 = 0
        for c in ctx.server.clients.values {
            if let id, c.id != id { continue }
            if let type, typeClass(type) != clientType(c) { continue }
            if let user, c.user != user { continue }
            if let addr, c.address != addr { continue }
            if let laddr, c.localAddress != laddr { continue }
            if let maxAge, (now - c.createdAt) / 1000 < maxAge { continue }
            if skipMe && c === ctx.session { continue }
            c.close(caller: ctx.session)
            killed += 1
        }
        return .integer(killed)
    }

    /// CLIENT REPLY <ON | OFF | SKIP>
    static func reply(_ ctx: CommandContext) throws(CommandError) -> Reply {
        if ctx.argIs(2, "on") {
            ctx.session.replyMode = .on
            return .ok
        } else if ctx.argIs(2, "off") {
            ctx.session.replyMode = .off
            return .ok
        } else if ctx.argIs(2, "skip") {
            // SKIP drops this reply and the next command's.
            if ctx.session.replyMode == .on { ctx.session.replyMode = .skipNext }
            return .ok
        }
        throw .syntax
    }

    static func onOff(_ ctx: CommandContext, _ i: Int) throws(CommandError) -> Bool {
        if ctx.argIs(i, "on") { return true }
        if ctx.argIs(i, "off") { return false }
        throw .syntax
    }

    /// CLIENT NO-EVICT <ON | OFF>
    static func noEvict(_ ctx: CommandContext) throws(CommandError) -> Reply {
        ctx.session.noEvict = try onOff(ctx, 2)
        return .ok
    }

    /// CLIENT NO-TOUCH <ON | OFF>
    static func noTouch(_ ctx: CommandContext) throws(CommandError) -> Reply {
        ctx.session.noTouch = try onOff(ctx, 2)
        return .ok
    }

    /// CLIENT PAUSE timeout [WRITE | ALL]
    static func pause(_ ctx: CommandContext) throws(CommandError) -> Reply {
        guard let timeout = parseInt64(ctx.arg(2)) else {
            throw .timeoutNotInteger
        }
        if timeout < 0 { throw .timeoutNegative }
        if timeout > Int64.max - ctx.now { throw .timeoutOutOfRange }
        var writesOnly = false
        if ctx.argc == 4 {
            if ctx.argIs(3, "write") {
                writesOnly = true
            } else if !ctx.argIs(3, "all") {
                throw .pauseMode
            }
        } else if ctx.argc > 4 {
            throw .syntax
        }
        let now = ctx.server.clock()
        let until = now + timeout
        // A new pause never shortens the current one, and ALL wins over WRITE.
        let wasPaused = ctx.server.pausedUntil > now
        ctx.server.pauseWritesOnly = writesOnly && (!wasPaused || ctx.server.pauseWritesOnly)
        ctx.server.pausedUntil = max(ctx.server.pausedUntil, until)
        return .ok
    }

    /// CLIENT UNPAUSE
    static func unpause(_ ctx: CommandContext) throws(CommandError) -> Reply {
        ctx.server.pausedUntil = 0
        ctx.server.pauseWritesOnly = false
        ctx.server.unpauseHook?()
        return .ok
    }

    /// CLIENT UNBLOCK client-id [TIMEOUT | ERROR]
    static func unblock(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let id = try ctx.int64(2)
        var error: CommandError?
        if ctx.argc == 4 {
            if ctx.argIs(3, "error") { error = .unblocked } else if !ctx.argIs(3, "timeout") { throw .unblockReason }
        } else if ctx.argc > 4 {
            throw .syntax
        }
        return ctx.server.unblockHook?(id, error) == true ? .one : .zero
    }

    /// CLIENT GETREDIR
    static func getredir(_ ctx: CommandContext) throws(CommandError) -> Reply { try TrackingCommands.getredir(ctx) }

    /// CLIENT HELP
    static func help(_ ctx: CommandContext) throws(CommandError) -> Reply {
        helpReply(
            "CLIENT",
            [
                "CACHING (YES|NO)",
                "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
                "GETREDIR",
                "    Return the client ID we are redirecting to when tracking is enabled.",
                "GETNAME",
                "    Return the name of the current connection.",
                "ID",
                "    Return the ID of the current connection.",
                "INFO",
                "    Return information about the current client connection.",
                "KILL <ip:port>",
                "    Kill connection made from <ip:port>.",
                "KILL <option> <value> [<option> <value> [...]]",
                "    Kill connections. Options are:",
                "    * ADDR (<ip:port>|<unixsocket>:0)",
                "      Kill connections made from the specified address",
                "    * LADDR (<ip:port>|<unixsocket>:0)",
                "      Kill connections made to specified local address",
                "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
                "      Kill connections by type.",
                "    * USER <username>",
                "      Kill connections authenticated by <username>.",
                "    * SKIPME (YES|NO)",
                "      Skip killing current connection (default: yes).",
                "    * ID <client-id>",
                "      Kill connections by client id.",
                "    * MAXAGE <maxage>",
                "      Kill connections older than the specified age.",
                "LIST [options ...]",
                "    Return information about client connections. Options:",
                "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
                "      Return clients of specified type.",
                "UNPAUSE",
                "    Stop the current client pause, resuming traffic.",
                "PAUSE <timeout> [WRITE|ALL]",
                "    Suspend all, or just write, clients for <timeout> milliseconds.",
                "REPLY (ON|OFF|SKIP)",
                "    Control the replies sent to the current connection.",
                "SETNAME <name>",
                "    Assign the name <name> to the current connection.",
                "SETINFO <option> <value>",
                "    Set client meta attr. Options are:",
                "    * LIB-NAME: the client lib name.",
                "    * LIB-VER: the client lib version.",
                "UNBLOCK <clientid> [TIMEOUT|ERROR]",
                "    Unblock the specified blocked client.",
                "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
                "         [OPTIN] [OPTOUT] [NOLOOP]",
                "    Control server assisted client side caching.",
                "TRACKINGINFO",
                "    Report tracking status for the current connection.",
                "NO-EVICT (ON|OFF)",
                "    Protect current client connection from eviction.",
                "NO-TOUCH (ON|OFF)",
                "    Will not touch LRU/LFU stats when this mode is on.",
            ])
    }
}

extension CommandTable {
    static let clientRegistrations: [(String, Handler)] = [
        ("client", { _ throws(CommandError) in .null }),
        ("client|id", ClientCommands.id),
        ("client|setname", ClientCommands.setname),
        ("client|getname", ClientCommands.getname),
        ("client|setinfo", ClientCommands.setinfo),
        ("client|info", ClientCommands.info),
        ("client|list", ClientCommands.list),
        ("client|kill", ClientCommands.kill),
        ("client|reply", ClientCommands.reply),
        ("client|no-evict", ClientCommands.noEvict),
        ("client|no-touch", ClientCommands.noTouch),
        ("client|pause", ClientCommands.pause),
        ("client|unpause", ClientCommands.unpause),
        ("client|getredir", ClientCommands.getredir),
        ("client|unblock", ClientCommands.unblock),
        ("client|help", ClientCommands.help),
    ]
}
