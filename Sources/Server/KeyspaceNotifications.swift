import DataStore
import RESP
import ServerConfig

/// Keyspace notifications (`notify-keyspace-events`): after a write command changed the
/// dataset, the events Redis's commands raise are published on `__keyspace@<db>__:<key>`
/// and `__keyevent@<db>__:<event>` — the command's own event per key (from `eventTable`),
/// `new` for keys it created, `del` for keys it emptied, and `expired` for keys expiry
/// removed. Nothing runs while the setting is empty.
extension ServerState {
    public func notifyKeyspaceEvent(_ type: KeyspaceEvents, _ event: String, key: [UInt8], db: Int) {
        let flags = config.limits.keyspaceEvents
        guard !flags.isDisjoint(with: type) else { return }
        if flags.contains(.keyspace) {
            _ = publish(channel: Array("__keyspace@\(db)__:".utf8) + key, message: Array(event.utf8))
        }
        if flags.contains(.keyevent) {
            _ = publish(channel: Array("__keyevent@\(db)__:\(event)".utf8), message: key)
        }
    }

    /// Publishes `expired` for the keys expiry removed since the last call, and `hexpired`
    /// (then `del` for a hash left empty) for hashes that lost fields. `current` is the
    /// client whose command found the keys expired: its own invalidations follow its reply.
    public func drainExpiredEvents(current: ClientSession? = nil) {
        // Runs after every command while logging is on: the common case (nothing expired)
        // is one pass over the databases without copying them.
        let pending = keyspace.databases.withUnsafeBufferPointer { dbs in
            dbs.contains { !$0.expiredLog.isEmpty || !$0.fieldExpiredLog.isEmpty }
        }
        guard pending else { return }
        for db in keyspace.databases.indices where !keyspace.databases[db].fieldExpiredLog.isEmpty {
            let entries = keyspace.databases[db].fieldExpiredLog
            keyspace.databases[db].fieldExpiredLog.removeAll()
            for (key, emptied) in entries {
                touchWatchedKey(db: db, key: key[...])
                invalidateTrackedKey(db: db, key: key[...], by: nil, current: current)
                notifyKeyspaceEvent(.hash, "hexpired", key: key, db: db)
                if emptied { notifyKeyspaceEvent(.generic, "del", key: key, db: db) }
            }
        }
        for db in keyspace.databases.indices where !keyspace.databases[db].expiredLog.isEmpty {
            let keys = keyspace.databases[db].expiredLog
            keyspace.databases[db].expiredLog.removeAll()
            for key in keys {
                // Expiry is logged as a deletion (Redis's deleteExpiredKeyAndPropagate).
                propagation.record(db: db, [Array("DEL".utf8), key])
                touchWatchedKey(db: db, key: key[...])
                invalidateTrackedKey(db: db, key: key[...], by: nil, current: current)
                notifyKeyspaceEvent(.expired, "expired", key: key, db: db)
            }
        }
    }

    /// Turns the expiry log on while notifications, tracking or the AOF need it.
    public func updateExpiryLogging() {
        let on = !config.limits.keyspaceEvents.isEmpty || trackingClients > 0 || propagation.isActive
        expiryLogging = on
        for i in keyspace.databases.indices where keyspace.databases[i].logExpired != on {
            keyspace.databases[i].logExpired = on
        }
    }
}

/// Which keys of a command an event is about.
enum EventKeys {
    case first, second, keys, last
}

struct EventSpec {
    var keys: EventKeys
    var event: String
    var type: KeyspaceEvents
    /// Raised even when the key is gone afterwards (a pop that emptied it, then `del`).
    var evenIfGone = false
}

extension CommandContext {
    static let eventTable: [String: [EventSpec]] = {
        func one(_ e: String, _ t: KeyspaceEvents, _ k: EventKeys = .first, gone: Bool = false) -> [EventSpec] {
            [EventSpec(keys: k, event: e, type: t, evenIfGone: gone)]
        }
        var t: [String: [EventSpec]] = [:]
        for c in ["set", "setnx", "setex", "psetex", "getset", "mset", "msetnx"] { t[c] = one("set", .string, .keys) }
        t["append"] = one("append", .string)
        t["setrange"] = one("setrange", .string)
        for c in ["incr", "decr", "incrby", "decrby"] { t[c] = one("incrby", .string) }
        t["incrbyfloat"] = one("incrbyfloat", .string)
        t["setbit"] = one("setbit", .string)
        t["bitfield"] = one("setbit", .string)
        t["bitop"] = one("set", .string, .second)
        t["persist"] = one("persist", .generic)
        for c in ["expire", "pexpire", "expireat", "pexpireat"] { t[c] = one("expire", .generic) }
        t["copy"] = one("copy_to", .generic, .second)
        t["lpush"] = one("lpush", .list)
        t["lpushx"] = one("lpush", .list)
        t["rpush"] = one("rpush", .list)
        t["rpushx"] = one("rpush", .list)
        t["lpop"] = one("lpop", .list, gone: true)
        t["rpop"] = one("rpop", .list, gone: true)
        t["linsert"] = one("linsert", .list)
        t["lset"] = one("lset", .list)
        t["lrem"] = one("lrem", .list, gone: true)
        t["ltrim"] = one("ltrim", .list, gone: true)
        for c in ["hset", "hmset", "hsetnx"] { t[c] = one("hset", .hash) }
        t["hdel"] = one("hdel", .hash, gone: true)
        t["hincrby"] = one("hincrby", .hash)
        t["hincrbyfloat"] = one("hincrbyfloat", .hash)
        for c in ["hexpire", "hpexpire", "hexpireat", "hpexpireat"] { t[c] = one("hexpire", .hash) }
        t["hpersist"] = one("hpersist", .hash)
        t["sadd"] = one("sadd", .set)
        t["srem"] = one("srem", .set, gone: true)
        t["spop"] = one("spop", .set, gone: true)
        t["sinterstore"] = one("sinterstore", .set)
        t["sunionstore"] = one("sunionstore", .set)
        t["sdiffstore"] = one("sdiffstore", .set)
        t["zadd"] = one("zadd", .zset)  // "zincr" with INCR, below
        t["zincrby"] = one("zincr", .zset)
        t["zrem"] = one("zrem", .zset, gone: true)
        t["zremrangebyscore"] = one("zremrangebyscore", .zset, gone: true)
        t["zremrangebyrank"] = one("zremrangebyrank", .zset, gone: true)
        t["zremrangebylex"] = one("zremrangebylex", .zset, gone: true)
        t["zpopmin"] = one("zpopmin", .zset, gone: true)
        t["zpopmax"] = one("zpopmax", .zset, gone: true)
        t["zunionstore"] = one("zunionstore", .zset)
        t["zinterstore"] = one("zinterstore", .zset)
        t["zdiffstore"] = one("zdiffstore", .zset)
        t["zrangestore"] = one("zrangestore", .zset)
        t["geoadd"] = one("zadd", .zset)
        t["getdel"] = []
        t["restore"] = one("restore", .generic)
        t["geosearchstore"] = one("geosearchstore", .zset)
        t["pfadd"] = one("pfadd", .string)
        t["pfmerge"] = one("pfadd", .string)
        t["sort"] = [EventSpec(keys: .last, event: "sortstore", type: .list)]
        return t
    }()

    /// Whether each key argument exists, before a write runs (for `new` and `del`).
    func keysBeforeWrite(_ command: Command) -> [(Int, Bool)] {
        let now = keyspace.now
        return command.keyPositions(argc: argc, arg: { self.arg($0) }).filter { $0 < argc }.map { i in
            (
                i,
                arg(i).withUnsafeBytes { db.table.find($0) }.map {
                    db.table[$0].expireAt == KeyEntry.noExpiry || db.table[$0].expireAt >= now
                } ?? false
            )
        }
    }

    func exists(_ i: Int) -> Bool {
        arg(i).withUnsafeBytes { db.table.find($0) } != nil
    }

    /// Raises the events of a write command that changed the dataset.
    func notifyWrite(_ command: Command, before: [(Int, Bool)]) {
        let dbIndex = session.db
        let name = command.parent?.name ?? command.name
        // Keys the command created come first, as Redis's dbAdd raises them.
        for (i, existed) in before where !existed && exists(i) {
            server.notifyKeyspaceEvent(.newKey, "new", key: argBytes(i), db: dbIndex)
        }
        switch name {
        case "rename", "renamenx":
            server.notifyKeyspaceEvent(.generic, "rename_from", key: argBytes(1), db: dbIndex)
            server.notifyKeyspaceEvent(.generic, "rename_to", key: argBytes(2), db: dbIndex)
            return
        case "move":
            if let target = parseInt64(arg(2)) {
                server.notifyKeyspaceEvent(.newKey, "new", key: argBytes(1), db: Int(target))
            }
            server.notifyKeyspaceEvent(.generic, "move_from", key: argBytes(1), db: dbIndex)
            if let target = parseInt64(arg(2)) {
                server.notifyKeyspaceEvent(.generic, "move_to", key: argBytes(1), db: Int(target))
            }
            return
        case "lmove", "blmove", "rpoplpush", "brpoplpush":
            let fromLeft = name.hasPrefix("rpop") || name.hasPrefix("brpop") ? false : argIs(3, "left")
            let toLeft = name.hasPrefix("rpop") || name.hasPrefix("brpop") ? true : argIs(4, "left")
            // Redis pushes first, then reports the pop.
            server.notifyKeyspaceEvent(.list, toLeft ? "lpush" : "rpush", key: argBytes(2), db: dbIndex)
            server.notifyKeyspaceEvent(.list, fromLeft ? "lpop" : "rpop", key: argBytes(1), db: dbIndex)
        case "smove":
            server.notifyKeyspaceEvent(.set, "srem", key: argBytes(1), db: dbIndex)
            if !exists(1) { server.notifyKeyspaceEvent(.generic, "del", key: argBytes(1), db: dbIndex) }
            if !unchangedKeyArgs.contains(2) {
                server.notifyKeyspaceEvent(.set, "sadd", key: argBytes(2), db: dbIndex)
            }
            return
        case "blpop", "brpop", "lmpop", "blmpop", "bzpopmin", "bzpopmax", "zmpop", "bzmpop":
            // The key served is the first of the keys that changed.
            let event: String
            let type: KeyspaceEvents
            switch name {
            case "blpop": (event, type) = ("lpop", .list)
            case "brpop": (event, type) = ("rpop", .list)
            case "lmpop", "blmpop":
                let whereArg = before.last.map { $0.0 + 1 } ?? 0
                (event, type) = (whereArg < argc && argIs(whereArg, "left") ? "lpop" : "rpop", .list)
            case "bzpopmin": (event, type) = ("zpopmin", .zset)
            case "bzpopmax": (event, type) = ("zpopmax", .zset)
            default:
                let whereArg = before.last.map { $0.0 + 1 } ?? 0
                (event, type) = (whereArg < argc && argIs(whereArg, "min") ? "zpopmin" : "zpopmax", .zset)
            }
            if let key = before.first(where: { $0.1 })?.0 {
                server.notifyKeyspaceEvent(type, event, key: argBytes(key), db: dbIndex)
            }
        default:
            var specs = Self.eventTable[name] ?? []
            if name == "zadd" && (2..<argc).contains(where: { argIs($0, "incr") }) {
                specs = [EventSpec(keys: .first, event: "zincr", type: .zset)]
            }
            for spec in specs {
                var positions: [Int]
                switch spec.keys {
                case .first: positions = [1]
                case .second: positions = [2]
                case .keys: positions = before.map(\.0)
                case .last: positions = before.count > 1 ? [before[before.count - 1].0] : []
                }
                for i in positions where i < argc && (spec.evenIfGone || exists(i)) {
                    server.notifyKeyspaceEvent(spec.type, spec.event, key: argBytes(i), db: dbIndex)
                }
            }
            // GETEX changes only the time to live.
            if name == "getex" && exists(1) {
                if (2..<argc).contains(where: { argIs($0, "persist") }) {
                    server.notifyKeyspaceEvent(.generic, "persist", key: argBytes(1), db: dbIndex)
                } else if argc > 2 {
                    server.notifyKeyspaceEvent(.generic, "expire", key: argBytes(1), db: dbIndex)
                }
            }
            // SET with an expiry also raises `expire`.
            if name == "set" || name == "setex" || name == "psetex", exists(1) {
                if name != "set"
                    || (3..<argc).contains(where: {
                        argIs($0, "ex") || argIs($0, "px") || argIs($0, "exat") || argIs($0, "pxat")
                    })
                {
                    server.notifyKeyspaceEvent(.generic, "expire", key: argBytes(1), db: dbIndex)
                }
            }
        }
        for e in deferredEvents {
            server.notifyKeyspaceEvent(e.type, e.event, key: argBytes(e.keyArg), db: dbIndex)
        }
        // Keys that were there and are gone: deleted, emptied or expired by the command.
        for (i, existed) in before where existed && !exists(i) {
            server.notifyKeyspaceEvent(.generic, "del", key: argBytes(i), db: dbIndex)
        }
    }
}
