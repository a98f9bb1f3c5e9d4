import CSupport
import Cluster
import CommandFacts
import DataStore
import RESP
import Scripting
import Server
import ServerConfig

#if canImport(Glibc)
    import Glibc
#endif

enum ServerCommands {
    // MARK: INFO

    static let defaultSections = [
        "server", "clients", "memory", "persistence", "stats", "replication", "cpu", "modules", "errorstats",
        "cluster", "keyspace",
    ]
    static let allSections = [
        "server", "clients", "memory", "persistence", "stats", "replication", "cpu", "modules", "commandstats",
        "errorstats", "latencystats", "cluster", "keyspace",
    ]

    /// INFO [section [section ...]]
    static func info(_ ctx: CommandContext) throws(CommandError) -> Reply {
        var sections: [String] = []
        if ctx.argc == 1 {
            sections = defaultSections
        } else {
            for i in 1..<ctx.argc {
                let s = ctx.argString(i).lowercased()
                switch s {
                case "default": sections += defaultSections
                case "all": sections += allSections.filter { $0 != "modules" } + ["modules"]
                case "everything": sections += allSections
                default: sections.append(s)
                }
            }
        }
        var seen = Set<String>()
        var text = ""
        for s in sections where seen.insert(s).inserted {
            guard let body = InfoRenderer.section(s, ctx) else { continue }
            if !text.isEmpty { text += "\r\n" }
            text += body
        }
        return .verbatim(format: "txt", Array(text.utf8))
    }

    // MARK: CONFIG

    /// CONFIG GET parameter [parameter ...]
    static func configGet(_ ctx: CommandContext) throws(CommandError) -> Reply {
        var result: [Reply] = []
        var seen = Set<String>()
        let patterns = (2..<ctx.argc).map { Array(ctx.argString($0).lowercased().utf8) }
        let matches = { (name: String) in
            let n = Array(name.utf8)
            return patterns.contains { globMatch($0, n, nocase: true) }
        }
        let named = { (name: String) in patterns.contains { $0.elementsEqual(name.utf8) } }
        for (name, value) in ctx.config.matching(matches, named: named) where seen.insert(name).inserted {
            result.append(.bulk(name))
            result.append(.bulk(value))
        }
        return .map(result)
    }

    /// CONFIG SET parameter value [parameter value ...]
    static func configSet(_ ctx: CommandContext) throws(CommandError) -> Reply {
        guard (ctx.argc - 2) % 2 == 0 else { throw .wrongArity("config|set") }
        var pairs: [(String, String)] = []
        for i in stride(from: 2, to: ctx.argc, by: 2) { pairs.append((ctx.argString(i), ctx.argString(i + 1))) }
        do {
            try ctx.config.set(
                pairs, allowProtected: allowedBy(ctx, "enable-protected-configs"), loading: ctx.server.loading != nil)
            ctx.server.acl.applyRequirepass(ctx.config["requirepass"])
            // A lower maxmemory evicts right away, as Redis's apply function starts its
            // eviction time proc, not at the next command (a subscriber waiting for `evicted`
            // would wait for it); inside EXEC after the transaction, as Redis's proc runs then.
            if pairs.contains(where: { $0.0.lowercased() == "maxmemory" }) && ctx.config.limits.maxmemory > 0 {
                if ctx.session.inExec {
                    ctx.server.evictionPending = true
                } else {
                    _ = ctx.server.performEvictions()
                }
            }
        } catch {
            if error == Config.loadingRefusal { throw .loading }
            if error.directive == nil { throw .generic(error.message) }
            throw .configSet(error.message, directive: error.directive)
        }
        return .ok
    }

    /// CONFIG RESETSTAT
    static func configResetstat(_ ctx: CommandContext) throws(CommandError) -> Reply {
        ctx.server.resetStatistics()
        return .ok
    }

    /// CONFIG REWRITE
    static func configRewrite(_ ctx: CommandContext) throws(CommandError) -> Reply {
        do {
            try ctx.config.rewrite()
        } catch {
            if error.message == CommandError.noConfigFile.message.dropFirst(4) { throw .noConfigFile }
            throw .rewriteFailed(error.message)
        }
        return .ok
    }

    /// CONFIG HELP
    static func configHelp(_ ctx: CommandContext) throws(CommandError) -> Reply {
        helpReply(
            "CONFIG",
            [
                "GET <pattern>",
                "    Return parameters matching the glob-like <pattern> and their values.",
                "SET <directive> <value>",
                "    Set the configuration <directive> to <value>.",
                "RESETSTAT",
                "    Reset statistics reported by the INFO command.",
                "REWRITE",
                "    Rewrite the configuration file.",
            ])
    }

    // MARK: COMMAND

    /// COMMAND
    static func command(_ ctx: CommandContext) throws(CommandError) -> Reply {
        .array(ctx.server.commands.commands.map(\.infoReply))
    }

    /// COMMAND COUNT
    static func commandCount(_ ctx: CommandContext) throws(CommandError) -> Reply {
        .integer(Int64(ctx.server.commands.commands.count))
    }

    /// Finds `name` or `container|sub`.
    static func find(_ ctx: CommandContext, _ name: String) -> Command? {
        let parts = name.lowercased().split(separator: "|", maxSplits: 1).map(String.init)
        guard let base = ctx.server.commands.lookup(parts[0]) else { return nil }
        if parts.count == 2 { return base.subcommands[parts[1]] }
        return base
    }

    /// COMMAND INFO [command-name [command-name ...]]
    static func commandInfo(_ ctx: CommandContext) throws(CommandError) -> Reply {
        if ctx.argc == 2 { return try command(ctx) }
        return .array((2..<ctx.argc).map { find(ctx, ctx.argString($0))?.infoReply ?? .null })
    }

    /// COMMAND DOCS [command-name [command-name ...]]
    static func commandDocs(_ ctx: CommandContext) throws(CommandError) -> Reply {
        var items: [Reply] = []
        let commands: [Command]
        if ctx.argc == 2 {
            commands = ctx.server.commands.commands
        } else {
            commands = (2..<ctx.argc).compactMap { find(ctx, ctx.argString($0)) }
        }
        for c in commands {
            items.append(.bulk(c.fullName))
            items.append(c.docsReply)
        }
        return .map(items)
    }

    /// COMMAND LIST [FILTERBY <MODULE module-name | ACLCAT category | PATTERN pattern>]
    static func commandList(_ ctx: CommandContext) throws(CommandError) -> Reply {
        var all = ctx.server.commands.allCommands
        if ctx.argc == 5 && ctx.argIs(2, "filterby") {
            let value = ctx.argString(4)
            if ctx.argIs(3, "pattern") {
                let p = Array(value.utf8)
                all = all.filter { globMatch(p, Array($0.fullName.utf8), nocase: true) }
            } else if ctx.argIs(3, "aclcat") {
                let bit = ACLCategories.bit(value) ?? 0
                all = all.filter { $0.aclCategories & bit != 0 }
            } else if ctx.argIs(3, "module") {
                all = []
            } else {
                throw .syntax
            }
        } else if ctx.argc != 2 {
            throw .syntax
        }
        return .array(all.map { .bulk($0.fullName) })
    }

    static func keysOf(_ ctx: CommandContext) throws(CommandError) -> [KeyReference] {
        guard let cmd = find(ctx, ctx.argString(2)) else { throw .getkeysInvalidCommand }
        var command = cmd
        let argc = ctx.argc - 2
        if !command.subcommands.isEmpty && argc >= 2 {
            guard let sub = command.subcommands[ctx.argString(3).lowercased()] else { throw .getkeysInvalidCommand }
            command = sub
        }
        // Redis's order: a command without keys (shard channels are not keys), then the
        // arity, then what the key finder finds — nothing is an empty answer only for
        // commands whose keys are optional (EVAL with no keys), a bad argument otherwise.
        guard command.keyFinder.hasKeys else { throw .getkeysNoKeys }
        guard command.acceptsArgumentCount(argc) else {
            throw .getkeysArity
        }
        let keys = command.keyFinder.keys(argc: argc) { ctx.arg($0 + 2) }
        if keys.isEmpty && !command.flags.contains(.noMandatoryKeys) { throw .getkeysBadArguments }
        return keys
    }

    /// COMMAND GETKEYS command [arg [arg ...]]
    static func commandGetkeys(_ ctx: CommandContext) throws(CommandError) -> Reply {
        .array(try keysOf(ctx).map { .bulk(ctx.argBytes($0.position + 2)) })
    }

    /// COMMAND GETKEYSANDFLAGS command [arg [arg ...]]
    static func commandGetkeysandflags(_ ctx: CommandContext) throws(CommandError) -> Reply {
        .array(
            try keysOf(ctx).map {
                .array([.bulk(ctx.argBytes($0.position + 2)), .set($0.flags.names.map { .simple($0) })])
            })
    }

    /// COMMAND HELP
    static func commandHelp(_ ctx: CommandContext) throws(CommandError) -> Reply {
        helpReply(
            "COMMAND",
            [
                "(no subcommand)",
                "    Return details about all Redis commands.",
                "COUNT",
                "    Return the total number of commands in this Redis server.",
                "LIST",
                "    Return a list of all commands in this Redis server.",
                "INFO [<command-name> ...]",
                "    Return details about multiple Redis commands.",
                "    If no command names are given, documentation details for all",
                "    commands are returned.",
                "DOCS [<command-name> ...]",
                "    Return documentation details about multiple Redis commands.",
                "    If no command names are given, documentation details for all",
                "    commands are returned.",
                "GETKEYS <full-command>",
                "    Return the keys from a full Redis command.",
                "GETKEYSANDFLAGS <full-command>",
                "    Return the keys and the access flags from a full Redis command.",
            ])
    }

    // MARK: misc

    /// TIME
    static func time(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let us = wallClockMicros()
        return .array([.bulk(String(us / 1_000_000)), .bulk(String(us % 1_000_000))])
    }

    /// ROLE
    static func role(_ ctx: CommandContext) throws(CommandError) -> Reply {
        if let link = ctx.server.primaryLink {
            return .array([
                .bulk("slave"), .bulk(link.host), .integer(Int64(link.port)), .bulk(link.roleState),
                .integer(link.offset),
            ])
        }
        guard let primary = ctx.server.replication else { return .array([.bulk("master"), .integer(0), .array([])]) }
        let replicas: [Reply] = primary.replicas.map {
            .array([.bulk($0.ip), .bulk(String($0.listeningPort)), .bulk(String($0.ackOffset))])
        }
        return .array([.bulk("master"), .integer(primary.offset), .array(replicas)])
    }

    /// LOLWUT [VERSION version]
    /// Redis draws computer art for versions 5 and 6 and takes the arguments after the
    /// version as the drawing's size; Swiftlet draws nothing and answers with the version
    /// line every variant ends with. Arguments without VERSION are ignored, as Redis's.
    static func lolwut(_ ctx: CommandContext) throws(CommandError) -> Reply {
        if ctx.argc >= 3 && ctx.argIs(1, "version") {
            _ = try ctx.int64(2)
            for i in 3..<ctx.argc { _ = try ctx.int64(i) }
        }
        return .verbatim(format: "txt", Array("Redis ver. \(redisCompatibleVersion)\n".utf8))
    }

    /// Redis refuses DEBUG unless `enable-debug-command` allows it for this connection.
    static func debugAllowed(_ ctx: CommandContext) -> Bool { allowedBy(ctx, "enable-debug-command") }

    /// Redis's allowProtectedAction: `yes`, `no`, or `local` (loopback and unix-socket
    /// clients only).
    static func allowedBy(_ ctx: CommandContext, _ directive: String) -> Bool {
        switch ctx.config[directive] {
        case "yes": return true
        case "local":
            let a = ctx.session.address
            return ctx.session.isUnixSocket || a.hasPrefix("127.") || a.hasPrefix("[::1]") || a.hasPrefix("::1")
        default: return false
        }
    }

    /// MODULE LOAD/LOADEX/UNLOAD are refused unless `enable-module-command` allows them (as
    /// DEBUG); no library loads (Redis modules are C against Redis's own API), so LIST is
    /// always empty and a load fails as Redis's does for a library it cannot open.
    static func moduleAllowed(_ ctx: CommandContext) throws(CommandError) {
        let setting = ctx.config["enable-module-command"]
        let a = ctx.session.address
        let local = ctx.session.isUnixSocket || a.hasPrefix("127.") || a.hasPrefix("[::1]") || a.hasPrefix("::1")
        if setting == "yes" || (setting == "local" && local) { return }
        throw CommandError(
            "ERR MODULE command not allowed. If the enable-module-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server."
        )
    }

    /// MODULE LOAD path [arg ...] / MODULE LOADEX path [CONFIG name value ...] [ARGS arg ...]
    static func moduleLoad(_ ctx: CommandContext) throws(CommandError) -> Reply {
        try moduleAllowed(ctx)
        ctx.server.persistenceLog?("Module \(ctx.argString(2)) failed to load: Redis modules cannot load into Swiftlet")
        throw CommandError("ERR Error loading the extension. Please check the server logs.")
    }

    /// MODULE UNLOAD name
    static func moduleUnload(_ ctx: CommandContext) throws(CommandError) -> Reply {
        try moduleAllowed(ctx)
        throw CommandError("ERR Error unloading module: no such module with that name")
    }

    static func moduleHelp(_ ctx: CommandContext) throws(CommandError) -> Reply {
        helpReply(
            "MODULE",
            [
                "LIST", "    Return a list of loaded modules.",
                "LOAD <path> [<arg> ...]",
                "    Load a module library from <path>, passing to it any optional arguments.",
                "LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
                "    Load a module library from <path>, while passing it module configurations and optional arguments.",
                "UNLOAD <name>", "    Unload a module.",
            ])
    }

    /// DEBUG POPULATE count [prefix] [size]: string keys `prefix:N` holding `value:N` (cut or
    /// zero-padded to `size`), skipping keys that exist; not a write anyone logs.
    static func debugPopulate(_ ctx: CommandContext) throws(CommandError) -> Reply {
        guard let count = parseInt64(ctx.arg(2)), count >= 0 else { throw .mustBePositive }
        let prefix = ctx.argc >= 4 ? ctx.argBytes(3) : Array("key".utf8)
        var size = 0
        if ctx.argc == 5 {
            guard let n = parseInt64(ctx.arg(4)), n >= 0 else { throw .mustBePositive }
            size = Int(n)
        }
        let now = ctx.now
        for j in 0..<count {
            let key = prefix + [UInt8(ascii: ":")] + formatInt64(j)
            if ctx.db.lookup(key, now: now) != nil { continue }
            var value = Array("value:".utf8) + formatInt64(j)
            if size > 0 {
                value = Array(value.prefix(size))
                if value.count < size { value += [UInt8](repeating: 0, count: size - value.count) }
            }
            ctx.db.table.insertNew(key, value: .fromBytes(value))
        }
        return .ok
    }

    /// DEBUG PROTOCOL type: one reply of each RESP type, as Redis sends it (for clients'
    /// tests); an attribute or push comes before an ordinary reply, in RESP3 only.
    static func debugProtocol(_ ctx: CommandContext) throws(CommandError) -> Reply {
        switch ctx.argString(2).lowercased() {
        case "string": return .bulk("Hello World")
        case "integer": return .integer(12345)
        case "double": return .double(3.141)
        case "bignum": return .bigNumber("1234567999999999999999999999999999999")
        case "null": return .null
        case "array": return .array((0..<3).map { .integer($0) })
        case "set": return .set((0..<3).map { .integer($0) })
        case "map": return .map((0..<3).flatMap { [Reply.integer($0), .bool($0 == 1)] })
        case "attrib":
            var out: [UInt8] = []
            if ctx.session.resp3 {
                out = Array("|1\r\n".utf8)
                ReplyEncoder.encode(.bulk("key-popularity"), resp3: true, into: &out)
                ReplyEncoder.encode(.array([.bulk("key:123"), .integer(90)]), resp3: true, into: &out)
            }
            ReplyEncoder.encode(.bulk("Some real reply following the attribute"), resp3: ctx.session.resp3, into: &out)
            return .raw(out)
        case "push":
            guard ctx.session.resp3 else { throw CommandError("ERR RESP2 is not supported by this command") }
            var out: [UInt8] = []
            ReplyEncoder.encode(.push([.bulk("server-cpu-usage"), .integer(42)]), resp3: true, into: &out)
            ReplyEncoder.encode(.bulk("Some real reply following the push reply"), resp3: true, into: &out)
            return .raw(out)
        case "true": return .bool(true)
        case "false": return .bool(false)
        case "verbatim": return .verbatim(format: "txt", Array("This is a verbatim\nstring".utf8))
        default:
            throw CommandError(
                "ERR Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false"
            )
        }
    }

    static let debugInternalKnobs: [StaticString] = ["quicklist-packed-threshold", "aof-flush-sleep"]

    /// DEBUG subcommand [argument ...]
    static func debug(_ ctx: CommandContext) throws(CommandError) -> Reply {
        guard debugAllowed(ctx) else {
            throw CommandError(
                "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server."
            )
        }
        if ctx.argIs(1, "config-rewrite-force-all") && ctx.argc == 2 {
            // CONFIG REWRITE writing every directive, defaults too (Redis's test of the file).
            do {
                try ctx.config.rewrite(forceAll: true)
            } catch {
                throw CommandError("ERR CONFIG-REWRITE-FORCE-ALL failed: \(error.message)")
            }
            return .ok
        } else if ctx.argIs(1, "sleep") && ctx.argc == 3 {
            let seconds = try ctx.double(2)
            ctx.server.sleepHook?(seconds)
            return .ok
        } else if ctx.argIs(1, "clusterlink") && ctx.argIs(2, "kill") && ctx.argc == 5 {
            guard let cluster = ctx.server.cluster, let bus = ctx.server.clusterBus else {
                throw CommandError("ERR Debug option only available for cluster mode enabled setup!")
            }
            guard let name = NodeName(ctx.argString(4)), let node = cluster.node(name) else {
                throw CommandError("ERR Unknown node \(ctx.argString(4))")
            }
            let direction = ctx.argString(3).lowercased()
            guard ["to", "from", "all"].contains(direction) else {
                throw CommandError("ERR Unknown direction \(ctx.argString(3))")
            }
            bus.killLinks(of: node, outbound: direction != "from", inbound: direction != "to")
            return .ok
        } else if ctx.argIs(1, "set-active-expire") && ctx.argc == 3 {
            ctx.server.activeExpireEnabled = parseInt64(ctx.arg(2)) != 0
            return .ok
        } else if ctx.argIs(1, "set-disable-deny-scripts") && ctx.argc == 3 {
            // Lets scripts run noscript commands (DEBUG among them), as Redis's test suite does.
            ctx.server.scriptsMayRunAnyCommand = parseInt64(ctx.arg(2)).map { $0 != 0 } ?? false
            return .ok
        } else if ctx.argc == 4 && ctx.argIs(1, "replybuffer") {
            if ctx.argIs(2, "peak-reset-time") {
                if ctx.argIs(3, "never") {
                    ctx.server.replyBufferPeakResetTime = -1
                } else if ctx.argIs(3, "reset") {
                    ctx.server.replyBufferPeakResetTime = 5000
                } else {
                    guard let ms = parseInt64(ctx.arg(3)) else { throw .notInteger }
                    ctx.server.replyBufferPeakResetTime = ms
                }
            } else if ctx.argIs(2, "resizing") {
                ctx.server.replyBufferResizing = (parseInt64(ctx.arg(3)) ?? 0) != 0
            } else {
                throw .subcommandSyntax(ctx.argBytes(1), container: "DEBUG")
            }
            return .ok
        } else if ctx.argIs(1, "replicate") && ctx.argc >= 3 {
            // The arguments as a command in the replication stream only (a testing knob).
            ctx.forcePropagation = true
            ctx.propagatesToReplicasOnly = true
            ctx.propagate(as: (2..<ctx.argc).map { ctx.argBytes($0) })
            return .ok
        } else if ctx.argIs(1, "pause-cron") && ctx.argc == 3 {
            // The server's cron (expiry, saves, a shutdown a signal asked for) stops while set.
            guard let on = parseInt64(ctx.arg(2)) else { throw .notInteger }
            ctx.server.cronPaused = on != 0
            return .ok
        } else if ctx.argIs(1, "set-skip-checksum-validation") && ctx.argc == 3 {
            // RESTORE takes payloads whose CRC64 does not match (Redis's corrupt-dump tests).
            ctx.server.skipChecksumValidation = (parseInt64(ctx.arg(2)) ?? 0) != 0
            return .ok
        } else if ctx.argc == 3, let knob = debugInternalKnobs.first(where: { ctx.argIs(1, $0) }) {
            // Switches of Redis internals Swiftlet has no counterpart of (quicklist plain
            // nodes, AOF flush delays):
            // accepted with their argument checked, so tests that set them run on.
            if knob.description == "quicklist-packed-threshold" {
                guard let size = parseMemory(ctx.argString(2)), size >= 0, size <= (1 << 32) - (1 << 20) else {
                    throw CommandError("ERR argument must be a memory value bigger than 1 and smaller than 4gb")
                }
            } else if parseInt64(ctx.arg(2)) == nil {
                throw .notInteger
            }
            return .ok
        } else if ctx.argIs(1, "object") && ctx.argc == 3 {
            // The raw table, as Redis's dictFind: an expired key not yet deleted is shown.
            guard let slot = ctx.db.table.find(ctx.arg(2)) else { throw .noSuchKey }
            let v = ctx.db.table[slot].value
            return .simple(
                "Value at:0x0 refcount:1 encoding:\(v.encodingName) serializedlength:\((v.stringBytes?.count ?? 0)) lru:\(ctx.db.table[slot].lru & 0xFFFFFF) lru_seconds_idle:0"
            )
        } else if ctx.argIs(1, "log") && ctx.argc == 3 {
            ctx.server.persistenceLog?("DEBUG LOG: \(ctx.argString(2))")
            return .ok
        } else if ctx.argIs(1, "digest") && ctx.argc == 2 {
            return debugDigest(ctx)
        } else if ctx.argIs(1, "digest-value") {
            return debugDigestValue(ctx)
        } else if ctx.argIs(1, "populate") && (3...5).contains(ctx.argc) {
            return try debugPopulate(ctx)
        } else if ctx.argIs(1, "error") && ctx.argc == 3 {
            // The argument is the whole error line (clients test their error handling with it);
            // line breaks would end the reply early.
            let line = String(decoding: ctx.argBytes(2).map { $0 == 13 || $0 == 10 ? 32 : $0 }, as: UTF8.self)
            throw CommandError(line)
        } else if ctx.argIs(1, "protocol") && ctx.argc == 3 {
            return try debugProtocol(ctx)
        } else if ctx.argIs(1, "loadaof") && ctx.argc == 2 {
            if ctx.mayBlock, let startLoad = ctx.server.loadHook, let load = ctx.server.prepareAppendOnlyReload() {
                // The runtime loads it in steps as at start (others get -LOADING); this
                // client waits for the end and gets its OK then.
                ctx.server.reloadCallerID = ctx.session.id
                ctx.blockRequest = BlockRequest(keys: [], db: ctx.session.db, deadline: nil, timeoutReply: .ok)
                startLoad(load)
                return .null
            }
            if let failure = ctx.server.reloadAppendOnly() { throw CommandError("ERR \(failure)") }
            ctx.server.persistenceLog?("Append Only File loaded by DEBUG LOADAOF")
            return .ok
        } else if ctx.argIs(1, "reload") {
            // Save, empty the keyspace and the functions, load the file back: what a restart
            // would see. NOSAVE loads the file as it is, NOFLUSH loads over what is there
            // (a library already there fails the load unless MERGE lets the file's replace it).
            var save = true
            var flush = true
            var merge = false
            for i in 2..<max(ctx.argc, 2) {
                if ctx.argIs(i, "merge") {
                    merge = true
                } else if ctx.argIs(i, "noflush") {
                    flush = false
                } else if ctx.argIs(i, "nosave") {
                    save = false
                } else {
                    throw .generic("DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.")
                }
            }
            ctx.server.finishBackgroundSave()
            if save, let failure = ctx.server.saveRDB() { throw .reloadSave(failure) }
            if flush {
                for i in ctx.keyspace.databases.indices { ctx.keyspace.databases[i].removeAll() }
                ctx.server.existingScripts?.removeAllLibraries()
            }
            let loaded: Bool
            do {
                loaded = try ctx.server.loadRDB(merging: merge)
            } catch {
                ctx.server.persistenceLog?("Error loading the RDB file: \(error)")
                loaded = false
            }
            if !loaded { throw .reloadLoad }
            ctx.server.persistenceLog?("DB reloaded by DEBUG RELOAD")
            return .ok
        } else if ctx.argIs(1, "help") {
            return helpReply(
                "DEBUG",
                [
                    "DIGEST", "    Output a hex signature representing the current DB content.",
                    "DIGEST-VALUE <key> [<key> ...]",
                    "    Output a hex signature of the values of all the specified keys.",
                    "ERROR <string>", "    Return a Redis protocol error with <string> as message. Useful for clients",
                    "    unit tests to simulate Redis errors.",
                    "CLUSTERLINK KILL <to|from|all> <node-id>",
                    "    Kills the link based on the direction to/from (both) with the provided node.",
                    "LOG <message>", "    Write <message> to the server log.",
                    "OBJECT <key>", "    Show low level info about `key` and associated value.",
                    "POPULATE <count> [<prefix>] [<size>]",
                    "    Create <count> string keys named key:<num>. If <prefix> is specified then",
                    "    it is used instead of the 'key' prefix. These are not propagated to",
                    "    replicas. Cluster slots are not respected so keys not belonging to the",
                    "    current node can be created in cluster mode.",
                    "PROTOCOL <type>",
                    "    Reply with a test value of the specified type. <type> can be: string,",
                    "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
                    "    true, false.",
                    "SET-ACTIVE-EXPIRE <0|1>",
                    "    Setting it to 0 disables expiring keys in background when they are not accessed (otherwise the Redis behavior). Setting it to 1 reenables back the default.",
                    "SLEEP <seconds>", "    Stop the server for <seconds>. Decimals allowed.",
                ])
        }
        throw .debugUnknown(ctx.argString(1))
    }

    /// SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE] [ABORT]
    static func shutdown(_ ctx: CommandContext) throws(CommandError) -> Reply {
        var request = ShutdownRequest()
        for i in 1..<max(1, ctx.argc) {
            if ctx.argIs(i, "nosave") {
                request.save = false
            } else if ctx.argIs(i, "save") {
                request.save = true
            } else if ctx.argIs(i, "now") {
                request.now = true
            } else if ctx.argIs(i, "force") {
                request.force = true
            } else if ctx.argIs(i, "abort") {
                request.abort = true
            } else {
                throw .syntax
            }
        }
        if request.abort && (request.save != nil || request.now || request.force) { throw .syntax }
        if let shutdown = ctx.server.shutdownHook {
            if let failure = shutdown(request) { throw failure }
        } else if request.abort {
            throw .noShutdownInProgress
        }
        // ABORT cancelled the shutdown a signal asked for.
        if request.abort { return .ok }
        // The server goes away: Redis sends no reply.
        ctx.session.closeAfterReply = true
        return .raw([])
    }

    // MARK: MEMORY

    /// MEMORY USAGE key [SAMPLES count]
    static func memoryUsage(_ ctx: CommandContext) throws(CommandError) -> Reply {
        if ctx.argc == 5 {
            guard ctx.argIs(3, "samples") else { throw .syntax }
            _ = try ctx.int64(4)
        } else if ctx.argc != 3 {
            throw .syntax
        }
        guard let slot = ctx.lookupWrite(2) else { return .null }
        let entry = ctx.db.table[slot]
        let keySize = mallocSize(sdsHeaderSize(entry.key.count) + entry.key.count + 1)
        return .integer(Int64(24 + keySize + entry.value.memoryUsage))
    }

    /// MEMORY STATS
    static func memoryStats(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let used = MemoryInfo.usedMemory()
        let o = ctx.server.memoryOverhead(used: used)
        let peak = max(used, ctx.server.stats.peakMemory)
        var items: [Reply] = [
            .bulk("peak.allocated"), .integer(Int64(peak)),
            .bulk("total.allocated"), .integer(Int64(used)),
            .bulk("startup.allocated"), .integer(Int64(o.startup)),
            .bulk("replication.backlog"), .integer(0),
            .bulk("clients.slaves"), .integer(Int64(o.clientsReplicas)),
            .bulk("clients.normal"), .integer(Int64(o.clientsNormal)),
            .bulk("cluster.links"), .integer(0),
            .bulk("aof.buffer"), .integer(Int64(o.aofBuffer)),
            .bulk("lua.caches"), .integer(0),
            .bulk("functions.caches"), .integer(0),
        ]
        for db in o.databases {
            items.append(.bulk("db.\(db.index)"))
            items.append(
                .map([
                    .bulk("overhead.hashtable.main"), .integer(Int64(db.main)),
                    .bulk("overhead.hashtable.expires"), .integer(Int64(db.expires)),
                ]))
        }
        let keys = ctx.keyspace.keyCount
        let net = max(0, used - o.startup)
        items += [
            .bulk("overhead.total"), .integer(Int64(o.total)),
            .bulk("keys.count"), .integer(Int64(keys)),
            .bulk("keys.bytes-per-key"), .integer(keys > 0 ? Int64(net / keys) : 0),
            .bulk("dataset.bytes"), .integer(Int64(o.dataset)),
            .bulk("dataset.percentage"), .double(net > 0 ? Double(o.dataset) * 100 / Double(net) : 0),
            .bulk("peak.percentage"), .double(peak > 0 ? Double(used) * 100 / Double(peak) : 100),
            .bulk("allocator.allocated"), .integer(Int64(used)),
            .bulk("allocator.active"), .integer(Int64(used)),
            .bulk("allocator.resident"), .integer(Int64(MemoryInfo.residentMemory())),
            .bulk("fragmentation"), .double(MemoryInfo.fragmentation()),
            .bulk("fragmentation.bytes"), .integer(Int64(MemoryInfo.residentMemory() - used)),
        ]
        return .map(items)
    }

    /// MEMORY DOCTOR
    static func memoryDoctor(_ ctx: CommandContext) throws(CommandError) -> Reply {
        .verbatim(
            format: "txt",
            Array(
                "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base."
                    .utf8))
    }

    /// MEMORY MALLOC-STATS
    static func memoryMallocStats(_ ctx: CommandContext) throws(CommandError) -> Reply {
        .verbatim(format: "txt", Array("Stats not supported for the current allocator".utf8))
    }

    /// MEMORY PURGE
    static func memoryPurge(_ ctx: CommandContext) throws(CommandError) -> Reply {
        _ = swiftlet_malloc_trim()
        return .ok
    }

    /// MEMORY HELP
    static func memoryHelp(_ ctx: CommandContext) throws(CommandError) -> Reply {
        helpReply(
            "MEMORY",
            [
                "DOCTOR",
                "    Return memory problems reports.",
                "MALLOC-STATS",
                "    Return internal statistics report from the memory allocator.",
                "PURGE",
                "    Attempt to purge dirty pages for reclamation by the allocator.",
                "STATS",
                "    Return information about the memory usage of the server.",
                "USAGE <key> [SAMPLES <count>]",
                "    Return memory in bytes used by <key> and its value. Nested values are",
                "    sampled up to <count> times (default: 5, 0 means sample all).",
            ])
    }
}

extension CommandTable {
    static let serverRegistrations: [(String, Handler)] = [
        ("info", ServerCommands.info),
        ("config", { _ throws(CommandError) in .null }),
        ("config|get", ServerCommands.configGet),
        ("config|set", ServerCommands.configSet),
        ("config|resetstat", ServerCommands.configResetstat),
        ("config|rewrite", ServerCommands.configRewrite),
        ("config|help", ServerCommands.configHelp),
        ("command", ServerCommands.command),
        ("command|count", ServerCommands.commandCount),
        ("command|info", ServerCommands.commandInfo),
        ("command|docs", ServerCommands.commandDocs),
        ("command|list", ServerCommands.commandList),
        ("command|getkeys", ServerCommands.commandGetkeys),
        ("command|getkeysandflags", ServerCommands.commandGetkeysandflags),
        ("command|help", ServerCommands.commandHelp),
        ("time", ServerCommands.time),
        ("lolwut", ServerCommands.lolwut),
        ("role", ServerCommands.role),
        ("debug", ServerCommands.debug),
        ("shutdown", ServerCommands.shutdown),
        ("module", { _ throws(CommandError) in .null }),
        ("module|list", { _ throws(CommandError) in .array([]) }),
        ("module|load", ServerCommands.moduleLoad),
        ("module|loadex", ServerCommands.moduleLoad),
        ("module|unload", ServerCommands.moduleUnload),
        ("module|help", ServerCommands.moduleHelp),
        ("memory", { _ throws(CommandError) in .null }),
        ("memory|usage", ServerCommands.memoryUsage),
        ("memory|stats", ServerCommands.memoryStats),
        ("memory|doctor", ServerCommands.memoryDoctor),
        ("memory|malloc-stats", ServerCommands.memoryMallocStats),
        ("memory|purge", ServerCommands.memoryPurge),
        ("memory|help", ServerCommands.memoryHelp),
    ]

    /// The table of every command Swiftlet serves, built from the families' registrations.
    public static func standard() -> CommandTable { CommandTable(registrations: allRegistrations) }

    public static let allRegistrations: [(String, Handler)] =
        connectionRegistrations + clientRegistrations + keyRegistrations + stringRegistrations
        + bitmapRegistrations + listRegistrations + hashRegistrations + setRegistrations + sortedSetRegistrations
        + sortedSetMoreRegistrations
        + hyperLogLogRegistrations + geoRegistrations + sortRegistrations + hashFieldExpiryRegistrations
        + transactionRegistrations + pubSubRegistrations + slowlogRegistrations + monitorRegistrations
        + trackingRegistrations + latencyRegistrations + persistenceRegistrations
        + blockingRegistrations + streamRegistrations + scriptingRegistrations
        + serverRegistrations + migrateRegistrations + aclRegistrations + standaloneRegistrations
}
