import DataStore
import DequeModule
import RESP
import Server

enum ListCommands {
    enum End { case left, right }

    /// The list at `slot`, or WRONGTYPE.
    static func list(_ ctx: CommandContext, _ slot: Int) throws(CommandError) -> ListValue {
        guard case .list(let l) = ctx.db.table[slot].value else { throw .wrongType }
        return l
    }

    /// Looks a list up for reading; nil when missing.
    static func readList(_ ctx: CommandContext, _ arg: Int) throws(CommandError) -> ListValue? {
        guard let slot = ctx.lookupRead(arg) else { return nil }
        return try list(ctx, slot)
    }

    /// Deletes the key when its list became empty (Redis never keeps empty aggregates).
    static func deleteIfEmpty(_ ctx: CommandContext, _ arg: Int, _ l: ListValue) {
        if l.count == 0 { ctx.db.delete(ctx.arg(arg), now: ctx.now) }
    }

    static func pushGeneric(_ ctx: CommandContext, _ end: End, onlyExisting: Bool) throws(CommandError) -> Reply {
        let l: ListValue
        if let slot = ctx.lookupWrite(1) {
            l = try list(ctx, slot)
        } else {
            if onlyExisting { return .zero }
            l = ListValue()
            ctx.db.table.insertNew(ctx.argBytes(1), value: .list(l))
        }
        for i in 2..<ctx.argc {
            if end == .left { l.items.prepend(ctx.argBytes(i)) } else { l.items.append(ctx.argBytes(i)) }
        }
        ctx.markDirty(ctx.argc - 2)
        ctx.signalReady(1)
        return .integer(Int64(l.count))
    }

    /// LPUSH key element [element ...]
    static func lpush(_ ctx: CommandContext) throws(CommandError) -> Reply {
        try pushGeneric(ctx, .left, onlyExisting: false)
    }
    /// RPUSH key element [element ...]
    static func rpush(_ ctx: CommandContext) throws(CommandError) -> Reply {
        try pushGeneric(ctx, .right, onlyExisting: false)
    }
    /// LPUSHX key element [element ...]
    static func lpushx(_ ctx: CommandContext) throws(CommandError) -> Reply {
        try pushGeneric(ctx, .left, onlyExisting: true)
    }
    /// RPUSHX key element [element ...]
    static func rpushx(_ ctx: CommandContext) throws(CommandError) -> Reply {
        try pushGeneric(ctx, .right, onlyExisting: true)
    }

    static func pop(_ l: ListValue, _ end: End) -> [UInt8]? {
        end == .left ? l.items.popFirst() : l.items.popLast()
    }

    static func popGeneric(_ ctx: CommandContext, _ end: End) throws(CommandError) -> Reply {
        var count: Int64?
        if ctx.argc == 3 {
            guard let n = parseInt64(ctx.arg(2)), n >= 0 else { throw .mustBePositive }
            count = n
        } else if ctx.argc > 3 {
            throw .wrongArity(end == .left ? "lpop" : "rpop")
        }
        guard let slot = ctx.lookupWrite(1) else { return count == nil ? .null : .nullArray }
        let l = try list(ctx, slot)
        guard let count else {
            let item = pop(l, end)
            ctx.markDirty()
            deleteIfEmpty(ctx, 1, l)
            return item.map { .bulk($0) } ?? .null
        }
        var items: [Reply] = []
        for _ in 0..<min(Int(count), l.count) {
            if let item = pop(l, end) { items.append(.bulk(item)) }
        }
        if !items.isEmpty { ctx.markDirty() }
        deleteIfEmpty(ctx, 1, l)
        return .array(items)
    }

    /// LPOP key [count]
    static func lpop(_ ctx: CommandContext) throws(CommandError) -> Reply { try popGeneric(ctx, .left) }
    /// RPOP key [count]
    static func rpop(_ ctx: CommandContext) throws(CommandError) -> Reply { try popGeneric(ctx, .right) }

    /// LLEN key
    static func llen(_ ctx: CommandContext) throws(CommandError) -> Reply {
        .integer(Int64(try readList(ctx, 1)?.count ?? 0))
    }

    /// Resolves LRANGE/LTRIM-style start and stop against a length; nil for an empty range.
    static func range(_ start: Int64, _ stop: Int64, count: Int) -> ClosedRange<Int>? {
        let n = Int64(count)
        var s = start < 0 ? n + start : start
        var e = stop < 0 ? n + stop : stop
        if s < 0 { s = 0 }
        if s > e || s >= n { return nil }
        if e >= n { e = n - 1 }
        return Int(s)...Int(e)
    }

    /// LRANGE key start stop
    static func lrange(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let start = try ctx.int64(2)
        let stop = try ctx.int64(3)
        guard let l = try readList(ctx, 1), let r = range(start, stop, count: l.count) else { return .emptyArray }
        return .array(r.map { .bulk(l.items[$0]) })
    }

    /// LINDEX key index
    static func lindex(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let index = try ctx.int64(2)
        guard let l = try readList(ctx, 1), let i = l.normalizedIndex(index) else { return .null }
        return .bulk(l.items[i])
    }

    /// LSET key index element
    static func lset(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let index = try ctx.int64(2)
        guard let slot = ctx.lookupWrite(1) else { throw .noSuchKey }
        let l = try list(ctx, slot)
        guard let i = l.normalizedIndex(index) else { throw .indexOutOfRange }
        l.items[i] = ctx.argBytes(3)
        ctx.markDirty()
        return .ok
    }

    /// LINSERT key <BEFORE | AFTER> pivot element
    static func linsert(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let after: Bool
        if ctx.argIs(2, "after") {
            after = true
        } else if ctx.argIs(2, "before") {
            after = false
        } else {
            throw .syntax
        }
        guard let slot = ctx.lookupWrite(1) else { return .zero }
        let l = try list(ctx, slot)
        let pivot = ctx.arg(3)
        guard let i = l.items.firstIndex(where: { $0[...] == pivot }) else { return .integer(-1) }
        l.items.insert(ctx.argBytes(4), at: after ? i + 1 : i)
        ctx.markDirty()
        return .integer(Int64(l.count))
    }

    /// LREM key count element
    static func lrem(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let count = try ctx.int64(2)
        guard let slot = ctx.lookupWrite(1) else { return .zero }
        let l = try list(ctx, slot)
        let element = ctx.arg(3)
        var removed: Int64 = 0
        let limit = count == 0 ? Int64.max : count.magnitude > UInt64(Int64.max) ? Int64.max : abs(count)
        if count >= 0 {
            var i = 0
            while i < l.items.count && removed < limit {
                if l.items[i][...] == element {
                    l.items.remove(at: i)
                    removed += 1
                } else {
                    i += 1
                }
            }
        } else {
            var i = l.items.count - 1
            while i >= 0 && removed < limit {
                if l.items[i][...] == element {
                    l.items.remove(at: i)
                    removed += 1
                }
                i -= 1
            }
        }
        if removed > 0 { ctx.markDirty() }
        deleteIfEmpty(ctx, 1, l)
        return .integer(removed)
    }

    /// LTRIM key start stop
    static func ltrim(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let start = try ctx.int64(2)
        let stop = try ctx.int64(3)
        guard let slot = ctx.lookupWrite(1) else { return .ok }
        let l = try list(ctx, slot)
        if let r = range(start, stop, count: l.count) {
            l.items.removeLast(l.items.count - 1 - r.upperBound)
            l.items.removeFirst(r.lowerBound)
        } else {
            l.items.removeAll()
        }
        ctx.markDirty()
        deleteIfEmpty(ctx, 1, l)
        return .ok
    }

    /// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]
    static func lpos(_ ctx: CommandContext) throws(CommandError) -> Reply {
        var rank: Int64 = 1
        var count: Int64?
        var maxlen: Int64 = 0
        var args = ArgumentReader(ctx, from: 3)
        while !args.isAtEnd {
            // Every option takes a value.
            guard args.remaining >= 2 else { throw .syntax }
            if args.take("rank") {
                rank = try args.int64()
                if rank == 0 { throw .lposRankZero }
                if rank == Int64.min { throw .lposRankRange }
            } else if args.take("count") {
                count = try args.int64(in: 0...Int64.max, else: .lposCountNegative)
            } else if args.take("maxlen") {
                maxlen = try args.int64(in: 0...Int64.max, else: .lposMaxlenNegative)
            } else {
                throw .syntax
            }
        }
        guard let l = try readList(ctx, 1) else { return count == nil ? .null : .emptyArray }
        let element = ctx.arg(2)
        var matches: [Reply] = []
        var toSkip = abs(rank) - 1
        let wanted = count.map { $0 == 0 ? Int64.max : $0 } ?? 1
        let n = l.count
        var scanned: Int64 = 0
        var k = 0
        while k < n && (maxlen == 0 || scanned < maxlen) && Int64(matches.count) < wanted {
            let i = rank > 0 ? k : n - 1 - k
            if l.items[i][...] == element {
                if toSkip > 0 { toSkip -= 1 } else { matches.append(.integer(Int64(i))) }
            }
            scanned += 1
            k += 1
        }
        if count == nil { return matches.first ?? .null }
        return .array(matches)
    }

    static func end(_ ctx: CommandContext, _ i: Int) throws(CommandError) -> End {
        if ctx.argIs(i, "left") { return .left }
        if ctx.argIs(i, "right") { return .right }
        throw .syntax
    }

    /// The body of LMOVE and RPOPLPUSH (Redis's lmoveGenericCommand).
    static func move(_ ctx: CommandContext, from: End, to: End) throws(CommandError) -> Reply {
        guard let srcSlot = ctx.lookupWrite(1) else { return .null }
        let source = try list(ctx, srcSlot)
        var destination: ListValue?
        if let dstSlot = ctx.lookupWrite(2) { destination = try list(ctx, dstSlot) }
        guard let item = pop(source, from) else { return .null }
        if destination == nil {
            let l = ListValue()
            ctx.db.table.insertNew(ctx.argBytes(2), value: .list(l))
            destination = l
        }
        if to == .left { destination!.items.prepend(item) } else { destination!.items.append(item) }
        ctx.markDirty()
        ctx.signalReady(2)
        deleteIfEmpty(ctx, 1, source)
        return .bulk(item)
    }

    /// LMOVE source destination <LEFT | RIGHT> <LEFT | RIGHT>
    static func lmove(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let from = try end(ctx, 3)
        let to = try end(ctx, 4)
        return try move(ctx, from: from, to: to)
    }

    /// RPOPLPUSH source destination
    static func rpoplpush(_ ctx: CommandContext) throws(CommandError) -> Reply {
        try move(ctx, from: .right, to: .left)
    }

    /// LMPOP numkeys key [key ...] <LEFT | RIGHT> [COUNT count]
    static func lmpop(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let (keys, from, count) = try mpopArguments(ctx, numkeysArg: 1)
        return try mpop(ctx, keys: keys, from, count: count) ?? .nullArray
    }

    /// LMPOP's and BLMPOP's `numkeys key… <LEFT | RIGHT> [COUNT count]`, from `numkeysArg`.
    static func mpopArguments(_ ctx: CommandContext, numkeysArg: Int) throws(CommandError) -> (
        keys: Range<Int>, from: End, count: Int
    ) {
        let (keys, from, count) = try multiPopArguments(ctx, numkeysArg: numkeysArg, maxCount: Int(Int32.max)) {
            (i: Int) throws(CommandError) -> End in try end(ctx, i)
        }
        return (keys, from, count)
    }

    /// Pops up to `count` elements from the first non-empty list among `keys`:
    /// `[key, [element, …]]`, or nil when all are empty.
    static func mpop(_ ctx: CommandContext, keys: Range<Int>, _ from: End, count: Int) throws(CommandError) -> Reply? {
        for k in keys {
            guard let slot = ctx.lookupWrite(k) else { continue }
            let l = try list(ctx, slot)
            guard l.count > 0 else { continue }
            var items: [Reply] = []
            for _ in 0..<min(count, l.count) {
                if let item = pop(l, from) { items.append(.bulk(item)) }
            }
            ctx.markDirty()
            deleteIfEmpty(ctx, k, l)
            // Replicated as the pop it was, with the count popped (Redis's LMPOP rewrite).
            if ctx.propagating {
                ctx.propagate(
                    as: [
                        Array((from == .left ? "LPOP" : "RPOP").utf8), ctx.argBytes(k), Array(String(items.count).utf8),
                    ])
            }
            return .array([.bulk(ctx.argBytes(k)), .array(items)])
        }
        return nil
    }
}

extension CommandTable {
    static let listRegistrations: [(String, Handler)] = [
        ("lpush", ListCommands.lpush),
        ("rpush", ListCommands.rpush),
        ("lpushx", ListCommands.lpushx),
        ("rpushx", ListCommands.rpushx),
        ("lpop", ListCommands.lpop),
        ("rpop", ListCommands.rpop),
        ("llen", ListCommands.llen),
        ("lrange", ListCommands.lrange),
        ("lindex", ListCommands.lindex),
        ("lset", ListCommands.lset),
        ("linsert", ListCommands.linsert),
        ("lrem", ListCommands.lrem),
        ("ltrim", ListCommands.ltrim),
        ("lpos", ListCommands.lpos),
        ("lmove", ListCommands.lmove),
        ("rpoplpush", ListCommands.rpoplpush),
        ("lmpop", ListCommands.lmpop),
    ]
}
