import CScripting
import DataStore
import Persistence
import RESP
import Scripting
import Server

enum ScriptingCommands {
    /// The keys and arguments of EVAL-style commands (numkeys at argument 2).
    static func keyRanges(_ ctx: CommandContext) throws(CommandError) -> (Range<Int>, Range<Int>) {
        guard let n = parseInt64(ctx.arg(2)) else { throw .notInteger }
        if n > Int64(ctx.argc - 3) { throw .numKeysTooMany }
        if n < 0 { throw .numKeysNegative }
        let keysEnd = 3 + Int(n)
        return (3..<keysEnd, keysEnd..<ctx.argc)
    }

    /// EVAL, EVALSHA and FCALL reach MONITOR before the commands they run (Redis feeds them
    /// explicitly at the start, errors included).
    static func feedMonitorsFirst(_ ctx: CommandContext) {
        if !ctx.server.monitors.isEmpty, let command = ctx.command { ctx.feedMonitors(command, explicitly: true) }
    }

    static func runScript(
        _ ctx: CommandContext, _ engine: ScriptEngine, sha: String, ranges: (keys: Range<Int>, args: Range<Int>),
        readOnly: Bool, flags: ShebangFlags?
    ) throws(CommandError) -> Reply {
        let (keys, args) = ranges
        let outOfMemory = ctx.server.outOfMemory
        // A script declaring flags may not start over maxmemory unless it cannot write or
        // says allow-oom (Redis's scriptPrepareForRun).
        if let flags, !flags.allowOOM, !readOnly, outOfMemory { throw .oom }
        engine.oomAtStart = outOfMemory && flags?.allowOOM != true
        engine.allowCrossSlot = flags?.allowCrossSlot ?? true
        ctx.server.propagation.beginTransaction()
        let reply = engine.run(sha: sha, caller: ctx, keys: keys, args: args, readOnly: readOnly)
        return finishOrSuspend(ctx, engine, reply, function: false, name: sha)
    }

    /// A script's end (its reply), or its suspension: the caller waits as a blocked client
    /// and the runtime continues the script between other clients' commands (which get
    /// BUSY), until it ends or SCRIPT KILL / FUNCTION KILL stops it.
    static func finishOrSuspend(
        _ ctx: CommandContext, _ engine: ScriptEngine, _ reply: [UInt8]?, function: Bool, name: String
    )
        -> Reply
    {
        // The commands the script ran were logged as they ran; the script itself is not.
        if ctx.propagating { ctx.propagate() }
        guard reply == nil else {
            ctx.server.propagation.endTransaction()
            return ctx.encodedReply(reply!, errorCounted: swiftlet_lua_reply_error_counted(engine.lua) != 0)
        }
        engine.suspended = ScriptEngine.Suspended(
            callerID: ctx.session.id, function: function, name: name, dirtyAtStart: engine.dirtyAtStart,
            command: (0..<ctx.argc).map { ctx.argBytes($0) }, startedAt: engine.startedAt)
        ctx.server.scriptLogHook?(
            3,
            "Slow script detected: still in execution after \(ctx.config.limits.busyReplyThreshold) milliseconds. You can try killing the script using the \(function ? "FUNCTION" : "SCRIPT") KILL command. Script name is: \(name)."
        )
        ctx.blockRequest = BlockRequest(keys: [], db: ctx.session.db, deadline: nil, timeoutReply: .null)
        ctx.server.scriptSuspendedHook?()
        return .null
    }

    static func evalGeneric(_ ctx: CommandContext, readOnly: Bool) throws(CommandError) -> Reply {
        feedMonitorsFirst(ctx)
        let body = ctx.argBytes(1)
        let sha = ScriptEngine.sha1Hex(body)
        let ranges = try keyRanges(ctx)
        let flags = try ShebangFlags.parse(body)
        let engine = ctx.server.scripts
        if let failure = engine.compile(body, sha: sha) { return ctx.encodedReply(failure) }
        return try runScript(
            ctx, engine, sha: sha, ranges: ranges, readOnly: readOnly || flags?.noWrites == true, flags: flags)
    }

    static func evalshaGeneric(_ ctx: CommandContext, readOnly: Bool) throws(CommandError) -> Reply {
        feedMonitorsFirst(ctx)
        let ranges = try keyRanges(ctx)
        let engine = ctx.server.scripts
        if let recent = engine.recent, ctx.arg(1).withUnsafeBytes({ bytesEqual(recent.shaArgument, $0) }) {
            let flags = recent.flags
            return try runScript(
                ctx, engine, sha: recent.sha, ranges: ranges, readOnly: readOnly || flags?.noWrites == true,
                flags: flags)
        }
        let argument = ctx.arg(1)
        guard argument.count == 40 else { throw .noScript }
        let sha = String(unsafeUninitializedCapacity: 40) { out in
            for (i, c) in argument.enumerated() { out[i] = (c >= 65 && c <= 90) ? c + 32 : c }
            return 40
        }
        guard let body = engine.bodies[sha] else { throw .noScript }
        let flags = try ShebangFlags.parse(body)
        engine.recent = ScriptEngine.RecentScript(shaArgument: Array(argument), sha: sha, flags: flags)
        return try runScript(
            ctx, engine, sha: sha, ranges: ranges, readOnly: readOnly || flags?.noWrites == true, flags: flags)
    }

    /// EVAL script numkeys [key [key ...]] [arg [arg ...]]
    static func eval(_ ctx: CommandContext) throws(CommandError) -> Reply { try evalGeneric(ctx, readOnly: false) }
    /// EVAL_RO script numkeys [key [key ...]] [arg [arg ...]]
    static func evalRo(_ ctx: CommandContext) throws(CommandError) -> Reply { try evalGeneric(ctx, readOnly: true) }
    /// EVALSHA sha1 numkeys [key [key ...]] [arg [arg ...]]
    static func evalsha(_ ctx: CommandContext) throws(CommandError) -> Reply {
        try evalshaGeneric(ctx, readOnly: false)
    }
    /// EVALSHA_RO sha1 numkeys [key [key ...]] [arg [arg ...]]
    static func evalshaRo(_ ctx: CommandContext) throws(CommandError) -> Reply {
        try evalshaGeneric(ctx, readOnly: true)
    }

    /// SCRIPT LOAD script
    static func scriptLoad(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let body = ctx.argBytes(2)
        let sha = ScriptEngine.sha1Hex(body)
        _ = try ShebangFlags.parse(body)
        if let failure = ctx.server.scripts.compile(body, sha: sha) { return ctx.encodedReply(failure) }
        return .bulk(sha)
    }

    /// SCRIPT EXISTS sha1 [sha1 ...]
    static func scriptExists(_ ctx: CommandContext) throws(CommandError) -> Reply {
        .array(
            (2..<ctx.argc).map { ctx.server.scripts.bodies[ctx.argString($0).lowercased()] != nil ? .one : .zero })
    }

    /// SCRIPT FLUSH [ASYNC | SYNC]
    static func scriptFlush(_ ctx: CommandContext) throws(CommandError) -> Reply {
        if ctx.argc > 3 { throw .syntax }
        if ctx.argc == 3 && !ctx.argIs(2, "async") && !ctx.argIs(2, "sync") {
            throw .scriptFlushMode
        }
        ctx.server.scripts.flush()
        return .ok
    }

    /// SCRIPT KILL
    static func scriptKill(_ ctx: CommandContext) throws(CommandError) -> Reply { try kill(ctx, function: false) }

    /// scriptKill: only a script that has not written may be killed, and only by its kind's
    /// command.
    static func kill(_ ctx: CommandContext, function: Bool) throws(CommandError) -> Reply {
        guard let engine = ctx.server.existingScripts, let running = engine.suspended else { throw .notBusy }
        if ctx.server.dirty != running.dirtyAtStart { throw .unkillable }
        if running.function != function { throw running.function ? .busyFunction : .busyScript }
        engine.kill()
        return .ok
    }

    /// SCRIPT HELP
    static func scriptHelp(_ ctx: CommandContext) throws(CommandError) -> Reply {
        helpReply(
            "SCRIPT",
            [
                "EXISTS <sha1> [<sha1> ...]",
                "    Return information about the existence of the scripts in the script cache.",
                "FLUSH [ASYNC|SYNC]",
                "    Flush the Lua scripts cache. Very dangerous on replicas.",
                "    When called without the optional mode argument, the behavior is determined by the",
                "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
                "    * ASYNC: Asynchronously flush the scripts cache.",
                "    * SYNC: Synchronously flush the scripts cache.",
                "KILL",
                "    Kill the currently executing Lua script.",
                "LOAD <script>",
                "    Load a script into the scripts cache without executing it.",
            ])
    }
}

extension CommandTable {
    static let scriptingRegistrations: [(String, Handler)] =
        [
            ("eval", ScriptingCommands.eval),
            ("eval_ro", ScriptingCommands.evalRo),
            ("evalsha", ScriptingCommands.evalsha),
            ("evalsha_ro", ScriptingCommands.evalshaRo),
            ("script", { _ throws(CommandError) in .null }),
            ("script|load", ScriptingCommands.scriptLoad),
            ("script|exists", ScriptingCommands.scriptExists),
            ("script|flush", ScriptingCommands.scriptFlush),
            ("script|kill", ScriptingCommands.scriptKill),
            ("script|help", ScriptingCommands.scriptHelp),
        ] + ScriptingCommands.functionRegistrations
}

extension ScriptingCommands {
    /// FUNCTION LOAD [REPLACE] function-code
    static func functionLoad(_ ctx: CommandContext) throws(CommandError) -> Reply {
        var replace = false
        var i = 2
        while i < ctx.argc - 1 {
            guard ctx.argIs(i, "replace") else { throw .generic("Unknown option given: \(ctx.argString(i))") }
            replace = true
            i += 1
        }
        guard i == ctx.argc - 1 else { throw .generic("Function code is missing") }
        switch try ctx.server.scripts.loadLibrary(ctx.argBytes(i), replace: replace) {
        case .success(let name):
            ctx.markDirty()
            return .bulk(name)
        case .failure(let reply):
            return ctx.encodedReply(reply.bytes)
        }
    }

    static func fcallGeneric(_ ctx: CommandContext, readOnly: Bool) throws(CommandError) -> Reply {
        feedMonitorsFirst(ctx)
        let name = ctx.argString(1)
        guard let n = parseInt64(ctx.arg(2)) else { throw .generic("Bad number of keys provided") }
        if n > Int64(ctx.argc - 3) { throw .numKeysTooMany }
        if n < 0 { throw .numKeysNegative }
        let engine = ctx.server.scripts
        guard let function = engine.function(name) else { throw .generic("Function not found") }
        let noWrites = function.flags.contains("no-writes")
        if readOnly && !noWrites {
            throw .generic("Can not execute a script with write flag using *_ro command.")
        }
        let outOfMemory = ctx.server.outOfMemory
        if !noWrites && !function.flags.contains("allow-oom") && outOfMemory { throw .oom }
        engine.oomAtStart = outOfMemory && !function.flags.contains("allow-oom")
        engine.allowCrossSlot = function.flags.contains("allow-cross-slot-keys")
        let keysEnd = 3 + Int(n)
        ctx.server.propagation.beginTransaction()
        let reply = engine.call(
            function.name, caller: ctx, keys: 3..<keysEnd, args: keysEnd..<ctx.argc, readOnly: noWrites)
        return finishOrSuspend(ctx, engine, reply, function: true, name: function.name)
    }

    /// FCALL function numkeys [key [key ...]] [arg [arg ...]]
    static func fcall(_ ctx: CommandContext) throws(CommandError) -> Reply { try fcallGeneric(ctx, readOnly: false) }
    /// FCALL_RO function numkeys [key [key ...]] [arg [arg ...]]
    static func fcallRo(_ ctx: CommandContext) throws(CommandError) -> Reply { try fcallGeneric(ctx, readOnly: true) }

    /// FUNCTION DELETE library-name
    static func functionDelete(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let engine = ctx.server.scripts
        guard let library = engine.libraries[ctx.argString(2)] else { throw .generic("Library not found") }
        engine.removeLibrary(library)
        ctx.markDirty()
        return .ok
    }

    /// FUNCTION FLUSH [ASYNC | SYNC]
    static func functionFlush(_ ctx: CommandContext) throws(CommandError) -> Reply {
        if ctx.argc > 3 { throw .subcommandSyntax(ctx.argBytes(1), container: "FUNCTION") }
        if ctx.argc == 3 && !ctx.argIs(2, "async") && !ctx.argIs(2, "sync") {
            throw .generic("FUNCTION FLUSH only supports SYNC|ASYNC option")
        }
        let engine = ctx.server.scripts
        engine.removeAllLibraries()
        ctx.markDirty()
        return .ok
    }

    /// FUNCTION LIST [LIBRARYNAME library-name-pattern] [WITHCODE]
    static func functionList(_ ctx: CommandContext) throws(CommandError) -> Reply {
        var pattern: [UInt8]?
        var withCode = false
        var i = 2
        while i < ctx.argc {
            if ctx.argIs(i, "withcode") {
                if withCode { throw .generic("Unknown argument withcode") }
                withCode = true
                i += 1
            } else if ctx.argIs(i, "libraryname") {
                if pattern != nil { throw .generic("Unknown argument libraryname") }
                guard i + 1 < ctx.argc else { throw .generic("library name argument was not given") }
                pattern = ctx.argBytes(i + 1)
                i += 2
            } else {
                throw .generic("Unknown argument \(ctx.argString(i))")
            }
        }
        let libraries = ctx.server.scripts.libraries.values.sorted { $0.name < $1.name }
        var out: [Reply] = []
        for library in libraries {
            if let pattern, !globMatch(pattern, Array(library.name.utf8)) { continue }
            var items: [Reply] = [
                .bulk("library_name"), .bulk(library.name), .bulk("engine"), .bulk("LUA"), .bulk("functions"),
                .array(
                    library.functions.map { f in
                        .map([
                            .bulk("name"), .bulk(f.name), .bulk("description"),
                            f.description.map { .bulk($0) } ?? .null,
                            .bulk("flags"), .set(f.flags.map { .bulk($0) }),
                        ])
                    }),
            ]
            if withCode { items += [.bulk("library_code"), .bulk(library.code)] }
            out.append(.map(items))
        }
        return .array(out)
    }

    /// FUNCTION STATS
    static func functionStats(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let engine = ctx.server.existingScripts
        let libraries = engine?.libraries.count ?? 0
        let functions = engine?.functionOwners.count ?? 0
        var running: Reply = .null
        if let suspended = engine?.suspended {
            // A running EVAL makes FUNCTION STATS answer BUSY, as Redis's does.
            guard suspended.function else { throw .busyScript }
            running = .map([
                .bulk("name"), .bulk(suspended.name), .bulk("command"), .array(suspended.command.map { .bulk($0) }),
                .bulk("duration_ms"), .integer(ctx.server.clock() - suspended.startedAt),
            ])
        }
        return .map([
            .bulk("running_script"), running, .bulk("engines"),
            .map([
                .bulk("LUA"),
                .map([
                    .bulk("libraries_count"), .integer(Int64(libraries)), .bulk("functions_count"),
                    .integer(Int64(functions)),
                ]),
            ]),
        ])
    }

    /// FUNCTION DUMP
    static func functionDump(_ ctx: CommandContext) throws(CommandError) -> Reply {
        .bulk(RDBWriter.functionsPayload(ctx.server.existingScripts?.libraryCodes ?? []))
    }

    /// FUNCTION RESTORE serialized-value [FLUSH | APPEND | REPLACE]
    static func functionRestore(_ ctx: CommandContext) throws(CommandError) -> Reply {
        var policy = "append"
        if ctx.argc == 4 {
            policy = ctx.argString(3).lowercased()
            guard ["flush", "append", "replace"].contains(policy) else {
                throw .generic("Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.")
            }
        } else if ctx.argc > 4 {
            throw .subcommandSyntax(ctx.argBytes(1), container: "FUNCTION")
        }
        guard let parsed = RDBReader.functionsPayload(ctx.argBytes(2)) else {
            throw .generic("DUMP payload version or checksum are wrong")
        }
        guard case .success(let codes) = parsed else { throw .generic("given type is not a function") }
        let engine = ctx.server.scripts
        // Check everything before changing anything: the restore is all or nothing.
        var names: [String] = []
        for code in codes {
            let meta = try ScriptEngine.libraryMetadata(code)
            names.append(meta.name)
            if policy == "append" && engine.libraries[meta.name] != nil {
                throw .generic("Library \(meta.name) already exists")
            }
        }
        let saved = engine.libraries.values.map(\.code)
        if policy == "flush" { engine.removeAllLibraries() }
        for code in codes {
            do {
                if case .failure(let reply) = try engine.loadLibrary(code, replace: true) {
                    restoreLibraries(engine, saved)
                    return ctx.encodedReply(reply.bytes)
                }
            } catch {
                restoreLibraries(engine, saved)
                throw error
            }
        }
        ctx.markDirty()
        return .ok
    }

    /// Puts the libraries back as they were (a failed FUNCTION RESTORE).
    static func restoreLibraries(_ engine: ScriptEngine, _ codes: [[UInt8]]) {
        engine.removeAllLibraries()
        for code in codes { _ = try? engine.loadLibrary(code, replace: true) }
    }

    /// FUNCTION KILL
    static func functionKill(_ ctx: CommandContext) throws(CommandError) -> Reply { try kill(ctx, function: true) }

    /// FUNCTION HELP
    static func functionHelp(_ ctx: CommandContext) throws(CommandError) -> Reply {
        helpReply(
            "FUNCTION",
            [
                "LOAD [REPLACE] <FUNCTION CODE>",
                "    Create a new library with the given library name and code.",
                "DELETE <LIBRARY NAME>",
                "    Delete the given library.",
                "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
                "    Return general information on all the libraries:",
                "    * Library name",
                "    * The engine used to run the Library",
                "    * Library description",
                "    * Functions list",
                "    * Library code (if WITHCODE is given)",
                "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
                "STATS",
                "    Return information about the current function running:",
                "    * Function name",
                "    * Command used to run the function",
                "    * Duration in MS that the function is running",
                "    If no function is running, return nil",
                "    In addition, returns a list of available engines.",
                "KILL",
                "    Kill the current running function.",
                "FLUSH [ASYNC|SYNC]",
                "    Delete all the libraries.",
                "    When called without the optional mode argument, the behavior is determined by the",
                "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
                "    * ASYNC: Asynchronously flush the libraries.",
                "    * SYNC: Synchronously flush the libraries.",
                "DUMP",
                "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
                "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
                "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
                "    control how to handle existing libraries (default APPEND):",
                "    * FLUSH: delete all existing libraries.",
                "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
                "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
                "      libraries with the new libraries (notice that even on this option there is a chance of failure",
                "      in case of functions name collision with another library).",
            ])
    }

    static let functionRegistrations: [(String, Handler)] = [
        ("fcall", ScriptingCommands.fcall),
        ("fcall_ro", ScriptingCommands.fcallRo),
        ("function", { _ throws(CommandError) in .null }),
        ("function|load", ScriptingCommands.functionLoad),
        ("function|delete", ScriptingCommands.functionDelete),
        ("function|flush", ScriptingCommands.functionFlush),
        ("function|list", ScriptingCommands.functionList),
        ("function|stats", ScriptingCommands.functionStats),
        ("function|kill", ScriptingCommands.functionKill),
        ("function|dump", ScriptingCommands.functionDump),
        ("function|restore", ScriptingCommands.functionRestore),
        ("function|help", ScriptingCommands.functionHelp),
    ]
}
