import DataStore
import RESP
import Server
import ServerConfig

/// The stream commands (Redis's t_stream.c): entries, trimming, consumer groups with their
/// pending entries lists, blocking reads.
enum StreamCommands {
    /// The stream at `slot`, or WRONGTYPE.
    static func stream(_ ctx: CommandContext, _ slot: Int) throws(CommandError) -> StreamValue {
        guard case .stream(let s) = ctx.db.table[slot].value else { throw .wrongType }
        return s
    }

    static func readStream(_ ctx: CommandContext, _ arg: Int) throws(CommandError) -> StreamValue? {
        guard let slot = ctx.lookupRead(arg) else { return nil }
        return try stream(ctx, slot)
    }

    static func writeStream(_ ctx: CommandContext, _ arg: Int) throws(CommandError) -> StreamValue? {
        guard let slot = ctx.lookupWrite(arg) else { return nil }
        return try stream(ctx, slot)
    }

    /// An ID argument (`-` and `+` allowed unless `strict`).
    static func id(_ ctx: CommandContext, _ i: Int, missingSeq: UInt64 = 0, strict: Bool = false)
        throws(CommandError) -> StreamID
    {
        guard let parsed = StreamID.parse(ctx.arg(i), missingSeq: missingSeq, strict: strict) else {
            throw .invalidStreamID
        }
        return parsed.0
    }

    /// A range bound: `(` makes it exclusive (streamParseIntervalIDOrReply).
    static func intervalID(_ ctx: CommandContext, _ i: Int, missingSeq: UInt64) throws(CommandError) -> (
        StreamID, exclusive: Bool
    ) {
        let a = ctx.arg(i)
        if a.count > 1 && a.first == UInt8(ascii: "(") {
            guard let parsed = StreamID.parse(a.dropFirst(), missingSeq: missingSeq, strict: true) else {
                throw .invalidStreamID
            }
            return (parsed.0, true)
        }
        return (try id(ctx, i, missingSeq: missingSeq), false)
    }

    static func idReply(_ id: StreamID) -> Reply { .bulk(id.bytes) }

    /// The time stream IDs and delivery times are taken from: the command's time, except
    /// while an AOF loads (its clock is held back for key expiry, not for this).
    @inline(__always)
    static func clock(_ ctx: CommandContext) -> Int64 {
        ctx.session.isLoader ? ctx.server.clock() : ctx.now
    }

    static func entryReply(_ e: StreamValue.Entry) -> Reply {
        .array([idReply(e.id), .array(e.fields.map { .bulk($0) })])
    }

    static func notify(_ ctx: CommandContext, _ event: String, key arg: Int) {
        guard ctx.config.limits.keyspaceEvents.contains(.stream) else { return }
        ctx.deferredEvents.append((.stream, event, arg))
    }

    static func allArguments(_ ctx: CommandContext) -> [[UInt8]] {
        (0..<ctx.argc).map { ctx.argBytes($0) }
    }

    // MARK: XADD, XTRIM

    /// XADD's and XTRIM's options (streamParseAddOrTrimArgsOrReply).
    struct AddTrimArguments {
        var strategy: StreamValue.TrimStrategy?
        var approximate = false
        var limit: Int64 = 0
        var limitGiven = false
        /// Where the MAXLEN/MINID threshold is, and the LIMIT keyword (for the AOF form).
        var thresholdArg = 0
        var limitArg = 0
        var noMakeStream = false
        var id: StreamID?
        var idForm = StreamID.Form.complete
        /// XADD's ID argument.
        var idArg = 0
    }

    static func parseAddTrim(_ ctx: CommandContext, xadd: Bool) throws(CommandError) -> AddTrimArguments {
        var a = AddTrimArguments()
        var i = 2
        while i < ctx.argc {
            let more = ctx.argc - 1 - i
            let opt = ctx.arg(i)
            if xadd && opt.count == 1 && opt.first == UInt8(ascii: "*") {
                break
            } else if (ctx.argIs(i, "maxlen") || ctx.argIs(i, "minid")) && more > 0 {
                if a.strategy != nil { throw .maxlenAndMinid }
                let isMaxlen = ctx.argIs(i, "maxlen")
                a.approximate = false
                let next = ctx.arg(i + 1)
                if more >= 2 && next.count == 1 && next.first == UInt8(ascii: "~") {
                    a.approximate = true
                    i += 1
                } else if more >= 2 && next.count == 1 && next.first == UInt8(ascii: "=") {
                    i += 1
                }
                if isMaxlen {
                    let n = try ctx.int64(i + 1)
                    if n < 0 { throw .maxlenNegative }
                    a.strategy = .maxLength(n)
                } else {
                    a.strategy = .minID(try id(ctx, i + 1, strict: true))
                }
                i += 1
                a.thresholdArg = i
            } else if ctx.argIs(i, "limit") && more > 0 {
                a.limit = try ctx.int64(i + 1)
                if a.limit < 0 { throw .limitArgumentNegative }
                a.limitGiven = true
                a.limitArg = i
                i += 1
            } else if xadd && ctx.argIs(i, "nomkstream") {
                a.noMakeStream = true
            } else if xadd {
                guard let parsed = StreamID.parse(opt, strict: true, allowAutoSequence: true) else {
                    throw .invalidStreamID
                }
                a.id = parsed.0
                a.idForm = parsed.1
                break
            } else {
                throw .syntax
            }
            i += 1
        }
        a.idArg = i
        if a.limit != 0 && a.strategy == nil { throw .limitWithoutStrategy }
        if !xadd && a.strategy == nil { throw .xtrimWithoutStrategy }
        if ctx.session.isLoader {
            // The AOF holds exact trims: no work limit applies when replaying them.
            a.limit = 0
        } else if a.limitGiven {
            if !a.approximate { throw .limitWithoutApprox }
        } else if a.approximate {
            // Redis caps an approximate trim's work at 100 nodes.
            a.limit = 100 * ctx.config.limits.streamNodeMaxEntries
        } else {
            a.limit = 0
        }
        return a
    }

    /// The trim as the AOF replays it: `=` and the resulting length or first ID, no LIMIT
    /// (streamRewriteApproxSpecifier and streamRewriteTrimArgument).
    static func exactTrimArguments(_ ctx: CommandContext, _ a: AddTrimArguments, _ s: StreamValue, upTo end: Int)
        -> [[UInt8]]
    {
        var out: [[UInt8]] = []
        var i = 0
        while i < end {
            if a.limitGiven && i == a.limitArg {
                i += 2
                continue
            }
            if a.approximate && i == a.thresholdArg - 1 {
                out.append([UInt8(ascii: "=")])
            } else if a.approximate && i == a.thresholdArg {
                if case .maxLength = a.strategy {
                    out.append(formatInt64(Int64(s.length)))
                } else {
                    out.append((s.firstLiveID ?? .zero).bytes)
                }
            } else {
                out.append(ctx.argBytes(i))
            }
            i += 1
        }
        return out
    }

    /// XADD key [NOMKSTREAM] [<MAXLEN | MINID> [= | ~] threshold [LIMIT count]] <* | id> field value
    /// [field value ...]
    static func xadd(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let a = try parseAddTrim(ctx, xadd: true)
        let fieldsAt = a.idArg + 1
        let fieldArgs = ctx.argc - fieldsAt
        if fieldArgs < 2 || fieldArgs % 2 == 1 { throw .wrongArity("xadd") }
        if let id = a.id, a.idForm != .autoSequence, id == .zero { throw .xaddIDZero }
        let s: StreamValue
        if let existing = try writeStream(ctx, 1) {
            s = existing
        } else {
            if a.noMakeStream { return .null }
            s = StreamValue()
            ctx.db.table.insertNew(ctx.argBytes(1), value: .stream(s))
        }
        if s.lastID == .max { throw .streamExhausted }
        let newID: StreamID
        if let given = a.id {
            if a.idForm == .autoSequence {
                if s.lastID.ms == given.ms {
                    guard let next = s.lastID.next, s.lastID.seq != .max else { throw .xaddIDTooSmall }
                    newID = next
                } else {
                    newID = given
                }
            } else {
                newID = given
            }
            if newID <= s.lastID { throw .xaddIDTooSmall }
        } else {
            let now = UInt64(max(0, clock(ctx)))
            newID = now > s.lastID.ms ? StreamID(ms: now, seq: 0) : (s.lastID.next ?? .max)
        }
        var fields: [[UInt8]] = []
        fields.reserveCapacity(fieldArgs)
        for i in fieldsAt..<ctx.argc { fields.append(ctx.argBytes(i)) }
        let limits = ctx.config.limits
        s.append(
            newID, fields: fields, nodeMaxBytes: Int(limits.streamNodeMaxBytes),
            nodeMaxEntries: Int(limits.streamNodeMaxEntries))
        notify(ctx, "xadd", key: 1)
        ctx.markDirty()
        if let strategy = a.strategy {
            if s.trim(strategy, approximate: a.approximate, limit: a.limit) > 0 { notify(ctx, "xtrim", key: 1) }
        }
        if ctx.propagating {
            var args = exactTrimArguments(ctx, a, s, upTo: a.idArg)
            args.append(newID.bytes)
            for i in fieldsAt..<ctx.argc { args.append(ctx.argBytes(i)) }
            ctx.propagate(as: args)
        }
        ctx.signalReady(1)
        return idReply(newID)
    }

    /// XTRIM key <MAXLEN | MINID> [= | ~] threshold [LIMIT count]
    static func xtrim(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let a = try parseAddTrim(ctx, xadd: false)
        guard let s = try writeStream(ctx, 1), let strategy = a.strategy else { return .zero }
        let deleted = s.trim(strategy, approximate: a.approximate, limit: a.limit)
        if deleted > 0 {
            notify(ctx, "xtrim", key: 1)
            ctx.markDirty(Int(deleted))
            if ctx.propagating { ctx.propagate(as: exactTrimArguments(ctx, a, s, upTo: ctx.argc)) }
        }
        return .integer(deleted)
    }

    // MARK: Reading

    static func rangeGeneric(_ ctx: CommandContext, reverse: Bool) throws(CommandError) -> Reply {
        let startArg = reverse ? 3 : 2
        let endArg = reverse ? 2 : 3
        var (start, startExclusive) = try intervalID(ctx, startArg, missingSeq: 0)
        if startExclusive {
            guard let next = start.next else { throw .invalidStartInterval }
            start = next
        }
        var (end, endExclusive) = try intervalID(ctx, endArg, missingSeq: .max)
        if endExclusive {
            guard let previous = end.previous else { throw .invalidEndInterval }
            end = previous
        }
        var count: Int64 = -1
        var j = 4
        while j < ctx.argc {
            if ctx.argIs(j, "count") && j + 1 < ctx.argc {
                count = max(0, try ctx.int64(j + 1))
                j += 2
            } else {
                throw .syntax
            }
        }
        guard let s = try readStream(ctx, 1) else { return .emptyArray }
        if count == 0 { return .nullArray }
        let entries = s.range(
            from: start, to: end, count: count < 0 ? 0 : Int(min(count, Int64(Int.max))), reverse: reverse)
        return .array(entries.map(entryReply))
    }

    /// XRANGE key start end [COUNT count]
    static func xrange(_ ctx: CommandContext) throws(CommandError) -> Reply { try rangeGeneric(ctx, reverse: false) }
    /// XREVRANGE key end start [COUNT count]
    static func xrevrange(_ ctx: CommandContext) throws(CommandError) -> Reply {
        try rangeGeneric(ctx, reverse: true)
    }

    /// XLEN key
    static func xlen(_ ctx: CommandContext) throws(CommandError) -> Reply {
        guard let s = try readStream(ctx, 1) else { return .zero }
        return .integer(Int64(s.length))
    }

    /// XDEL key id [id ...]
    static func xdel(_ ctx: CommandContext) throws(CommandError) -> Reply {
        guard let s = try writeStream(ctx, 1) else { return .zero }
        var ids: [StreamID] = []
        for j in 2..<ctx.argc { ids.append(try id(ctx, j, strict: true)) }
        var deleted = 0
        var firstDeleted = false
        for id in ids where s.delete(id) {
            if id == s.firstID { firstDeleted = true }
            if id > s.maxDeletedID { s.maxDeletedID = id }
            deleted += 1
        }
        if deleted > 0 {
            if s.length == 0 {
                s.firstID = .zero
            } else if firstDeleted {
                s.firstID = s.firstLiveID ?? .zero
            }
            notify(ctx, "xdel", key: 1)
            ctx.markDirty(deleted)
        }
        return .integer(Int64(deleted))
    }

    /// XSETID key last-id [ENTRIESADDED entries-added] [MAXDELETEDID max-deleted-id]
    static func xsetid(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let newID = try id(ctx, 2, strict: true)
        var entriesAdded: Int64 = -1
        var maxDeleted = StreamID.zero
        var i = 3
        while i < ctx.argc {
            let more = ctx.argc - 1 - i
            if ctx.argIs(i, "entriesadded") && more > 0 {
                entriesAdded = try ctx.int64(i + 1)
                if entriesAdded < 0 { throw .entriesAddedNegative }
            } else if ctx.argIs(i, "maxdeletedid") && more > 0 {
                maxDeleted = try id(ctx, i + 1, strict: true)
                if newID < maxDeleted { throw .xsetidBelowGivenMaxDeleted }
            } else {
                throw .syntax
            }
            i += 2
        }
        guard let s = try writeStream(ctx, 1) else { throw .noSuchKey }
        if newID < s.maxDeletedID { throw .xsetidBelowMaxDeleted }
        if s.length > 0 {
            if newID < s.lastLiveID { throw .xsetidBelowTop }
            if entriesAdded != -1 && Int64(s.length) > entriesAdded { throw .xsetidEntriesAddedBelowLength }
        }
        s.lastID = newID
        if entriesAdded != -1 { s.entriesAdded = entriesAdded }
        if maxDeleted != .zero { s.maxDeletedID = maxDeleted }
        notify(ctx, "xsetid", key: 1)
        ctx.markDirty()
        return .ok
    }

    // MARK: XREAD, XREADGROUP

    /// XREAD [COUNT count] [BLOCK milliseconds] STREAMS key [key ...] id [id ...]
    static func xread(_ ctx: CommandContext) throws(CommandError) -> Reply { try readGeneric(ctx, group: false) }

    /// XREADGROUP GROUP group consumer [COUNT count] [BLOCK milliseconds] [NOACK] STREAMS key
    /// [key ...] id [id ...]
    static func xreadgroup(_ ctx: CommandContext) throws(CommandError) -> Reply {
        try readGeneric(ctx, group: true)
    }

    static func readGeneric(_ ctx: CommandContext, group isGroupRead: Bool) throws(CommandError) -> Reply {
        var timeout: Int64 = -1
        var count: Int64 = 0
        var streamsArg = 0
        var streamCount = 0
        var noAck = false
        var groupName: [UInt8]?
        var consumerName: [UInt8] = []
        let name = isGroupRead ? "xreadgroup" : "xread"
        var i = 1
        while i < ctx.argc {
            let more = ctx.argc - i - 1
            if ctx.argIs(i, "block") && more > 0 {
                // Scripts may not block, and Redis refuses BLOCK there outright.
                if ctx.session.isScriptClient {
                    throw .generic("\(ctx.argString(0)) command is not allowed with BLOCK option from scripts")
                }
                i += 1
                guard let t = parseInt64(ctx.arg(i)) else { throw .timeoutNotInteger }
                if t < 0 { throw .timeoutNegative }
                if t > Int64.max - ctx.now { throw .timeoutOutOfRange }
                timeout = t
            } else if ctx.argIs(i, "count") && more > 0 {
                i += 1
                count = max(0, try ctx.int64(i))
            } else if ctx.argIs(i, "streams") && more > 0 {
                streamsArg = i + 1
                streamCount = ctx.argc - streamsArg
                if streamCount % 2 != 0 { throw .unbalancedStreams(name, isGroupRead ? ">" : "$") }
                streamCount /= 2
                break
            } else if ctx.argIs(i, "group") && more >= 2 {
                if !isGroupRead { throw .groupOnlyInXreadgroup }
                groupName = ctx.argBytes(i + 1)
                consumerName = ctx.argBytes(i + 2)
                i += 2
            } else if ctx.argIs(i, "noack") {
                if !isGroupRead { throw .noackOnlyInXreadgroup }
                noAck = true
            } else {
                throw .syntax
            }
            i += 1
        }
        if streamsArg == 0 { throw .syntax }
        if isGroupRead && groupName == nil { throw .missingGroupOption }

        // The IDs, and each stream's group, before anything is served.
        let resumed = ctx.resumedStreamIDs
        var ids: [StreamID] = []
        var newOnly: [Bool] = []
        var groups: [StreamConsumerGroup?] = []
        for k in 0..<streamCount {
            let keyArg = streamsArg + k
            let idArg = streamsArg + streamCount + k
            if resumed != nil && isGroupRead {
                // The wait ends when what it waited on is gone.
                guard let slot = ctx.lookupRead(keyArg), case .stream(let s) = ctx.db.table[slot].value else {
                    throw .streamKeyGone
                }
                if s.group(groupName ?? []) == nil { throw .blockedGroupGone }
            }
            let s = try readStream(ctx, keyArg)
            var group: StreamConsumerGroup?
            if let groupName {
                guard let s, let g = s.group(groupName) else {
                    throw .noGroupInXreadgroup(ctx.argBytes(keyArg), groupName)
                }
                group = g
            }
            groups.append(group)
            let idText = ctx.arg(idArg)
            if idText.count == 1 && idText.first == UInt8(ascii: "$") {
                if isGroupRead { throw .dollarInXreadgroup }
                ids.append(resumed?[k] ?? s?.lastID ?? .zero)
                newOnly.append(false)
            } else if idText.count == 1 && idText.first == UInt8(ascii: ">") {
                if !isGroupRead { throw .greaterThanOnlyInXreadgroup }
                ids.append(.max)
                newOnly.append(true)
            } else if !isGroupRead && idText.count == 1 && idText.first == UInt8(ascii: "+") {
                // Redis 7.4: `+` reads the stream's last entry.
                ids.append(resumed?[k] ?? s.map { $0.lastLiveID.previous ?? .zero } ?? .zero)
                newOnly.append(false)
            } else {
                ids.append(try id(ctx, idArg, strict: true))
                newOnly.append(false)
            }
        }
        if resumed != nil && count == 0 { count = 1000 }

        var served: [(key: [UInt8], entries: Reply)] = []
        var propagation: [[[UInt8]]] = []
        let now = clock(ctx)
        for k in 0..<streamCount {
            let keyArg = streamsArg + k
            guard let s = try readStream(ctx, keyArg) else { continue }
            var after = ids[k]
            var serve = false
            var history = false
            var consumer: StreamConsumer?
            if let group = groups[k] {
                if !newOnly[k] {
                    serve = true
                    history = true
                } else if s.length > 0 && s.lastLiveID > group.lastID {
                    serve = true
                    after = group.lastID
                }
            } else if s.length > 0 && s.lastLiveID > after {
                serve = true
            }
            guard serve else { continue }
            // The consumer is looked up (and created) only when there is something to serve.
            if let group = groups[k] {
                if let existing = group.consumer(consumerName) {
                    consumer = existing
                } else {
                    consumer = group.createConsumer(consumerName, now: now)
                    notify(ctx, "xgroup-createconsumer", key: keyArg)
                    ctx.markDirty()
                    // With NOACK nothing pending names the consumer: its creation is logged
                    // on its own (Redis's streamPropagateConsumerCreation).
                    if noAck && ctx.propagating {
                        propagation.append([
                            Array("XGROUP".utf8), Array("CREATECONSUMER".utf8), ctx.argBytes(keyArg), group.name,
                            consumerName,
                        ])
                    }
                }
                consumer?.seenTime = now
            }
            let limit = Int(min(count, Int64(Int.max)))
            if let group = groups[k], let consumer {
                if history {
                    served.append(
                        (ctx.argBytes(keyArg), historyReply(s, consumer, group, after: after, count: limit, now: now)))
                } else {
                    let start = after.next ?? .max
                    let entries = s.range(from: start, to: .max, count: limit)
                    for e in entries {
                        deliver(s, group, consumer, e.id, noAck: noAck, now: now)
                        if !noAck && ctx.propagating {
                            propagation.append(
                                claimPropagation(ctx.argBytes(keyArg), group, consumer, e.id, group.nacks[e.id]))
                        }
                    }
                    if !entries.isEmpty {
                        consumer.activeTime = now
                        if noAck && ctx.propagating {
                            propagation.append(setIDPropagation(ctx.argBytes(keyArg), group))
                        }
                    }
                    served.append((ctx.argBytes(keyArg), .array(entries.map(entryReply))))
                }
                ctx.markDirty()
            } else {
                let entries = s.range(from: after.next ?? .max, to: .max, count: limit)
                served.append((ctx.argBytes(keyArg), .array(entries.map(entryReply))))
            }
        }
        if ctx.propagating && isGroupRead {
            ctx.propagate(propagation)
        }
        if !served.isEmpty {
            if ctx.session.resp3 {
                return .map(served.flatMap { [.bulk($0.key), $0.entries] })
            }
            return .array(served.map { .array([.bulk($0.key), $0.entries]) })
        }
        if timeout >= 0 {
            return BlockingCommands.block(
                ctx, keys: streamsArg..<(streamsArg + streamCount), deadline: timeout == 0 ? nil : clock(ctx) + timeout,
                timeoutReply: .nullArray, awaits: "stream", streamIDs: resumed ?? ids, groupRead: isGroupRead)
        }
        return .nullArray
    }

    /// A new entry read through a group: the group's position and read counter move, and
    /// the entry becomes pending for the consumer unless NOACK.
    static func deliver(
        _ s: StreamValue, _ group: StreamConsumerGroup, _ consumer: StreamConsumer, _ id: StreamID, noAck: Bool,
        now: Int64
    ) {
        if id > group.lastID {
            if group.entriesRead != StreamConsumerGroup.invalidEntriesRead && !s.rangeHasTombstones(from: id) {
                group.entriesRead += 1
            } else if s.entriesAdded > 0 {
                group.entriesRead = s.estimateEntriesRead(upTo: id)
            }
            group.lastID = id
        }
        guard !noAck else { return }
        if let nack = group.nacks[id] {
            // Pending for another consumer (after XGROUP SETID moved the group back).
            nack.consumer?.pel.remove(id)
            nack.consumer = consumer
            nack.deliveryTime = now
            nack.deliveryCount = 1
            consumer.pel.insert(id)
        } else {
            group.addPending(id, StreamNACK(deliveryTime: now, deliveryCount: 1, consumer: consumer))
            consumer.pel.insert(id)
        }
    }

    /// XREADGROUP with an ID: the consumer's own pending entries after it; entries deleted
    /// since show as the ID with a null.
    static func historyReply(
        _ s: StreamValue, _ consumer: StreamConsumer, _ group: StreamConsumerGroup, after: StreamID, count: Int,
        now: Int64
    ) -> Reply {
        var items: [Reply] = []
        guard let start = after.next else { return .emptyArray }
        var i = consumer.pel.lowerBound(start)
        while i < consumer.pel.count && (count == 0 || items.count < count) {
            let id = consumer.pel.ids[i]
            if let e = s.entry(id) {
                items.append(entryReply(e))
                if let nack = group.nacks[id] {
                    nack.deliveryTime = now
                    nack.deliveryCount += 1
                }
            } else {
                items.append(.array([idReply(id), .nullArray]))
            }
            i += 1
        }
        return .array(items)
    }

    /// streamPropagateXCLAIM: XCLAIM key group consumer 0 id TIME ms RETRYCOUNT n FORCE
    /// JUSTID LASTID last-id.
    static func claimPropagation(
        _ key: [UInt8], _ group: StreamConsumerGroup, _ consumer: StreamConsumer, _ id: StreamID, _ nack: StreamNACK?
    ) -> [[UInt8]] {
        [
            Array("XCLAIM".utf8), key, group.name, consumer.name, [UInt8(ascii: "0")], id.bytes, Array("TIME".utf8),
            formatInt64(nack?.deliveryTime ?? 0), Array("RETRYCOUNT".utf8), formatInt64(nack?.deliveryCount ?? 0),
            Array("FORCE".utf8), Array("JUSTID".utf8), Array("LASTID".utf8), group.lastID.bytes,
        ]
    }

    /// streamPropagateGroupID: XGROUP SETID key group id ENTRIESREAD n.
    static func setIDPropagation(_ key: [UInt8], _ group: StreamConsumerGroup) -> [[UInt8]] {
        [
            Array("XGROUP".utf8), Array("SETID".utf8), key, group.name, group.lastID.bytes,
            Array("ENTRIESREAD".utf8), formatInt64(group.entriesRead),
        ]
    }

    // MARK: Consumer groups

    /// XGROUP CREATE key group <id | $> [MKSTREAM] [ENTRIESREAD entries-read]
    static func xgroupCreate(_ ctx: CommandContext) throws(CommandError) -> Reply {
        var makeStream = false
        var entriesRead = StreamConsumerGroup.invalidEntriesRead
        if ctx.argc > 8 { throw .subcommandSyntax(ctx.argBytes(1), container: "XGROUP") }
        var i = 5
        while i < ctx.argc {
            if ctx.argIs(i, "mkstream") {
                makeStream = true
                i += 1
            } else if ctx.argIs(i, "entriesread") && i + 1 < ctx.argc {
                entriesRead = try ctx.int64(i + 1)
                if entriesRead < 0 && entriesRead != StreamConsumerGroup.invalidEntriesRead {
                    throw .entriesReadInvalid
                }
                i += 2
            } else {
                throw .subcommandSyntax(ctx.argBytes(1), container: "XGROUP")
            }
        }
        var s = try writeStream(ctx, 2)
        if s == nil && !makeStream { throw .xgroupKeyMissing }
        let start: StreamID
        let idText = ctx.arg(4)
        if idText.count == 1 && idText.first == UInt8(ascii: "$") {
            start = s?.lastID ?? .zero
        } else {
            start = try id(ctx, 4, strict: true)
        }
        if s == nil {
            let created = StreamValue()
            ctx.db.table.insertNew(ctx.argBytes(2), value: .stream(created))
            s = created
            ctx.markDirty()
        }
        guard s!.createGroup(ctx.argBytes(3), lastID: start, entriesRead: entriesRead) != nil else {
            throw .busyGroup
        }
        notify(ctx, "xgroup-create", key: 2)
        ctx.markDirty()
        return .ok
    }

    /// The stream and group XGROUP's subcommands other than CREATE work on.
    static func existingGroup(_ ctx: CommandContext) throws(CommandError) -> (StreamValue, StreamConsumerGroup?) {
        guard let s = try writeStream(ctx, 2) else { throw .xgroupKeyMissing }
        return (s, s.group(ctx.arg(3)))
    }

    /// XGROUP SETID key group <id | $> [ENTRIESREAD entries-read]
    static func xgroupSetid(_ ctx: CommandContext) throws(CommandError) -> Reply {
        var entriesRead = StreamConsumerGroup.invalidEntriesRead
        if ctx.argc != 5 && ctx.argc != 7 { throw .subcommandSyntax(ctx.argBytes(1), container: "XGROUP") }
        if ctx.argc == 7 {
            guard ctx.argIs(5, "entriesread") else { throw .subcommandSyntax(ctx.argBytes(1), container: "XGROUP") }
            entriesRead = try ctx.int64(6)
            if entriesRead < 0 && entriesRead != StreamConsumerGroup.invalidEntriesRead {
                throw .entriesReadInvalid
            }
        }
        let (s, group) = try existingGroup(ctx)
        guard let group else { throw .noGroupForKey(ctx.argBytes(3), ctx.argBytes(2)) }
        let idText = ctx.arg(4)
        if idText.count == 1 && idText.first == UInt8(ascii: "$") {
            group.lastID = s.lastID
        } else {
            group.lastID = try id(ctx, 4)
        }
        group.entriesRead = entriesRead
        notify(ctx, "xgroup-setid", key: 2)
        ctx.markDirty()
        return .ok
    }

    /// XGROUP DESTROY key group
    static func xgroupDestroy(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let (s, group) = try existingGroup(ctx)
        guard group != nil else { return .zero }
        s.destroyGroup(ctx.arg(3))
        notify(ctx, "xgroup-destroy", key: 2)
        ctx.markDirty()
        // Consumers blocked on the group get their NOGROUP error.
        ctx.signalReady(2)
        return .one
    }

    /// XGROUP CREATECONSUMER key group consumer
    static func xgroupCreateconsumer(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let (_, group) = try existingGroup(ctx)
        guard let group else { throw .noGroupForKey(ctx.argBytes(3), ctx.argBytes(2)) }
        guard group.createConsumer(ctx.argBytes(4), now: clock(ctx)) != nil else { return .zero }
        notify(ctx, "xgroup-createconsumer", key: 2)
        ctx.markDirty()
        return .one
    }

    /// XGROUP DELCONSUMER key group consumer
    static func xgroupDelconsumer(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let (_, group) = try existingGroup(ctx)
        guard let group else { throw .noGroupForKey(ctx.argBytes(3), ctx.argBytes(2)) }
        guard let pending = group.deleteConsumer(ctx.arg(4)) else { return .zero }
        notify(ctx, "xgroup-delconsumer", key: 2)
        ctx.markDirty()
        return .integer(Int64(pending))
    }

    /// XGROUP HELP
    static func xgroupHelp(_ ctx: CommandContext) throws(CommandError) -> Reply {
        helpReply(
            "XGROUP",
            [
                "CREATE <key> <groupname> <id|$> [option]",
                "    Create a new consumer group. Options are:",
                "    * MKSTREAM",
                "      Create the empty stream if it does not exist.",
                "    * ENTRIESREAD entries_read",
                "      Set the group's entries_read counter (internal use).",
                "CREATECONSUMER <key> <groupname> <consumer>",
                "    Create a new consumer in the specified group.",
                "DELCONSUMER <key> <groupname> <consumer>",
                "    Remove the specified consumer.",
                "DESTROY <key> <groupname>",
                "    Remove the specified group.",
                "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
                "    Set the current group ID and entries_read counter.",
            ])
    }

    /// XACK key group id [id ...]
    static func xack(_ ctx: CommandContext) throws(CommandError) -> Reply {
        guard let s = try readStream(ctx, 1), let group = s.group(ctx.arg(2)) else { return .zero }
        var ids: [StreamID] = []
        for j in 3..<ctx.argc { ids.append(try id(ctx, j, strict: true)) }
        var acknowledged = 0
        for id in ids where group.acknowledge(id) { acknowledged += 1 }
        if acknowledged > 0 { ctx.markDirty(acknowledged) }
        return .integer(Int64(acknowledged))
    }

    /// XPENDING key group [[IDLE min-idle-time] start end count [consumer]]
    static func xpending(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let summary = ctx.argc == 3
        if ctx.argc != 3 && (ctx.argc < 6 || ctx.argc > 9) { throw .syntax }
        var start = StreamID.zero
        var end = StreamID.max
        var count: Int64 = 0
        var minIdle: Int64 = 0
        var consumerName: [UInt8]?
        if ctx.argc >= 6 {
            var at = 3
            if ctx.argIs(3, "idle") {
                minIdle = try ctx.int64(4)
                if ctx.argc < 8 { throw .syntax }
                at += 2
            }
            count = max(0, try ctx.int64(at + 2))
            let (s, startExclusive) = try intervalID(ctx, at, missingSeq: 0)
            start = s
            if startExclusive {
                guard let next = start.next else { throw .invalidStartInterval }
                start = next
            }
            let (e, endExclusive) = try intervalID(ctx, at + 1, missingSeq: .max)
            end = e
            if endExclusive {
                guard let previous = end.previous else { throw .invalidEndInterval }
                end = previous
            }
            if at + 3 < ctx.argc { consumerName = ctx.argBytes(at + 3) }
        }
        guard let s = try readStream(ctx, 1), let group = s.group(ctx.arg(2)) else {
            throw .noSuchKeyOrGroup(ctx.argBytes(1), ctx.argBytes(2))
        }
        if summary {
            guard let first = group.pel.ids.first, let last = group.pel.ids.last else {
                return .array([.zero, .null, .null, .nullArray])
            }
            var owners: [Reply] = []
            for c in group.consumers where !c.pel.isEmpty {
                owners.append(.array([.bulk(c.name), .bulk(formatInt64(Int64(c.pel.count)))]))
            }
            return .array([.integer(Int64(group.pel.count)), idReply(first), idReply(last), .array(owners)])
        }
        let pel: SortedStreamIDs
        if let consumerName {
            guard let c = group.consumer(consumerName) else { return .emptyArray }
            pel = c.pel
        } else {
            pel = group.pel
        }
        let now = clock(ctx)
        var items: [Reply] = []
        var i = pel.lowerBound(start)
        while count > 0 && i < pel.count && pel.ids[i] <= end {
            let id = pel.ids[i]
            i += 1
            guard let nack = group.nacks[id] else { continue }
            if minIdle > 0 && now - nack.deliveryTime < minIdle { continue }
            count -= 1
            items.append(
                .array([
                    idReply(id), .bulk(nack.consumer?.name ?? []), .integer(max(0, now - nack.deliveryTime)),
                    .integer(nack.deliveryCount),
                ]))
        }
        return .array(items)
    }

    /// The consumer that claims entries, created on first use.
    static func claimingConsumer(_ ctx: CommandContext, _ group: StreamConsumerGroup, _ keyArg: Int, _ nameArg: Int)
        -> StreamConsumer
    {
        if let c = group.consumer(ctx.arg(nameArg)) {
            c.seenTime = clock(ctx)
            return c
        }
        let c = group.createConsumer(ctx.argBytes(nameArg), now: clock(ctx))!
        notify(ctx, "xgroup-createconsumer", key: keyArg)
        return c
    }

    /// Moves a pending entry to `consumer`.
    static func transfer(_ group: StreamConsumerGroup, _ nack: StreamNACK, _ id: StreamID, to consumer: StreamConsumer)
    {
        if nack.consumer !== consumer {
            nack.consumer?.pel.remove(id)
            consumer.pel.insert(id)
            nack.consumer = consumer
        }
    }

    /// XCLAIM key group consumer min-idle-time id [id ...] [IDLE ms] [TIME unix-time-milliseconds]
    /// [RETRYCOUNT count] [FORCE] [JUSTID] [LASTID lastid]
    static func xclaim(_ ctx: CommandContext) throws(CommandError) -> Reply {
        guard let s = try readStream(ctx, 1), let group = s.group(ctx.arg(2)) else {
            throw .noSuchKeyOrGroup(ctx.argBytes(1), ctx.argBytes(2))
        }
        let minIdle = max(0, try ctx.int64(4, error: .xclaimMinIdle))
        var j = 5
        var ids: [StreamID] = []
        while j < ctx.argc, let parsed = StreamID.parse(ctx.arg(j), strict: true) {
            ids.append(parsed.0)
            j += 1
        }
        let now = clock(ctx)
        var deliveryTime: Int64 = -1
        var retryCount: Int64 = -1
        var force = false
        var justID = false
        var lastID = StreamID.zero
        while j < ctx.argc {
            let more = ctx.argc - 1 - j
            if ctx.argIs(j, "force") {
                force = true
            } else if ctx.argIs(j, "justid") {
                justID = true
            } else if ctx.argIs(j, "idle") && more > 0 {
                j += 1
                deliveryTime = now - (try ctx.int64(j, error: .xclaimIdle))
            } else if ctx.argIs(j, "time") && more > 0 {
                j += 1
                deliveryTime = try ctx.int64(j, error: .xclaimTime)
            } else if ctx.argIs(j, "retrycount") && more > 0 {
                j += 1
                retryCount = try ctx.int64(j, error: .xclaimRetryCount)
            } else if ctx.argIs(j, "lastid") && more > 0 {
                j += 1
                lastID = try id(ctx, j, strict: true)
            } else {
                throw .xclaimUnrecognized(ctx.argBytes(j))
            }
            j += 1
        }
        var changed = 0
        var propagateLastID = false
        if lastID > group.lastID {
            group.lastID = lastID
            propagateLastID = true
        }
        if deliveryTime != -1 {
            if deliveryTime < 0 || deliveryTime > now { deliveryTime = now }
        } else {
            deliveryTime = now
        }
        var consumer: StreamConsumer?
        var items: [Reply] = []
        var propagation: [[[UInt8]]] = []
        let key = ctx.argBytes(1)
        for id in ids {
            var nack = group.nacks[id]
            guard let entry = s.entry(id) else {
                // The entry is gone: its pending record goes too.
                if nack != nil {
                    if ctx.propagating, let c = nack?.consumer {
                        propagation.append(claimPropagation(key, group, c, id, nack))
                    }
                    propagateLastID = false
                    group.acknowledge(id)
                    changed += 1
                }
                continue
            }
            if force && nack == nil {
                let created = StreamNACK(deliveryTime: now, deliveryCount: 0, consumer: nil)
                group.addPending(id, created)
                nack = created
            }
            guard let nack else { continue }
            if nack.consumer != nil && minIdle > 0 && now - nack.deliveryTime < minIdle { continue }
            let c = consumer ?? claimingConsumer(ctx, group, 1, 3)
            consumer = c
            transfer(group, nack, id, to: c)
            nack.deliveryTime = deliveryTime
            if retryCount >= 0 {
                nack.deliveryCount = retryCount
            } else if !justID {
                nack.deliveryCount += 1
            }
            items.append(justID ? idReply(id) : entryReply(entry))
            c.activeTime = now
            if ctx.propagating { propagation.append(claimPropagation(key, group, c, id, nack)) }
            propagateLastID = false
            changed += 1
        }
        if propagateLastID {
            if ctx.propagating { propagation.append(setIDPropagation(key, group)) }
            changed += 1
        }
        if changed > 0 { ctx.markDirty(changed) }
        if ctx.propagating { ctx.propagate(propagation) }
        return .array(items)
    }

    /// XAUTOCLAIM key group consumer min-idle-time start [COUNT count] [JUSTID]
    static func xautoclaim(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let minIdle = max(0, try ctx.int64(4, error: .xautoclaimMinIdle))
        var (start, exclusive) = try intervalID(ctx, 5, missingSeq: 0)
        if exclusive {
            guard let next = start.next else { throw .invalidStartInterval }
            start = next
        }
        var count: Int64 = 100
        var justID = false
        var j = 6
        while j < ctx.argc {
            let more = ctx.argc - 1 - j
            if ctx.argIs(j, "count") && more > 0 {
                guard let n = parseInt64(ctx.arg(j + 1)), n >= 1, n <= Int64.max / 16 else {
                    throw .xautoclaimCount
                }
                count = n
                j += 1
            } else if ctx.argIs(j, "justid") {
                justID = true
            } else {
                throw .syntax
            }
            j += 1
        }
        guard let s = try readStream(ctx, 1), let group = s.group(ctx.arg(2)) else {
            throw .noSuchKeyOrGroup(ctx.argBytes(1), ctx.argBytes(2))
        }
        let now = clock(ctx)
        var attempts = count * 10
        var consumer: StreamConsumer?
        var items: [Reply] = []
        var deletedIDs: [Reply] = []
        var propagation: [[[UInt8]]] = []
        var changed = 0
        let key = ctx.argBytes(1)
        var i = group.pel.lowerBound(start)
        while attempts > 0 && count > 0 && i < group.pel.count {
            attempts -= 1
            let id = group.pel.ids[i]
            guard let nack = group.nacks[id] else {
                i += 1
                continue
            }
            guard let entry = s.entry(id) else {
                if ctx.propagating, let c = nack.consumer {
                    propagation.append(claimPropagation(key, group, c, id, nack))
                }
                group.acknowledge(id)
                deletedIDs.append(idReply(id))
                changed += 1
                count -= 1
                continue
            }
            i += 1
            if minIdle > 0 && now - nack.deliveryTime < minIdle { continue }
            let c = consumer ?? claimingConsumer(ctx, group, 1, 3)
            consumer = c
            transfer(group, nack, id, to: c)
            nack.deliveryTime = now
            if !justID { nack.deliveryCount += 1 }
            items.append(justID ? idReply(id) : entryReply(entry))
            c.activeTime = now
            count -= 1
            if ctx.propagating { propagation.append(claimPropagation(key, group, c, id, nack)) }
            changed += 1
        }
        let next = i < group.pel.count ? group.pel.ids[i] : .zero
        if changed > 0 { ctx.markDirty(changed) }
        if ctx.propagating { ctx.propagate(propagation) }
        return .array([idReply(next), .array(items), .array(deletedIDs)])
    }

    // MARK: XINFO

    /// XINFO STREAM key [FULL [COUNT count]]
    static func xinfoStream(_ ctx: CommandContext) throws(CommandError) -> Reply {
        var full = false
        var count: Int64 = 10
        let options = ctx.argc - 3
        if options > 0 {
            if options != 1 && options != 3 { throw .subcommandSyntax(ctx.argBytes(1), container: "XINFO") }
            if !ctx.argIs(3, "full") { throw .subcommandSyntax(ctx.argBytes(1), container: "XINFO") }
            if options == 3 {
                if !ctx.argIs(4, "count") { throw .subcommandSyntax(ctx.argBytes(1), container: "XINFO") }
                count = try ctx.int64(5)
                if count < 0 { count = 10 }
            }
            full = true
        }
        guard let s = try readStream(ctx, 2) else { throw .noSuchKey }
        var items: [Reply] = [
            .bulk("length"), .integer(Int64(s.length)),
            .bulk("radix-tree-keys"), .integer(Int64(s.nodes.count)),
            .bulk("radix-tree-nodes"), .integer(Int64(s.radixTreeNodes)),
            .bulk("last-generated-id"), idReply(s.lastID),
            .bulk("max-deleted-entry-id"), idReply(s.maxDeletedID),
            .bulk("entries-added"), .integer(s.entriesAdded),
            .bulk("recorded-first-entry-id"), idReply(s.firstID),
        ]
        let limit = Int(min(count, Int64(Int.max)))
        if !full {
            items += [.bulk("groups"), .integer(Int64(s.groups.count))]
            let first = s.range(from: .zero, to: .max, count: 1)
            let last = s.range(from: .zero, to: .max, count: 1, reverse: true)
            items += [.bulk("first-entry"), first.first.map(entryReply) ?? .null]
            items += [.bulk("last-entry"), last.first.map(entryReply) ?? .null]
            return .map(items)
        }
        items += [.bulk("entries"), .array(s.range(from: .zero, to: .max, count: limit).map(entryReply))]
        var groups: [Reply] = []
        for g in s.groups {
            var pending: [Reply] = []
            for id in g.pel.ids {
                if limit > 0 && pending.count >= limit { break }
                guard let nack = g.nacks[id] else { continue }
                pending.append(
                    .array([
                        idReply(id), .bulk(nack.consumer?.name ?? []), .integer(nack.deliveryTime),
                        .integer(nack.deliveryCount),
                    ]))
            }
            var consumers: [Reply] = []
            for c in g.consumers {
                var owned: [Reply] = []
                for id in c.pel.ids {
                    if limit > 0 && owned.count >= limit { break }
                    guard let nack = g.nacks[id] else { continue }
                    owned.append(.array([idReply(id), .integer(nack.deliveryTime), .integer(nack.deliveryCount)]))
                }
                consumers.append(
                    .map([
                        .bulk("name"), .bulk(c.name),
                        .bulk("seen-time"), .integer(c.seenTime),
                        .bulk("active-time"), .integer(c.activeTime),
                        .bulk("pel-count"), .integer(Int64(c.pel.count)),
                        .bulk("pending"), .array(owned),
                    ]))
            }
            groups.append(
                .map([
                    .bulk("name"), .bulk(g.name),
                    .bulk("last-delivered-id"), idReply(g.lastID),
                    .bulk("entries-read"),
                    g.entriesRead == StreamConsumerGroup.invalidEntriesRead ? .null : .integer(g.entriesRead),
                    .bulk("lag"), s.lag(g).map { .integer($0) } ?? .null,
                    .bulk("pel-count"), .integer(Int64(g.pel.count)),
                    .bulk("pending"), .array(pending),
                    .bulk("consumers"), .array(consumers),
                ]))
        }
        items += [.bulk("groups"), .array(groups)]
        return .map(items)
    }

    /// XINFO GROUPS key
    static func xinfoGroups(_ ctx: CommandContext) throws(CommandError) -> Reply {
        guard let s = try readStream(ctx, 2) else { throw .noSuchKey }
        return .array(
            s.groups.map { g in
                .map([
                    .bulk("name"), .bulk(g.name),
                    .bulk("consumers"), .integer(Int64(g.consumers.count)),
                    .bulk("pending"), .integer(Int64(g.pel.count)),
                    .bulk("last-delivered-id"), idReply(g.lastID),
                    .bulk("entries-read"),
                    g.entriesRead == StreamConsumerGroup.invalidEntriesRead ? .null : .integer(g.entriesRead),
                    .bulk("lag"), s.lag(g).map { .integer($0) } ?? .null,
                ])
            })
    }

    /// XINFO CONSUMERS key group
    static func xinfoConsumers(_ ctx: CommandContext) throws(CommandError) -> Reply {
        guard let s = try readStream(ctx, 2) else { throw .noSuchKey }
        guard let g = s.group(ctx.arg(3)) else { throw .noGroupForKey(ctx.argBytes(3), ctx.argBytes(2)) }
        let now = clock(ctx)
        return .array(
            g.consumers.map { c in
                .map([
                    .bulk("name"), .bulk(c.name),
                    .bulk("pending"), .integer(Int64(c.pel.count)),
                    .bulk("idle"), .integer(max(0, now - c.seenTime)),
                    .bulk("inactive"), .integer(c.activeTime == -1 ? -1 : now - c.activeTime),
                ])
            })
    }

    /// XINFO HELP
    static func xinfoHelp(_ ctx: CommandContext) throws(CommandError) -> Reply {
        helpReply(
            "XINFO",
            [
                "CONSUMERS <key> <groupname>",
                "    Show consumers of <groupname>.",
                "GROUPS <key>",
                "    Show the stream consumer groups.",
                "STREAM <key> [FULL [COUNT <count>]",
                "    Show information about the stream.",
            ])
    }
}

extension CommandTable {
    static let streamRegistrations: [(String, Handler)] = [
        ("xadd", StreamCommands.xadd),
        ("xtrim", StreamCommands.xtrim),
        ("xrange", StreamCommands.xrange),
        ("xrevrange", StreamCommands.xrevrange),
        ("xlen", StreamCommands.xlen),
        ("xdel", StreamCommands.xdel),
        ("xsetid", StreamCommands.xsetid),
        ("xread", StreamCommands.xread),
        ("xreadgroup", StreamCommands.xreadgroup),
        ("xgroup", { _ throws(CommandError) in .null }),
        ("xgroup|create", StreamCommands.xgroupCreate),
        ("xgroup|setid", StreamCommands.xgroupSetid),
        ("xgroup|destroy", StreamCommands.xgroupDestroy),
        ("xgroup|createconsumer", StreamCommands.xgroupCreateconsumer),
        ("xgroup|delconsumer", StreamCommands.xgroupDelconsumer),
        ("xgroup|help", StreamCommands.xgroupHelp),
        ("xack", StreamCommands.xack),
        ("xpending", StreamCommands.xpending),
        ("xclaim", StreamCommands.xclaim),
        ("xautoclaim", StreamCommands.xautoclaim),
        ("xinfo", { _ throws(CommandError) in .null }),
        ("xinfo|stream", StreamCommands.xinfoStream),
        ("xinfo|groups", StreamCommands.xinfoGroups),
        ("xinfo|consumers", StreamCommands.xinfoConsumers),
        ("xinfo|help", StreamCommands.xinfoHelp),
    ]
}
