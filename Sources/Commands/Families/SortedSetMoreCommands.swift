import DataStore
import RESP
import Server

/// The sorted-set commands that combine or copy sets (ZUNION, ZINTER, ZDIFF and their STORE
/// forms, ZINTERCARD, ZRANGESTORE), pick at random (ZRANDMEMBER), scan (ZSCAN) and pop from
/// the first non-empty of several keys (ZMPOP, BZMPOP).
extension SortedSetCommands {
    enum Aggregate { case sum, min, max }

    /// One input of ZUNION/ZINTER/ZDIFF: a sorted set, or a plain set whose members score 1.
    struct Source {
        var zset: SortedSetValue?
        var set: SetValue?
        var weight = 1.0
        var id: ObjectIdentifier?

        var count: Int { zset?.count ?? set?.count ?? 0 }

        func score(of member: [UInt8]) -> Double? {
            if let zset { return zset.scores[member] }
            if let set, set.contains(member) { return 1 }
            return nil
        }

        /// (member, score) in the source's own order.
        func forEach(_ body: ([UInt8], Double) -> Void) {
            if let zset {
                for e in zset.entries { body(e.member, e.score) }
            } else if let set {
                for m in set.allMembers { body(m, 1) }
            }
        }
    }

    /// Redis's zunionInterAggregate: a sum of +inf and -inf counts as 0.
    @inline(__always)
    static func aggregate(_ target: inout Double, _ value: Double, _ how: Aggregate) {
        switch how {
        case .sum:
            target += value
            if target.isNaN { target = 0 }
        case .min: if value < target { target = value }
        case .max: if value > target { target = value }
        }
    }

    enum SetOperation { case union, inter, diff }

    /// Redis's zunionInterDiffGenericCommand: parses `numkeys key… [WEIGHTS …] [AGGREGATE …]
    /// [WITHSCORES] [LIMIT …]` from `numkeysArg`, and either stores the result in `key 1`,
    /// counts it (ZINTERCARD) or replies with it.
    static func combine(
        _ ctx: CommandContext, numkeysArg: Int, _ op: SetOperation, store: Bool, cardinalityOnly: Bool = false
    ) throws(CommandError) -> Reply {
        let name = ctx.command?.fullName ?? ""
        let numkeys = try ctx.int64(numkeysArg)
        if numkeys < 1 { throw .atLeastOneKey(name) }
        if numkeys > Int64(ctx.argc - numkeysArg - 1) { throw .syntax }
        let keyRange = (numkeysArg + 1)..<(numkeysArg + 1 + Int(numkeys))
        var sources: [Source] = []
        sources.reserveCapacity(keyRange.count)
        for i in keyRange {
            var source = Source()
            if let slot = ctx.lookupRead(i) {
                switch ctx.db.table[slot].value {
                case .zset(let z):
                    source.zset = z
                    source.id = ObjectIdentifier(z)
                case .set(let s):
                    source.set = s
                    source.id = ObjectIdentifier(s)
                default: throw .wrongType
                }
            }
            sources.append(source)
        }
        var how = Aggregate.sum
        var withScores = false
        var limit: Int64 = 0
        var j = keyRange.upperBound
        while j < ctx.argc {
            let remaining = ctx.argc - j
            if op != .diff && !cardinalityOnly && remaining >= sources.count + 1 && ctx.argIs(j, "weights") {
                j += 1
                for k in sources.indices {
                    sources[k].weight = try ctx.double(j, error: .weightNotFloat)
                    j += 1
                }
            } else if op != .diff && !cardinalityOnly && remaining >= 2 && ctx.argIs(j, "aggregate") {
                if ctx.argIs(j + 1, "sum") {
                    how = .sum
                } else if ctx.argIs(j + 1, "min") {
                    how = .min
                } else if ctx.argIs(j + 1, "max") {
                    how = .max
                } else {
                    throw .syntax
                }
                j += 2
            } else if !store && !cardinalityOnly && ctx.argIs(j, "withscores") {
                withScores = true
                j += 1
            } else if cardinalityOnly && remaining >= 2 && ctx.argIs(j, "limit") {
                guard let n = parseInt64(ctx.arg(j + 1)) else { throw .limitNegative }
                if n < 0 { throw .limitNegative }
                limit = n
                j += 2
            } else {
                throw .syntax
            }
        }

        var result: [[UInt8]: Double] = [:]
        switch op {
        case .inter:
            // Smallest first, as Redis does (a stable sort keeps equal sizes in key order).
            let ordered = sources.enumerated().sorted { ($0.element.count, $0.offset) < ($1.element.count, $1.offset) }
                .map(\.element)
            var found = 0
            var stop = false
            ordered[0].forEach { member, score in
                if stop { return }
                var total = score * ordered[0].weight
                if total.isNaN { total = 0 }
                for other in ordered.dropFirst() {
                    guard let s = other.score(of: member) else { return }
                    aggregate(&total, s * other.weight, how)
                }
                if cardinalityOnly {
                    found += 1
                    if limit > 0 && found >= limit { stop = true }
                } else {
                    result[member] = total
                }
            }
            if cardinalityOnly { return .integer(Int64(found)) }
        case .union:
            let ordered = sources.enumerated().sorted { ($0.element.count, $0.offset) < ($1.element.count, $1.offset) }
                .map(\.element)
            for source in ordered {
                source.forEach { member, score in
                    var weighted = score * source.weight
                    if weighted.isNaN { weighted = 0 }
                    if let current = result[member] {
                        var total = current
                        aggregate(&total, weighted, how)
                        result[member] = total
                    } else {
                        result[member] = weighted
                    }
                }
            }
        case .diff:
            sources[0].forEach { member, score in
                for other in sources.dropFirst() where other.id != nil {
                    if other.id == sources[0].id || other.score(of: member) != nil { return }
                }
                result[member] = score
            }
        }

        var entries = result.map { SortedSetValue.Entry(score: $0.value, member: $0.key) }
        entries.sort { SortedSetValue.precedes($0.score, $0.member, $1.score, $1.member) }
        if store { return storeResult(ctx, entries) }
        return reply(ctx, entries, withScores: withScores)
    }

    /// Replaces the key at argument `arg` with the entries (deleting it when there are
    /// none); replies the count. Every STORE form of the sorted-set and geo commands.
    /// `countsEach`: the write counts once per entry (the geo commands), not once.
    static func storeResult(
        _ ctx: CommandContext, _ entries: [SortedSetValue.Entry], keyArg arg: Int = 1, countsEach: Bool = false
    ) -> Reply {
        let existed = ctx.db.delete(ctx.arg(arg), now: ctx.now)
        if entries.isEmpty {
            if existed { ctx.markDirty() }
            return .zero
        }
        let z = SortedSetValue()
        let maxEntries = ctx.config.limits.zsetMaxListpackEntries
        let maxValue = ctx.config.limits.zsetMaxListpackValue
        for e in entries {
            z.set(e.member, score: e.score)
            z.noteWrite(e.member, maxEntries: maxEntries, maxValue: maxValue)
        }
        ctx.db.table.insertNew(ctx.argBytes(arg), value: .zset(z))
        ctx.markDirty(countsEach ? entries.count : 1)
        ctx.signalReady(arg)
        return .integer(Int64(entries.count))
    }

    /// ZUNION numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE <SUM | MIN | MAX>] [WITHSCORES]
    static func zunion(_ ctx: CommandContext) throws(CommandError) -> Reply {
        try combine(ctx, numkeysArg: 1, .union, store: false)
    }
    /// ZINTER numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE <SUM | MIN | MAX>] [WITHSCORES]
    static func zinter(_ ctx: CommandContext) throws(CommandError) -> Reply {
        try combine(ctx, numkeysArg: 1, .inter, store: false)
    }
    /// ZDIFF numkeys key [key ...] [WITHSCORES]
    static func zdiff(_ ctx: CommandContext) throws(CommandError) -> Reply {
        try combine(ctx, numkeysArg: 1, .diff, store: false)
    }
    /// ZUNIONSTORE destination numkeys key [key ...] [WEIGHTS …] [AGGREGATE …]
    static func zunionstore(_ ctx: CommandContext) throws(CommandError) -> Reply {
        try combine(ctx, numkeysArg: 2, .union, store: true)
    }
    /// ZINTERSTORE destination numkeys key [key ...] [WEIGHTS …] [AGGREGATE …]
    static func zinterstore(_ ctx: CommandContext) throws(CommandError) -> Reply {
        try combine(ctx, numkeysArg: 2, .inter, store: true)
    }
    /// ZDIFFSTORE destination numkeys key [key ...]
    static func zdiffstore(_ ctx: CommandContext) throws(CommandError) -> Reply {
        try combine(ctx, numkeysArg: 2, .diff, store: true)
    }
    /// ZINTERCARD numkeys key [key ...] [LIMIT limit]
    static func zintercard(_ ctx: CommandContext) throws(CommandError) -> Reply {
        try combine(ctx, numkeysArg: 1, .inter, store: false, cardinalityOnly: true)
    }

    /// ZRANGESTORE dst src min max [BYSCORE | BYLEX] [REV] [LIMIT offset count]
    static func zrangestore(_ ctx: CommandContext) throws(CommandError) -> Reply {
        // The ZRANGE parser, shifted by the destination argument.
        var req = RangeRequest()
        try options(ctx, from: 5, &req, allowKind: true, allowWithScores: false)
        if req.hasLimit && req.kind == .rank { throw .zrangeLimit }
        let swap = req.reverse && req.kind != .rank
        let minArg = swap ? 4 : 3
        let maxArg = swap ? 3 : 4
        try validateBounds(ctx, req, minArg: minArg, maxArg: maxArg)
        var picked: [SortedSetValue.Entry] = []
        if let slot = ctx.lookupRead(2) {
            picked = try select(ctx, try zset(ctx, slot), req, minArg: minArg, maxArg: maxArg)
        }
        picked.sort { SortedSetValue.precedes($0.score, $0.member, $1.score, $1.member) }
        return storeResult(ctx, picked)
    }

    /// ZRANDMEMBER key [count [WITHSCORES]]
    static func zrandmember(_ ctx: CommandContext) throws(CommandError) -> Reply {
        guard ctx.argc >= 3 else {
            guard let z = try readZset(ctx), z.count > 0 else { return .null }
            let i = Int.random(in: 0..<z.count, using: &ctx.keyspace.rng)
            return .bulk(z.entries[i].member)
        }
        let count = try randomCount(ctx, keyword: "withscores")
        let withScores = ctx.argc == 4
        guard let z = try readZset(ctx), z.count > 0 else { return .emptyArray }
        let all = z.entries.slice(0..<z.count)
        // Asked for at least the whole set, Redis answers it from the highest rank down.
        if count >= Int64(z.count) { return reply(ctx, all.reversed(), withScores: withScores) }
        let picks = ctx.keyspace.randomIndices(count: count, of: z.count)
        return reply(ctx, picks.map { all[$0] }, withScores: withScores)
    }

    /// ZSCAN key cursor [MATCH pattern] [COUNT count]
    static func zscan(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let pattern = try ScanOptions.parse(ctx, allowNoValues: false).pattern
        guard let z = try readZset(ctx) else { return .array([.bulk("0"), .emptyArray]) }
        // The whole set in one step: a complete scan, which SCAN's guarantees allow. Scores
        // travel as strings, as Redis's ZSCAN sends them.
        var items: [Reply] = []
        for e in z.entries {
            if let pattern, !globMatch(pattern, e.member) { continue }
            items.append(.bulk(e.member))
            items.append(.bulk(formatDouble(e.score)))
        }
        return .array([.bulk("0"), .array(items)])
    }

    /// ZMPOP's and BZMPOP's `numkeys key… <MIN | MAX> [COUNT count]`, from `numkeysArg`.
    static func mpopArguments(_ ctx: CommandContext, numkeysArg: Int) throws(CommandError) -> (
        keys: Range<Int>, max: Bool, count: Int
    ) {
        let (keys, max, count) = try multiPopArguments(ctx, numkeysArg: numkeysArg, maxCount: Int.max) {
            (i: Int) throws(CommandError) -> Bool in
            if ctx.argIs(i, "min") { return false }
            if ctx.argIs(i, "max") { return true }
            throw .syntax
        }
        return (keys, max, count)
    }

    /// Pops up to `count` entries from the first non-empty sorted set among `keys`:
    /// `[key, [[member, score], …]]`, or nil when all are empty.
    static func mpop(_ ctx: CommandContext, keys: Range<Int>, max: Bool, count: Int) throws(CommandError) -> Reply? {
        for k in keys {
            guard let slot = ctx.lookupWrite(k) else { continue }
            let z = try zset(ctx, slot)
            guard z.count > 0 else { continue }
            var items: [Reply] = []
            for _ in 0..<Swift.min(count, z.count) {
                let e = max ? z.entries[z.count - 1] : z.entries[0]
                z.remove(e.member)
                items.append(.array([.bulk(e.member), .double(e.score)]))
            }
            ctx.markDirty(items.count)
            deleteIfEmpty(ctx, z, k)
            // Replicated as the pop it was, with the count popped (Redis's ZMPOP rewrite).
            if ctx.propagating {
                ctx.propagate(
                    as: [Array((max ? "ZPOPMAX" : "ZPOPMIN").utf8), ctx.argBytes(k), Array(String(items.count).utf8)])
            }
            return .array([.bulk(ctx.argBytes(k)), .array(items)])
        }
        return nil
    }

    /// ZMPOP numkeys key [key ...] <MIN | MAX> [COUNT count]
    static func zmpop(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let (keys, max, count) = try mpopArguments(ctx, numkeysArg: 1)
        return try mpop(ctx, keys: keys, max: max, count: count) ?? .nullArray
    }
}

/// The `numkeys key… <where> [COUNT count]` tail of LMPOP, BLMPOP, ZMPOP and BZMPOP, from
/// `numkeysArg`, with Redis's errors; `side` reads the where-argument, the count is capped at
/// `maxCount`.
func multiPopArguments<Side>(
    _ ctx: CommandContext, numkeysArg: Int, maxCount: Int, side: (Int) throws(CommandError) -> Side
) throws(CommandError) -> (keys: Range<Int>, side: Side, count: Int) {
    guard let numkeys = parseInt64(ctx.arg(numkeysArg)), numkeys > 0 else { throw .numKeysNotPositive }
    guard numkeys <= Int64(ctx.argc - numkeysArg - 2) else { throw .syntax }
    let whereIndex = numkeysArg + 1 + Int(numkeys)
    let which = try side(whereIndex)
    var count = 1
    var sawCount = false
    var j = whereIndex + 1
    while j < ctx.argc {
        if ctx.argIs(j, "count") && j + 1 < ctx.argc && !sawCount {
            guard let c = parseInt64(ctx.arg(j + 1)), c > 0 else { throw .countNotPositive }
            count = Int(min(c, Int64(maxCount)))
            sawCount = true
            j += 2
        } else {
            throw .syntax
        }
    }
    return ((numkeysArg + 1)..<whereIndex, which, count)
}

/// Redis's parsing of `count [WITHSCORES|WITHVALUES]` for ZRANDMEMBER and HRANDFIELD: the
/// count first (at most ±LONG_MAX), then the option, then a bound that keeps the reply's
/// size computable.
func randomCount(_ ctx: CommandContext, keyword: StaticString) throws(CommandError) -> Int64 {
    let count = try ctx.int64(2)
    if count == Int64.min { throw .lposRankRange }
    if ctx.argc > 4 || (ctx.argc == 4 && !ctx.argIs(3, keyword)) { throw .syntax }
    if ctx.argc == 4 && (count < -Int64.max / 2 || count > Int64.max / 2) { throw .valueOutOfRange }
    return try boundedRandomCount(ctx, count)
}

/// A negative random count (members may repeat) of billions would build a reply that
/// exhausts memory. Under an output-buffer hard limit Redis stops such a reply mid-run and
/// disconnects the client: no more members are picked than the limit can hold (each
/// takes at least 6 bytes), which passes it all the same. Without a limit it is refused.
func boundedRandomCount(_ ctx: CommandContext, _ count: Int64) throws(CommandError) -> Int64 {
    guard count < 0 else { return count }
    let hard = Int64(ctx.outputHardLimit)
    if hard > 0 { return max(count, -(hard / 6 + 1)) }
    if -count > maxRandomReply { throw .valueOutOfRange }
    return count
}

extension CommandTable {
    static let sortedSetMoreRegistrations: [(String, Handler)] = [
        ("zunion", SortedSetCommands.zunion),
        ("zinter", SortedSetCommands.zinter),
        ("zdiff", SortedSetCommands.zdiff),
        ("zunionstore", SortedSetCommands.zunionstore),
        ("zinterstore", SortedSetCommands.zinterstore),
        ("zdiffstore", SortedSetCommands.zdiffstore),
        ("zintercard", SortedSetCommands.zintercard),
        ("zrangestore", SortedSetCommands.zrangestore),
        ("zrandmember", SortedSetCommands.zrandmember),
        ("zscan", SortedSetCommands.zscan),
        ("zmpop", SortedSetCommands.zmpop),
    ]
}
