import DataStore
import RESP
import Server

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// SORT and SORT_RO, following sort.c: BY patterns (`*` substituted, `->field` for hashes,
/// a pattern without `*` means "don't sort"), GET patterns (`#` for the element), LIMIT,
/// ASC/DESC, ALPHA and STORE into a list.
enum SortCommands {
    struct Item {
        var element: [UInt8]
        var score = 0.0
        /// The BY value for ALPHA sorting by pattern (nil when the key is missing).
        var compareBytes: [UInt8]?
    }

    /// lookupKeyByPattern: the string (or hash field) a pattern names for `element`.
    static func lookup(_ ctx: CommandContext, pattern: [UInt8], element: [UInt8]) -> [UInt8]? {
        if pattern == [UInt8(ascii: "#")] { return element }
        guard let star = pattern.firstIndex(of: UInt8(ascii: "*")) else { return nil }
        var field: [UInt8]?
        var postfixEnd = pattern.count
        // `->` after the star, with something after it, names a hash field.
        var i = star + 1
        while i + 1 < pattern.count {
            if pattern[i] == UInt8(ascii: "-") && pattern[i + 1] == UInt8(ascii: ">") && i + 2 < pattern.count {
                field = Array(pattern[(i + 2)...])
                postfixEnd = i
                break
            }
            i += 1
        }
        let key = Array(pattern[..<star]) + element + Array(pattern[(star + 1)..<postfixEnd])
        let now = ctx.now
        let slot = ctx.keyspace.databases[ctx.session.db].lookup(key, now: now)
        if slot == nil { ctx.keyspace.keyspaceMisses += 1 } else { ctx.keyspace.keyspaceHits += 1 }
        guard let slot else { return nil }
        let value = ctx.db.table[slot].value
        if let field {
            guard case .hash(let h) = value else { return nil }
            return h.value(field)
        }
        return value.stringBytes
    }

    /// strtod over the whole string, as SORT converts scores (hex, leading spaces, `inf`).
    static func sortScore(_ bytes: [UInt8]) -> Double? {
        bytes.withUnsafeBytes { text in
            withNulTerminatedCopy(text) { start -> Double? in
                var end: UnsafeMutablePointer<CChar>?
                errno = 0
                let v = strtod(start, &end)
                // Redis checks only that strtod stopped at a NUL: an embedded one ends the number.
                guard let n = parsedCount(from: start, to: end), n == text.count || text[n] == 0,
                    errno != ERANGE, !v.isNaN
                else { return nil }
                return v
            }
        }
    }

    static func generic(_ ctx: CommandContext, readonly: Bool) throws(CommandError) -> Reply {
        var desc = false
        var alpha = false
        var limitStart = 0
        var limitCount = -1
        var storeArg: Int?
        var sortBy: [UInt8]?
        var dontSort = false
        var gets: [[UInt8]] = []
        var j = 2
        while j < ctx.argc {
            let left = ctx.argc - j - 1
            if ctx.argIs(j, "asc") {
                desc = false
            } else if ctx.argIs(j, "desc") {
                desc = true
            } else if ctx.argIs(j, "alpha") {
                alpha = true
            } else if ctx.argIs(j, "limit") && left >= 2 {
                limitStart = Int(try ctx.int64(j + 1))
                limitCount = Int(try ctx.int64(j + 2))
                j += 2
            } else if !readonly && ctx.argIs(j, "store") && left >= 1 {
                storeArg = j + 1
                j += 1
            } else if ctx.argIs(j, "by") && left >= 1 {
                sortBy = ctx.argBytes(j + 1)
                if !sortBy!.contains(UInt8(ascii: "*")) { dontSort = true }
                j += 1
            } else if ctx.argIs(j, "get") && left >= 1 {
                gets.append(ctx.argBytes(j + 1))
                j += 1
            } else {
                throw .syntax
            }
            j += 1
        }

        var elements: [[UInt8]] = []
        var kind = 0  // 0 list (or missing), 1 set, 2 sorted set
        if let slot = ctx.lookupRead(1) {
            switch ctx.db.table[slot].value {
            case .list(let l): elements = Array(l.items)
            case .set(let s):
                elements = s.allMembers
                kind = 1
            case .zset(let z):
                elements = z.entries.map(\.member)
                kind = 2
            default: throw .wrongType
            }
        }
        // Unsorted set members would make STORE's result (or a script's, which must be
        // deterministic) depend on the set's layout.
        if dontSort && kind == 1 && (storeArg != nil || ctx.session.isScriptClient) {
            dontSort = false
            alpha = true
            sortBy = nil
        }

        var vectorLength = elements.count
        var start = min(max(limitStart, 0), vectorLength)
        let count = min(max(limitCount, -1), vectorLength)
        var end = count < 0 ? vectorLength : start + count - 1
        if start >= vectorLength {
            start = vectorLength - 1
            end = vectorLength - 2
        }
        if end >= vectorLength { end = vectorLength - 1 }

        var items: [Item]
        if dontSort && kind != 1 {
            // Native order (reversed for DESC), just the LIMIT range.
            if start != 0 || end != vectorLength - 1 { vectorLength = end - start + 1 }
            items = []
            if end >= start {
                let ordered = desc ? Array(elements.reversed()) : elements
                items = ordered[start..<(start + vectorLength)].map { Item(element: $0) }
                end -= start
                start = 0
            }
        } else {
            items = elements.map { Item(element: $0) }
        }

        if !dontSort {
            var conversionError = false
            for k in items.indices {
                let by: [UInt8]
                if let sortBy {
                    guard let v = lookup(ctx, pattern: sortBy, element: items[k].element) else { continue }
                    by = v
                } else {
                    by = items[k].element
                }
                if alpha {
                    if sortBy != nil { items[k].compareBytes = by }
                } else if let score = sortScore(by) {
                    items[k].score = score
                } else {
                    conversionError = true
                }
            }
            if conversionError { throw .sortNotDouble }
            let byPattern = sortBy != nil
            func compare(_ a: Item, _ b: Item) -> Int {
                if !alpha {
                    if a.score > b.score { return 1 }
                    if a.score < b.score { return -1 }
                    return compareBytes(a.element, b.element)
                }
                if byPattern {
                    switch (a.compareBytes, b.compareBytes) {
                    case (nil, nil): return 0
                    case (nil, _): return -1
                    case (_, nil): return 1
                    case (let x?, let y?): return compareBytes(x, y)
                    }
                }
                return compareBytes(a.element, b.element)
            }
            items.sort { desc ? compare($0, $1) > 0 : compare($0, $1) < 0 }
        }

        let range = end >= start ? start...end : nil
        if let storeArg {
            var out: [[UInt8]] = []
            if let range {
                for item in items[range] {
                    if gets.isEmpty {
                        out.append(item.element)
                    } else {
                        for g in gets { out.append(lookup(ctx, pattern: g, element: item.element) ?? []) }
                    }
                }
            }
            let existed = ctx.db.delete(ctx.arg(storeArg), now: ctx.now)
            if out.isEmpty {
                if existed { ctx.markDirty() }
                return .zero
            }
            ctx.db.table.insertNew(ctx.argBytes(storeArg), value: .list(ListValue(elements: out)))
            ctx.markDirty(out.count)
            ctx.signalReady(storeArg)
            return .integer(Int64(out.count))
        }
        var replies: [Reply] = []
        if let range {
            for item in items[range] {
                if gets.isEmpty { replies.append(.bulk(item.element)) }
                for g in gets {
                    if let v = lookup(ctx, pattern: g, element: item.element) {
                        replies.append(.bulk(v))
                    } else {
                        replies.append(.null)
                    }
                }
            }
        }
        return .array(replies)
    }

    /// memcmp order, the shorter first on a tie: compareStringObjects.
    static func compareBytes(_ a: [UInt8], _ b: [UInt8]) -> Int {
        if bytesPrecede(a, b) { return -1 }
        return a == b ? 0 : 1
    }

    /// SORT key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC | DESC] [ALPHA] [STORE destination]
    static func sort(_ ctx: CommandContext) throws(CommandError) -> Reply { try generic(ctx, readonly: false) }
    /// SORT_RO key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC | DESC] [ALPHA]
    static func sortRO(_ ctx: CommandContext) throws(CommandError) -> Reply { try generic(ctx, readonly: true) }
}

extension CommandTable {
    static let sortRegistrations: [(String, Handler)] = [
        ("sort", SortCommands.sort),
        ("sort_ro", SortCommands.sortRO),
    ]
}
