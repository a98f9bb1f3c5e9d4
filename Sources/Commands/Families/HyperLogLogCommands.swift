import DataStore
import RESP
import Server

/// PFADD, PFCOUNT, PFMERGE and PFDEBUG over Redis's HyperLogLog strings (`HyperLogLog`).
enum HyperLogLogCommands {
    /// The HyperLogLog bytes stored at `slot`, or Redis's errors for other values.
    static func hll(_ ctx: CommandContext, _ slot: Int) throws(CommandError) -> [UInt8] {
        let bytes: [UInt8]
        switch ctx.db.table[slot].value {
        case .string(let b): bytes = b.bytes
        case .rawString(let b): bytes = b
        // An integer-encoded string is never a HyperLogLog (Redis checks for sds encoding).
        case .int: throw .notHyperLogLog
        default: throw .wrongType
        }
        guard HyperLogLog.isValid(bytes) else { throw .notHyperLogLog }
        return bytes
    }

    /// Takes the bytes out of the table so that updating them copies nothing.
    static func takeHll(_ ctx: CommandContext, _ slot: Int) throws(CommandError) -> [UInt8] {
        let bytes = try hll(ctx, slot)
        ctx.db.table[slot].value = .int(0)
        return bytes
    }

    static func sparseMaxBytes(_ ctx: CommandContext) -> Int {
        Int(clamping: ctx.config.int("hll-sparse-max-bytes"))
    }

    /// PFADD key [element [element ...]]
    static func pfadd(_ ctx: CommandContext) throws(CommandError) -> Reply {
        var updated = 0
        var bytes: [UInt8]
        let slot = ctx.lookupWrite(1)
        if let slot {
            bytes = try takeHll(ctx, slot)
        } else {
            bytes = HyperLogLog.create()
            updated += 1
        }
        let maxBytes = sparseMaxBytes(ctx)
        var corrupt = false
        for i in 2..<ctx.argc {
            let result = ctx.arg(i).withUnsafeBufferPointer { element in
                HyperLogLog.add(&bytes, element, sparseMaxBytes: maxBytes)
            }
            if result < 0 {
                corrupt = true
                break
            }
            updated += result
        }
        if updated > 0 && !corrupt { bytes[15] |= 0x80 }
        if let slot {
            ctx.db.table[slot].value = .rawString(bytes)
        } else {
            ctx.db.table.insertNew(ctx.argBytes(1), value: .rawString(bytes))
        }
        if corrupt { throw .corruptHyperLogLog }
        if updated > 0 { ctx.markDirty(updated) }
        return updated > 0 ? .one : .zero
    }

    /// PFCOUNT key [key ...]
    static func pfcount(_ ctx: CommandContext) throws(CommandError) -> Reply {
        if ctx.argc > 2 {
            var registers = [UInt8](repeating: 0, count: HyperLogLog.registerCount)
            for i in 1..<ctx.argc {
                guard let slot = ctx.lookupRead(i) else { continue }
                let bytes = try hll(ctx, slot)
                if !HyperLogLog.merge(&registers, bytes) { throw .corruptHyperLogLog }
            }
            return .integer(Int64(truncatingIfNeeded: HyperLogLog.estimate(registers: registers)))
        }
        guard let slot = ctx.lookupRead(1) else { return .zero }
        let bytes = try hll(ctx, slot)
        if let cached = HyperLogLog.cachedCount(bytes) { return .integer(Int64(truncatingIfNeeded: cached)) }
        guard let count = HyperLogLog.estimate(bytes) else { throw .corruptHyperLogLog }
        // The cache lives in the value: PFCOUNT writes it back, as Redis does.
        var updated = try takeHll(ctx, slot)
        HyperLogLog.setCachedCount(&updated, count)
        ctx.db.table[slot].value = .rawString(updated)
        ctx.markDirty()
        return .integer(Int64(truncatingIfNeeded: count))
    }

    /// PFMERGE destkey [sourcekey [sourcekey ...]]
    static func pfmerge(_ ctx: CommandContext) throws(CommandError) -> Reply {
        var registers = [UInt8](repeating: 0, count: HyperLogLog.registerCount)
        var useDense = false
        for i in 1..<ctx.argc {
            guard let slot = ctx.lookupRead(i) else { continue }
            let bytes = try hll(ctx, slot)
            if !HyperLogLog.isSparse(bytes) { useDense = true }
            if !HyperLogLog.merge(&registers, bytes) { throw .corruptHyperLogLog }
        }
        let slot = ctx.lookupWrite(1)
        var bytes = slot.map { _ in [] } ?? HyperLogLog.create()
        if let slot { bytes = try takeHll(ctx, slot) }
        defer {
            if let slot {
                ctx.db.table[slot].value = .rawString(bytes)
            } else {
                ctx.db.table.insertNew(ctx.argBytes(1), value: .rawString(bytes))
            }
        }
        if useDense && !HyperLogLog.toDense(&bytes) { throw .corruptHyperLogLog }
        let maxBytes = sparseMaxBytes(ctx)
        for (i, value) in registers.enumerated() where value != 0 {
            _ = HyperLogLog.raise(&bytes, register: i, to: value, sparseMaxBytes: maxBytes)
        }
        bytes[15] |= 0x80
        ctx.markDirty()
        return .ok
    }

    /// PFDEBUG <GETREG | DECODE | ENCODING | TODENSE> key
    static func pfdebug(_ ctx: CommandContext) throws(CommandError) -> Reply {
        guard let slot = ctx.lookupWrite(2) else { throw .pfdebugNoKey }
        var bytes = try takeHll(ctx, slot)
        defer { ctx.db.table[slot].value = .rawString(bytes) }
        if ctx.argIs(1, "getreg") {
            if HyperLogLog.isSparse(bytes) {
                if !HyperLogLog.toDense(&bytes) { throw .corruptHyperLogLog }
                ctx.markDirty()
            }
            return .array(HyperLogLog.registers(bytes).map { .integer(Int64($0)) })
        } else if ctx.argIs(1, "decode") {
            guard HyperLogLog.isSparse(bytes) else { throw .pfdebugNotSparse }
            return .bulk(Array(HyperLogLog.decodeSparse(bytes).utf8))
        } else if ctx.argIs(1, "encoding") {
            return .simple(HyperLogLog.isSparse(bytes) ? "sparse" : "dense")
        } else if ctx.argIs(1, "todense") {
            let converted = HyperLogLog.isSparse(bytes)
            if !HyperLogLog.toDense(&bytes) { throw .corruptHyperLogLog }
            if converted { ctx.markDirty() }
            return converted ? .one : .zero
        }
        throw .pfdebugUnknown(ctx.argString(1))
    }
}

extension HyperLogLogCommands {
    /// PFSELFTEST
    static func pfselftest(_ ctx: CommandContext) throws(CommandError) -> Reply {
        if let failure = HyperLogLog.selfTest() { throw CommandError(failure) }
        return .ok
    }
}

extension CommandTable {
    static let hyperLogLogRegistrations: [(String, Handler)] = [
        ("pfadd", HyperLogLogCommands.pfadd),
        ("pfcount", HyperLogLogCommands.pfcount),
        ("pfmerge", HyperLogLogCommands.pfmerge),
        ("pfdebug", HyperLogLogCommands.pfdebug),
        ("pfselftest", HyperLogLogCommands.pfselftest),
    ]
}
