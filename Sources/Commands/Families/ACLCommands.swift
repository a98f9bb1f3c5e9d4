import CommandFacts
import DataStore
import RESP
import Server
import ServerConfig

#if canImport(Glibc)
    import Glibc
#endif

/// ACL SETUSER, GETUSER, LIST, LOG, … (Redis's aclCommand).
enum ACLCommands {
    /// ACL SETUSER username [rule ...]
    static func setuser(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let name = ctx.argBytes(2)
        if AccessControl.hasSpaces(name) { throw CommandError("ERR Usernames can't contain spaces or null characters") }
        let acl = ctx.server.acl
        let username = String(decoding: name, as: UTF8.self)
        let rules = (3..<ctx.argc).map { ctx.argBytes($0) }
        if let error = acl.setUser(
            username, rules: rules, allChannelsByDefault: ctx.config["acl-pubsub-default"] == "allchannels")
        {
            throw CommandError("ERR " + error)
        }
        if let user = acl.user(named: username) {
            ctx.server.closeSubscribersLosingChannels(of: user, caller: ctx.session)
        }
        return .ok
    }

    /// ACL DELUSER username [username ...]
    static func deluser(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let names = (2..<ctx.argc).map { ctx.argString($0) }
        if names.contains("default") { throw CommandError("ERR The 'default' user cannot be removed") }
        var deleted: Int64 = 0
        for name in names {
            guard let user = ctx.server.acl.deleteUser(name) else { continue }
            deleted += 1
            for c in ctx.server.clients.values where c.aclUser === user {
                ctx.server.deauthenticateAndClose(c, caller: ctx.session)
            }
        }
        return .integer(deleted)
    }

    static func selectorFields(_ selector: ACLSelector, _ table: CommandTable) -> [Reply] {
        [
            .bulk("commands"), .bulk(selector.describeCommands(table)),
            .bulk("keys"), .bulk(selector.describeKeys()),
            .bulk("channels"), .bulk(selector.describeChannels()),
        ]
    }

    /// ACL GETUSER username
    static func getuser(_ ctx: CommandContext) throws(CommandError) -> Reply {
        guard let user = ctx.server.acl.user(named: ctx.argString(2)) else { return .null }
        let table = ctx.server.commands
        var fields: [Reply] = [
            .bulk("flags"), .set(user.flagNames.map { .bulk($0) }),
            .bulk("passwords"), .array(user.passwords.map { .bulk($0) }),
        ]
        fields += selectorFields(user.root, table)
        fields += [.bulk("selectors"), .array(user.selectors.map { .map(selectorFields($0, table)) })]
        return .map(fields)
    }

    /// ACL LIST
    static func list(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let table = ctx.server.commands
        return .array(ctx.server.acl.sortedUsers.map { .bulk("user \($0.name) \($0.describe(table))") })
    }

    /// ACL USERS
    static func users(_ ctx: CommandContext) throws(CommandError) -> Reply {
        .array(ctx.server.acl.sortedUsers.map { .bulk($0.name) })
    }

    /// ACL WHOAMI
    static func whoami(_ ctx: CommandContext) throws(CommandError) -> Reply {
        .bulk(ctx.session.user)
    }

    static let noFileError = CommandError(
        "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration."
    )

    /// ACL LOAD
    static func load(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let file = ctx.config["aclfile"]
        if file.isEmpty { throw noFileError }
        switch ctx.server.loadACLFile(file, caller: ctx.session) {
        case .failure(let error): throw CommandError("ERR " + error.message)
        case .success: return .ok
        }
    }

    /// ACL SAVE
    static func save(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let file = ctx.config["aclfile"]
        if file.isEmpty { throw noFileError }
        let text = Array(ctx.server.acl.fileText().utf8)
        let temp = "\(file).tmp-\(getpid())-\(ctx.server.clock())"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        var ok = fd >= 0
        if ok {
            var offset = 0
            while offset < text.count {
                let n = text[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                if n <= 0 {
                    if errno == EINTR { continue }
                    ok = false
                    break
                }
                offset += n
            }
            if ok && fsync(fd) != 0 { ok = false }
            close(fd)
        }
        if ok && rename(temp, file) != 0 { ok = false }
        if !ok {
            unlink(temp)
            throw CommandError(
                "ERR There was an error trying to save the ACLs. Please check the server logs for more information")
        }
        return .ok
    }

    /// ACL CAT [category]
    static func cat(_ ctx: CommandContext) throws(CommandError) -> Reply {
        if ctx.argc == 2 { return .array(ACLCategories.names.map { .bulk($0) }) }
        if ctx.argc != 3 { throw .subcommandSyntax(ctx.argBytes(1), container: "ACL") }
        guard let bit = ACLCategories.bit(ctx.argString(2)) else {
            throw CommandError("ERR Unknown category '\(String(ctx.argString(2).prefix(128)))'")
        }
        var names: [Reply] = []
        for command in ctx.server.commands.commands {
            if command.aclCategories & bit != 0 { names.append(.bulk(command.fullName)) }
            for sub in command.subcommands.values.sorted(by: { $0.fullName < $1.fullName })
            where sub.aclCategories & bit != 0 {
                names.append(.bulk(sub.fullName))
            }
        }
        return .array(names)
    }

    /// ACL GENPASS [bits]
    static func genpass(_ ctx: CommandContext) throws(CommandError) -> Reply {
        var bits: Int64 = 256
        if ctx.argc == 3 { bits = try ctx.int64(2) }
        if ctx.argc > 3 { throw .subcommandSyntax(ctx.argBytes(1), container: "ACL") }
        if bits <= 0 || bits > 4096 {
            throw CommandError(
                "ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096"
            )
        }
        let chars = Int((bits + 3) / 4)
        let hex = Array("0123456789abcdef".utf8)
        var generator = SystemRandomNumberGenerator()
        return .bulk((0..<chars).map { _ in hex[Int(generator.next() & 15)] })
    }

    /// ACL LOG [count | RESET]
    static func log(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let acl = ctx.server.acl
        var count: Int64 = 10
        if ctx.argc == 3 {
            if ctx.argIs(2, "reset") {
                acl.log.removeAll()
                return .ok
            }
            count = max(0, try ctx.int64(2))
        } else if ctx.argc > 3 {
            throw .subcommandSyntax(ctx.argBytes(1), container: "ACL")
        }
        let now = ctx.server.clock()
        return .array(
            acl.log.prefix(Int(min(count, Int64(acl.log.count)))).map { e in
                .map([
                    .bulk("count"), .integer(Int64(e.count)),
                    .bulk("reason"), .bulk(e.reason),
                    .bulk("context"), .bulk(e.context),
                    .bulk("object"), .bulk(e.object),
                    .bulk("username"), .bulk(e.username),
                    .bulk("age-seconds"), .double(Double(now - e.updated) / 1000),
                    .bulk("client-info"), .bulk(e.clientInfo),
                    .bulk("entry-id"), .integer(e.entryID),
                    .bulk("timestamp-created"), .integer(e.created),
                    .bulk("timestamp-last-updated"), .integer(e.updated),
                ])
            })
    }

    /// ACL DRYRUN username command [arg ...]
    static func dryrun(_ ctx: CommandContext) throws(CommandError) -> Reply {
        guard let user = ctx.server.acl.user(named: ctx.argString(2)) else {
            throw CommandError("ERR User '\(ctx.argString(2))' not found")
        }
        let table = ctx.server.commands
        guard var command = ctx.arg(3).withUnsafeBytes({ table.lookup($0) }) else {
            throw CommandError("ERR Command '\(ctx.argString(3))' not found")
        }
        let argc = ctx.argc - 3
        if !command.subcommands.isEmpty && argc >= 2 {
            guard let sub = command.subcommands[ctx.argString(4).lowercased()] else {
                throw CommandError("ERR Command '\(ctx.argString(3))' not found")
            }
            command = sub
        }
        guard command.acceptsArgumentCount(argc) else {
            throw CommandError("ERR wrong number of arguments for '\(command.fullName)' command")
        }
        // The check reads the command's own arguments: look at them from the fourth on.
        let savedBase = ctx.argBase
        let savedArgc = ctx.argc
        ctx.argBase += 3
        ctx.argc = argc
        let denial = user.check(command, ctx)
        let argument = denial.map { ctx.argBytes($0.1) }
        ctx.argBase = savedBase
        ctx.argc = savedArgc
        if let (reason, _) = denial {
            return .bulk(AccessControl.denialMessage(reason, user, command, argument))
        }
        return .ok
    }

    /// ACL HELP
    static func help(_ ctx: CommandContext) throws(CommandError) -> Reply {
        helpReply(
            "ACL",
            [
                "CAT [<category>]",
                "    List all commands that belong to <category>, or all command categories",
                "    when no category is specified.",
                "DELUSER <username> [<username> ...]",
                "    Delete a list of users.",
                "DRYRUN <username> <command> [<arg> ...]",
                "    Returns whether the user can execute the given command without executing the command.",
                "GETUSER <username>",
                "    Get the user's details.",
                "GENPASS [<bits>]",
                "    Generate a secure 256-bit user password. The optional `bits` argument can",
                "    be used to specify a different size.",
                "LIST",
                "    Show users details in config file format.",
                "LOAD",
                "    Reload users from the ACL file.",
                "LOG [<count> | RESET]",
                "    Show the ACL log entries.",
                "SAVE",
                "    Save the current config to the ACL file.",
                "SETUSER <username> <attribute> [<attribute> ...]",
                "    Create or modify a user with the specified attributes.",
                "USERS",
                "    List all the registered usernames.",
                "WHOAMI",
                "    Return the current connection username.",
            ])
    }
}

extension CommandTable {
    static let aclRegistrations: [(String, Handler)] = [
        ("acl", { _ throws(CommandError) in .null }),
        ("acl|setuser", ACLCommands.setuser),
        ("acl|deluser", ACLCommands.deluser),
        ("acl|getuser", ACLCommands.getuser),
        ("acl|list", ACLCommands.list),
        ("acl|users", ACLCommands.users),
        ("acl|whoami", ACLCommands.whoami),
        ("acl|load", ACLCommands.load),
        ("acl|save", ACLCommands.save),
        ("acl|cat", ACLCommands.cat),
        ("acl|genpass", ACLCommands.genpass),
        ("acl|log", ACLCommands.log),
        ("acl|dryrun", ACLCommands.dryrun),
        ("acl|help", ACLCommands.help),
    ]
}
