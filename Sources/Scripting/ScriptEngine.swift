import CScripting
import CommandFacts
import DataStore
import Persistence
import RESP
import Server

/// The Lua engine of a server: one interpreter (Redis's), the scripts it has compiled, and
/// the client whose context runs the commands scripts call.
public final class ScriptEngine {
    public var lua: OpaquePointer
    /// Bodies by SHA-1, for SCRIPT EXISTS and EVALSHA.
    public var bodies: [String: [UInt8]] = [:]
    /// Function libraries by name, and each function's library.
    public internal(set) var libraries: [String: FunctionLibrary] = [:]
    public var functionOwners: [String: String] = [:]
    let context: CommandContext
    /// The run in progress (read-only scripts refuse writes).
    var readOnly = false
    /// The script suspended past busy-reply-threshold: whose it is, what it is, and the
    /// dirty count when it started (SCRIPT KILL refuses once it has written).
    public struct Suspended {
        public var callerID: Int64
        public var function: Bool
        public var name: String
        public var dirtyAtStart: Int
        /// The caller's command and when it started (FUNCTION STATS' running_script).
        public var command: [[UInt8]] = []
        public var startedAt: Int64 = 0

        public init(
            callerID: Int64, function: Bool, name: String, dirtyAtStart: Int, command: [[UInt8]] = [],
            startedAt: Int64 = 0
        ) {
            self.callerID = callerID
            self.function = function
            self.name = name
            self.dirtyAtStart = dirtyAtStart
            self.command = command
            self.startedAt = startedAt
        }
    }
    public var suspended: Suspended? {
        // The dispatcher checks for a busy script before every command: a stored flag.
        didSet { context.server.scriptIsBusy = suspended != nil }
    }

    /// Over maxmemory when the running script started (and not allow-oom), and the dirty
    /// count then.
    public var oomAtStart = false
    /// Whether the running script may touch keys of several slots in a cluster: a script
    /// without a shebang, or one (or a function) flagged allow-cross-slot-keys.
    public var allowCrossSlot = true
    public var dirtyAtStart = 0
    /// When the running script started (milliseconds of the server's clock).
    public var startedAt: Int64 = 0
    /// The script EVALSHA ran last, as its caller spelled the SHA: clients call the same few
    /// scripts over and over, and a repeat then skips lowercasing, hashing and the shebang.
    public struct RecentScript {
        public var shaArgument: [UInt8]
        public var sha: String
        public var flags: ShebangFlags?

        public init(shaArgument: [UInt8], sha: String, flags: ShebangFlags?) {
            self.shaArgument = shaArgument
            self.sha = sha
            self.flags = flags
        }
    }
    public var recent: RecentScript?
    /// The ACL user of the client whose script runs (kept for the whole run, even if the
    /// client goes), and that client's context (ACL LOG's client-info names it).
    var callerUser: ACLUser?
    weak var callerContext: CommandContext?

    func callerInfo() -> String {
        guard let ctx = callerContext else { return "" }
        return ctx.session.infoLine(now: ctx.server.clock())
    }
    /// Scratch for the key and argument pointers handed to the engine.
    var pointers: [UnsafePointer<CChar>?] = []
    var lengths: [Int] = []
    /// A script's reply as the engine writes it, kept between calls with its capacity (a
    /// malloc, a growth and a free per call otherwise); scripts never nest.
    var replyBuffer = swiftlet_buf()

    public init(server: ServerState) {
        lua = swiftlet_lua_create()
        let session = ClientSession(
            id: server.makeClientId(), address: "", localAddress: "", fd: -1, authenticated: true, now: 0)
        session.isScriptClient = true
        context = CommandContext(server: server, session: session)
        context.mayBlock = false
    }

    deinit {
        swiftlet_lua_destroy(lua)
        swiftlet_buf_free(&replyBuffer)
    }

    /// INFO's figures: bytes of the Lua heap, scripts cached.
    public var memory: Int { swiftlet_lua_memory(lua) }
    public var count: Int { bodies.count }

    /// SCRIPT FLUSH: a fresh interpreter without scripts (function libraries are loaded
    /// into it again).
    public func flush() {
        swiftlet_lua_destroy(lua)
        lua = swiftlet_lua_create()
        bodies.removeAll()
        recent = nil
        let kept = libraries.values.sorted { $0.name < $1.name }
        libraries.removeAll()
        functionOwners.removeAll()
        for library in kept { _ = try? loadLibrary(library.code, replace: true) }
    }

    public static func sha1Hex(_ bytes: some Collection<UInt8>) -> String {
        var out = [CChar](repeating: 0, count: 41)
        let data = Array(bytes)
        data.withUnsafeBytes { swiftlet_sha1_hex($0.baseAddress, $0.count, &out) }
        return String(decoding: out.prefix(40).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Compiles `body` unless it is already; nil on success, else the error reply.
    public func compile(_ body: [UInt8], sha: String) -> [UInt8]? {
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
    public func run(sha: String, caller: CommandContext, keys: Range<Int>, args: Range<Int>, readOnly: Bool) -> [UInt8]?
    {
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

    /// Scripts of a client that may wait, or of an AOF the runtime loads in steps, are
    /// suspended past busy-reply-threshold; others (inside MULTI, a load run at once) run
    /// to their end.
    func prepareRun(_ caller: CommandContext) {
        startedAt = caller.server.clock()
        callerUser = caller.session.aclUser
        callerContext = caller
        let suspends =
            caller.session.isLoader ? caller.server.loading?.suspendsScripts == true : caller.mayBlock
        let threshold = suspends ? caller.config.limits.busyReplyThreshold : 0
        swiftlet_lua_set_busy_threshold(lua, threshold)
    }

    /// Continues the suspended script: its reply when it ended, else nil.
    func resume() -> [UInt8]? {
        var out = swiftlet_buf()
        defer { swiftlet_buf_free(&out) }
        let status = swiftlet_lua_resume(lua, scriptExec, scriptLog, Unmanaged.passUnretained(self).toOpaque(), &out)
        return status == 0 ? Array(UnsafeRawBufferPointer(start: out.data, count: out.len)) : nil
    }

    public func kill() { swiftlet_lua_kill(lua) }

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
        replyBuffer.len = 0
        defer { swiftlet_buf_reset(&replyBuffer) }
        var status: Int32 = 0
        caller.batch.bytes.withUnsafeBufferPointer { bytes in
            let base = UnsafeRawPointer(bytes.baseAddress ?? UnsafePointer(bitPattern: 1)!)
            // The scratch arrays only grow: entries are overwritten in place (clearing an
            // array costs a generic replaceSubrange, about 85 instructions, per script
            // call); those past this call's count are never read (the engine gets counts).
            let needed = args.upperBound - keys.lowerBound
            if pointers.count < needed {
                pointers.append(contentsOf: repeatElement(nil, count: needed - pointers.count))
                lengths.append(contentsOf: repeatElement(0, count: needed - lengths.count))
            }
            for (j, i) in (keys.lowerBound..<args.upperBound).enumerated() {
                let span = caller.batch.spans[caller.argBase + i]
                pointers[j] = (base + span.lowerBound).assumingMemoryBound(to: CChar.self)
                lengths[j] = span.count
            }
            pointers.withUnsafeMutableBufferPointer { p in
                lengths.withUnsafeBufferPointer { l in
                    status = body(
                        p.baseAddress, l.baseAddress, p.baseAddress! + keys.count, l.baseAddress! + keys.count,
                        &replyBuffer)
                }
            }
        }
        if status != 0 { return nil }
        return Array(UnsafeRawBufferPointer(start: replyBuffer.data, count: replyBuffer.len))
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
        if ctx.batchCommands.count == 1 {
            ctx.batchCommands[0] = Unmanaged.passUnretained(command)
        } else {
            ctx.batchCommands.removeAll(keepingCapacity: true)
            ctx.batchCommands.append(Unmanaged.passUnretained(command))
        }
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
        func error(_ error: CommandError) {
            ctx.countError(error)
            found?.rejectedCalls += 1
            let line = "-" + error.message + "\r\n"
            line.utf8CString.withUnsafeBufferPointer { swiftlet_buf_append(reply, $0.baseAddress, $0.count - 1) }
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
            return error(CommandError("ERR Unknown Redis command called from script"))
        }
        if !command.acceptsArgumentCount(argc) {
            return error(CommandError("ERR Wrong number of args calling Redis command from script"))
        }
        if !ctx.server.scriptsMayRunAnyCommand
            && ((command.parent ?? command).flags.contains(.noscript) || command.flags.contains(.noscript))
        {
            return error(CommandError("ERR This Redis command is not allowed from script"))
        }
        if readOnly && (command.flags.contains(.write) || command.flags.contains(.mayReplicate)) {
            return error(CommandError("ERR Write commands are not allowed from read-only scripts."))
        }
        if command.flags.contains(.write) && ctx.config.limits.minReplicasToWrite > 0
            && callerContext?.session.isLoader != true && !ctx.server.hasEnoughGoodReplicas
        {
            return error(.noReplicas)
        }
        // A read-only replica runs the scripts its primary sends, and no other writes.
        if command.flags.contains(.write) && ctx.server.primaryLink != nil && ctx.config.bool("replica-read-only")
            && callerContext?.session.isPrimaryClient != true && callerContext?.session.isLoader != true
        {
            return error(.readonlyReplica)
        }
        // scriptVerifyOOM: over maxmemory when the script started, a command that may grow
        // memory is refused until the script's first write (after it, the script must finish
        // whole for the AOF).
        if oomAtStart && command.flags.contains(.denyoom) && ctx.server.dirty == dirtyAtStart {
            return error(.oom)
        }
        ctx.session.protocolVersion = resp
        stage(command, argc: argc, arg)
        // The script runs as its caller's ACL user (scriptVerifyACL).
        if let user = callerUser, !user.unrestricted {
            if let (denial, position) = user.check(command, ctx) {
                ctx.server.logACLDenial(
                    reason: denial.reason, context: "lua", object: ctx.aclDeniedObject(denial, command, position),
                    username: Array(user.name.utf8), clientInfo: callerInfo())
                let why = AccessControl.denialMessage(denial, user, command, nil)
                return error(CommandError("ERR ACL failure in script: " + why))
            }
        }
        if let caller = callerContext,
            let refusal = ctx.scriptClusterCheck(command, caller: caller.session, allowCrossSlot: allowCrossSlot)
        {
            return error(refusal)
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

// MARK: Function libraries

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
    public static func libraryMetadata(_ code: [UInt8]) throws(CommandError) -> (
        engine: String, name: String, skip: Int
    ) {
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
    public func loadLibrary(_ code: [UInt8], replace: Bool) throws(CommandError) -> Result<String, ReplyBytes> {
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

    public func removeLibrary(_ library: FunctionLibrary) {
        for f in library.functions {
            swiftlet_lua_function_remove(lua, f.name)
            functionOwners[f.name.lowercased()] = nil
        }
        libraries[library.name] = nil
    }

    /// FUNCTION FLUSH's work (also a FLUSH-policy RESTORE and DEBUG RELOAD).
    public func removeAllLibraries() {
        for library in libraries.values { removeLibrary(library) }
    }

    public func function(_ name: String) -> FunctionLibrary.Function? {
        let key = name.lowercased()
        guard let owner = functionOwners[key] else { return nil }
        return libraries[owner]?.functions.first { $0.name.lowercased() == key }
    }

    /// FCALL: runs a function for the client of `caller` (nil: suspended).
    public func call(_ name: String, caller: CommandContext, keys: Range<Int>, args: Range<Int>, readOnly: Bool)
        -> [UInt8]?
    {
        start(swiftlet_lua_fcall, name: name, caller: caller, keys: keys, args: args, readOnly: readOnly)
    }
}

extension ScriptEngine {
    /// Every library's code, by name (for RDB files and FUNCTION DUMP).
    public var libraryCodes: [[UInt8]] { libraries.values.sorted { $0.name < $1.name }.map(\.code) }
}

extension ScriptEngine: ScriptRuntime {
    public var cachedScripts: Int { bodies.count }
    public var cachedScriptBytes: Int { bodies.values.reduce(0) { $0 + $1.count } }
    public var suspendedIsFunction: Bool? { suspended?.function }
    public var callerSession: ClientSession? { callerContext?.session }

    public func scriptBody(sha: String) -> [UInt8]? { bodies[sha] }

    public func functionDeclaresNoWrites(_ name: String) -> Bool? {
        function(name).map { $0.flags.contains("no-writes") }
    }

    public func resumeSuspended() -> (callerID: Int64, reply: [UInt8])? {
        guard let running = suspended, let reply = resume() else { return nil }
        suspended = nil
        if reply.first == UInt8(ascii: "-") && swiftlet_lua_reply_error_counted(lua) == 0 {
            context.countError(bytes: reply)
        }
        return (running.callerID, reply)
    }

    public func loadLibrary(fromFile code: [UInt8], replace: Bool) -> String? {
        do {
            if case .failure = try loadLibrary(code, replace: replace) { return "" }
        } catch {
            return error.message
        }
        return nil
    }
}

extension ServerState {
    /// The Lua engine (EVAL, SCRIPT, FUNCTION), created on first use. Servers are built
    /// with `ScriptEngine.init` as their engine maker; one built without gets it here.
    public var scripts: ScriptEngine {
        if let engine = scriptEngine as? ScriptEngine { return engine }
        if makeScriptEngine == nil { makeScriptEngine = { ScriptEngine(server: $0) } }
        guard let engine = scriptRuntime as? ScriptEngine else {
            fatalError("the server's script engine is not Lua's")
        }
        return engine
    }

    /// The Lua engine if one was created (nil: no script has run, nothing to kill or list).
    public var existingScripts: ScriptEngine? { scriptEngine as? ScriptEngine }
}

/// An error reply already encoded (a script engine's).
public struct ReplyBytes: Error {
    public let bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
}
