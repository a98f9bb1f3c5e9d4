import DataStore
import RESP
import Server

enum SortedSetCommands {
    static func zset(_ ctx: CommandContext, _ slot: Int) throws(CommandError) -> SortedSetValue {
        guard case .zset(let z) = ctx.db.table[slot].value else { throw .wrongType }
        return z
    }

    static func readZset(_ ctx: CommandContext, _ arg: Int = 1) throws(CommandError) -> SortedSetValue? {
        guard let slot = ctx.lookupRead(arg) else { return nil }
        return try zset(ctx, slot)
    }

    static func writeZset(_ ctx: CommandContext, _ arg: Int = 1) throws(CommandError) -> SortedSetValue? {
        guard let slot = ctx.lookupWrite(arg) else { return nil }
        return try zset(ctx, slot)
    }

    static func deleteIfEmpty(_ ctx: CommandContext, _ z: SortedSetValue, _ arg: Int = 1) {
        if z.count == 0 { ctx.db.delete(ctx.arg(arg), now: ctx.now) }
    }

    /// Sets a member's score and applies the listpack → skiplist rule.
    static func setScore(_ ctx: CommandContext, _ z: SortedSetValue, _ member: [UInt8], _ score: Double) {
        z.set(member, score: score)
        z.noteWrite(
            member, maxEntries: ctx.config.limits.zsetMaxListpackEntries,
            maxValue: ctx.config.limits.zsetMaxListpackValue)
    }

    struct ScoreBound {
        var value: Double
        var exclusive: Bool
    }

    /// Redis's zslParseRange item: `(` for exclusive, `-inf`/`+inf`, any float but NaN.
    static func scoreBound(_ ctx: CommandContext, _ i: Int) throws(CommandError) -> ScoreBound {
        var a = ctx.arg(i)
        var exclusive = false
        if a.first == UInt8(ascii: "(") {
            exclusive = true
            a = a.dropFirst()
        }
        guard let v = parseDouble(a) else { throw .minMaxNotFloat }
        return ScoreBound(value: v, exclusive: exclusive)
    }

    enum LexBound {
        case minusInfinity, plusInfinity
        case value([UInt8], exclusive: Bool)
    }

    static func lexBound(_ ctx: CommandContext, _ i: Int) throws(CommandError) -> LexBound {
        let a = ctx.arg(i)
        if a.count == 1 && a.first == UInt8(ascii: "-") { return .minusInfinity }
        if a.count == 1 && a.first == UInt8(ascii: "+") { return .plusInfinity }
        if a.first == UInt8(ascii: "[") { return .value(Array(a.dropFirst()), exclusive: false) }
        if a.first == UInt8(ascii: "(") { return .value(Array(a.dropFirst()), exclusive: true) }
        throw .lexRangeInvalid
    }

    static func aboveMin(_ m: [UInt8], _ b: LexBound) -> Bool {
        switch b {
        case .minusInfinity: return true
        case .plusInfinity: return false
        case .value(let v, let ex): return ex ? bytesPrecede(v, m) : !bytesPrecede(m, v)
        }
    }

    static func belowMax(_ m: [UInt8], _ b: LexBound) -> Bool {
        switch b {
        case .minusInfinity: return false
        case .plusInfinity: return true
        case .value(let v, let ex): return ex ? bytesPrecede(m, v) : !bytesPrecede(v, m)
        }
    }

    /// Redis's lex range walk (zzlFirstInLexRange and friends): from the head (the tail for
    /// REV) to the first member inside the range, then on while members stay inside. Lex
    /// ranges assume equal scores; with mixed scores this reproduces what Redis answers.
    static func lexRange(_ z: SortedSetValue, _ lo: LexBound, _ hi: LexBound, reverse: Bool) -> [SortedSetValue.Entry] {
        var out: [SortedSetValue.Entry] = []
        var started = false
        let ordered: [SortedSetValue.Entry] = reverse ? z.entries.reversed() : Array(z.entries)
        for e in ordered {
            if !started {
                // Forward: skip members below min; reverse: skip members above max.
                if reverse ? !belowMax(e.member, hi) : !aboveMin(e.member, lo) { continue }
                started = true
            }
            if reverse ? !aboveMin(e.member, lo) : !belowMax(e.member, hi) { break }
            out.append(e)
        }
        return out
    }

    /// ZADD key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...]
    static func zadd(_ ctx: CommandContext) throws(CommandError) -> Reply {
        var nx = false
        var xx = false
        var gt = false
        var lt = false
        var ch = false
        var incr = false
        var j = 2
        // Every option starts with a letter and a score almost never does ("inf" aside,
        // which the checks then refuse): the common ZADD skips the six comparisons.
        while j < ctx.argc, ctx.argLength(j) > 0, ctx.arg(j).first! | 0x20 >= UInt8(ascii: "a") {
            if ctx.argIs(j, "nx") {
                nx = true
            } else if ctx.argIs(j, "xx") {
                xx = true
            } else if ctx.argIs(j, "gt") {
                gt = true
            } else if ctx.argIs(j, "lt") {
                lt = true
            } else if ctx.argIs(j, "ch") {
                ch = true
            } else if ctx.argIs(
                j, "incr")
            {
                incr = true
            } else {
                break
            }
            j += 1
        }
        let pairs = ctx.argc - j
        if pairs == 0 || pairs % 2 != 0 { throw .syntax }
        if nx && xx { throw .zaddNXAndXX }
        if (gt && nx) || (lt && nx) || (gt && lt) { throw .zaddGTLTNX }
        if incr && pairs > 2 { throw .zaddIncrPair }
        let flags = AddFlags(nx: nx, xx: xx, gt: gt, lt: lt, ch: ch, incr: incr)
        // Every score is parsed before anything changes, as Redis does; on the stack, not
        // in an array of their own.
        return try withUnsafeTemporaryAllocation(of: Double.self, capacity: pairs / 2) {
            (scores) throws(CommandError) -> Reply in
            var k = 0
            for i in stride(from: j, to: ctx.argc, by: 2) {
                guard let s = parseDouble(ctx.arg(i)) else { throw .notFloat }
                scores.initializeElement(at: k, to: s)
                k += 1
            }
            return try add(
                ctx, flags, scores: UnsafeBufferPointer(scores), memberArgs: stride(from: j + 1, to: ctx.argc, by: 2))
        }
    }

    struct AddFlags {
        var nx = false, xx = false, gt = false, lt = false, ch = false, incr = false
    }

    /// ZADD's work once its arguments are parsed: each score with the member at the matching
    /// argument, under NX/XX/GT/LT/CH/INCR. GEOADD runs through here too, as Redis's does.
    static func add(
        _ ctx: CommandContext, _ flags: AddFlags, scores: UnsafeBufferPointer<Double>, memberArgs: StrideTo<Int>
    ) throws(CommandError) -> Reply {
        var z = try writeZset(ctx)
        if z == nil {
            if flags.xx { return flags.incr ? .null : .zero }
            let created = SortedSetValue()
            ctx.db.table.insertNew(ctx.argBytes(1), value: .zset(created))
            z = created
        }
        var added: Int64 = 0
        var updated: Int64 = 0
        var incrResult: Double?
        let maxEntries = ctx.config.limits.zsetMaxListpackEntries
        let maxValue = ctx.config.limits.zsetMaxListpackValue
        for (k, i) in memberArgs.enumerated() {
            var score = scores[k]
            // A member already there is found and moved by its bytes; only a new one needs
            // an array of its own.
            if let at = ctx.arg(i).withUnsafeBytes({ z!.scoreIndex($0) }) {
                let current = z!.score(at: at)
                if flags.nx { continue }
                if flags.incr {
                    score = current + score
                    if score.isNaN { throw .resultNaN }
                }
                if (flags.gt && score <= current) || (flags.lt && score >= current) { continue }
                if flags.incr { incrResult = score }
                if score != current {
                    ctx.arg(i).withUnsafeBytes { z!.setScore(at: at, $0, score) }
                    updated += 1
                }
            } else {
                if flags.xx { continue }
                z!.insertNew(ctx.argBytes(i), score: score)
                z!.noteWrite(memberLength: ctx.argLength(i), maxEntries: maxEntries, maxValue: maxValue)
                added += 1
                if flags.incr { incrResult = score }
            }
        }
        if added + updated > 0 { ctx.markDirty(Int(added + updated)) }
        if added > 0 { ctx.signalReady(1) }
        deleteIfEmpty(ctx, z!)
        if flags.incr { return incrResult.map { .double($0) } ?? .null }
        return .integer(flags.ch ? added + updated : added)
    }

    /// ZINCRBY key increment member
    static func zincrby(_ ctx: CommandContext) throws(CommandError) -> Reply {
        guard let delta = parseDouble(ctx.arg(2)) else { throw .notFloat }
        var z = try writeZset(ctx)
        if z == nil {
            let created = SortedSetValue()
            ctx.db.table.insertNew(ctx.argBytes(1), value: .zset(created))
            z = created
        }
        let member = ctx.argBytes(3)
        let score = (z!.scores[member] ?? 0) + delta
        if score.isNaN {
            deleteIfEmpty(ctx, z!)
            throw .resultNaN
        }
        setScore(ctx, z!, member, score)
        ctx.markDirty()
        ctx.signalReady(1)
        return .double(score)
    }

    /// ZREM key member [member ...]
    static func zrem(_ ctx: CommandContext) throws(CommandError) -> Reply {
        guard let z = try writeZset(ctx) else { return .zero }
        var removed: Int64 = 0
        for i in 2..<ctx.argc where z.remove(ctx.argBytes(i)) { removed += 1 }
        if removed > 0 { ctx.markDirty(Int(removed)) }
        deleteIfEmpty(ctx, z)
        return .integer(removed)
    }

    /// ZCARD key
    static func zcard(_ ctx: CommandContext) throws(CommandError) -> Reply {
        .integer(Int64(try readZset(ctx)?.count ?? 0))
    }

    /// ZSCORE key member
    static func zscore(_ ctx: CommandContext) throws(CommandError) -> Reply {
        guard let z = try readZset(ctx), let s = z.scores[ctx.argBytes(2)] else { return .null }
        return .double(s)
    }

    /// ZMSCORE key member [member ...]
    static func zmscore(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let z = try readZset(ctx)
        return .array((2..<ctx.argc).map { i in z?.scores[ctx.argBytes(i)].map { .double($0) } ?? .null })
    }

    /// ZCOUNT key min max
    static func zcount(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let lo = try scoreBound(ctx, 2)
        let hi = try scoreBound(ctx, 3)
        guard let z = try readZset(ctx) else { return .zero }
        let a = z.firstIndex(min: lo.value, exclusive: lo.exclusive)
        let b = z.endIndex(max: hi.value, exclusive: hi.exclusive)
        return .integer(Int64(max(0, b - a)))
    }

    static func rankGeneric(_ ctx: CommandContext, reverse: Bool) throws(CommandError) -> Reply {
        if ctx.argc > 4 || (ctx.argc == 4 && !ctx.argIs(3, "withscore")) { throw .syntax }
        let withScore = ctx.argc == 4
        guard let z = try readZset(ctx), let r = z.rank(ctx.argBytes(2)) else {
            return withScore ? .nullArray : .null
        }
        let rank = Int64(reverse ? z.count - 1 - r : r)
        if withScore { return .array([.integer(rank), .double(z.entries[r].score)]) }
        return .integer(rank)
    }

    /// ZRANK key member [WITHSCORE]
    static func zrank(_ ctx: CommandContext) throws(CommandError) -> Reply { try rankGeneric(ctx, reverse: false) }
    /// ZREVRANK key member [WITHSCORE]
    static func zrevrank(_ ctx: CommandContext) throws(CommandError) -> Reply { try rankGeneric(ctx, reverse: true) }

    enum RangeKind { case rank, score, lex }

    struct RangeRequest {
        var kind = RangeKind.rank
        var reverse = false
        var withScores = false
        var offset: Int64 = 0
        var limit: Int64 = -1
        var hasLimit = false
    }

    /// The entries (in reply order) a ZRANGE-family request selects.
    static func select(_ ctx: CommandContext, _ z: SortedSetValue, _ req: RangeRequest, minArg: Int, maxArg: Int)
        throws(CommandError) -> [SortedSetValue.Entry]
    {
        var picked: [SortedSetValue.Entry] = []
        switch req.kind {
        case .rank:
            let start = try ctx.int64(minArg)
            let stop = try ctx.int64(maxArg)
            guard let r = ListCommands.range(start, stop, count: z.count) else { return [] }
            if req.reverse {
                picked = z.entries.slice((z.count - 1 - r.upperBound)...(z.count - 1 - r.lowerBound)).reversed()
            } else {
                picked = z.entries.slice(r)
            }
            return picked
        case .score:
            let lo = try scoreBound(ctx, minArg)
            let hi = try scoreBound(ctx, maxArg)
            let a = z.firstIndex(min: lo.value, exclusive: lo.exclusive)
            let b = z.endIndex(max: hi.value, exclusive: hi.exclusive)
            if a < b { picked = req.reverse ? z.entries.slice(a..<b).reversed() : z.entries.slice(a..<b) }
        case .lex:
            let lo = try lexBound(ctx, minArg)
            let hi = try lexBound(ctx, maxArg)
            picked = lexRange(z, lo, hi, reverse: req.reverse)
        }
        if req.hasLimit {
            if req.offset < 0 { return [] }
            let from = min(Int(clamping: req.offset), picked.count)
            // Saturating: LIMIT 0 9223372036854775807 must not overflow.
            let to = req.limit < 0 ? picked.count : from + min(picked.count - from, Int(clamping: req.limit))
            picked = Array(picked[from..<to])
        }
        return picked
    }

    static func reply(_ ctx: CommandContext, _ entries: [SortedSetValue.Entry], withScores: Bool) -> Reply {
        if !withScores { return .array(entries.map { .bulk($0.member) }) }
        if ctx.session.resp3 { return .array(entries.map { .array([.bulk($0.member), .double($0.score)]) }) }
        var items: [Reply] = []
        items.reserveCapacity(entries.count * 2)
        for e in entries {
            items.append(.bulk(e.member))
            items.append(.double(e.score))
        }
        return .array(items)
    }

    /// Parses the options of ZRANGE-family commands from `start`.
    /// `allowWithScores` false for ZRANGESTORE, where WITHSCORES is a syntax error.
    static func options(
        _ ctx: CommandContext, from start: Int, _ req: inout RangeRequest, allowKind: Bool, allowWithScores: Bool = true
    ) throws(CommandError) {
        var j = start
        while j < ctx.argc {
            if allowWithScores && ctx.argIs(j, "withscores") {
                req.withScores = true
            } else if ctx.argIs(j, "limit") && j + 2 < ctx.argc {
                req.offset = try ctx.int64(j + 1)
                req.limit = try ctx.int64(j + 2)
                req.hasLimit = true
                j += 2
            } else if allowKind && ctx.argIs(j, "byscore") {
                req.kind = .score
            } else if allowKind && ctx.argIs(j, "bylex") {
                req.kind = .lex
            } else if allowKind && ctx.argIs(j, "rev") {
                req.reverse = true
            } else {
                throw .syntax
            }
            j += 1
        }
    }

    /// ZRANGE key start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count] [WITHSCORES]
    static func zrange(_ ctx: CommandContext) throws(CommandError) -> Reply {
        var req = RangeRequest()
        try options(ctx, from: 4, &req, allowKind: true)
        if req.hasLimit && req.kind == .rank { throw .zrangeLimit }
        if req.withScores && req.kind == .lex { throw .zrangeWithscoresBylex }
        guard let z = try readZset(ctx) else {
            try validateBounds(ctx, req)
            return .emptyArray
        }
        // REV with BYSCORE/BYLEX takes max first.
        let swap = req.reverse && req.kind != .rank
        return reply(
            ctx, try select(ctx, z, req, minArg: swap ? 3 : 2, maxArg: swap ? 2 : 3), withScores: req.withScores)
    }

    /// Parses the range arguments for their errors when the key is missing.
    static func validateBounds(_ ctx: CommandContext, _ req: RangeRequest, minArg: Int = 2, maxArg: Int = 3)
        throws(CommandError)
    {
        switch req.kind {
        case .rank:
            _ = try ctx.int64(minArg)
            _ = try ctx.int64(maxArg)
        case .score:
            _ = try scoreBound(ctx, minArg)
            _ = try scoreBound(ctx, maxArg)
        case .lex:
            _ = try lexBound(ctx, minArg)
            _ = try lexBound(ctx, maxArg)
        }
    }

    static func legacyRange(_ ctx: CommandContext, kind: RangeKind, reverse: Bool) throws(CommandError) -> Reply {
        var req = RangeRequest()
        req.kind = kind
        req.reverse = reverse
        try options(ctx, from: 4, &req, allowKind: false)
        if kind == .rank && req.hasLimit { throw .syntax }
        if kind == .lex && req.withScores { throw .syntax }
        let minArg = reverse && kind != .rank ? 3 : 2
        let maxArg = reverse && kind != .rank ? 2 : 3
        guard let z = try readZset(ctx) else {
            var check = req
            check.kind = kind
            try validateBounds(ctx, check)
            return .emptyArray
        }
        return reply(ctx, try select(ctx, z, req, minArg: minArg, maxArg: maxArg), withScores: req.withScores)
    }

    /// ZREVRANGE key start stop [WITHSCORES]
    static func zrevrange(_ ctx: CommandContext) throws(CommandError) -> Reply {
        try legacyRange(ctx, kind: .rank, reverse: true)
    }
    /// ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]
    static func zrangebyscore(_ ctx: CommandContext) throws(CommandError) -> Reply {
        try legacyRange(ctx, kind: .score, reverse: false)
    }
    /// ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]
    static func zrevrangebyscore(_ ctx: CommandContext) throws(CommandError) -> Reply {
        try legacyRange(ctx, kind: .score, reverse: true)
    }
    /// ZRANGEBYLEX key min max [LIMIT offset count]
    static func zrangebylex(_ ctx: CommandContext) throws(CommandError) -> Reply {
        try legacyRange(ctx, kind: .lex, reverse: false)
    }
    /// ZREVRANGEBYLEX key max min [LIMIT offset count]
    static func zrevrangebylex(_ ctx: CommandContext) throws(CommandError) -> Reply {
        try legacyRange(ctx, kind: .lex, reverse: true)
    }

    /// ZLEXCOUNT key min max
    static func zlexcount(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let lo = try lexBound(ctx, 2)
        let hi = try lexBound(ctx, 3)
        guard let z = try readZset(ctx) else { return .zero }
        return .integer(Int64(lexRange(z, lo, hi, reverse: false).count))
    }

    static func removeRange(_ ctx: CommandContext, kind: RangeKind) throws(CommandError) -> Reply {
        var req = RangeRequest()
        req.kind = kind
        guard let z = try writeZset(ctx) else {
            try validateBounds(ctx, req)
            return .zero
        }
        let victims = try select(ctx, z, req, minArg: 2, maxArg: 3)
        for e in victims { z.remove(e.member) }
        if !victims.isEmpty { ctx.markDirty(victims.count) }
        deleteIfEmpty(ctx, z)
        return .integer(Int64(victims.count))
    }

    /// ZREMRANGEBYRANK key start stop
    static func zremrangebyrank(_ ctx: CommandContext) throws(CommandError) -> Reply {
        try removeRange(ctx, kind: .rank)
    }
    /// ZREMRANGEBYSCORE key min max
    static func zremrangebyscore(_ ctx: CommandContext) throws(CommandError) -> Reply {
        try removeRange(ctx, kind: .score)
    }
    /// ZREMRANGEBYLEX key min max
    static func zremrangebylex(_ ctx: CommandContext) throws(CommandError) -> Reply {
        try removeRange(ctx, kind: .lex)
    }

    static func popGeneric(_ ctx: CommandContext, max: Bool) throws(CommandError) -> Reply {
        if ctx.argc > 3 { throw .syntax }
        var count = 1
        if ctx.argc == 3 {
            guard let n = parseInt64(ctx.arg(2)) else { throw .notInteger }
            if n < 0 { throw .mustBePositive }
            count = Int(clamping: n)
        }
        guard let z = try writeZset(ctx) else { return .emptyArray }
        var popped: [SortedSetValue.Entry] = []
        for _ in 0..<min(count, z.count) {
            let e = max ? z.entries[z.count - 1] : z.entries[0]
            z.remove(e.member)
            popped.append(e)
        }
        if !popped.isEmpty { ctx.markDirty(popped.count) }
        deleteIfEmpty(ctx, z)
        // Without a count, even in RESP3 the reply is a flat [member, score].
        if ctx.argc == 2, let e = popped.first { return .array([.bulk(e.member), .double(e.score)]) }
        return reply(ctx, popped, withScores: true)
    }

    /// ZPOPMIN key [count]
    static func zpopmin(_ ctx: CommandContext) throws(CommandError) -> Reply { try popGeneric(ctx, max: false) }
    /// ZPOPMAX key [count]
    static func zpopmax(_ ctx: CommandContext) throws(CommandError) -> Reply { try popGeneric(ctx, max: true) }
}

extension CommandTable {
    static let sortedSetRegistrations: [(String, Handler)] = [
        ("zadd", SortedSetCommands.zadd),
        ("zincrby", SortedSetCommands.zincrby),
        ("zrem", SortedSetCommands.zrem),
        ("zcard", SortedSetCommands.zcard),
        ("zscore", SortedSetCommands.zscore),
        ("zmscore", SortedSetCommands.zmscore),
        ("zcount", SortedSetCommands.zcount),
        ("zlexcount", SortedSetCommands.zlexcount),
        ("zrank", SortedSetCommands.zrank),
        ("zrevrank", SortedSetCommands.zrevrank),
        ("zrange", SortedSetCommands.zrange),
        ("zrevrange", SortedSetCommands.zrevrange),
        ("zrangebyscore", SortedSetCommands.zrangebyscore),
        ("zrevrangebyscore", SortedSetCommands.zrevrangebyscore),
        ("zrangebylex", SortedSetCommands.zrangebylex),
        ("zrevrangebylex", SortedSetCommands.zrevrangebylex),
        ("zremrangebyrank", SortedSetCommands.zremrangebyrank),
        ("zremrangebyscore", SortedSetCommands.zremrangebyscore),
        ("zremrangebylex", SortedSetCommands.zremrangebylex),
        ("zpopmin", SortedSetCommands.zpopmin),
        ("zpopmax", SortedSetCommands.zpopmax),
    ]
}
