import DataStore
import RESP
import Server

enum KeyCommands {
    /// DEL key [key ...]
    static func del(_ ctx: CommandContext) throws(CommandError) -> Reply {
        if ctx.config.limits.lazyfreeUserDel { return try unlink(ctx) }
        var deleted: Int64 = 0
        let now = ctx.now
        for i in 1..<ctx.argc where ctx.db.delete(ctx.arg(i), now: now) { deleted += 1 }
        ctx.markDirty(Int(deleted))
        return .integer(deleted)
    }

    /// UNLINK key [key ...]: DEL whose large values are freed on another thread.
    static func unlink(_ ctx: CommandContext) throws(CommandError) -> Reply {
        var deleted: Int64 = 0
        for i in 1..<ctx.argc {
            guard let slot = ctx.lookupWrite(i) else { continue }
            let entry = ctx.db.table.remove(slot: slot)
            ctx.server.releaseInBackground(entry.value)
            deleted += 1
        }
        ctx.markDirty(Int(deleted))
        return .integer(deleted)
    }

    /// EXISTS key [key ...]
    static func exists(_ ctx: CommandContext) throws(CommandError) -> Reply {
        var n: Int64 = 0
        // EXISTS, TYPE and the TTL family leave the key's access time alone (LOOKUP_NOTOUCH).
        for i in 1..<ctx.argc where ctx.lookupRead(i, touching: false) != nil { n += 1 }
        return .integer(n)
    }

    /// TOUCH key [key ...]
    static func touch(_ ctx: CommandContext) throws(CommandError) -> Reply {
        var n: Int64 = 0
        for i in 1..<ctx.argc where ctx.lookupRead(i) != nil { n += 1 }
        return .integer(n)
    }

    /// TYPE key
    static func type(_ ctx: CommandContext) throws(CommandError) -> Reply {
        guard let slot = ctx.lookupRead(1, touching: false) else { return .simple("none") }
        return .simple(ctx.db.table[slot].value.typeName)
    }

    /// EXPIRE key seconds [NX | XX | GT | LT], and PEXPIRE, EXPIREAT, PEXPIREAT.
    static func expireGeneric(_ ctx: CommandContext, seconds: Bool, relative: Bool, name: String) throws(CommandError)
        -> Reply
    {
        var when = try ctx.int64(2)
        var nx = false
        var xx = false
        var gt = false
        var lt = false
        for j in 3..<max(3, ctx.argc) {
            if ctx.argIs(j, "nx") {
                nx = true
            } else if ctx.argIs(j, "xx") {
                xx = true
            } else if ctx.argIs(j, "gt") {
                gt = true
            } else if ctx.argIs(j, "lt") {
                lt = true
            } else {
                throw .unsupportedOption(ctx.argString(j))
            }
        }
        if nx && (xx || gt || lt) {
            throw .expireNXAndOthers
        }
        if gt && lt { throw .expireGTAndLT }
        if seconds {
            if when > Int64.max / 1000 || when < Int64.min / 1000 { throw .invalidExpireTime(name) }
            when *= 1000
        }
        if relative {
            if when > Int64.max - ctx.now { throw .invalidExpireTime(name) }
            when += ctx.now
        }
        guard let slot = ctx.lookupWrite(1) else { return .zero }
        let current = ctx.db.table[slot].expireAt
        let hasTTL = current != KeyEntry.noExpiry
        if nx && hasTTL { return .zero }
        if xx && !hasTTL { return .zero }
        if gt && (!hasTTL || when <= current) { return .zero }
        if lt && hasTTL && when >= current { return .zero }
        if when <= ctx.now {
            ctx.db.table.remove(slot: slot)
            if ctx.propagating { ctx.propagate(as: [Array("DEL".utf8), ctx.argBytes(1)]) }
        } else {
            ctx.db.table.setExpire(slot: slot, at: when)
            // Logged as PEXPIREAT with the deadline it computed (flags kept).
            if ctx.propagating && (seconds || relative) {
                var args = (0..<ctx.argc).map { ctx.argBytes($0) }
                args[0] = Array("PEXPIREAT".utf8)
                args[2] = formatInt64(when)
                ctx.propagate(as: args)
            }
        }
        ctx.markDirty()
        return .one
    }

    static func expire(_ ctx: CommandContext) throws(CommandError) -> Reply {
        try expireGeneric(ctx, seconds: true, relative: true, name: "expire")
    }
    static func pexpire(_ ctx: CommandContext) throws(CommandError) -> Reply {
        try expireGeneric(ctx, seconds: false, relative: true, name: "pexpire")
    }
    static func expireat(_ ctx: CommandContext) throws(CommandError) -> Reply {
        try expireGeneric(ctx, seconds: true, relative: false, name: "expireat")
    }
    static func pexpireat(_ ctx: CommandContext) throws(CommandError) -> Reply {
        try expireGeneric(ctx, seconds: false, relative: false, name: "pexpireat")
    }

    static func ttlGeneric(_ ctx: CommandContext, milliseconds: Bool, absolute: Bool) throws(CommandError) -> Reply {
        guard let slot = ctx.lookupRead(1, touching: false) else { return .integer(-2) }
        let at = ctx.db.table[slot].expireAt
        if at == KeyEntry.noExpiry { return .integer(-1) }
        if absolute { return .integer(milliseconds ? at : (at + 500) / 1000) }
        let ttl = max(0, at - ctx.now)
        return .integer(milliseconds ? ttl : (ttl + 500) / 1000)
    }

    /// TTL key
    static func ttl(_ ctx: CommandContext) throws(CommandError) -> Reply {
        try ttlGeneric(ctx, milliseconds: false, absolute: false)
    }
    /// PTTL key
    static func pttl(_ ctx: CommandContext) throws(CommandError) -> Reply {
        try ttlGeneric(ctx, milliseconds: true, absolute: false)
    }
    /// EXPIRETIME key
    static func expiretime(_ ctx: CommandContext) throws(CommandError) -> Reply {
        try ttlGeneric(ctx, milliseconds: false, absolute: true)
    }
    /// PEXPIRETIME key
    static func pexpiretime(_ ctx: CommandContext) throws(CommandError) -> Reply {
        try ttlGeneric(ctx, milliseconds: true, absolute: true)
    }

    /// PERSIST key
    static func persist(_ ctx: CommandContext) throws(CommandError) -> Reply {
        guard let slot = ctx.lookupWrite(1), ctx.db.table[slot].expireAt != KeyEntry.noExpiry else { return .zero }
        ctx.db.table.removeExpire(slot: slot)
        ctx.markDirty()
        return .one
    }

    static func renameGeneric(_ ctx: CommandContext, nx: Bool) throws(CommandError) -> Reply {
        guard let slot = ctx.lookupWrite(1) else { throw .noSuchKey }
        if ctx.arg(1) == ctx.arg(2) { return nx ? .zero : .ok }
        if ctx.lookupWrite(2) != nil {
            if nx { return .zero }
            ctx.db.delete(ctx.arg(2), now: ctx.now)
        }
        // Deleting the destination may have moved nothing, but look the source up again to be safe.
        let source = ctx.lookupWrite(1) ?? slot
        let entry = ctx.db.table.remove(slot: source)
        ctx.db.table.insertNew(ctx.argBytes(2), value: entry.value, expireAt: entry.expireAt, lru: entry.lru)
        if entry.value.hasFieldExpiry { ctx.db.noteFieldExpiry(ctx.argBytes(2)) }
        ctx.markDirty()
        ctx.signalReady(2)
        return nx ? .one : .ok
    }

    /// RENAME key newkey
    static func rename(_ ctx: CommandContext) throws(CommandError) -> Reply { try renameGeneric(ctx, nx: false) }
    /// RENAMENX key newkey
    static func renamenx(_ ctx: CommandContext) throws(CommandError) -> Reply { try renameGeneric(ctx, nx: true) }

    static func databaseIndex(_ ctx: CommandContext, _ i: Int) throws(CommandError) -> Int {
        guard let v = parseInt64(ctx.arg(i)), v >= Int64(Int32.min), v <= Int64(Int32.max) else { throw .notInteger }
        guard v >= 0 && v < Int64(ctx.keyspace.databases.count) else { throw .dbIndexOutOfRange }
        return Int(v)
    }

    /// COPY source destination [DB destination-db] [REPLACE]
    static func copy(_ ctx: CommandContext) throws(CommandError) -> Reply {
        var targetDB = ctx.session.db
        var replace = false
        var j = 3
        while j < ctx.argc {
            if ctx.argIs(j, "replace") {
                replace = true
            } else if ctx.argIs(j, "db") && j + 1 < ctx.argc {
                targetDB = try databaseIndex(ctx, j + 1)
                j += 1
            } else {
                throw .syntax
            }
            j += 1
        }
        if targetDB == ctx.session.db && ctx.arg(1) == ctx.arg(2) { throw .sameObject }
        guard let slot = ctx.lookupWrite(1) else { return .zero }
        let entry = ctx.db.table[slot]
        let now = ctx.now
        let exists = ctx.keyspace.databases[targetDB].lookup(ctx.arg(2), now: now) != nil
        if exists {
            if !replace { return .zero }
            ctx.keyspace.databases[targetDB].delete(ctx.arg(2), now: now)
        }
        ctx.keyspace.databases[targetDB].table.insertNew(
            ctx.argBytes(2), value: entry.value.deepCopy(),
            expireAt: entry.expireAt)
        if entry.value.hasFieldExpiry { ctx.keyspace.databases[targetDB].noteFieldExpiry(ctx.argBytes(2)) }
        ctx.markDirty()
        return .one
    }

    /// MOVE key db
    static func move(_ ctx: CommandContext) throws(CommandError) -> Reply {
        guard let v = parseInt64(ctx.arg(2)), v >= Int64(Int32.min), v <= Int64(Int32.max) else { throw .notInteger }
        guard v >= 0 && v < Int64(ctx.keyspace.databases.count) else { throw .dbIndexOutOfRange }
        let target = Int(v)
        if target == ctx.session.db { throw .sameObject }
        guard let slot = ctx.lookupWrite(1) else { return .zero }
        let now = ctx.now
        if ctx.keyspace.databases[target].lookup(ctx.arg(1), now: now) != nil { return .zero }
        let entry = ctx.db.table.remove(slot: slot)
        ctx.keyspace.databases[target].table.insertNew(
            entry.key, value: entry.value, expireAt: entry.expireAt,
            lru: entry.lru)
        if entry.value.hasFieldExpiry { ctx.keyspace.databases[target].noteFieldExpiry(entry.key) }
        ctx.markDirty()
        return .one
    }

    /// SWAPDB index1 index2
    static func swapdb(_ ctx: CommandContext) throws(CommandError) -> Reply {
        guard let a = parseInt64(ctx.arg(1)), a >= Int64(Int32.min), a <= Int64(Int32.max) else {
            throw .invalidFirstDB
        }
        guard let b = parseInt64(ctx.arg(2)), b >= Int64(Int32.min), b <= Int64(Int32.max) else {
            throw .invalidSecondDB
        }
        let n = Int64(ctx.keyspace.databases.count)
        guard a >= 0 && a < n && b >= 0 && b < n else { throw .dbIndexOutOfRange }
        if a != b {
            ctx.keyspace.databases.swapAt(Int(a), Int(b))
            ctx.server.signalBlockedKeys(db: Int(a))
            ctx.server.signalBlockedKeys(db: Int(b))
            ctx.markDirty()
        }
        return .ok
    }

    /// KEYS pattern
    static func keys(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let pattern = ctx.argBytes(1)
        let all = pattern == [UInt8(ascii: "*")]
        let now = ctx.now
        var result: [Reply] = []
        var expired: [[UInt8]] = []
        pattern.withUnsafeBytes { p in
            ctx.db.table.forEachSlot { slot in
                let entry = ctx.db.table[slot]
                if entry.expireAt != KeyEntry.noExpiry && entry.expireAt < now {
                    expired.append(entry.key)
                    return
                }
                if all || entry.key.withUnsafeBytes({ globMatch(p, $0) }) { result.append(.bulk(entry.key)) }
            }
        }
        for key in expired { _ = ctx.db.lookup(key, now: now) }
        return .array(result)
    }

    /// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]
    static func scan(_ ctx: CommandContext) throws(CommandError) -> Reply {
        guard let cursor = parseCursor(ctx.arg(1)) else { throw .invalidCursor }
        var pattern: [UInt8]?
        var count = 10
        var typeName: String?
        var args = ArgumentReader(ctx, from: 2)
        while !args.isAtEnd {
            if args.take("count", values: 1) {
                count = Int(min(try args.int64(in: 1...Int64.max, else: .syntax), Int64(Int32.max)))
            } else if args.take("match", values: 1) {
                pattern = try args.bytes()
                if pattern == [UInt8(ascii: "*")] { pattern = nil }
            } else if args.take("type", values: 1) {
                typeName = try args.string().lowercased()
            } else {
                throw .syntax
            }
        }
        var keys: [[UInt8]] = []
        var next = cursor
        var visited = 0
        let maxIterations = count * 10
        var iterations = 0
        repeat {
            next = ctx.db.table.scan(cursor: next) { slot in
                keys.append(ctx.db.table[slot].key)
                visited += 1
            }
            iterations += 1
        } while next != 0 && visited < count && iterations < maxIterations
        let now = ctx.now
        var result: [Reply] = []
        for key in keys {
            guard let slot = ctx.db.lookup(key, now: now) else { continue }
            if let typeName, ctx.db.table[slot].value.typeName != typeName { continue }
            if let pattern, !globMatch(pattern, key) { continue }
            result.append(.bulk(key))
        }
        return .array([.bulk(Array(String(next).utf8)), .array(result)])
    }

    /// Redis parses SCAN cursors with strtoull: an unsigned decimal number.
    static func parseCursor(_ bytes: ArraySlice<UInt8>) -> UInt64? {
        guard !bytes.isEmpty, bytes.count <= 20 else { return nil }
        var v: UInt64 = 0
        for b in bytes {
            guard b >= 48 && b <= 57 else { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(UInt64(b - 48))
            if o1 || o2 { return nil }
            v = s
        }
        return v
    }

    /// RANDOMKEY
    static func randomkey(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let now = ctx.now
        var attempts = 0
        while let slot = ctx.db.table.randomSlot(using: &ctx.keyspace.rng) {
            let entry = ctx.db.table[slot]
            if entry.expireAt != KeyEntry.noExpiry && entry.expireAt < now && attempts < 100 {
                _ = ctx.db.lookup(entry.key, now: now)
                attempts += 1
                continue
            }
            return .bulk(entry.key)
        }
        return .null
    }

    /// DBSIZE
    static func dbsize(_ ctx: CommandContext) throws(CommandError) -> Reply { .integer(Int64(ctx.db.count)) }

    /// Whether a flush frees asynchronously: ASYNC, or no option and
    /// `lazyfree-lazy-user-flush yes`.
    static func flushMode(_ ctx: CommandContext) throws(CommandError) -> Bool {
        if ctx.argc > 2 { throw .syntax }
        if ctx.argc == 2 && !ctx.argIs(1, "async") && !ctx.argIs(1, "sync") { throw .syntax }
        if ctx.argc == 2 { return ctx.argIs(1, "async") }
        return ctx.config.bool("lazyfree-lazy-user-flush")
    }

    /// Empties database `index`; with `async` its keys are freed on another thread.
    static func flush(_ ctx: CommandContext, _ index: Int, async: Bool) {
        if async && ctx.keyspace.databases[index].count > 64 {
            ctx.server.releaseInBackground(ctx.keyspace.databases[index].table)
        }
        ctx.keyspace.databases[index].removeAll()
        ctx.server.signalBlockedKeys(db: index)
    }

    /// FLUSHDB [ASYNC | SYNC]
    static func flushdb(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let async = try flushMode(ctx)
        ctx.markDirty(ctx.db.count)
        flush(ctx, ctx.session.db, async: async)
        ctx.forcePropagation = true
        return .ok
    }

    /// FLUSHALL [ASYNC | SYNC]
    static func flushall(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let async = try flushMode(ctx)
        for i in ctx.keyspace.databases.indices {
            ctx.markDirty(ctx.keyspace.databases[i].count)
            flush(ctx, i, async: async)
        }
        ctx.markDirty()
        return .ok
    }

    /// OBJECT ENCODING key
    static func objectEncoding(_ ctx: CommandContext) throws(CommandError) -> Reply {
        guard let slot = ctx.lookupNoTouch(2) else { return .null }
        if case .list(let l) = ctx.db.table[slot].value {
            return .bulk(l.fitsListpack(maxSize: ctx.config.limits.listMaxListpackSize) ? "listpack" : "quicklist")
        }
        return .bulk(ctx.db.table[slot].value.encodingName)
    }

    static func lfuPolicy(_ ctx: CommandContext) -> Bool { ctx.config["maxmemory-policy"].hasSuffix("lfu") }

    /// OBJECT FREQ key
    static func objectFreq(_ ctx: CommandContext) throws(CommandError) -> Reply {
        guard let slot = ctx.lookupNoTouch(2) else { return .null }
        guard lfuPolicy(ctx) else { throw .lfuNotSelected }
        let counter = LFU.counter(ctx.db.table[slot].lru, nowMs: ctx.now, decayTime: ctx.config.limits.lfuDecayTime)
        return .integer(Int64(counter))
    }

    /// OBJECT IDLETIME key
    static func objectIdletime(_ ctx: CommandContext) throws(CommandError) -> Reply {
        guard let slot = ctx.lookupNoTouch(2) else { return .null }
        if lfuPolicy(ctx) { throw .lruNotSelected }
        return .integer(ctx.server.estimatedIdleMillis(ctx.db.table[slot].lru, now: ctx.now) / 1000)
    }

    /// OBJECT REFCOUNT key
    static func objectRefcount(_ ctx: CommandContext) throws(CommandError) -> Reply {
        guard let slot = ctx.lookupNoTouch(2) else { return .null }
        // Redis shares the integers 0..9999 as objects with a pinned refcount — except under
        // maxmemory with an LRU or LFU policy, where every key needs its own access time.
        let perKeyAccessTime =
            ctx.config.limits.maxmemory > 0
            && (ctx.config["maxmemory-policy"].hasSuffix("lru") || ctx.config["maxmemory-policy"].hasSuffix("lfu"))
        if case .int(let n) = ctx.db.table[slot].value, n >= 0 && n < 10000, !perKeyAccessTime {
            return .integer(2_147_483_647)
        }
        return .one
    }

    /// OBJECT HELP
    static func objectHelp(_ ctx: CommandContext) throws(CommandError) -> Reply {
        helpReply(
            "OBJECT",
            [
                "ENCODING <key>",
                "    Return the kind of internal representation used in order to store the value",
                "    associated with a <key>.",
                "FREQ <key>",
                "    Return the access frequency index of the <key>. The returned integer is",
                "    proportional to the logarithm of the recent access frequency of the key.",
                "IDLETIME <key>",
                "    Return the idle time of the <key>, that is the approximated number of",
                "    seconds elapsed since the last access to the key.",
                "REFCOUNT <key>",
                "    Return the number of references of the value associated with the specified",
                "    <key>.",
            ])
    }
}

/// The options of HSCAN/SSCAN/ZSCAN (`key cursor [MATCH pattern] [COUNT count] [NOVALUES]`),
/// with Redis's errors: an invalid cursor, COUNT below 1, anything else a syntax error.
struct ScanOptions {
    var pattern: [UInt8]?
    var noValues = false

    static func parse(_ ctx: CommandContext, allowNoValues: Bool) throws(CommandError) -> ScanOptions {
        guard KeyCommands.parseCursor(ctx.arg(2)) != nil else { throw .invalidCursor }
        var options = ScanOptions()
        var args = ArgumentReader(ctx, from: 3)
        while !args.isAtEnd {
            if args.take("match", values: 1) {
                options.pattern = try args.bytes()
            } else if args.take("count", values: 1) {
                _ = try args.int64(in: 1...Int64.max, else: .syntax)
            } else if allowNoValues && args.take("novalues") {
                options.noValues = true
            } else {
                throw .syntax
            }
        }
        return options
    }
}

/// The reply of a `… HELP` subcommand, as Redis's addReplyHelp builds it.
func helpReply(_ command: String, _ lines: [String]) -> Reply {
    var items: [Reply] = [.simple("\(command) <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")]
    items += lines.map { .simple($0) }
    items += [.simple("HELP"), .simple("    Prints this help.")]
    return .array(items)
}

extension Value {
    /// An independent copy (aggregates are reference types and must not be shared).
    func deepCopy() -> Value {
        switch self {
        case .string, .int, .rawString: return self
        case .list(let l): return .list(l.copy())
        case .hash(let h): return .hash(h.copy())
        case .set(let s): return .set(s.copy())
        case .zset(let z): return .zset(z.copy())
        case .stream(let s): return .stream(s.copy())
        }
    }
}

extension CommandTable {
    static let keyRegistrations: [(String, Handler)] = [
        ("del", KeyCommands.del),
        ("unlink", KeyCommands.unlink),
        ("exists", KeyCommands.exists),
        ("touch", KeyCommands.touch),
        ("type", KeyCommands.type),
        ("expire", KeyCommands.expire),
        ("pexpire", KeyCommands.pexpire),
        ("expireat", KeyCommands.expireat),
        ("pexpireat", KeyCommands.pexpireat),
        ("ttl", KeyCommands.ttl),
        ("pttl", KeyCommands.pttl),
        ("expiretime", KeyCommands.expiretime),
        ("pexpiretime", KeyCommands.pexpiretime),
        ("persist", KeyCommands.persist),
        ("rename", KeyCommands.rename),
        ("renamenx", KeyCommands.renamenx),
        ("copy", KeyCommands.copy),
        ("move", KeyCommands.move),
        ("swapdb", KeyCommands.swapdb),
        ("keys", KeyCommands.keys),
        ("scan", KeyCommands.scan),
        ("randomkey", KeyCommands.randomkey),
        ("dbsize", KeyCommands.dbsize),
        ("flushdb", KeyCommands.flushdb),
        ("flushall", KeyCommands.flushall),
        ("object", { _ throws(CommandError) in .null }),
        ("object|encoding", KeyCommands.objectEncoding),
        ("object|freq", KeyCommands.objectFreq),
        ("object|idletime", KeyCommands.objectIdletime),
        ("object|refcount", KeyCommands.objectRefcount),
        ("object|help", KeyCommands.objectHelp),
    ]
}
