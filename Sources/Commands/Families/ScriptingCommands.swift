import CScripting
import DataStore
import Persistence
import RESP

/// The Lua engine of a server: one interpreter (Redis's), the scripts it has compiled, and
/// the client whose context runs the commands scripts call.
public final class ScriptEngine {
    var lua: OpaquePointer
    /// Bodies by SHA-1, for SCRIPT EXISTS and EVALSHA.
    var bodies: [String: [UInt8]] = [:]
    /// Function libraries by name, and each function's library.
    public internal(set) var libraries: [String: FunctionLibrary] = [:]
    var functionOwners: [String: String] = [:]
    let context: CommandContext
    /// The run in progress (read-only scripts refuse writes).
    var readOnly = false
    /// The script suspended past busy-reply-threshold: whose it is, what it is, and the
    /// dirty count when it started (SCRIPT KILL refuses once it has written).
    public struct Suspended {
        public var callerID: Int64
        public var function: Bool
        public var name: String
        var dirtyAtStart: Int
        /// The caller's command and when it started (FUNCTION STATS' running_script).
        var command: [[UInt8]] = []
        var startedAt: Int64 = 0
    }
    public internal(set) var suspended: Suspended?

    /// Over maxmemory when the running script started (and not allow-oom), and the dirty
    /// count then.
    var oomAtStart = false
    var dirtyAtStart = 0
    /// When the running script started (milliseconds of the server's clock).
    var startedAt: Int64 = 0
    /// The script EVALSHA ran last, as its caller spelled the SHA: clients call the same few
    /// scripts over and over, and a repeat then skips lowercasing, hashing and the shebang.
    struct RecentScript {
        var shaArgument: [UInt8]
        var sha: String
        var flags: ScriptingCommands.ShebangFlags?
    }
    var recent: RecentScript?
    /// The ACL user of the client whose script runs (kept for the whole run, even if the
    /// client goes), and that client's context (ACL LOG's client-info names it).
    var callerUser: ACLUser?
    weak var callerContext: CommandContext?

    func callerInfo() -> String {
        guard let ctx = callerContext else { return "" }
        return ClientCommands.infoLine(ctx, ctx.session)
    }
    /// Scratch for the key and argument pointers handed to the engine.
    var pointers: [UnsafePointer<CChar>?] = []
    var lengths: [Int] = []

    init(server: ServerState) {
        lua = swiftlet_lua_create()
        let session = ClientSession(
            id: server.makeClientId(), address: "", localAddress: "", fd: -1, authenticated: true, now: 0)
        session.isScriptClient = true
        context = CommandContext(server: server, session: session)
        context.mayBlock = false
    }

    deinit { swiftlet_lua_destroy(lua) }

    /// INFO's figures: bytes of the Lua heap, scripts cached.
    public var memory: Int { swiftlet_lua_memory(lua) }
    public var count: Int { bodies.count }

    /// SCRIPT FLUSH: a fresh interpreter without scripts (function libraries are loaded
    /// into it again).
    func flush() {
        swiftlet_lua_destroy(lua)
        lua = swiftlet_lua_create()
        bodies.removeAll()
        recent = nil
        let kept = libraries.values.sorted { $0.name < $1.name }
        libraries.removeAll()
        functionOwners.removeAll()
        for library in kept { _ = try? loadLibrary(library.code, replace: true) }
    }

    static func sha1Hex(_ bytes: some Collection<UInt8>) -> String {
        var out = [CChar](repeating: 0, count: 41)
        let data = Array(bytes)
        data.withUnsafeBytes { swiftlet_sha1_hex($0.baseAddress, $0.count, &out) }
        return String(decoding: out.prefix(40).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Compiles `body` unless it is already; nil on success, else the error reply.
    func compile(_ body: [UInt8], sha: String) -> [UInt8]? {
        if bodies[sha] != nil { return nil }
        var out = swiftlet_buf()
        defer { swiftlet_buf_free(&out) }
        let status = body.withUnsafeBufferPointer { b in
            b.withMemoryRebound(to: CChar.self) { swiftlet_lua_compile(lua, sha, $0.baseAddress, $0.count, &out) }
        }
        if status != 0 { return Array(UnsafeRawBufferPointer(start: out.data, count: out.len)) }
        bodies[sha] = body
        return nil
    }

    /// Runs a compiled script for the client of `caller`: its reply as RESP bytes, or nil
    /// when it was suspended past busy-reply-threshold.
    func run(sha: String, caller: CommandContext, keys: Range<Int>, args: Range<Int>, readOnly: Bool) -> [UInt8]? {
        start(swiftlet_lua_run, name: sha, caller: caller, keys: keys, args: args, readOnly: readOnly)
    }

    /// A script (by SHA) or a function (by name) started through the engine's entry point
    /// for it; both take the same arguments.
    func start(
        _ entry: (
            OpaquePointer?, UnsafePointer<CChar>?, Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>?,
            UnsafePointer<Int>?, Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>?, UnsafePointer<Int>?, Int32,
            swiftlet_lua_exec_fn?, swiftlet_lua_log_fn?, UnsafeMutableRawPointer?, UnsafeMutablePointer<swiftlet_buf>?
        ) -> Int32,
        name: String, caller: CommandContext, keys: Range<Int>, args: Range<Int>, readOnly: Bool
    ) -> [UInt8]? {
        prepareRun(caller)
        // withCString borrows the string's own bytes; passing the String straight to C
        // inside the closure below made a copy of it on every call.
        return name.withCString { cName in
            invoke(caller: caller, keys: keys, args: args, readOnly: readOnly) { kp, kl, ap, al, out in
                entry(
                    lua, cName, Int32(keys.count), kp, kl, Int32(args.count), ap, al, caller.session.resp3 ? 1 : 0,
                    scriptExec, scriptLog, Unmanaged.passUnretained(self).toOpaque(), out)
            }
        }
    }

    /// Scripts of a client that may wait are suspended past busy-reply-threshold; others
    /// (inside MULTI, from the AOF) run to their end.
    func prepareRun(_ caller: CommandContext) {
        startedAt = caller.server.clock()
        callerUser = caller.session.aclUser
        callerContext = caller
        let threshold = caller.mayBlock && !caller.session.isLoader ? caller.config.limits.busyReplyThreshold : 0
        swiftlet_lua_set_busy_threshold(lua, threshold)
    }

    /// Continues the suspended script: its reply when it ended, else nil.
    func resume() -> [UInt8]? {
        var out = swiftlet_buf()
        defer { swiftlet_buf_free(&out) }
        let status = swiftlet_lua_resume(lua, scriptExec, scriptLog, Unmanaged.passUnretained(self).toOpaque(), &out)
        return status == 0 ? Array(UnsafeRawBufferPointer(start: out.data, count: out.len)) : nil
    }

    func kill() { swiftlet_lua_kill(lua) }

    /// Calls into the engine with pointers to the caller's key and argument bytes (they stay
    /// in the caller's batch, untouched while the script runs); nil when it was suspended.
    func invoke(
        caller: CommandContext, keys: Range<Int>, args: Range<Int>, readOnly: Bool,
        _ body: (
            UnsafeMutablePointer<UnsafePointer<CChar>?>?, UnsafePointer<Int>?,
            UnsafeMutablePointer<UnsafePointer<CChar>?>?,
            UnsafePointer<Int>?, UnsafeMutablePointer<swiftlet_buf>
        ) -> Int32
    ) -> [UInt8]? {
        self.readOnly = readOnly
        context.session.db = caller.session.db
        context.session.protocolVersion = 2
        dirtyAtStart = caller.server.dirty
        var out = swiftlet_buf()
        defer { swiftlet_buf_free(&out) }
        var status: Int32 = 0
        caller.batch.bytes.withUnsafeBufferPointer { bytes in
            let base = UnsafeRawPointer(bytes.baseAddress ?? UnsafePointer(bitPattern: 1)!)
            pointers.removeAll(keepingCapacity: true)
            lengths.removeAll(keepingCapacity: true)
            for i in keys.lowerBound..<args.upperBound {
                let span = caller.batch.spans[caller.argBase + i]
                pointers.append((base + span.lowerBound).assumingMemoryBound(to: CChar.self))
                lengths.append(span.count)
            }
            pointers.withUnsafeMutableBufferPointer { p in
                lengths.withUnsafeBufferPointer { l in
                    status = body(
                        p.baseAddress, l.baseAddress, p.baseAddress! + keys.count, l.baseAddress! + keys.count, &out)
                }
            }
        }
        if status != 0 { return nil }
        return Array(UnsafeRawBufferPointer(start: out.data, count: out.len))
    }

    /// Puts a command and its arguments in the script client's batch, ready to be checked
    /// and run.
    func stage(_ command: Command, argc: Int, _ arg: (Int) -> UnsafeRawBufferPointer) {
        let ctx = context
        ctx.batch.removeAll()
        ctx.batch.commandStarts.append(0)
        for i in 0..<argc {
            let start = ctx.batch.bytes.count
            ctx.batch.bytes.append(contentsOf: arg(i))
            ctx.batch.spans.append(start..<(start + arg(i).count))
        }
        // The command found here runs as is: dispatch need not look it up again.
        ctx.batchCommands.removeAll(keepingCapacity: true)
        ctx.batchCommands.append(command)
        ctx.argBase = 0
        ctx.argc = argc
    }

    /// redis.call: one command through the script client, checked as Redis checks script
    /// commands first.
    func execute(
        argc: Int, argv: UnsafePointer<UnsafePointer<CChar>?>, lens: UnsafePointer<Int>, resp: Int,
        into reply: UnsafeMutablePointer<swiftlet_buf>
    ) {
        func arg(_ i: Int) -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: argv[i], count: lens[i]) }
        let ctx = context
        let table = ctx.server.commands
        var found = table.lookup(arg(0))
        if let parent = found, !parent.subcommands.isEmpty && argc >= 2,
            let sub = parent.subcommands[String(decoding: arg(1), as: UTF8.self).lowercased()]
        {
            found = sub
        }
        // A command the script may not run is refused as Redis's scriptCall does: the error
        // and the command's rejected call are counted.
        func error(_ text: StaticString) {
            ctx.countError(CommandError(text.description))
            found?.rejectedCalls += 1
            swiftlet_buf_append(reply, "-", 1)
            swiftlet_buf_append(reply, text.utf8Start, text.utf8CodeUnitCount)
            swiftlet_buf_append(reply, "\r\n", 2)
        }
        // redis.acl_check_cmd (protocol -1): whether the script's user may run the command
        // with these arguments, without running it.
        if resp == -1 {
            guard let command = found else { return swiftlet_buf_append(reply, "-\r\n", 3) }
            stage(command, argc: argc, arg)
            let allowed = callerUser.map { $0.unrestricted || $0.check(command, ctx) == nil } ?? true
            return swiftlet_buf_append(reply, allowed ? ":1\r\n" : ":0\r\n", 4)
        }
        guard let command = found else {
            return error("ERR Unknown Redis command called from script")
        }
        if !command.acceptsArgumentCount(argc) {
            return error("ERR Wrong number of args calling Redis command from script")
        }
        if !ctx.server.scriptsMayRunAnyCommand
            && ((command.parent ?? command).flags.contains(.noscript) || command.flags.contains(.noscript))
        {
            return error("ERR This Redis command is not allowed from script")
        }
        if readOnly && (command.flags.contains(.write) || command.flags.contains(.mayReplicate)) {
            return error("ERR Write commands are not allowed from read-only scripts.")
        }
        if command.flags.contains(.write) && ctx.config.limits.minReplicasToWrite > 0
            && callerContext?.session.isLoader != true
        {
            return error("NOREPLICAS Not enough good replicas to write.")
        }
        // scriptVerifyOOM: over maxmemory when the script started, a command that may grow
        // memory is refused until the script's first write (after it, the script must finish
        // whole for the AOF).
        if oomAtStart && command.flags.contains(.denyoom) && ctx.server.dirty == dirtyAtStart {
            return error("OOM command not allowed when used memory > 'maxmemory'.")
        }
        ctx.session.protocolVersion = resp
        stage(command, argc: argc, arg)
        // The script runs as its caller's ACL user (scriptVerifyACL).
        if let user = callerUser, !user.unrestricted {
            if let (denial, position) = user.check(command, ctx) {
                ctx.countError(CommandError("ERR"))
                command.rejectedCalls += 1
                ctx.server.logACLDenial(
                    reason: denial.reason, context: "lua", object: ctx.aclDeniedObject(denial, command, position),
                    username: Array(user.name.utf8), clientInfo: callerInfo())
                let text = "-ERR ACL failure in script: " + AccessControl.denialMessage(denial, user, command, nil)
                text.utf8CString.withUnsafeBufferPointer { swiftlet_buf_append(reply, $0.baseAddress, $0.count - 1) }
                swiftlet_buf_append(reply, "\r\n", 2)
                return
            }
        }
        _ = ctx.execute(commandAt: 0)
        // A script that reads makes its caller track the keys the script declared (Redis
        // 7.0's call(): trackingRememberKeys of the script's caller).
        if command.flags.contains(.readonly), let caller = callerContext, caller.session.tracking.on {
            caller.rememberScriptKeys()
        }
        ctx.output.withUnsafeBytes { swiftlet_buf_append(reply, $0.baseAddress, $0.count) }
        ctx.output.removeAll(keepingCapacity: true)
    }
}

private let scriptExec: swiftlet_lua_exec_fn = { ctx, argc, argv, lens, resp, reply in
    guard let ctx, let argv, let lens, let reply else { return }
    let engine = Unmanaged<ScriptEngine>.fromOpaque(ctx).takeUnretainedValue()
    engine.execute(argc: Int(argc), argv: argv, lens: lens, resp: Int(resp), into: reply)
}

private let scriptLog: swiftlet_lua_log_fn = { ctx, level, message, length in
    guard let ctx, let message else { return }
    let engine = Unmanaged<ScriptEngine>.fromOpaque(ctx).takeUnretainedValue()
    let text = String(decoding: UnsafeRawBufferPointer(start: message, count: length), as: UTF8.self)
    engine.context.server.scriptLogHook?(Int(level), text)
}

enum ScriptingCommands {
    /// The keys and arguments of EVAL-style commands (numkeys at argument 2).
    static func keyRanges(_ ctx: CommandContext) throws(CommandError) -> (Range<Int>, Range<Int>) {
        guard let n = parseInt64(ctx.arg(2)) else { throw .notInteger }
        if n > Int64(ctx.argc - 3) { throw .numKeysTooMany }
        if n < 0 { throw .numKeysNegative }
        let keysEnd = 3 + Int(n)
        return (3..<keysEnd, keysEnd..<ctx.argc)
    }

    /// Whether a script command may write, by the script's declared flags (Redis's
    /// evalGetCommandFlags / fcallGetCommandFlags): a `no-writes` script or function is a
    /// read, which CLIENT PAUSE WRITE lets through.
    static func declaresNoWrites(_ ctx: CommandContext, _ command: Command) -> Bool {
        guard ctx.argc >= 2 else { return false }
        switch command.name {
        case "eval":
            return (try? shebangFlags(ctx.argBytes(1)))??.noWrites == true
        case "evalsha":
            let sha = ctx.argString(1).lowercased()
            guard let body = ctx.server.scriptEngine?.bodies[sha] else { return false }
            return (try? shebangFlags(body))??.noWrites == true
        case "fcall":
            return ctx.server.scriptEngine?.function(ctx.argString(1))?.flags.contains("no-writes") == true
        default:
            return false
        }
    }

    /// Whether a script command counts as a write by its script's declared flags (Redis's
    /// evalGetCommandFlags / fcallGetCommandFlags): a script with a shebang, or a function,
    /// that does not declare `no-writes`. Scripts without a shebang are judged command by
    /// command as they run.
    static func declaresWrites(_ ctx: CommandContext, _ command: Command) -> Bool {
        guard ctx.argc >= 2 else { return false }
        switch command.name {
        case "eval":
            guard let flags = (try? shebangFlags(ctx.argBytes(1))) ?? nil else { return false }
            return !flags.noWrites
        case "evalsha":
            let sha = ctx.argString(1).lowercased()
            guard let body = ctx.server.scriptEngine?.bodies[sha],
                let flags = (try? shebangFlags(body)) ?? nil
            else { return false }
            return !flags.noWrites
        case "fcall":
            guard let function = ctx.server.scriptEngine?.function(ctx.argString(1)) else { return false }
            return !function.flags.contains("no-writes")
        default:
            return false
        }
    }

    /// EVAL, EVALSHA and FCALL reach MONITOR before the commands they run (Redis feeds them
    /// explicitly at the start, errors included).
    static func feedMonitorsFirst(_ ctx: CommandContext) {
        if !ctx.server.monitors.isEmpty, let command = ctx.command { ctx.feedMonitors(command, explicitly: true) }
    }

    static func runScript(_ ctx: CommandContext, sha: String, readOnly: Bool, flags: ShebangFlags?)
        throws(CommandError) -> Reply
    {
        let (keys, args) = try keyRanges(ctx)
        let outOfMemory = ctx.server.outOfMemory
        // A script declaring flags may not start over maxmemory unless it cannot write or
        // says allow-oom (Redis's scriptPrepareForRun).
        if let flags, !flags.allowOOM, !readOnly, outOfMemory { throw .oom }
        let engine = ctx.server.scripts
        engine.oomAtStart = outOfMemory && flags?.allowOOM != true
        ctx.server.aof?.beginTransaction()
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
            ctx.server.aof?.endTransaction()
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

    /// Redis 7's script flags from a `#!lua flags=…` first line (nil without a shebang).
    struct ShebangFlags {
        var noWrites = false
        var allowOOM = false
    }

    static let knownFlags: Set<String> = [
        "no-writes", "allow-oom", "allow-stale", "no-cluster", "allow-cross-slot-keys",
    ]

    /// evalExtractShebangFlags, with Redis's errors.
    static func shebangFlags(_ body: [UInt8]) throws(CommandError) -> ShebangFlags? {
        guard body.count >= 2, body[0] == UInt8(ascii: "#"), body[1] == UInt8(ascii: "!") else { return nil }
        guard let end = body.firstIndex(of: UInt8(ascii: "\n")) else { throw .generic("Invalid script shebang") }
        guard let split = splitArgs(Array(body[..<end])), !split.isEmpty else {
            throw .generic("Invalid engine in script shebang")
        }
        let parts = split.map { String(decoding: $0, as: UTF8.self) }
        let engine = parts[0]
        if engine != "#!lua" { throw .generic("Unexpected engine in script shebang: \(engine)") }
        var flags = ShebangFlags()
        for part in parts.dropFirst() {
            guard part.hasPrefix("flags=") else { throw .generic("Unknown lua shebang option: \(part)") }
            // "flags=" alone declares no flags (sdssplitlen of nothing is no parts).
            let list = part.dropFirst(6)
            let named = list.isEmpty ? [] : list.split(separator: ",", omittingEmptySubsequences: false)
            for flag in named.map(String.init) {
                guard knownFlags.contains(flag) else { throw .generic("Unexpected flag in script shebang: \(flag)") }
                if flag == "no-writes" { flags.noWrites = true }
                if flag == "allow-oom" { flags.allowOOM = true }
            }
        }
        return flags
    }

    static func evalGeneric(_ ctx: CommandContext, readOnly: Bool) throws(CommandError) -> Reply {
        feedMonitorsFirst(ctx)
        let body = ctx.argBytes(1)
        let sha = ScriptEngine.sha1Hex(body)
        _ = try keyRanges(ctx)
        let flags = try shebangFlags(body)
        if let failure = ctx.server.scripts.compile(body, sha: sha) { return ctx.encodedReply(failure) }
        return try runScript(ctx, sha: sha, readOnly: readOnly || flags?.noWrites == true, flags: flags)
    }

    static func evalshaGeneric(_ ctx: CommandContext, readOnly: Bool) throws(CommandError) -> Reply {
        feedMonitorsFirst(ctx)
        _ = try keyRanges(ctx)
        let engine = ctx.server.scripts
        if let recent = engine.recent, ctx.arg(1).elementsEqual(recent.shaArgument) {
            let flags = recent.flags
            return try runScript(ctx, sha: recent.sha, readOnly: readOnly || flags?.noWrites == true, flags: flags)
        }
        let argument = ctx.arg(1)
        guard argument.count == 40 else { throw .noScript }
        let sha = String(unsafeUninitializedCapacity: 40) { out in
            for (i, c) in argument.enumerated() { out[i] = (c >= 65 && c <= 90) ? c + 32 : c }
            return 40
        }
        guard let body = engine.bodies[sha] else { throw .noScript }
        let flags = try shebangFlags(body)
        engine.recent = ScriptEngine.RecentScript(shaArgument: Array(argument), sha: sha, flags: flags)
        return try runScript(ctx, sha: sha, readOnly: readOnly || flags?.noWrites == true, flags: flags)
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
        _ = try shebangFlags(body)
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
        guard let engine = ctx.server.scriptEngine, let running = engine.suspended else { throw .notBusy }
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

// MARK: Functions

/// A function library (FUNCTION LOAD): its code and the functions it registered.
public struct FunctionLibrary {
    public struct Function {
        public var name: String
        public var description: [UInt8]?
        public var flags: [String]
    }
    public var name: String
    public var code: [UInt8]
    public var functions: [Function]
}

extension ScriptEngine {
    /// functionExtractLibMetaData: the engine and library name from `#!lua name=…`, and
    /// where the code after that line starts.
    static func libraryMetadata(_ code: [UInt8]) throws(CommandError) -> (engine: String, name: String, skip: Int) {
        guard code.count >= 2, code[0] == UInt8(ascii: "#"), code[1] == UInt8(ascii: "!") else {
            throw .generic("Missing library metadata")
        }
        guard let end = code.firstIndex(of: UInt8(ascii: "\n")) else { throw .generic("Invalid library metadata") }
        // Split as Redis's sdssplitargs: `name="foo"` names foo.
        guard let split = splitArgs(Array(code[..<end])), !split.isEmpty else {
            throw .generic("Invalid library metadata")
        }
        let parts = split.map { String(decoding: $0, as: UTF8.self) }
        let first = parts[0]
        var name: String?
        for part in parts.dropFirst() {
            if part.lowercased().hasPrefix("name=") {
                if name != nil { throw .generic("Invalid metadata value, name argument was given multiple times") }
                name = String(part.dropFirst(5))
                continue
            }
            throw .generic("Invalid metadata value given: \(part)")
        }
        guard let name else { throw .generic("Library name was not given") }
        return (String(first.dropFirst(2)), name, end)
    }

    static func validName(_ s: String) -> Bool {
        !s.isEmpty
            && s.utf8.allSatisfy {
                ($0 >= 97 && $0 <= 122) || ($0 >= 65 && $0 <= 90) || ($0 >= 48 && $0 <= 57) || $0 == 95
            }
    }

    /// FUNCTION LOAD's work: the library's name, or the error reply.
    func loadLibrary(_ code: [UInt8], replace: Bool) throws(CommandError) -> Result<String, ReplyBytes> {
        let meta = try Self.libraryMetadata(code)
        if meta.engine.lowercased() != "lua" { throw .generic("Engine '\(meta.engine)' not found") }
        if !Self.validName(meta.name) {
            throw .generic(
                "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"
            )
        }
        if libraries[meta.name] != nil && !replace { throw .generic("Library '\(meta.name)' already exists") }
        var registered = swiftlet_buf()
        var failure = swiftlet_buf()
        defer {
            swiftlet_buf_free(&registered)
            swiftlet_buf_free(&failure)
        }
        let status = code.withUnsafeBufferPointer { b in
            b.withMemoryRebound(to: CChar.self) {
                swiftlet_lua_library_load(lua, $0.baseAddress, $0.count, meta.skip, &registered, &failure)
            }
        }
        if status != 0 {
            return .failure(ReplyBytes(Array(UnsafeRawBufferPointer(start: failure.data, count: failure.len))))
        }
        let described = ReplyParser.parse(Array(UnsafeRawBufferPointer(start: registered.data, count: registered.len)))?
            .0
        var functions: [FunctionLibrary.Function] = []
        if case .array(let items) = described {
            for item in items {
                guard case .array(let f) = item, f.count == 3, case .bulk(let name) = f[0] else { continue }
                var description: [UInt8]?
                if case .bulk(let d) = f[1] { description = d }
                var flags: [String] = []
                if case .array(let fl) = f[2] {
                    for x in fl { if case .bulk(let b) = x { flags.append(String(decoding: b, as: UTF8.self)) } }
                }
                functions.append(
                    .init(name: String(decoding: name, as: UTF8.self), description: description, flags: flags))
            }
        }
        if functions.isEmpty { throw .generic("No functions registered") }
        for f in functions {
            if let owner = functionOwners[f.name.lowercased()], owner != meta.name {
                throw .generic("Function \(f.name) already exists")
            }
        }
        if let old = libraries[meta.name] { removeLibrary(old) }
        swiftlet_lua_library_commit(lua)
        // Function names are case-insensitive, as Redis's functions dictionary.
        for f in functions { functionOwners[f.name.lowercased()] = meta.name }
        libraries[meta.name] = FunctionLibrary(name: meta.name, code: code, functions: functions)
        return .success(meta.name)
    }

    func removeLibrary(_ library: FunctionLibrary) {
        for f in library.functions {
            swiftlet_lua_function_remove(lua, f.name)
            functionOwners[f.name.lowercased()] = nil
        }
        libraries[library.name] = nil
    }

    func function(_ name: String) -> FunctionLibrary.Function? {
        let key = name.lowercased()
        guard let owner = functionOwners[key] else { return nil }
        return libraries[owner]?.functions.first { $0.name.lowercased() == key }
    }

    /// FCALL: runs a function for the client of `caller` (nil: suspended).
    func call(_ name: String, caller: CommandContext, keys: Range<Int>, args: Range<Int>, readOnly: Bool) -> [UInt8]? {
        start(swiftlet_lua_fcall, name: name, caller: caller, keys: keys, args: args, readOnly: readOnly)
    }
}

extension ScriptEngine {
    /// Every library's code, by name (for RDB files and FUNCTION DUMP).
    public var libraryCodes: [[UInt8]] { libraries.values.sorted { $0.name < $1.name }.map(\.code) }
}

extension ServerState {
    /// Continues the suspended script for a slice; when it ended, the caller's id and the
    /// reply to give it.
    public func resumeSuspendedScript() -> (callerID: Int64, reply: [UInt8])? {
        guard let engine = scriptEngine, let running = engine.suspended else { return nil }
        guard let reply = engine.resume() else { return nil }
        engine.suspended = nil
        if reply.first == UInt8(ascii: "-") && swiftlet_lua_reply_error_counted(engine.lua) == 0 {
            engine.context.countError(bytes: reply)
        }
        aof?.endTransaction()
        return (running.callerID, reply)
    }

    /// Whether a script is suspended (other clients get BUSY).
    public var scriptIsBusy: Bool { scriptEngine?.suspended != nil }

    /// A library read from an RDB file: loaded, replacing one of the same name (unless
    /// `replace` is false: then that is a failure); false when it failed.
    @discardableResult
    public func loadFunctionLibrary(_ code: [UInt8], replace: Bool = true) -> Bool {
        do {
            if case .failure = try scripts.loadLibrary(code, replace: replace) {
                persistenceLog?("Failed loading a function library from the RDB file")
                return false
            }
        } catch {
            persistenceLog?("Failed loading a function library from the RDB file: \(error.message)")
            return false
        }
        return true
    }
}

/// An error reply already encoded (a script engine's).
public struct ReplyBytes: Error {
    public let bytes: [UInt8]
    init(_ bytes: [UInt8]) { self.bytes = bytes }
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
        let keysEnd = 3 + Int(n)
        ctx.server.aof?.beginTransaction()
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
        for library in engine.libraries.values { engine.removeLibrary(library) }
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
        let engine = ctx.server.scriptEngine
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
        .bulk(RDBWriter.functionsPayload(ctx.server.scriptEngine?.libraryCodes ?? []))
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
        if policy == "flush" { for library in engine.libraries.values { engine.removeLibrary(library) } }
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
        for library in engine.libraries.values { engine.removeLibrary(library) }
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
