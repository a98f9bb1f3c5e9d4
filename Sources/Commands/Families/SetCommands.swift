import DataStore
import OrderedCollections
import RESP
import Server

/// The most elements SRANDMEMBER/HRANDFIELD with a negative count will build in one reply.
let maxRandomReply: Int64 = 10_000_000

enum SetCommands {
    static func set(_ ctx: CommandContext, _ slot: Int) throws(CommandError) -> SetValue {
        guard case .set(let s) = ctx.db.table[slot].value else { throw .wrongType }
        return s
    }

    static func readSet(_ ctx: CommandContext, _ arg: Int) throws(CommandError) -> SetValue? {
        guard let slot = ctx.lookupRead(arg) else { return nil }
        return try set(ctx, slot)
    }

    static func writeSet(_ ctx: CommandContext, _ arg: Int) throws(CommandError) -> SetValue? {
        guard let slot = ctx.lookupWrite(arg) else { return nil }
        return try set(ctx, slot)
    }

    static func limits(_ ctx: CommandContext) -> SetValue.Limits {
        SetValue.Limits(
            intsetEntries: Int(ctx.config.limits.setMaxIntsetEntries),
            listpackEntries: Int(ctx.config.limits.setMaxListpackEntries),
            listpackValue: Int(ctx.config.limits.setMaxListpackValue))
    }

    static func deleteIfEmpty(_ ctx: CommandContext, _ arg: Int, _ s: SetValue) {
        if s.count == 0 { ctx.db.delete(ctx.arg(arg), now: ctx.now) }
    }

    /// SADD key member [member ...]
    static func sadd(_ ctx: CommandContext) throws(CommandError) -> Reply {
        var s = try writeSet(ctx, 1)
        if s == nil {
            let created = SetValue(encoding: SetValue.initialEncoding(for: ctx.argBytes(2)))
            ctx.db.table.insertNew(ctx.argBytes(1), value: .set(created))
            s = created
        }
        let l = limits(ctx)
        var added: Int64 = 0
        for i in 2..<ctx.argc where s!.add(ctx.arg(i), limits: l) { added += 1 }
        if added > 0 { ctx.markDirty(Int(added)) }
        return .integer(added)
    }

    /// SREM key member [member ...]
    static func srem(_ ctx: CommandContext) throws(CommandError) -> Reply {
        guard let s = try writeSet(ctx, 1) else { return .zero }
        var removed: Int64 = 0
        for i in 2..<ctx.argc where s.remove(ctx.argBytes(i)) { removed += 1 }
        if removed > 0 { ctx.markDirty(Int(removed)) }
        deleteIfEmpty(ctx, 1, s)
        return .integer(removed)
    }

    /// SCARD key
    static func scard(_ ctx: CommandContext) throws(CommandError) -> Reply {
        .integer(Int64(try readSet(ctx, 1)?.count ?? 0))
    }

    /// SISMEMBER key member
    static func sismember(_ ctx: CommandContext) throws(CommandError) -> Reply {
        guard let s = try readSet(ctx, 1) else { return .zero }
        return s.contains(ctx.arg(2)) ? .one : .zero
    }

    /// SMISMEMBER key member [member ...]
    static func smismember(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let s = try readSet(ctx, 1)
        return .array((2..<ctx.argc).map { s?.contains(ctx.arg($0)) == true ? .one : .zero })
    }

    /// SMEMBERS key
    static func smembers(_ ctx: CommandContext) throws(CommandError) -> Reply {
        guard let s = try readSet(ctx, 1) else { return .set([]) }
        return .set(s.allMembers.map { .bulk($0) })
    }

    /// SRANDMEMBER key [count]
    static func srandmember(_ ctx: CommandContext) throws(CommandError) -> Reply {
        if ctx.argc > 3 { throw .syntax }
        guard ctx.argc == 3 else {
            guard let s = try readSet(ctx, 1), s.count > 0 else { return .null }
            return .bulk(s.member(at: Int.random(in: 0..<s.count, using: &ctx.keyspace.rng)))
        }
        var count = try ctx.int64(2)
        if count == Int64.min { throw .lposRankRange }
        count = try boundedRandomCount(ctx, count)
        guard let s = try readSet(ctx, 1), s.count > 0 else { return .emptyArray }
        let picks = ctx.keyspace.randomIndices(count: count, of: s.count)
        return .array(picks.map { .bulk(s.member(at: $0)) })
    }

    /// SPOP key [count]
    static func spop(_ ctx: CommandContext) throws(CommandError) -> Reply {
        if ctx.argc > 3 { throw .syntax }
        var count: Int64?
        if ctx.argc == 3 {
            guard let n = parseInt64(ctx.arg(2)), n >= 0 else { throw .mustBePositive }
            count = n
        }
        guard let s = try writeSet(ctx, 1) else { return count == nil ? .null : .set([]) }
        guard let count else {
            let i = Int.random(in: 0..<s.count, using: &ctx.keyspace.rng)
            let member = s.removeMember(at: i)
            ctx.markDirty()
            deleteIfEmpty(ctx, 1, s)
            // A random pick is logged as the member it took.
            if ctx.propagating { ctx.propagate(as: [Array("SREM".utf8), ctx.argBytes(1), member]) }
            return .bulk(member)
        }
        var popped: [Reply] = []
        var members: [[UInt8]] = []
        for _ in 0..<min(Int(count), s.count) {
            let i = Int.random(in: 0..<s.count, using: &ctx.keyspace.rng)
            let member = s.removeMember(at: i)
            if ctx.propagating { members.append(member) }
            popped.append(.bulk(member))
        }
        if !popped.isEmpty { ctx.markDirty(popped.count) }
        if ctx.propagating && !members.isEmpty {
            ctx.propagate(as: [Array("SREM".utf8), ctx.argBytes(1)] + members)
        }
        deleteIfEmpty(ctx, 1, s)
        return .set(popped)
    }

    /// SMOVE source destination member
    static func smove(_ ctx: CommandContext) throws(CommandError) -> Reply {
        // As Redis: a missing source answers 0 before either key's type is checked.
        guard ctx.lookupWrite(1) != nil else { return .zero }
        let source = try writeSet(ctx, 1)!
        let destination = try writeSet(ctx, 2)
        let member = ctx.argBytes(3)
        guard source.contains(member) else { return .zero }
        if source === destination { return .one }
        source.remove(member)
        if let destination {
            if !destination.add(member, limits: limits(ctx)) { ctx.unchangedKeyArgs.append(2) }
        } else {
            let created = SetValue(encoding: SetValue.initialEncoding(for: member))
            created.add(member, limits: limits(ctx))
            ctx.db.table.insertNew(ctx.argBytes(2), value: .set(created))
        }
        ctx.markDirty()
        deleteIfEmpty(ctx, 1, source)
        return .one
    }

    enum Operation { case inter, union, diff }

    /// Redis's sinterGenericCommand / sunionDiffGenericCommand over key arguments.
    static func combine(_ ctx: CommandContext, keys: Range<Int>, _ op: Operation) throws(CommandError) -> OrderedSet<
        [UInt8]
    > {
        var sets: [SetValue?] = []
        for i in keys { sets.append(try readSet(ctx, i)) }
        switch op {
        case .inter:
            if sets.contains(where: { $0 == nil }) { return [] }
            let present = sets.map { $0! }.sorted { $0.count < $1.count }
            guard let smallest = present.first else { return [] }
            var result = OrderedSet<[UInt8]>()
            for m in smallest.allMembers where present.dropFirst().allSatisfy({ $0.contains(m) }) {
                result.append(m)
            }
            return result
        case .union:
            var result = OrderedSet<[UInt8]>()
            for s in sets { if let s { result.formUnion(s.allMembers) } }
            return result
        case .diff:
            guard let first = sets.first ?? nil else { return [] }
            var result = first.memberSet
            for s in sets.dropFirst() { if let s { result.subtract(s.allMembers) } }
            return result
        }
    }

    static func store(_ ctx: CommandContext, _ members: OrderedSet<[UInt8]>) -> Reply {
        let now = ctx.now
        ctx.db.delete(ctx.arg(1), now: now)
        if !members.isEmpty {
            let s = SetValue(encoding: members.allSatisfy { parseInt64($0) != nil } ? .intset : .listpack)
            let l = limits(ctx)
            for m in members { s.add(m, limits: l) }
            ctx.db.table.insertNew(ctx.argBytes(1), value: .set(s))
        }
        ctx.markDirty()
        return .integer(Int64(members.count))
    }

    /// SINTER key [key ...]
    static func sinter(_ ctx: CommandContext) throws(CommandError) -> Reply {
        .set(try combine(ctx, keys: 1..<ctx.argc, .inter).map { .bulk($0) })
    }
    /// SUNION key [key ...]
    static func sunion(_ ctx: CommandContext) throws(CommandError) -> Reply {
        .set(try combine(ctx, keys: 1..<ctx.argc, .union).map { .bulk($0) })
    }
    /// SDIFF key [key ...]
    static func sdiff(_ ctx: CommandContext) throws(CommandError) -> Reply {
        .set(try combine(ctx, keys: 1..<ctx.argc, .diff).map { .bulk($0) })
    }
    /// SINTERSTORE destination key [key ...]
    static func sinterstore(_ ctx: CommandContext) throws(CommandError) -> Reply {
        store(ctx, try combine(ctx, keys: 2..<ctx.argc, .inter))
    }
    /// SUNIONSTORE destination key [key ...]
    static func sunionstore(_ ctx: CommandContext) throws(CommandError) -> Reply {
        store(ctx, try combine(ctx, keys: 2..<ctx.argc, .union))
    }
    /// SDIFFSTORE destination key [key ...]
    static func sdiffstore(_ ctx: CommandContext) throws(CommandError) -> Reply {
        store(ctx, try combine(ctx, keys: 2..<ctx.argc, .diff))
    }

    /// SINTERCARD numkeys key [key ...] [LIMIT limit]
    static func sintercard(_ ctx: CommandContext) throws(CommandError) -> Reply {
        guard let numkeys = parseInt64(ctx.arg(1)), numkeys > 0 else { throw .numKeysNotPositive }
        guard numkeys <= Int64(ctx.argc - 2) else { throw .numKeysTooMany }
        var limit: Int64 = 0
        var args = ArgumentReader(ctx, from: 2 + Int(numkeys))
        while !args.isAtEnd {
            if args.take("limit", values: 1) {
                // Not a number answers as a negative one (Redis's getPositiveLongFromObjectOrReply).
                limit = try args.int64(in: 0...Int64.max, error: .limitNegative, else: .limitNegative)
            } else {
                throw .syntax
            }
        }
        let result = try combine(ctx, keys: 2..<(2 + Int(numkeys)), .inter)
        return .integer(limit > 0 ? min(limit, Int64(result.count)) : Int64(result.count))
    }

    /// SSCAN key cursor [MATCH pattern] [COUNT count]
    static func sscan(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let pattern = try ScanOptions.parse(ctx, allowNoValues: false).pattern
        guard let s = try readSet(ctx, 1) else { return .array([.bulk("0"), .emptyArray]) }
        // The whole set in one step: a complete scan, which SCAN's guarantees allow.
        let items = s.allMembers.filter { pattern == nil || globMatch(pattern!, $0) }.map { Reply.bulk($0) }
        return .array([.bulk("0"), .array(items)])
    }
}

extension CommandTable {
    static let setRegistrations: [(String, Handler)] = [
        ("sadd", SetCommands.sadd),
        ("srem", SetCommands.srem),
        ("scard", SetCommands.scard),
        ("sismember", SetCommands.sismember),
        ("smismember", SetCommands.smismember),
        ("smembers", SetCommands.smembers),
        ("srandmember", SetCommands.srandmember),
        ("spop", SetCommands.spop),
        ("smove", SetCommands.smove),
        ("sinter", SetCommands.sinter),
        ("sunion", SetCommands.sunion),
        ("sdiff", SetCommands.sdiff),
        ("sinterstore", SetCommands.sinterstore),
        ("sunionstore", SetCommands.sunionstore),
        ("sdiffstore", SetCommands.sdiffstore),
        ("sintercard", SetCommands.sintercard),
        ("sscan", SetCommands.sscan),
    ]
}
