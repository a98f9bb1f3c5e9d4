import CScripting
import DataStore
import RESP

/// The Lua engine of a server: one interpreter (Redis's), the scripts it has compiled, and
/// the client whose context runs the commands scripts call.
public final class ScriptEngine {
    var lua: OpaquePointer
    /// Bodies by SHA-1, for SCRIPT EXISTS and EVALSHA.
    var bodies: [String: [UInt8]] = [:]
    let context: CommandContext
    /// The run in progress (read-only scripts refuse writes).
    var readOnly = false

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

    /// SCRIPT FLUSH: a fresh interpreter without scripts.
    func flush() {
        swiftlet_lua_destroy(lua)
        lua = swiftlet_lua_create()
        bodies.removeAll()
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

    /// Runs a compiled script for the client of `caller`; its reply as RESP bytes.
    func run(sha: String, caller: CommandContext, keys: Range<Int>, args: Range<Int>, readOnly: Bool) -> [UInt8] {
        self.readOnly = readOnly
        context.session.db = caller.session.db
        context.session.protocolVersion = 2
        let keyBytes = keys.map { caller.argBytes($0) }
        let argBytes = args.map { caller.argBytes($0) }
        var out = swiftlet_buf()
        defer { swiftlet_buf_free(&out) }
        let me = Unmanaged.passUnretained(self).toOpaque()
        withCStrings(keyBytes) { kp, kl in
            withCStrings(argBytes) { ap, al in
                swiftlet_lua_run(
                    lua, sha, Int32(keyBytes.count), kp, kl, Int32(argBytes.count), ap, al,
                    caller.session.resp3 ? 1 : 0, scriptExec, scriptLog, me, &out)
            }
        }
        return Array(UnsafeRawBufferPointer(start: out.data, count: out.len))
    }

    /// redis.call: one command through the script client, checked as Redis checks script
    /// commands first.
    func execute(_ args: [[UInt8]], resp: Int, into reply: UnsafeMutablePointer<swiftlet_buf>) {
        func answer(_ bytes: [UInt8]) {
            bytes.withUnsafeBytes { swiftlet_buf_append(reply, $0.baseAddress, $0.count) }
        }
        func error(_ text: String) { answer(Array("-\(text)\r\n".utf8)) }
        let ctx = context
        let table = ctx.server.commands
        guard var command = args[0].withUnsafeBytes({ table.lookup($0) }) else {
            return error("ERR Unknown Redis command called from script")
        }
        if !command.subcommands.isEmpty && args.count >= 2,
            let sub = command.subcommands[String(decoding: args[1], as: UTF8.self).lowercased()]
        {
            command = sub
        }
        if !command.acceptsArgumentCount(args.count) {
            return error("ERR Wrong number of args calling Redis command from script")
        }
        if (command.parent ?? command).flags.contains(.noscript) || command.flags.contains(.noscript) {
            return error("ERR This Redis command is not allowed from script")
        }
        if readOnly && command.flags.contains(.write) {
            return error("ERR Write commands are not allowed from read-only scripts.")
        }
        ctx.session.protocolVersion = resp
        ctx.batch.removeAll()
        ctx.batch.commandStarts.append(0)
        for a in args {
            let start = ctx.batch.bytes.count
            ctx.batch.bytes.append(contentsOf: a)
            ctx.batch.spans.append(start..<(start + a.count))
        }
        ctx.batchCommands.removeAll(keepingCapacity: true)
        _ = ctx.execute(commandAt: 0)
        answer(ctx.output)
        ctx.output.removeAll(keepingCapacity: true)
    }
}

/// Pointers to each byte string (and their lengths) for a C call.
func withCStrings<R>(
    _ items: [[UInt8]], _ body: (UnsafeMutablePointer<UnsafePointer<CChar>?>?, UnsafePointer<Int>?) -> R
) -> R {
    var pointers: [UnsafePointer<CChar>?] = []
    var lengths: [Int] = []
    var storage: [UnsafeMutablePointer<CChar>] = []
    for item in items {
        let p = UnsafeMutablePointer<CChar>.allocate(capacity: max(1, item.count))
        item.withUnsafeBytes { b in
            if !b.isEmpty { UnsafeMutableRawPointer(p).copyMemory(from: b.baseAddress!, byteCount: b.count) }
        }
        storage.append(p)
        pointers.append(UnsafePointer(p))
        lengths.append(item.count)
    }
    defer { for p in storage { p.deallocate() } }
    return pointers.withUnsafeMutableBufferPointer { pp in
        lengths.withUnsafeBufferPointer { lp in body(pp.baseAddress, lp.baseAddress) }
    }
}

private let scriptExec: swiftlet_lua_exec_fn = { ctx, argc, argv, lens, resp, reply in
    guard let ctx, let argv, let lens, let reply else { return }
    let engine = Unmanaged<ScriptEngine>.fromOpaque(ctx).takeUnretainedValue()
    var args: [[UInt8]] = []
    args.reserveCapacity(Int(argc))
    for i in 0..<Int(argc) {
        let p = UnsafeRawPointer(argv[i]!)
        args.append(Array(UnsafeRawBufferPointer(start: p, count: lens[i])))
    }
    engine.execute(args, resp: Int(resp), into: reply)
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

    static func runScript(_ ctx: CommandContext, sha: String, readOnly: Bool) throws(CommandError) -> Reply {
        let (keys, args) = try keyRanges(ctx)
        let engine = ctx.server.scripts
        ctx.server.aof?.beginTransaction()
        let reply = engine.run(sha: sha, caller: ctx, keys: keys, args: args, readOnly: readOnly)
        ctx.server.aof?.endTransaction()
        // The commands the script ran were logged as they ran; the script itself is not.
        if ctx.propagating { ctx.propagate() }
        return .raw(reply)
    }

    static func evalGeneric(_ ctx: CommandContext, readOnly: Bool) throws(CommandError) -> Reply {
        let body = ctx.argBytes(1)
        let sha = ScriptEngine.sha1Hex(body)
        _ = try keyRanges(ctx)
        if let failure = ctx.server.scripts.compile(body, sha: sha) { return .raw(failure) }
        return try runScript(ctx, sha: sha, readOnly: readOnly)
    }

    static func evalshaGeneric(_ ctx: CommandContext, readOnly: Bool) throws(CommandError) -> Reply {
        let sha = ctx.argString(1).lowercased()
        _ = try keyRanges(ctx)
        guard sha.utf8.count == 40, ctx.server.scripts.bodies[sha] != nil else { throw .noScript }
        return try runScript(ctx, sha: sha, readOnly: readOnly)
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
        if let failure = ctx.server.scripts.compile(body, sha: sha) { return .raw(failure) }
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
    static func scriptKill(_ ctx: CommandContext) throws(CommandError) -> Reply {
        throw .notBusy
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
    static let scriptingRegistrations: [(String, Handler)] = [
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
    ]
}
