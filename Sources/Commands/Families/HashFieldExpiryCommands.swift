import DataStore
import RESP
import Server

/// Redis 7.4's hash field expiry: HEXPIRE, HPEXPIRE, HEXPIREAT, HPEXPIREAT set a time to
/// live per field; HTTL, HPTTL, HEXPIRETIME, HPEXPIRETIME read it; HPERSIST removes it.
/// Expired fields are dropped lazily (`HashCommands.liveHash`) and actively (the cron's
/// `Database.activeExpireFields`). Replies, codes and errors follow t_hash.c.
enum HashFieldExpiryCommands {
    /// Redis keeps field times in 48 bits, a quarter of which commands may use.
    static let maxFieldTime: Int64 = ((1 << 48) - 1) >> 2

    enum Condition { case none, nx, xx, gt, lt }

    /// `FIELDS numfields field…` starting at `fieldsArg`: the first field's argument index
    /// and the count, with Redis's errors.
    static func fieldsBlock(_ ctx: CommandContext, at fieldsArg: Int, countError: CommandError) throws(CommandError)
        -> Range<Int>
    {
        if !ctx.argIs(fieldsArg, "fields") { throw .fieldsArgumentMissing }
        guard let n = parseInt64(ctx.arg(fieldsArg + 1)), n >= 1 else { throw countError }
        if n != Int64(ctx.argc - fieldsArg - 2) { throw .numFieldsMismatch }
        return (fieldsArg + 2)..<ctx.argc
    }

    /// HEXPIRE and friends: `key time [NX | XX | GT | LT] FIELDS numfields field…`.
    static func expireGeneric(_ ctx: CommandContext, seconds: Bool, relative: Bool) throws(CommandError) -> Reply {
        let slot = ctx.lookupWrite(1)
        var h: HashValue?
        if let slot { h = try HashCommands.liveHash(ctx, slot, 1) }
        let name = ctx.command?.fullName ?? ""
        let base = relative ? ctx.now : 0
        var value = try ctx.int64(2)
        if value < 0 { throw .fieldExpireNegative }
        if seconds {
            if value > maxFieldTime / 1000 { throw .invalidExpireTime(name) }
            value *= 1000
        }
        if value > maxFieldTime - base { throw .invalidExpireTime(name) }
        let expireAt = value + base

        var condition = Condition.none
        if ctx.argIs(3, "nx") {
            condition = .nx
        } else if ctx.argIs(3, "xx") {
            condition = .xx
        } else if ctx.argIs(3, "gt") {
            condition = .gt
        } else if ctx.argIs(3, "lt") {
            condition = .lt
        }
        let fields = try fieldsBlock(ctx, at: condition == .none ? 3 : 4, countError: .numFieldsNotPositive)
        guard let h else { return .array(fields.map { _ in .integer(-2) }) }

        var changed = 0
        var codes: [Reply] = []
        codes.reserveCapacity(fields.count)
        for i in fields {
            let field = ctx.argBytes(i)
            guard h.contains(field) else {
                codes.append(.integer(-2))
                continue
            }
            let previous = h.fieldExpires[field]
            if let previous {
                if condition == .nx || (condition == .gt && previous >= expireAt)
                    || (condition == .lt && previous <= expireAt)
                {
                    codes.append(.zero)
                    continue
                }
            } else if condition == .xx || condition == .gt {
                // No time to live counts as infinite: LT always applies, GT never.
                codes.append(.zero)
                continue
            }
            changed += 1
            if expireAt <= ctx.now {
                h.removeField(field)
                codes.append(.integer(2))
            } else {
                h.setFieldExpiry(field, at: expireAt)
                codes.append(.one)
            }
        }
        if changed > 0 { ctx.markDirty(changed) }
        // Logged with the deadline it computed.
        if changed > 0 && ctx.propagating && (seconds || relative) {
            var args = (0..<ctx.argc).map { ctx.argBytes($0) }
            args[0] = Array("HPEXPIREAT".utf8)
            args[2] = formatInt64(expireAt)
            ctx.propagate(as: args)
        }
        if h.count == 0 {
            ctx.db.delete(ctx.arg(1), now: ctx.now)
        } else if h.hasFieldExpiry {
            ctx.db.noteFieldExpiry(ctx.argBytes(1))
        }
        return .array(codes)
    }

    /// HEXPIRE key seconds [NX | XX | GT | LT] FIELDS numfields field [field ...]
    static func hexpire(_ ctx: CommandContext) throws(CommandError) -> Reply {
        try expireGeneric(ctx, seconds: true, relative: true)
    }
    /// HPEXPIRE key milliseconds [NX | XX | GT | LT] FIELDS numfields field [field ...]
    static func hpexpire(_ ctx: CommandContext) throws(CommandError) -> Reply {
        try expireGeneric(ctx, seconds: false, relative: true)
    }
    /// HEXPIREAT key unix-time-seconds [NX | XX | GT | LT] FIELDS numfields field [field ...]
    static func hexpireat(_ ctx: CommandContext) throws(CommandError) -> Reply {
        try expireGeneric(ctx, seconds: true, relative: false)
    }
    /// HPEXPIREAT key unix-time-milliseconds [NX | XX | GT | LT] FIELDS numfields field [field ...]
    static func hpexpireat(_ ctx: CommandContext) throws(CommandError) -> Reply {
        try expireGeneric(ctx, seconds: false, relative: false)
    }

    /// HTTL and friends: -2 for a missing field, -1 for one without a time to live.
    static func ttlGeneric(_ ctx: CommandContext, seconds: Bool, relative: Bool) throws(CommandError) -> Reply {
        let h = try HashCommands.readHash(ctx)
        let fields = try fieldsBlock(ctx, at: 2, countError: .numFieldsNotPositiveInteger)
        let base = relative ? ctx.now : 0
        return .array(
            fields.map { i in
                let field = ctx.argBytes(i)
                guard let h, h.contains(field) else { return .integer(-2) }
                guard let at = h.fieldExpires[field] else { return .integer(-1) }
                return .integer(seconds ? (at + 999 - base) / 1000 : at - base)
            })
    }

    /// HTTL key FIELDS numfields field [field ...]
    static func httl(_ ctx: CommandContext) throws(CommandError) -> Reply {
        try ttlGeneric(ctx, seconds: true, relative: true)
    }
    /// HPTTL key FIELDS numfields field [field ...]
    static func hpttl(_ ctx: CommandContext) throws(CommandError) -> Reply {
        try ttlGeneric(ctx, seconds: false, relative: true)
    }
    /// HEXPIRETIME key FIELDS numfields field [field ...]
    static func hexpiretime(_ ctx: CommandContext) throws(CommandError) -> Reply {
        try ttlGeneric(ctx, seconds: true, relative: false)
    }
    /// HPEXPIRETIME key FIELDS numfields field [field ...]
    static func hpexpiretime(_ ctx: CommandContext) throws(CommandError) -> Reply {
        try ttlGeneric(ctx, seconds: false, relative: false)
    }

    /// HPERSIST key FIELDS numfields field [field ...]
    static func hpersist(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let h = try HashCommands.existingHash(ctx)
        let fields = try fieldsBlock(ctx, at: 2, countError: .numFieldsNotPositiveInteger)
        var changed = 0
        let codes: [Reply] = fields.map { i in
            let field = ctx.argBytes(i)
            guard let h, h.contains(field) else { return .integer(-2) }
            guard h.removeFieldExpiry(field) else { return .integer(-1) }
            changed += 1
            return .one
        }
        if changed > 0 { ctx.markDirty(changed) }
        return .array(codes)
    }
}

extension CommandTable {
    static let hashFieldExpiryRegistrations: [(String, Handler)] = [
        ("hexpire", HashFieldExpiryCommands.hexpire),
        ("hpexpire", HashFieldExpiryCommands.hpexpire),
        ("hexpireat", HashFieldExpiryCommands.hexpireat),
        ("hpexpireat", HashFieldExpiryCommands.hpexpireat),
        ("httl", HashFieldExpiryCommands.httl),
        ("hpttl", HashFieldExpiryCommands.hpttl),
        ("hexpiretime", HashFieldExpiryCommands.hexpiretime),
        ("hpexpiretime", HashFieldExpiryCommands.hpexpiretime),
        ("hpersist", HashFieldExpiryCommands.hpersist),
    ]
}
