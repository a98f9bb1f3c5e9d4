import DataStore
import RESP
import Server

/// Options of SET and GETEX (Redis's parseExtendedStringArgumentsOrReply).
struct StringSetOptions {
    var nx = false
    var xx = false
    var get = false
    var keepTTL = false
    var persist = false
    /// Absolute expiry in ms, or nil.
    var expireAt: Int64?

    enum Mode { case set, getex }

    static func parse(_ ctx: CommandContext, from start: Int, mode: Mode) throws(CommandError) -> StringSetOptions {
        var o = StringSetOptions()
        var ex = false
        var px = false
        var exat = false
        var pxat = false
        var expireArg = -1
        var j = start
        while j < ctx.argc {
            let hasNext = j + 1 < ctx.argc
            if ctx.argIs(j, "nx") && !o.xx && mode == .set {
                o.nx = true
            } else if ctx.argIs(j, "xx") && !o.nx && mode == .set {
                o.xx = true
            } else if ctx.argIs(j, "get") && mode == .set {
                o.get = true
            } else if ctx.argIs(j, "keepttl") && !o.persist && !ex && !exat && !px && !pxat && mode == .set {
                o.keepTTL = true
            } else if ctx.argIs(j, "persist") && mode == .getex && !ex && !exat && !px && !pxat && !o.keepTTL {
                o.persist = true
            } else if ctx.argIs(j, "ex") && !o.keepTTL && !o.persist && !exat && !px && !pxat && hasNext {
                ex = true
                expireArg = j + 1
                j += 1
            } else if ctx.argIs(j, "px") && !o.keepTTL && !o.persist && !ex && !exat && !pxat && hasNext {
                px = true
                expireArg = j + 1
                j += 1
            } else if ctx.argIs(j, "exat") && !o.keepTTL && !o.persist && !ex && !px && !pxat && hasNext {
                exat = true
                expireArg = j + 1
                j += 1
            } else if ctx.argIs(j, "pxat") && !o.keepTTL && !o.persist && !ex && !exat && !px && hasNext {
                pxat = true
                expireArg = j + 1
                j += 1
            } else {
                throw .syntax
            }
            j += 1
        }
        if expireArg >= 0 {
            let name = mode == .set ? "set" : "getex"
            o.expireAt = try expireTime(ctx, arg: expireArg, seconds: ex || exat, relative: ex || px, command: name)
        }
        return o
    }
}

/// Reads an expire argument and turns it into absolute milliseconds, with Redis's checks.
func expireTime(_ ctx: CommandContext, arg: Int, seconds: Bool, relative: Bool, command: String) throws(CommandError)
    -> Int64
{
    var ms = try ctx.int64(arg)
    if ms <= 0 || (seconds && ms > Int64.max / 1000) { throw .invalidExpireTime(command) }
    if seconds { ms *= 1000 }
    if relative {
        let (sum, overflow) = ms.addingReportingOverflow(ctx.now)
        if overflow { throw .invalidExpireTime(command) }
        ms = sum
    }
    if ms <= 0 { throw .invalidExpireTime(command) }
    return ms
}

extension Value {
    @inline(__always)
    var bulkReply: Reply {
        switch self {
        case .string(let b): return .bulkBlock(b)
        case .rawString(let b): return .bulk(b)
        case .int(let n): return .bulk(formatInt64(n))
        case .list, .hash, .set, .zset, .stream: return .null
        }
    }

    /// The integer a string holds, for INCR and friends.
    var integerValue: Int64? {
        switch self {
        case .int(let n): return n
        case .string(let b): return b.withBytes { parseInt64($0) }
        case .rawString(let b): return parseInt64(b)
        case .list, .hash, .set, .zset, .stream: return nil
        }
    }
}

enum StringCommands {
    /// GET key
    static func get(_ ctx: CommandContext) throws(CommandError) -> Reply {
        guard let slot = ctx.lookupRead(1) else { return .null }
        return try ctx.stringValue(at: slot).bulkReply
    }

    /// SET key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds |
    /// PXAT unix-time-milliseconds | KEEPTTL]
    static func set(_ ctx: CommandContext) throws(CommandError) -> Reply {
        if ctx.argc == 3 {
            ctx.db.setString(ctx.arg(1), ctx.arg(2), now: ctx.now)
            ctx.markDirty()
            return .ok
        }
        let o = try StringSetOptions.parse(ctx, from: 3, mode: .set)
        var old: Reply = .null
        if o.get, let slot = ctx.lookupRead(1) {
            old = try ctx.stringValue(at: slot).bulkReply
        }
        let found = ctx.lookupWrite(1) != nil
        // With GET the old value is the answer whether or not the condition let the write happen.
        if (o.nx && found) || (o.xx && !found) { return o.get ? old : .null }
        ctx.db.setString(
            ctx.arg(1), ctx.arg(2), expireAt: o.expireAt ?? KeyEntry.noExpiry, keepTTL: o.keepTTL,
            now: ctx.now)
        ctx.markDirty()
        if let at = o.expireAt, ctx.propagating {
            propagateSet(ctx, value: 2, at: at)
        } else if o.get && ctx.propagating {
            // Without GET, which only answers the client (Redis's setGenericCommand).
            ctx.propagate(
                as: [Array("SET".utf8), ctx.argBytes(1), ctx.argBytes(2)]
                    + (3..<ctx.argc).filter { !ctx.argIs($0, "get") }.map { ctx.argBytes($0) })
        }
        return o.get ? old : .ok
    }

    /// SETNX key value
    static func setnx(_ ctx: CommandContext) throws(CommandError) -> Reply {
        if ctx.lookupWrite(1) != nil { return .zero }
        ctx.db.setString(ctx.arg(1), ctx.arg(2), now: ctx.now)
        ctx.markDirty()
        return .one
    }

    static func setWithExpire(_ ctx: CommandContext, seconds: Bool, name: String) throws(CommandError) -> Reply {
        let at = try expireTime(ctx, arg: 2, seconds: seconds, relative: true, command: name)
        ctx.db.setString(ctx.arg(1), ctx.arg(3), expireAt: at, now: ctx.now)
        ctx.markDirty()
        if ctx.propagating { propagateSet(ctx, value: 3, at: at) }
        return .ok
    }

    /// SET with a time to live is logged as `SET key value PXAT <ms>` (Redis's
    /// setGenericCommand), so a replay sets the same deadline.
    static func propagateSet(_ ctx: CommandContext, value: Int, at: Int64) {
        ctx.propagate(as: [
            Array("SET".utf8), ctx.argBytes(1), ctx.argBytes(value), Array("PXAT".utf8), formatInt64(at),
        ])
    }

    /// SETEX key seconds value
    static func setex(_ ctx: CommandContext) throws(CommandError) -> Reply {
        try setWithExpire(ctx, seconds: true, name: "setex")
    }

    /// PSETEX key milliseconds value
    static func psetex(_ ctx: CommandContext) throws(CommandError) -> Reply {
        try setWithExpire(ctx, seconds: false, name: "psetex")
    }

    /// GETEX key [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | PERSIST]
    static func getex(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let o = try StringSetOptions.parse(ctx, from: 2, mode: .getex)
        guard let slot = ctx.lookupRead(1) else { return .null }
        let reply = try ctx.stringValue(at: slot).bulkReply
        if let at = o.expireAt {
            if at < ctx.now {
                ctx.db.table.remove(slot: slot)
                if ctx.propagating { ctx.propagate(as: [Array("DEL".utf8), ctx.argBytes(1)]) }
            } else {
                ctx.db.table.setExpire(slot: slot, at: at)
                if ctx.propagating { ctx.propagate(as: [Array("PEXPIREAT".utf8), ctx.argBytes(1), formatInt64(at)]) }
            }
            ctx.markDirty()
        } else if o.persist && ctx.db.table[slot].expireAt != KeyEntry.noExpiry {
            ctx.db.table.removeExpire(slot: slot)
            ctx.markDirty()
            if ctx.propagating { ctx.propagate(as: [Array("PERSIST".utf8), ctx.argBytes(1)]) }
        }
        return reply
    }

    /// GETDEL key
    static func getdel(_ ctx: CommandContext) throws(CommandError) -> Reply {
        guard let slot = ctx.lookupRead(1) else { return .null }
        let reply = try ctx.stringValue(at: slot).bulkReply
        ctx.db.table.remove(slot: slot)
        ctx.markDirty()
        // Replicas and the AOF get a plain deletion (Redis rewrites GETDEL as DEL).
        if ctx.propagating { ctx.propagate(as: [Array("DEL".utf8), ctx.argBytes(1)]) }
        return reply
    }

    /// GETSET key value
    static func getset(_ ctx: CommandContext) throws(CommandError) -> Reply {
        var old: Reply = .null
        if let slot = ctx.lookupRead(1) { old = try ctx.stringValue(at: slot).bulkReply }
        ctx.db.setString(ctx.arg(1), ctx.arg(2), now: ctx.now)
        ctx.markDirty()
        // Replicated as SET (Redis rewrites GETSET so).
        if ctx.propagating { ctx.propagate(as: [Array("SET".utf8), ctx.argBytes(1), ctx.argBytes(2)]) }
        return old
    }

    /// MGET key [key ...]
    static func mget(_ ctx: CommandContext) throws(CommandError) -> Reply {
        var items: [Reply] = []
        items.reserveCapacity(ctx.argc - 1)
        for i in 1..<ctx.argc {
            if let slot = ctx.lookupRead(i), ctx.db.table[slot].value.isString {
                items.append(ctx.db.table[slot].value.bulkReply)
            } else {
                items.append(.null)
            }
        }
        return .array(items)
    }

    /// MSET key value [key value ...]
    static func mset(_ ctx: CommandContext) throws(CommandError) -> Reply {
        guard ctx.argc % 2 == 1 else { throw .wrongArity("mset") }
        for i in stride(from: 1, to: ctx.argc, by: 2) {
            ctx.db.setString(ctx.arg(i), ctx.arg(i + 1), now: ctx.now)
        }
        ctx.markDirty((ctx.argc - 1) / 2)
        return .ok
    }

    /// MSETNX key value [key value ...]
    static func msetnx(_ ctx: CommandContext) throws(CommandError) -> Reply {
        guard ctx.argc % 2 == 1 else { throw .wrongArity("msetnx") }
        for i in stride(from: 1, to: ctx.argc, by: 2) where ctx.lookupWrite(i) != nil {
            return .zero
        }
        for i in stride(from: 1, to: ctx.argc, by: 2) {
            ctx.db.setString(ctx.arg(i), ctx.arg(i + 1), now: ctx.now)
        }
        ctx.markDirty((ctx.argc - 1) / 2)
        return .one
    }

    static func incrementBy(_ ctx: CommandContext, _ delta: Int64) throws(CommandError) -> Reply {
        if let slot = ctx.lookupWrite(1) {
            let value = ctx.db.table[slot].value
            guard value.isString else { throw .wrongType }
            guard let current = value.integerValue else { throw .notInteger }
            let (result, overflow) = current.addingReportingOverflow(delta)
            if overflow { throw .overflow }
            ctx.db.table[slot].value = .int(result)
            ctx.markDirty()
            return .integer(result)
        }
        ctx.db.table.insertNew(ctx.argBytes(1), value: .int(delta))
        ctx.markDirty()
        return .integer(delta)
    }

    /// INCR key
    static func incr(_ ctx: CommandContext) throws(CommandError) -> Reply { try incrementBy(ctx, 1) }
    /// DECR key
    static func decr(_ ctx: CommandContext) throws(CommandError) -> Reply { try incrementBy(ctx, -1) }
    /// INCRBY key increment
    static func incrby(_ ctx: CommandContext) throws(CommandError) -> Reply { try incrementBy(ctx, try ctx.int64(2)) }
    /// DECRBY key decrement
    static func decrby(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let n = try ctx.int64(2)
        if n == Int64.min { throw .decrementOverflow }
        return try incrementBy(ctx, -n)
    }

    /// INCRBYFLOAT key increment
    static func incrbyfloat(_ ctx: CommandContext) throws(CommandError) -> Reply {
        var current: Float80 = 0
        let slot = ctx.lookupWrite(1)
        if let slot {
            let value = ctx.db.table[slot].value
            guard value.isString else { throw .wrongType }
            switch value {
            case .int(let n): current = Float80(n)
            case .string(let b):
                guard let v = b.withBytes({ parseLongDouble($0) }) else { throw .notFloat }
                current = v
            case .rawString(let b):
                guard let v = parseLongDouble(b) else { throw .notFloat }
                current = v
            case .list, .hash, .set, .zset, .stream: throw .wrongType
            }
        }
        guard let delta = parseLongDouble(ctx.arg(2)) else { throw .notFloat }
        let result = current + delta
        if result.isNaN || result.isInfinite { throw .nanOrInfinity }
        let bytes = formatLongDouble(result)
        if let slot {
            ctx.db.table[slot].value = .string(ByteBlock.make(bytes))
        } else {
            ctx.db.table.insertNew(ctx.argBytes(1), value: .string(ByteBlock.make(bytes)))
        }
        ctx.markDirty()
        // Logged as the value it produced: float formatting must not differ on replay.
        if ctx.propagating {
            ctx.propagate(as: [Array("SET".utf8), ctx.argBytes(1), bytes, Array("KEEPTTL".utf8)])
        }
        return .bulk(bytes)
    }

    /// APPEND key value
    static func append(_ ctx: CommandContext) throws(CommandError) -> Reply {
        if let slot = ctx.lookupWrite(1) {
            let value = try ctx.stringValue(at: slot)
            var bytes = value.stringBytes!
            try checkStringLength(ctx, bytes.count + ctx.arg(2).count)
            bytes.append(contentsOf: ctx.arg(2))
            ctx.db.table[slot].value = .int(0)
            ctx.db.table[slot].value = .rawString(bytes)
            ctx.markDirty()
            return .integer(Int64(bytes.count))
        }
        // A new key holds the argument as SET would store it (Redis's tryObjectEncoding:
        // `int`, `embstr` or `raw`); only appending to an existing string makes it `raw`.
        ctx.db.table.insertNew(ctx.arg(1), value: .fromBytes(ctx.arg(2)))
        ctx.markDirty()
        return .integer(Int64(ctx.arg(2).count))
    }

    static func checkStringLength(_ ctx: CommandContext, _ length: Int) throws(CommandError) {
        if length > Int(ctx.config.limits.protoMaxBulkLen) { throw .stringTooLong }
    }

    /// Redis's checkStringLength(size, append): the sum past the limit, or past 64 bits.
    static func checkStringLength(_ ctx: CommandContext, _ size: Int, plus append: Int) throws(CommandError) -> Int {
        let (total, overflow) = size.addingReportingOverflow(append)
        if overflow { throw .stringTooLong }
        try checkStringLength(ctx, total)
        return total
    }

    /// STRLEN key
    static func strlen(_ ctx: CommandContext) throws(CommandError) -> Reply {
        guard let slot = ctx.lookupRead(1) else { return .zero }
        let value = try ctx.stringValue(at: slot)
        guard let length = value.stringLength else { throw .wrongType }
        return .integer(Int64(length))
    }

    /// GETRANGE key start end
    static func getrange(_ ctx: CommandContext) throws(CommandError) -> Reply {
        var start = try ctx.int64(2)
        var end = try ctx.int64(3)
        guard let slot = ctx.lookupRead(1) else { return .bulk([]) }
        return try ctx.stringValue(at: slot).withStringBytes { bytes -> Reply in
            let len = Int64(bytes.count)
            if start < 0 && end < 0 && start > end { return .bulk([]) }
            if start < 0 { start = len + start }
            if end < 0 { end = len + end }
            if start < 0 { start = 0 }
            if end < 0 { end = 0 }
            if end >= len { end = len - 1 }
            if start > end || len == 0 { return .bulk([]) }
            return .bulk(Array(bytes[Int(start)...Int(end)]))
        }!
    }

    /// SETRANGE key offset value
    static func setrange(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let offset = try ctx.int64(2)
        if offset < 0 { throw .offsetOutOfRange }
        let patch = ctx.arg(3)
        let slot = ctx.lookupWrite(1)
        var bytes: [UInt8] = []
        if let slot {
            bytes = try ctx.stringValue(at: slot).stringBytes!
            if patch.isEmpty { return .integer(Int64(bytes.count)) }
        } else if patch.isEmpty {
            return .zero
        }
        let needed = try checkStringLength(ctx, Int(offset), plus: patch.count)
        if bytes.count < needed { bytes.append(contentsOf: repeatElement(0, count: needed - bytes.count)) }
        bytes.replaceSubrange(Int(offset)..<needed, with: patch)
        if let slot {
            ctx.db.table[slot].value = .rawString(bytes)
        } else {
            ctx.db.table.insertNew(ctx.argBytes(1), value: .rawString(bytes))
        }
        ctx.markDirty()
        return .integer(Int64(bytes.count))
    }

    /// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN min-match-len] [WITHMATCHLEN]
    static func lcs(_ ctx: CommandContext) throws(CommandError) -> Reply {
        var getLen = false
        var getIdx = false
        var withMatchLen = false
        var minMatchLen: Int64 = 0
        var j = 3
        while j < ctx.argc {
            if ctx.argIs(j, "idx") {
                getIdx = true
            } else if ctx.argIs(j, "len") {
                getLen = true
            } else if ctx.argIs(j, "withmatchlen") {
                withMatchLen = true
            } else if ctx.argIs(j, "minmatchlen") && j + 1 < ctx.argc {
                minMatchLen = try ctx.int64(j + 1)
                if minMatchLen < 0 { minMatchLen = 0 }
                j += 1
            } else {
                throw .syntax
            }
            j += 1
        }
        var a: [UInt8] = []
        var b: [UInt8] = []
        if let slot = ctx.lookupRead(1) {
            guard ctx.db.table[slot].value.isString else {
                throw .lcsWrongType
            }
            a = ctx.db.table[slot].value.stringBytes!
        }
        if let slot = ctx.lookupRead(2) {
            guard ctx.db.table[slot].value.isString else {
                throw .lcsWrongType
            }
            b = ctx.db.table[slot].value.stringBytes!
        }
        if getIdx && getLen { throw .lcsLenAndIdx }
        let alen = a.count
        let blen = b.count
        if (alen + 1) * (blen + 1) > Int(UInt32.max) { throw .lcsTooLong }
        // dp[i][j]: LCS length of a[0..<i] and b[0..<j].
        let width = blen + 1
        var dp = [UInt32](repeating: 0, count: (alen + 1) * width)
        if alen > 0 && blen > 0 {
            for i in 1...alen {
                for jj in 1...blen {
                    if a[i - 1] == b[jj - 1] {
                        dp[i * width + jj] = dp[(i - 1) * width + jj - 1] + 1
                    } else {
                        dp[i * width + jj] = max(dp[(i - 1) * width + jj], dp[i * width + jj - 1])
                    }
                }
            }
        }
        let length = Int(dp[alen * width + blen])
        if getLen { return .integer(Int64(length)) }
        var result = [UInt8](repeating: 0, count: length)
        var matches: [Reply] = []
        var i = alen
        var k = blen
        var idx = length
        var arange = (start: 0, end: 0)
        var brange = (start: 0, end: 0)
        var inRange = false
        while i > 0 && k > 0 {
            var emitRange = false
            if a[i - 1] == b[k - 1] {
                idx -= 1
                result[idx] = a[i - 1]
                if !inRange {
                    arange = (i - 1, i - 1)
                    brange = (k - 1, k - 1)
                    inRange = true
                } else if arange.start == i && brange.start == k {
                    arange.start -= 1
                    brange.start -= 1
                } else {
                    emitRange = true
                }
                if arange.start == 0 || brange.start == 0 { emitRange = true }
                i -= 1
                k -= 1
            } else {
                if dp[(i - 1) * width + k] > dp[i * width + k - 1] { i -= 1 } else { k -= 1 }
                if inRange { emitRange = true }
            }
            if emitRange {
                let matchLen = arange.end - arange.start + 1
                if getIdx && (minMatchLen == 0 || matchLen >= Int(minMatchLen)) {
                    var item: [Reply] = [
                        .array([.integer(Int64(arange.start)), .integer(Int64(arange.end))]),
                        .array([.integer(Int64(brange.start)), .integer(Int64(brange.end))]),
                    ]
                    if withMatchLen { item.append(.integer(Int64(matchLen))) }
                    matches.append(.array(item))
                }
                inRange = false
                // A match that just ended may be followed by a new one starting at this position.
                if i > 0 && k > 0 && a[i - 1] == b[k - 1] && !(arange.start == 0 || brange.start == 0) {
                    // handled by the next iteration
                }
            }
        }
        if getIdx {
            return .map([.bulk("matches"), .array(matches), .bulk("len"), .integer(Int64(length))])
        }
        return .bulk(result)
    }
}

extension CommandTable {
    static let stringRegistrations: [(String, Handler)] = [
        ("get", StringCommands.get),
        ("set", StringCommands.set),
        ("setnx", StringCommands.setnx),
        ("setex", StringCommands.setex),
        ("psetex", StringCommands.psetex),
        ("getex", StringCommands.getex),
        ("getdel", StringCommands.getdel),
        ("getset", StringCommands.getset),
        ("mget", StringCommands.mget),
        ("mset", StringCommands.mset),
        ("msetnx", StringCommands.msetnx),
        ("incr", StringCommands.incr),
        ("decr", StringCommands.decr),
        ("incrby", StringCommands.incrby),
        ("decrby", StringCommands.decrby),
        ("incrbyfloat", StringCommands.incrbyfloat),
        ("append", StringCommands.append),
        ("strlen", StringCommands.strlen),
        ("getrange", StringCommands.getrange),
        ("substr", StringCommands.getrange),
        ("setrange", StringCommands.setrange),
        ("lcs", StringCommands.lcs),
    ]
}
