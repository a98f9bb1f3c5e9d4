import DataStore
import RESP
import Server

enum BitmapCommands {
    /// Bytes of the string at `slot` (WRONGTYPE otherwise).
    static func bytes(_ ctx: CommandContext, _ slot: Int) throws(CommandError) -> [UInt8] {
        let value = try ctx.stringValue(at: slot)
        // A long string set whole (a block) is kept as an array from its first bit read on,
        // so that GETBIT or BITCOUNT in a loop does not copy it each time. Both forms are
        // Redis's `raw` encoding past 44 bytes; the bytes stay the same.
        if case .string(let block) = value, block.count > 44 {
            let bytes = block.bytes
            ctx.db.table[slot].value = .rawString(bytes)
            return bytes
        }
        return value.stringBytes!
    }

    /// Redis's getBitOffsetFromArgument: a bit offset within 512 MB, optionally `#n` times
    /// the field width.
    static func bitOffset(_ ctx: CommandContext, _ i: Int, hash: Bool = false, bits: Int = 1) throws(CommandError)
        -> Int
    {
        var arg = ctx.arg(i)
        var multiply = false
        if hash && arg.first == UInt8(ascii: "#") {
            multiply = true
            arg = arg.dropFirst()
        }
        guard var value = parseInt64(arg), value >= 0 else { throw .bitOffset }
        if multiply {
            let (m, o) = value.multipliedReportingOverflow(by: Int64(bits))
            if o { throw .bitOffset }
            value = m
        }
        let maxBits = Int64(ctx.config.limits.protoMaxBulkLen) * 8
        if value >= maxBits || value >> 3 >= Int64(ctx.config.limits.protoMaxBulkLen) { throw .bitOffset }
        return Int(value)
    }

    /// SETBIT key offset value
    static func setbit(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let offset = try bitOffset(ctx, 2)
        guard let on = parseInt64(ctx.arg(3)), on == 0 || on == 1 else { throw .bitValue }
        let slot = ctx.lookupWrite(1)
        var b: [UInt8] = []
        if let slot { b = try bytes(ctx, slot) }
        let byte = offset >> 3
        // A key created or grown is a change; otherwise only a bit that flips is (no dirty,
        // no notification for a SETBIT that leaves the bit as it was).
        let grown = slot == nil || b.count <= byte
        if b.count <= byte { b.append(contentsOf: repeatElement(0, count: byte + 1 - b.count)) }
        let mask = UInt8(1 << (7 - (offset & 7)))
        let old = b[byte] & mask != 0 ? 1 : 0
        if !grown && old == on { return .integer(Int64(old)) }
        if on == 1 { b[byte] |= mask } else { b[byte] &= ~mask }
        if let slot {
            ctx.db.table[slot].value = .rawString(b)
        } else {
            ctx.db.table.insertNew(ctx.argBytes(1), value: .rawString(b))
        }
        ctx.markDirty()
        return .integer(Int64(old))
    }

    /// GETBIT key offset
    static func getbit(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let offset = try bitOffset(ctx, 2)
        guard let slot = ctx.lookupRead(1) else { return .zero }
        let b = try bytes(ctx, slot)
        let byte = offset >> 3
        guard byte < b.count else { return .zero }
        return .integer(b[byte] & UInt8(1 << (7 - (offset & 7))) != 0 ? 1 : 0)
    }

    /// Resolves a start/end range in bytes or bits against a length, as Redis does.
    static func resolveRange(_ start: Int64, _ end: Int64, length: Int64) -> (Int64, Int64)? {
        var s = start
        var e = end
        if s < 0 { s = length + s }
        if e < 0 { e = length + e }
        if s < 0 { s = 0 }
        if e < 0 { e = 0 }
        if e >= length { e = length - 1 }
        if s > e { return nil }
        return (s, e)
    }

    static func popcount(_ b: [UInt8], from: Int, to: Int) -> Int {
        var n = 0
        var i = from
        while i <= to {
            n += b[i].nonzeroBitCount
            i += 1
        }
        return n
    }

    /// BITCOUNT key [start end [BYTE | BIT]]
    static func bitcount(_ ctx: CommandContext) throws(CommandError) -> Reply {
        var start: Int64 = 0
        var end: Int64 = -1
        var isBit = false
        if ctx.argc == 4 || ctx.argc == 5 {
            start = try ctx.int64(2)
            end = try ctx.int64(3)
            if ctx.argc == 5 {
                if ctx.argIs(4, "bit") { isBit = true } else if !ctx.argIs(4, "byte") { throw .syntax }
            }
        } else if ctx.argc != 2 {
            throw .syntax
        }
        guard let slot = ctx.lookupRead(1) else { return .zero }
        let b = try bytes(ctx, slot)
        let totalBits = Int64(b.count) * (isBit ? 8 : 1)
        if ctx.argc == 2 { return .integer(Int64(popcount(b, from: 0, to: b.count - 1))) }
        if start < 0 && end < 0 && start > end { return .zero }
        guard let (s, e) = resolveRange(start, end, length: totalBits) else { return .zero }
        if !isBit { return .integer(Int64(popcount(b, from: Int(s), to: Int(e)))) }
        var count = 0
        for bit in s...e where b[Int(bit >> 3)] & UInt8(1 << (7 - (bit & 7))) != 0 { count += 1 }
        return .integer(Int64(count))
    }

    /// BITPOS key bit [start [end [BYTE | BIT]]]
    static func bitpos(_ ctx: CommandContext) throws(CommandError) -> Reply {
        guard let bit = parseInt64(ctx.arg(2)) else { throw .notInteger }
        guard bit == 0 || bit == 1 else { throw .bitposBitArg }
        var start: Int64 = 0
        var end: Int64 = -1
        var endGiven = false
        var isBit = false
        if ctx.argc >= 4 { start = try ctx.int64(3) }
        if ctx.argc >= 5 {
            end = try ctx.int64(4)
            endGiven = true
        }
        if ctx.argc == 6 {
            if ctx.argIs(5, "bit") { isBit = true } else if !ctx.argIs(5, "byte") { throw .syntax }
        }
        if ctx.argc > 6 { throw .syntax }
        guard let slot = ctx.lookupRead(1) else { return .integer(bit == 1 ? -1 : 0) }
        let b = try bytes(ctx, slot)
        let totalBits = Int64(b.count) * 8
        let length = isBit ? totalBits : Int64(b.count)
        if start < 0 && end < 0 && start > end { return .integer(-1) }
        guard let (s, e) = resolveRange(start, end, length: length) else { return .integer(-1) }
        let firstBit = isBit ? s : s * 8
        let lastBit = isBit ? e : e * 8 + 7
        var pos = firstBit
        while pos <= lastBit {
            let set = b[Int(pos >> 3)] & UInt8(1 << (7 - (pos & 7))) != 0
            if set == (bit == 1) { return .integer(pos) }
            pos += 1
        }
        // Looking for a clear bit past a string of ones: the first bit after the string,
        // unless the caller gave an explicit end.
        if bit == 0 && !endGiven { return .integer(lastBit + 1) }
        return .integer(-1)
    }

    /// BITOP <AND | OR | XOR | NOT> destkey key [key ...]
    static func bitop(_ ctx: CommandContext) throws(CommandError) -> Reply {
        enum Op { case and, or, xor, not }
        let op: Op
        if ctx.argIs(1, "and") {
            op = .and
        } else if ctx.argIs(1, "or") {
            op = .or
        } else if ctx.argIs(1, "xor") {
            op = .xor
        } else if ctx.argIs(1, "not") {
            op = .not
        } else {
            throw .syntax
        }
        if op == .not && ctx.argc != 4 { throw .bitopNotArity }
        var sources: [[UInt8]] = []
        var maxLen = 0
        for i in 3..<ctx.argc {
            if let slot = ctx.lookupRead(i) {
                let v = ctx.db.table[slot].value
                guard v.isString else { throw .wrongType }
                let b = v.stringBytes!
                maxLen = max(maxLen, b.count)
                sources.append(b)
            } else {
                sources.append([])
            }
        }
        var result = [UInt8](repeating: 0, count: maxLen)
        if maxLen > 0 {
            for i in 0..<maxLen {
                var acc: UInt8 = i < sources[0].count ? sources[0][i] : 0
                if op == .not {
                    acc = ~acc
                } else {
                    for s in sources.dropFirst() {
                        let byte: UInt8 = i < s.count ? s[i] : 0
                        switch op {
                        case .and: acc &= byte
                        case .or: acc |= byte
                        case .xor: acc ^= byte
                        case .not: break
                        }
                    }
                }
                result[i] = acc
            }
        }
        let now = ctx.now
        if result.isEmpty {
            if ctx.db.delete(ctx.arg(2), now: now) { ctx.markDirty() }
        } else {
            ctx.db.set(ctx.arg(2), .rawString(result), now: now)
            ctx.markDirty()
        }
        return .integer(Int64(result.count))
    }

    struct FieldType {
        var signed: Bool
        var bits: Int
    }

    static func fieldType(_ ctx: CommandContext, _ i: Int) throws(CommandError) -> FieldType {
        let a = ctx.arg(i)
        guard let first = a.first,
            first == UInt8(ascii: "i") || first == UInt8(ascii: "u") || first == UInt8(ascii: "I")
                || first == UInt8(ascii: "U"), let bits = parseInt64(a.dropFirst())
        else { throw .bitfieldType }
        let signed = first == UInt8(ascii: "i") || first == UInt8(ascii: "I")
        if bits < 1 || (signed && bits > 64) || (!signed && bits > 63) { throw .bitfieldType }
        return FieldType(signed: signed, bits: Int(bits))
    }

    static func getField(_ b: [UInt8], offset: Int, type: FieldType) -> Int64 {
        var value: UInt64 = 0
        for j in 0..<type.bits {
            let bit = offset + j
            let byte = bit >> 3
            let on = byte < b.count && b[byte] & UInt8(1 << (7 - (bit & 7))) != 0
            value = (value << 1) | (on ? 1 : 0)
        }
        if type.signed && type.bits < 64 && value & (1 << UInt64(type.bits - 1)) != 0 {
            value |= UInt64.max << UInt64(type.bits)
        }
        return Int64(bitPattern: value)
    }

    static func setField(_ b: inout [UInt8], offset: Int, type: FieldType, value: Int64) {
        let needed = (offset + type.bits + 7) / 8
        if b.count < needed { b.append(contentsOf: repeatElement(0, count: needed - b.count)) }
        let v = UInt64(bitPattern: value)
        for j in 0..<type.bits {
            let bitValue = (v >> UInt64(type.bits - 1 - j)) & 1
            let bit = offset + j
            let mask = UInt8(1 << (7 - (bit & 7)))
            if bitValue == 1 { b[bit >> 3] |= mask } else { b[bit >> 3] &= ~mask }
        }
    }

    enum Overflow { case wrap, sat, fail }

    /// Redis's checkSignedBitfieldOverflow / checkUnsignedBitfieldOverflow: the result of
    /// `value + incr` in the field's width, or nil for FAIL.
    static func addWithOverflow(_ value: Int64, _ incr: Int64, type: FieldType, overflow: Overflow) -> Int64? {
        if type.signed {
            let maxV: Int64 = type.bits == 64 ? Int64.max : (1 << Int64(type.bits - 1)) - 1
            let minV: Int64 = -maxV - 1
            let (sum, o) = value.addingReportingOverflow(incr)
            let over = (o && incr > 0) || (!o && sum > maxV)
            let under = (o && incr < 0) || (!o && sum < minV)
            if over || under {
                switch overflow {
                case .fail: return nil
                case .sat: return over ? maxV : minV
                case .wrap:
                    let raw = UInt64(bitPattern: value) &+ UInt64(bitPattern: incr)
                    if type.bits == 64 { return Int64(bitPattern: raw) }
                    let mask = (UInt64(1) << UInt64(type.bits)) - 1
                    var r = raw & mask
                    if r & (1 << UInt64(type.bits - 1)) != 0 { r |= ~mask }
                    return Int64(bitPattern: r)
                }
            }
            return sum
        } else {
            let maxV = (UInt64(1) << UInt64(type.bits)) - 1
            let uv = UInt64(bitPattern: value)
            if incr >= 0 {
                let (sum, o) = uv.addingReportingOverflow(UInt64(incr))
                if o || sum > maxV {
                    switch overflow {
                    case .fail: return nil
                    case .sat: return Int64(maxV)
                    case .wrap: return Int64((uv &+ UInt64(incr)) & maxV)
                    }
                }
                return Int64(sum)
            } else {
                let dec = UInt64(incr.magnitude)
                if dec > uv {
                    switch overflow {
                    case .fail: return nil
                    case .sat: return 0
                    case .wrap: return Int64((uv &- dec) & maxV)
                    }
                }
                return Int64(uv - dec)
            }
        }
    }

    /// BITFIELD key [GET encoding offset | [OVERFLOW <WRAP | SAT | FAIL>] <SET encoding offset
    /// value | INCRBY encoding offset increment> [GET encoding offset | ...]]
    static func bitfield(_ ctx: CommandContext) throws(CommandError) -> Reply {
        try bitfieldGeneric(ctx, readOnly: false)
    }

    /// BITFIELD_RO key [GET encoding offset [GET encoding offset ...]]
    static func bitfieldRO(_ ctx: CommandContext) throws(CommandError) -> Reply {
        try bitfieldGeneric(ctx, readOnly: true)
    }

    enum FieldOp {
        case get(FieldType, Int)
        case set(FieldType, Int, Int64, Overflow)
        case incrby(FieldType, Int, Int64, Overflow)
    }

    static func bitfieldGeneric(_ ctx: CommandContext, readOnly: Bool) throws(CommandError) -> Reply {
        var ops: [FieldOp] = []
        var overflow = Overflow.wrap
        var j = 2
        var writes = false
        while j < ctx.argc {
            let remaining = ctx.argc - j - 1
            if ctx.argIs(j, "get") && remaining >= 2 {
                let t = try fieldType(ctx, j + 1)
                ops.append(.get(t, try bitOffset(ctx, j + 2, hash: true, bits: t.bits)))
                j += 3
            } else if ctx.argIs(j, "set") && remaining >= 3 {
                let t = try fieldType(ctx, j + 1)
                let off = try bitOffset(ctx, j + 2, hash: true, bits: t.bits)
                let v = try ctx.int64(j + 3)
                ops.append(.set(t, off, v, overflow))
                writes = true
                j += 4
            } else if ctx.argIs(j, "incrby") && remaining >= 3 {
                let t = try fieldType(ctx, j + 1)
                let off = try bitOffset(ctx, j + 2, hash: true, bits: t.bits)
                let v = try ctx.int64(j + 3)
                ops.append(.incrby(t, off, v, overflow))
                writes = true
                j += 4
            } else if ctx.argIs(j, "overflow") && remaining >= 1 {
                if ctx.argIs(j + 1, "wrap") {
                    overflow = .wrap
                } else if ctx.argIs(j + 1, "sat") {
                    overflow = .sat
                } else if ctx.argIs(j + 1, "fail") {
                    overflow = .fail
                } else {
                    throw .bitfieldOverflowType
                }
                j += 2
            } else {
                throw .syntax
            }
        }
        if readOnly && writes { throw .bitfieldReadOnly }
        let slot = writes ? ctx.lookupWrite(1) : ctx.lookupRead(1)
        var b: [UInt8] = []
        if let slot { b = try bytes(ctx, slot) }
        // As SETBIT: a key created or grown to the furthest field written is a change,
        // otherwise only a field whose value differs is.
        var furthestByte = -1
        for op in ops {
            switch op {
            case .get: break
            case .set(let t, let off, _, _), .incrby(let t, let off, _, _):
                furthestByte = max(furthestByte, (off + t.bits - 1) >> 3)
            }
        }
        let grown = writes && (slot == nil || b.count <= furthestByte)
        var replies: [Reply] = []
        var changed = false
        for op in ops {
            switch op {
            case .get(let t, let off):
                replies.append(.integer(getField(b, offset: off, type: t)))
            case .set(let t, let off, let v, let ovf):
                let old = getField(b, offset: off, type: t)
                // SET applies the overflow rule to the value itself.
                var toStore: Int64
                if t.signed {
                    guard let r = addWithOverflow(0, v, type: t, overflow: ovf) else {
                        replies.append(.null)
                        continue
                    }
                    toStore = r
                } else {
                    let uv = UInt64(bitPattern: v)
                    let maxV = (UInt64(1) << UInt64(t.bits)) - 1
                    if uv > maxV {
                        switch ovf {
                        case .wrap: toStore = Int64(uv & maxV)
                        case .sat: toStore = Int64(maxV)
                        case .fail:
                            replies.append(.null)
                            continue
                        }
                    } else {
                        toStore = v
                    }
                }
                setField(&b, offset: off, type: t, value: toStore)
                if grown || old != toStore { changed = true }
                replies.append(.integer(old))
            case .incrby(let t, let off, let incr, let ovf):
                let old = getField(b, offset: off, type: t)
                guard let new = addWithOverflow(old, incr, type: t, overflow: ovf) else {
                    replies.append(.null)
                    continue
                }
                setField(&b, offset: off, type: t, value: new)
                if grown || old != new { changed = true }
                replies.append(.integer(new))
            }
        }
        if changed {
            if let slot {
                ctx.db.table[slot].value = .rawString(b)
            } else {
                ctx.db.table.insertNew(ctx.argBytes(1), value: .rawString(b))
            }
            ctx.markDirty()
        }
        return .array(replies)
    }
}

extension CommandTable {
    static let bitmapRegistrations: [(String, Handler)] = [
        ("setbit", BitmapCommands.setbit),
        ("getbit", BitmapCommands.getbit),
        ("bitcount", BitmapCommands.bitcount),
        ("bitpos", BitmapCommands.bitpos),
        ("bitop", BitmapCommands.bitop),
        ("bitfield", BitmapCommands.bitfield),
        ("bitfield_ro", BitmapCommands.bitfieldRO),
    ]
}
