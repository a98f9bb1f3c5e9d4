import DataStore
import RESP
import Server

enum TrackingCommands {
    /// CLIENT TRACKING <ON | OFF> [REDIRECT client-id] [PREFIX prefix ...] [BCAST] [OPTIN] [OPTOUT] [NOLOOP]
    static func tracking(_ ctx: CommandContext) throws(CommandError) -> Reply {
        var options = TrackingState()
        var redirect: Int64 = 0
        var j = 3
        while j < ctx.argc {
            let more = j + 1 < ctx.argc
            if ctx.argIs(j, "redirect") && more {
                j += 1
                if redirect != 0 { throw .trackingOneRedirect }
                redirect = try ctx.int64(j)
                if ctx.server.clients[redirect] == nil { throw .trackingNoRedirectClient }
            } else if ctx.argIs(j, "bcast") {
                options.bcast = true
            } else if ctx.argIs(j, "optin") {
                options.optin = true
            } else if ctx.argIs(j, "optout") {
                options.optout = true
            } else if ctx.argIs(j, "noloop") {
                options.noloop = true
            } else if ctx.argIs(j, "prefix") && more {
                j += 1
                options.prefixes.append(ctx.argBytes(j))
            } else {
                throw .syntax
            }
            j += 1
        }
        let s = ctx.session
        if ctx.argIs(2, "on") {
            if !options.bcast && !options.prefixes.isEmpty { throw .trackingPrefixNeedsBcast }
            if s.tracking.on && s.tracking.bcast != options.bcast { throw .trackingBcastSwitch }
            if options.bcast && (options.optin || options.optout) { throw .trackingBcastOptin }
            if options.optin && options.optout { throw .trackingOptinOptout }
            if (options.optin && s.tracking.optout) || (options.optout && s.tracking.optin) {
                throw .trackingOptSwitch
            }
            if options.bcast {
                // checkPrefixCollisionsOrReply: against the client's prefixes, then each other.
                let text = { (b: [UInt8]) in String(decoding: b, as: UTF8.self) }
                for (a, p) in options.prefixes.enumerated() {
                    for q in s.tracking.prefixes where p.starts(with: q) || q.starts(with: p) {
                        throw .trackingPrefixOverlap(text(p), text(q), existing: true)
                    }
                    for q in options.prefixes[(a + 1)...] where p.starts(with: q) || q.starts(with: p) {
                        throw .trackingPrefixOverlap(text(p), text(q), existing: false)
                    }
                }
            }
            if !s.tracking.on { ctx.server.trackingClients += 1 }
            let prefixes = s.tracking.prefixes + options.prefixes
            s.tracking = options
            s.tracking.prefixes = prefixes
            s.tracking.on = true
            s.tracking.redirect = redirect
            ctx.server.updateExpiryLogging()
        } else if ctx.argIs(2, "off") {
            ctx.server.disableTracking(s)
        } else {
            throw .syntax
        }
        return .ok
    }

    /// CLIENT CACHING <YES | NO>
    static func caching(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let t = ctx.session.tracking
        if !t.on { throw .cachingWithoutTracking }
        if ctx.argIs(2, "yes") {
            if !t.optin { throw .cachingYesNeedsOptin }
        } else if ctx.argIs(2, "no") {
            if !t.optout { throw .cachingNoNeedsOptout }
        } else {
            throw .syntax
        }
        ctx.session.tracking.caching = true
        ctx.keepCachingFlag = true
        return .ok
    }

    /// CLIENT GETREDIR
    static func getredir(_ ctx: CommandContext) throws(CommandError) -> Reply {
        .integer(ctx.session.tracking.on ? ctx.session.tracking.redirect : -1)
    }

    /// CLIENT TRACKINGINFO
    static func trackinginfo(_ ctx: CommandContext) throws(CommandError) -> Reply {
        let t = ctx.session.tracking
        var flags: [Reply] = []
        if !t.on {
            flags.append(.bulk("off"))
        } else {
            flags.append(.bulk("on"))
            if t.bcast { flags.append(.bulk("bcast")) }
            if t.optin {
                flags.append(.bulk("optin"))
                if t.caching { flags.append(.bulk("caching-yes")) }
            }
            if t.optout {
                flags.append(.bulk("optout"))
                if t.caching { flags.append(.bulk("caching-no")) }
            }
            if t.noloop { flags.append(.bulk("noloop")) }
            if t.redirect != 0 && ctx.server.clients[t.redirect] == nil { flags.append(.bulk("broken_redirect")) }
        }
        return .map([
            .bulk("flags"), .set(flags), .bulk("redirect"), .integer(t.on ? t.redirect : -1), .bulk("prefixes"),
            // Redis keeps prefixes in a radix tree: they list in byte order; BCAST without
            // a prefix is tracking the empty one.
            .array(
                t.on && t.bcast && t.prefixes.isEmpty
                    ? [.bulk([])] : t.prefixes.sorted { $0.lexicographicallyPrecedes($1) }.map { .bulk($0) }),
        ])
    }
}

extension CommandTable {
    static let trackingRegistrations: [(String, Handler)] = [
        ("client|tracking", TrackingCommands.tracking),
        ("client|caching", TrackingCommands.caching),
        ("client|trackinginfo", TrackingCommands.trackinginfo),
    ]
}
