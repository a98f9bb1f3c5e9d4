import DataStore
import OrderedCollections
import RESP
import Server

enum HashCommands {
    static func hash(_ ctx: CommandContext, _ slot: Int) throws(CommandError) -> HashValue {
        guard case .hash(let h) = ctx.db.table[slot].value else { throw .wrongType }
        return h
    }

    /// The hash at `slot` as commands see it: fields whose time to live has passed are
    /// removed first (lazy field expiry), and a hash left empty is deleted (nil).
    static func liveHash(_ ctx: CommandContext, _ slot: Int, _ arg: Int) throws(CommandError) -> HashValue? {
        let h = try hash(ctx, slot)
        if h.hasFieldExpiry {
            let removed = h.removeExpiredFields(now: ctx.now)
            if removed > 0 {
                ctx.db.expiredFields += removed
                if ctx.db.logExpired { ctx.db.fieldExpiredLog.append((ctx.argBytes(arg), h.count == 0)) }
                if h.count == 0 {
                    ctx.db.delete(ctx.arg(arg), now: ctx.now)
                    return nil
                }
            }
        }
        return h
    }

    static func readHash(_ ctx: CommandContext, _ arg: Int = 1) throws(CommandError) -> HashValue? {
        guard let slot = ctx.lookupRead(arg) else { return nil }
        return try liveHash(ctx, slot, arg)
    }

    /// The existing hash at key argument 1 for writing (nil when missing).
    static func existingHash(_ ctx: CommandContext) throws(CommandError) -> HashValue? {
        guard let slot = ctx.lookupWrite(1) else { return nil }
        return try liveHash(ctx, slot, 1)
    }

    /// The hash at key argument 1 for writing, created when missing.
    static func writeHash(_ ctx: CommandContext) throws(CommandError) -> HashValue {
        if let h = try existingHash(ctx) { return h }
        let h = HashValue()
        ctx.db.table.insertNew(ctx.argBytes(1), value: .hash(h))
        return h
    }

    /// Sets a field, with Redis's listpack → hashtable rule; returns whether it was new.
    /// Overwriting a field drops its time to live unless `keepTTL` (HINCRBY, HINCRBYFLOAT).
    @discardableResult
    static func setField(
        _ ctx: CommandContext, _ h: HashValue, _ field: ArraySlice<UInt8>, _ value: ArraySlice<UInt8>,
        keepTTL: Bool = false
    ) -> Bool {
        let limits = ctx.config.limits
        let isNew = h.set(
            field, bytes: value, maxEntries: limits.hashMaxListpackEntries, maxValue: limits.hashMaxListpackValue)
        if !isNew && !keepTTL && h.hasFieldExpiry { h.removeFieldExpiry(Array(field)) }
        return isNew
    }

    @discardableResult
    static func setField(
        _ ctx: CommandContext, _ h: HashValue, _ field: [UInt8], _ value: [UInt8], keepTTL: Bool = false
    ) -> Bool {
        setField(ctx, h, field[...], value[...], keepTTL: keepTTL)
    }

    static func deleteIfEmpty(_ ctx: CommandContext, _ h: HashValue) {
        if h.count == 0 { ctx.db.delete(ctx.arg(1), now: ctx.now) }
    }

    /// HSET key field value [field value ...]
    static func hset(_ ctx: CommandContext) throws(CommandError) -> Reply {
        guard ctx.argc % 2 == 0 else { throw .wrongArity("hset") }
        let h = try writeHash(ctx)
        var added: Int64 = 0
        for i in stride(from: 2, to: ctx.argc, by: 2) where setField(ctx, h, ctx.arg(i), ctx.arg(i + 1)) {
            added += 1
        }
        h.trimCapacity()
        ctx.markDirty((ctx.argc - 2) / 2)
        return .integer(added)
    }

    /// HMSET key field value [field value ...]
    static func hmset(_ ctx: CommandContext) throws(CommandError) -> Reply {
        guard ctx.argc % 2 == 0 else { throw .wrongArity("hmset") }
        _ = try hset(ctx)
        return .ok
    }

    /// HSETNX key field value
    static func hsetnx(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let h = try writeHash(ctx)
        let field = ctx.argBytes(2)
        if h.contains(field) { return .zero }
        setField(ctx, h, field, ctx.argBytes(3))
        ctx.markDirty()
        return .one
    }

    /// HGET key field
    static func hget(_ ctx: CommandContext) throws(CommandError) -> Reply {
        guard let h = try readHash(ctx), let v = h.value(ctx.arg(2)) else { return .null }
        return .bulk(v)
    }

    /// HMGET key field [field ...]
    static func hmget(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let h = try readHash(ctx)
        return .array((2..<ctx.argc).map { i in h?.value(ctx.arg(i)).map { .bulk($0) } ?? .null })
    }

    /// HDEL key field [field ...]
    static func hdel(_ ctx: CommandContext) throws(CommandError) -> Reply {
        guard let h = try existingHash(ctx) else { return .zero }
        var removed: Int64 = 0
        for i in 2..<ctx.argc where h.removeField(ctx.argBytes(i)) { removed += 1 }
        if removed > 0 { ctx.markDirty(Int(removed)) }
        deleteIfEmpty(ctx, h)
        return .integer(removed)
    }

    /// HEXISTS key field
    static func hexists(_ ctx: CommandContext) throws(CommandError) -> Reply {
        guard let h = try readHash(ctx) else { return .zero }
        return h.contains(ctx.arg(2)) ? .one : .zero
    }

    /// HLEN key
    static func hlen(_ ctx: CommandContext) throws(CommandError) -> Reply {
        .integer(Int64(try readHash(ctx)?.count ?? 0))
    }

    /// HSTRLEN key field
    static func hstrlen(_ ctx: CommandContext) throws(CommandError) -> Reply {
        .integer(Int64(try readHash(ctx)?.valueLength(ctx.arg(2)) ?? 0))
    }

    /// HKEYS key
    static func hkeys(_ ctx: CommandContext) throws(CommandError) -> Reply {
        guard let h = try readHash(ctx) else { return .emptyArray }
        var items: [Reply] = []
        items.reserveCapacity(h.count)
        h.forEachStored { f, fr, _, _ in items.append(.bulk(f, fr)) }
        return .array(items)
    }

    /// HVALS key
    static func hvals(_ ctx: CommandContext) throws(CommandError) -> Reply {
        guard let h = try readHash(ctx) else { return .emptyArray }
        var items: [Reply] = []
        items.reserveCapacity(h.count)
        h.forEachStored { _, _, v, vr in items.append(.bulk(v, vr)) }
        return .array(items)
    }

    /// HGETALL key
    static func hgetall(_ ctx: CommandContext) throws(CommandError) -> Reply {
        guard let h = try readHash(ctx) else { return .map([]) }
        var items: [Reply] = []
        items.reserveCapacity(h.count * 2)
        if let packed = h.packedBuffer, packed.count <= Int(UInt32.max) {
            // Every entry a part of the one packed buffer (a listpack is far below 4 GiB).
            func part(_ r: Range<Int>) -> Reply {
                .bulkPart(
                    packed, start: UInt32(truncatingIfNeeded: r.lowerBound),
                    end: UInt32(truncatingIfNeeded: r.upperBound))
            }
            h.packedForEachRange { f, v in
                items.append(part(f))
                items.append(part(v))
            }
            return .map(items)
        }
        h.forEachStored { f, fr, v, vr in
            items.append(.bulk(f, fr))
            items.append(.bulk(v, vr))
        }
        return .map(items)
    }

    /// HINCRBY key field increment
    static func hincrby(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let delta = try ctx.int64(3)
        let h = try writeHash(ctx)
        let field = ctx.argBytes(2)
        var current: Int64 = 0
        if let v = h.value(field) {
            guard let n = parseInt64(v) else { throw .hashValueNotInteger }
            current = n
        }
        let (result, overflow) = current.addingReportingOverflow(delta)
        if overflow { throw .overflow }
        setField(ctx, h, field, formatInt64(result), keepTTL: true)
        ctx.markDirty()
        return .integer(result)
    }

    /// HINCRBYFLOAT key field increment
    static func hincrbyfloat(_ ctx: CommandContext) throws(CommandError) -> Reply {
        guard let delta = parseLongDouble(ctx.arg(3)) else { throw .notFloat }
        if delta.isNaN || delta.isInfinite { throw .nanOrInfinityValue }
        let h = try writeHash(ctx)
        let field = ctx.argBytes(2)
        var current: Float80 = 0
        if let v = h.value(field) {
            guard let n = parseLongDouble(v) else { throw .hashValueNotFloat }
            current = n
        }
        let result = current + delta
        if result.isNaN || result.isInfinite { throw .nanOrInfinity }
        let bytes = formatLongDouble(result)
        setField(ctx, h, field, bytes, keepTTL: true)
        ctx.markDirty()
        // Logged as the value it produced; HSET would drop the field's TTL, so it follows.
        if ctx.propagating {
            ctx.propagate(as: [Array("HSET".utf8), ctx.argBytes(1), field, bytes])
            if let at = h.fieldExpires[field] {
                ctx.propagate(as: [
                    Array("HPEXPIREAT".utf8), ctx.argBytes(1), formatInt64(at), Array("FIELDS".utf8), [49], field,
                ])
            }
        }
        return .bulk(bytes)
    }

    /// HRANDFIELD key [count [WITHVALUES]]
    static func hrandfield(_ ctx: CommandContext) throws(CommandError) -> Reply {
        guard ctx.argc >= 3 else {
            guard let h = try readHash(ctx), h.count > 0 else { return .null }
            let i = Int.random(in: 0..<h.count, using: &ctx.keyspace.rng)
            return .bulk(h.pair(at: i).field)
        }
        let count = try randomCount(ctx, keyword: "withvalues")
        let withValues = ctx.argc == 4
        guard let h = try readHash(ctx), h.count > 0 else { return .emptyArray }
        let picks = ctx.keyspace.randomIndices(count: count, of: h.count)
        let resp3 = ctx.session.resp3
        // Random access into a packed hash walks it: materialize small ones once.
        let all = h.isHashtable ? [] : h.pairs
        var items: [Reply] = []
        for i in picks {
            let entry = h.isHashtable ? h.pair(at: i) : all[i]
            let field = Reply.bulk(entry.field)
            if withValues {
                let value = Reply.bulk(entry.value)
                if resp3 { items.append(.array([field, value])) } else { items += [field, value] }
            } else {
                items.append(field)
            }
        }
        return .array(items)
    }

    /// HSCAN key cursor [MATCH pattern] [COUNT count] [NOVALUES]
    static func hscan(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let options = try ScanOptions.parse(ctx, allowNoValues: true)
        let pattern = options.pattern
        let noValues = options.noValues
        guard let h = try readHash(ctx) else { return .array([.bulk("0"), .emptyArray]) }
        // The whole hash in one step: a complete scan, which SCAN's guarantees allow.
        var items: [Reply] = []
        h.forEach { k, v in
            if let pattern, !globMatch(pattern, Array(k)) { return }
            items.append(.bulk(Array(k)))
            if !noValues { items.append(.bulk(Array(v))) }
        }
        return .array([.bulk("0"), .array(items)])
    }
}

extension CommandTable {
    static let hashRegistrations: [(String, Handler)] = [
        ("hset", HashCommands.hset),
        ("hmset", HashCommands.hmset),
        ("hsetnx", HashCommands.hsetnx),
        ("hget", HashCommands.hget),
        ("hmget", HashCommands.hmget),
        ("hdel", HashCommands.hdel),
        ("hexists", HashCommands.hexists),
        ("hlen", HashCommands.hlen),
        ("hstrlen", HashCommands.hstrlen),
        ("hkeys", HashCommands.hkeys),
        ("hvals", HashCommands.hvals),
        ("hgetall", HashCommands.hgetall),
        ("hincrby", HashCommands.hincrby),
        ("hincrbyfloat", HashCommands.hincrbyfloat),
        ("hrandfield", HashCommands.hrandfield),
        ("hscan", HashCommands.hscan),
    ]
}
