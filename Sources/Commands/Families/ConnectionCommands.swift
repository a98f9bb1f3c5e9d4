import DataStore
import RESP
import Server
import ServerConfig

enum ConnectionCommands {
    /// PING [message]
    static func ping(_ ctx: CommandContext) throws(CommandError) -> Reply {
        if ctx.argc > 2 { throw .wrongArity("ping") }
        // A RESP2 client in subscribed mode gets PING's answer as a message.
        if ctx.session.inPubSubMode && !ctx.session.resp3 {
            return .array([.bulk("pong"), .bulk(ctx.argc == 2 ? ctx.argBytes(1) : [])])
        }
        return ctx.argc == 2 ? .bulk(ctx.argBytes(1)) : .simple("PONG")
    }

    /// ECHO message
    static func echo(_ ctx: CommandContext) throws(CommandError) -> Reply { .bulk(ctx.argBytes(1)) }

    /// QUIT
    static func quit(_ ctx: CommandContext) throws(CommandError) -> Reply {
        ctx.session.closeAfterReply = true
        return .ok
    }

    /// RESET
    static func reset(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let s = ctx.session
        ctx.discardTransaction()
        ctx.server.unsubscribeAll(s)
        // RESET leaves MONITOR: the monitor does not see its own RESET.
        if s.isMonitor {
            ctx.server.monitors.removeAll { $0 === s }
            s.isMonitor = false
        }
        s.db = 0
        s.protocolVersion = 2
        s.replyMode = .on
        s.name = []
        s.noEvict = false
        s.noTouch = false
        s.aclUser = ctx.server.acl.defaultUser
        s.authenticated = !ctx.server.authRequired
        return .simple("RESET")
    }

    /// SELECT index
    static func select(_ ctx: CommandContext) throws(CommandError) -> Reply {
        guard let id = parseInt64(ctx.arg(1)), id >= Int64(Int32.min), id <= Int64(Int32.max) else {
            throw .notInteger
        }
        if ctx.server.cluster != nil && id != 0 { throw .clusterSelect }
        guard id >= 0 && id < Int64(ctx.keyspace.databases.count) else { throw .dbIndexOutOfRange }
        ctx.session.db = Int(id)
        return .ok
    }

    /// Checks a username and password against the ACL users; on success the connection
    /// runs as that user. A failure is logged to ACL LOG (object: the command's name).
    static func authenticate(_ ctx: CommandContext, user: [UInt8], password: [UInt8]) -> Bool {
        guard let found = ctx.server.acl.authenticate(user: user, password: password) else {
            ctx.server.logACLDenial(
                reason: "auth", context: ctx.session.inMulti ? "multi" : "toplevel", object: ctx.argBytes(0),
                username: user, clientInfo: ctx.session.infoLine(now: ctx.server.clock()))
            return false
        }
        ctx.session.authenticated = true
        ctx.session.aclUser = found
        return true
    }

    /// AUTH [username] password
    static func auth(_ ctx: CommandContext) throws(CommandError) -> Reply {
        if ctx.argc > 3 { throw .syntax }
        if ctx.argc == 2 && ctx.server.acl.defaultUser.nopass { throw .authWithoutPassword }
        let user = ctx.argc == 3 ? ctx.argBytes(1) : Array("default".utf8)
        let password = ctx.argBytes(ctx.argc - 1)
        guard authenticate(ctx, user: user, password: password) else { throw .wrongPass }
        return .ok
    }

    /// HELLO [protover [AUTH username password] [SETNAME clientname]]
    static func hello(_ ctx: CommandContext) throws(CommandError) -> Reply {
        var version = Int64(ctx.session.protocolVersion)
        var next = 1
        if ctx.argc >= 2 {
            guard let v = parseInt64(ctx.arg(1)) else {
                throw .protocolVersionNotInteger
            }
            if v < 2 || v > 3 { throw .noProto }
            version = v
            next = 2
        }
        var credentials: ([UInt8], [UInt8])?
        var name: [UInt8]?
        var j = next
        while j < ctx.argc {
            let more = ctx.argc - 1 - j
            if ctx.argIs(j, "auth") && more >= 2 {
                credentials = (ctx.argBytes(j + 1), ctx.argBytes(j + 2))
                j += 3
            } else if ctx.argIs(j, "setname") && more >= 1 {
                name = ctx.argBytes(j + 1)
                j += 2
            } else {
                throw .helloOption(ctx.argString(j))
            }
        }
        if let (user, password) = credentials {
            guard authenticate(ctx, user: user, password: password) else { throw .wrongPass }
        }
        if !ctx.session.authenticated {
            throw CommandError(
                "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"
            )
        }
        if let name { try ClientCommands.validateName(name, error: .clientNameSpaces) }
        if let name { ctx.session.name = name }
        ctx.session.protocolVersion = Int(version)
        return .map([
            .bulk("server"), .bulk("redis"),
            .bulk("version"), .bulk(redisCompatibleVersion),
            .bulk("proto"), .integer(version),
            .bulk("id"), .integer(ctx.session.id),
            .bulk("mode"), .bulk("standalone"),
            .bulk("role"), .bulk("master"),
            .bulk("modules"), .array([]),
        ])
    }
}

extension CommandTable {
    static let connectionRegistrations: [(String, Handler)] = [
        ("ping", ConnectionCommands.ping),
        ("echo", ConnectionCommands.echo),
        ("quit", ConnectionCommands.quit),
        ("reset", ConnectionCommands.reset),
        ("select", ConnectionCommands.select),
        ("auth", ConnectionCommands.auth),
        ("hello", ConnectionCommands.hello),
    ]
}
