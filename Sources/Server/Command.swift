import DataStore
import RESP

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A command handler: reads its arguments from the context, touches the store, and returns
/// the reply. Synchronous, no I/O.
public typealias Handler = @Sendable (CommandContext) throws(CommandError) -> Reply

/// Redis's per-command metadata, as the reference server reports it.
public struct CommandMetadata: Sendable {
    public let name: String
    public let arity: Int
    public let flags: [String]
    public let firstKey: Int
    public let lastKey: Int
    public let step: Int
    /// The first nine fields of COMMAND INFO, RESP3-encoded.
    public let info: String
    /// COMMAND DOCS's map for this command, RESP3-encoded.
    public let docs: String
    public let subcommands: [CommandMetadata]
}

extension CommandMetadata {
    static let arityChanges: [String: Int] = ["zrank": -3, "zrevrank": -3]

    /// The same metadata with another arity, in the fields and in COMMAND INFO's reply.
    func withArity(_ arity: Int) -> CommandMetadata {
        let nameField = "$\(name.utf8.count)\r\n\(name)\r\n"
        // COMMAND INFO's fields start with the name and the arity.
        let oldPrefix = nameField + ":\(self.arity)\r\n"
        var newInfo = info
        if info.hasPrefix(oldPrefix) { newInfo = nameField + ":\(arity)\r\n" + info.dropFirst(oldPrefix.count) }
        return CommandMetadata(
            name: name, arity: arity, flags: flags, firstKey: firstKey, lastKey: lastKey, step: step, info: newInfo,
            docs: docs, subcommands: subcommands)
    }
}

/// Command flags the dispatcher acts on.
public struct CommandFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let write = CommandFlags(rawValue: 1 << 0)
    public static let readonly = CommandFlags(rawValue: 1 << 1)
    public static let denyoom = CommandFlags(rawValue: 1 << 2)
    public static let admin = CommandFlags(rawValue: 1 << 3)
    public static let pubsub = CommandFlags(rawValue: 1 << 4)
    public static let noscript = CommandFlags(rawValue: 1 << 5)
    public static let blocking = CommandFlags(rawValue: 1 << 6)
    public static let loading = CommandFlags(rawValue: 1 << 7)
    public static let stale = CommandFlags(rawValue: 1 << 8)
    public static let fast = CommandFlags(rawValue: 1 << 9)
    public static let noAuth = CommandFlags(rawValue: 1 << 10)
    public static let noMulti = CommandFlags(rawValue: 1 << 11)
    public static let allowBusy = CommandFlags(rawValue: 1 << 12)
    public static let skipMonitor = CommandFlags(rawValue: 1 << 13)
    public static let skipSlowlog = CommandFlags(rawValue: 1 << 14)
    /// Not a write, but may be propagated (PUBLISH, PFCOUNT, EVAL): paused by CLIENT PAUSE WRITE.
    public static let mayReplicate = CommandFlags(rawValue: 1 << 15)

    init(names: [String]) {
        var f: CommandFlags = []
        for n in names {
            switch n {
            case "write": f.insert(.write)
            case "readonly": f.insert(.readonly)
            case "denyoom": f.insert(.denyoom)
            case "admin": f.insert(.admin)
            case "pubsub": f.insert(.pubsub)
            case "noscript": f.insert(.noscript)
            case "blocking": f.insert(.blocking)
            case "loading": f.insert(.loading)
            case "stale": f.insert(.stale)
            case "fast": f.insert(.fast)
            case "no_auth": f.insert(.noAuth)
            case "no_multi": f.insert(.noMulti)
            case "allow_busy": f.insert(.allowBusy)
            case "skip_monitor": f.insert(.skipMonitor)
            case "skip_slowlog": f.insert(.skipSlowlog)
            case "may_replicate": f.insert(.mayReplicate)
            default: break
            }
        }
        self = f
    }
}

/// One command of the table: metadata, handler, subcommands and its INFO commandstats.
public final class Command {
    static let mayReplicate: Set<String> = ["eval", "evalsha", "fcall", "pfcount", "publish", "spublish"]

    public let name: String
    /// `config|get` for a subcommand.
    public let fullName: String
    public let metadata: CommandMetadata
    public let flags: CommandFlags
    public let arity: Int
    public let handler: Handler?
    public internal(set) var subcommands: [String: Command] = [:]
    public weak var parent: Command?
    /// For commands that name members of a hash or set (HSET's fields, SADD's members):
    /// the first such argument and the step to the next, so a pipelined batch can prefetch
    /// them (`CommandContext.prefetchBatchKeys`).
    public internal(set) var memberArguments: (first: Int, step: Int)?
    /// The name's bytes, for comparing without String machinery.
    let nameBytes: [UInt8]
    /// The key range of the metadata, copied out so hot paths do not copy the metadata.
    public let firstKey: Int
    public let lastKey: Int
    public let keyStep: Int
    /// Runs at once inside MULTI instead of being queued (EXEC, DISCARD, MULTI, WATCH, …).
    public internal(set) var controlsTransaction = false
    /// Allowed to a RESP2 client in subscribed mode.
    public internal(set) var allowedWhileSubscribed = false

    /// What Redis's processCommand lets through while a transaction is open (the rest are
    /// queued) and to a RESP2 client in subscribed mode (the rest are refused).
    static let transactionControl: Set<String> = ["exec", "discard", "multi", "watch", "quit", "reset"]
    static let subscribedModeCommands: Set<String> = [
        "subscribe", "ssubscribe", "sunsubscribe", "psubscribe", "unsubscribe", "punsubscribe", "ping", "quit",
        "reset",
    ]

    static let memberArgumentTable: [String: (Int, Int)] = [
        "sadd": (2, 1), "srem": (2, 1), "sismember": (2, 1), "smismember": (2, 1),
        "hset": (2, 2), "hmset": (2, 2), "hsetnx": (2, 2), "hget": (2, 1), "hmget": (2, 1), "hdel": (2, 1),
        "hexists": (2, 1), "hstrlen": (2, 1), "hincrby": (2, 2), "hincrbyfloat": (2, 2),
    ]

    /// The ACL bit of this command (or subcommand), and its ACL categories' bits.
    public internal(set) var aclId = 0
    public internal(set) var aclCategories: UInt32 = 0
    /// The key specs of COMMAND INFO, read once for ACL key checks, and whether they find
    /// every key with its flags (else the command's own key finder is used).
    public var keySpecs: [KeySpec] = []
    var keySpecsComplete = true

    public var calls = 0
    /// How long its calls took, since the server started (the metrics endpoint's
    /// histogram, which must only grow).
    public var latency = LatencyHistogram()
    /// `latency` when CONFIG RESETSTAT last ran: LATENCY HISTOGRAM and INFO latencystats
    /// count from there, as Redis's do.
    public var latencyAtReset = LatencyHistogram()
    public var latencySinceReset: LatencyHistogram { latency.minus(latencyAtReset) }
    public var microseconds = 0
    public var rejectedCalls = 0
    public var failedCalls = 0

    init(metadata: CommandMetadata, fullName: String, handler: Handler?) {
        self.name = metadata.name
        self.nameBytes = Array(metadata.name.utf8)
        self.firstKey = metadata.firstKey
        self.lastKey = metadata.lastKey
        self.keyStep = metadata.step
        self.arity = metadata.arity
        self.fullName = fullName
        self.metadata = metadata
        var flags = CommandFlags(names: metadata.flags)
        // COMMAND INFO does not show CMD_MAY_REPLICATE; Redis 7.0's commands that carry it.
        if Self.mayReplicate.contains(fullName) { flags.insert(.mayReplicate) }
        self.flags = flags
        self.handler = handler
        let items = ReplyParser.parseAll(Array(metadata.info.utf8))
        if items.count > 6, case .set(let categories) = items[6] {
            for case .simple(let name) in categories {
                if let bit = ACLCategories.bit(String(name.dropFirst())) { aclCategories |= bit }
            }
        }
        if items.count > 8 {
            switch items[8] {
            case .array(let specs), .set(let specs):
                // Shard channels are specs flagged not_key: not keys to ACL.
                keySpecs = specs.compactMap(KeySpec.init).filter { !$0.notKey }
                keySpecsComplete = !keySpecs.contains {
                    $0.incomplete || $0.variableFlags || $0.begin == nil || $0.find == nil
                }
            default: break
            }
        }
    }

    /// Redis's arity rule: a positive arity is exact, a negative one a minimum.
    @inline(__always)
    public func acceptsArgumentCount(_ argc: Int) -> Bool {
        let a = arity
        return a > 0 ? argc == a : argc >= -a
    }

    /// The key arguments' positions, from the table's first/last/step.
    public func keyPositions(argc: Int) -> [Int] {
        guard firstKey > 0, keyStep > 0 else { return [] }
        let last = lastKey >= 0 ? lastKey : argc + lastKey
        return Array(stride(from: firstKey, through: min(last, argc - 1), by: keyStep))
    }

    /// Every key argument's position, movable keys included (a `numkeys` count, a STORE
    /// destination, XREAD's STREAMS), as Redis's key specs and getkeys procs find them.
    public func keyPositions(argc: Int, arg: (Int) -> ArraySlice<UInt8>) -> [Int] {
        func numkeys(_ at: Int, firstKeyAfter: Int = 1) -> [Int] {
            // (n compared before adding: a huge count must not overflow.)
            guard at < argc, let n = parseInt64(arg(at)), n > 0, n < Int64(argc - at) else { return [] }
            return Array((at + firstKeyAfter)..<(at + firstKeyAfter + Int(n)))
        }
        func keyword(_ word: StaticString, from: Int) -> Int? {
            var i = from
            while i < argc - 1 {
                if equalsIgnoringCase(arg(i), word) { return i + 1 }
                i += 1
            }
            return nil
        }
        switch fullName {
        case "zunion", "zinter", "zdiff", "zintercard", "sintercard", "lmpop", "zmpop": return numkeys(1)
        case "blmpop", "bzmpop", "eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro": return numkeys(2)
        case "zunionstore", "zinterstore", "zdiffstore":
            // A bad count finds no key at all, the destination included (Redis's getkeys proc).
            let sources = numkeys(2)
            return sources.isEmpty ? [] : [1] + sources
        case "sort", "sort_ro":
            // Redis's sortGetKeys: LIMIT/GET/BY arguments are skipped, the last STORE wins.
            guard fullName == "sort" else { return [1] }
            var store: Int?
            var i = 2
            while i < argc {
                if equalsIgnoringCase(arg(i), "limit") {
                    i += 2
                } else if equalsIgnoringCase(arg(i), "get") || equalsIgnoringCase(arg(i), "by") {
                    i += 1
                } else if equalsIgnoringCase(arg(i), "store") && i + 1 < argc {
                    store = i + 1
                }
                i += 1
            }
            return [1] + (store.map { [$0] } ?? [])
        case "georadius", "georadiusbymember":
            var keys = [1]
            var i = fullName == "georadius" ? 6 : 5
            while i < argc - 1 {
                if equalsIgnoringCase(arg(i), "store") || equalsIgnoringCase(arg(i), "storedist") {
                    keys.append(i + 1)
                    i += 1
                }
                i += 1
            }
            return keys
        case "xread", "xreadgroup":
            guard let start = keyword("streams", from: 1) else { return [] }
            let n = (argc - start) / 2
            return Array(start..<(start + n))
        case "migrate":
            if argc > 6, let keys = keyword("keys", from: 6) { return Array(keys..<argc) }
            return argc > 3 && !arg(3).isEmpty ? [3] : []
        default:
            return keyPositions(argc: argc)
        }
    }

    /// The COMMAND INFO entry for this command, subcommands rendered from the table.
    public var infoReply: Reply {
        var items = ReplyParser.parseAll(Array(metadata.info.utf8))
        let subs = subcommands.values.sorted { $0.fullName < $1.fullName }.map(\.infoReply)
        items.append(.set(subs))
        return .array(items)
    }

    /// The COMMAND DOCS entry; a subcommand's is the one its container's docs list (Redis's
    /// metadata keeps subcommand docs there only).
    public var docsReply: Reply {
        let own = ReplyParser.parseAll(Array(metadata.docs.utf8)).first ?? .map([])
        guard let parent, case .map(let fields) = own, fields.isEmpty,
            case .map(let parentFields) = parent.docsReply
        else { return own }
        var i = 0
        while i + 1 < parentFields.count {
            if parentFields[i] == .bulk("subcommands"), case .map(let subs) = parentFields[i + 1] {
                var j = 0
                while j + 1 < subs.count {
                    if subs[j] == .bulk(fullName) { return subs[j + 1] }
                    j += 2
                }
            }
            i += 2
        }
        return own
    }
}

/// The command table: every command Swiftlet implements, found case-insensitively by the
/// bytes of its name without allocating.
public final class CommandTable {
    public private(set) var commands: [Command] = []
    var slots: [Int32]
    var slotHashes: [UInt64]
    let slotMask: Int

    public init(registrations: [(String, Handler)]) {
        let size = 1024
        slots = [Int32](repeating: -1, count: size)
        slotHashes = [UInt64](repeating: 0, count: size)
        slotMask = size - 1
        var metadataByName: [String: CommandMetadata] = [:]
        for m in CommandMetadata.reference + CommandMetadata.additions {
            metadataByName[m.name] = m
            for sub in m.subcommands { metadataByName[sub.name] = sub }
        }
        // Arity changes after 7.0 (ZRANK/ZREVRANK gained WITHSCORE in 7.2).
        for (name, arity) in CommandMetadata.arityChanges {
            if let m = metadataByName[name] { metadataByName[name] = m.withArity(arity) }
        }
        var byName: [String: Command] = [:]
        // Containers first, then their subcommands.
        for (name, handler) in registrations where !name.contains("|") {
            guard let m = metadataByName[name] else { fatalError("no metadata for command '\(name)'") }
            let command = Command(metadata: m, fullName: name, handler: handler)
            if let members = Command.memberArgumentTable[name] { command.memberArguments = members }
            command.controlsTransaction = Command.transactionControl.contains(name)
            command.allowedWhileSubscribed = Command.subscribedModeCommands.contains(name)
            byName[name] = command
            insert(command)
        }
        for (name, handler) in registrations where name.contains("|") {
            let parts = name.split(separator: "|", maxSplits: 1).map(String.init)
            guard let parent = byName[parts[0]], let m = metadataByName[name] else {
                fatalError("no metadata for subcommand '\(name)'")
            }
            let child = Command(metadata: m, fullName: name, handler: handler)
            child.parent = parent
            parent.subcommands[parts[1]] = child
        }
        for command in allCommands {
            command.aclId = aclIdCount
            aclIdCount += 1
        }
    }

    /// Every command and `container|sub` name Redis 7.4 has, implemented here or not.
    static let redisCommandNames: Set<String> = {
        var names = Set<String>()
        for m in CommandMetadata.reference + CommandMetadata.additions {
            names.insert(m.name)
            for sub in m.subcommands { names.insert(sub.name) }
        }
        for later in CommandMetadata.laterCommands { names.insert(later.name) }
        return names
    }()

    /// How many ACL command bits there are (one per command and subcommand).
    public private(set) var aclIdCount = 0

    /// A command or `container|sub` by name for ACL rules (lookupCommandBySdsLogic).
    func aclLookup(_ name: String) -> Command? {
        let parts = name.lowercased().split(separator: "|", omittingEmptySubsequences: false)
        guard parts.count <= 2, let base = lookup(String(parts[0])) else { return nil }
        if parts.count == 1 { return base }
        return base.subcommands[String(parts[1])]
    }

    func insert(_ command: Command) {
        let bytes = Array(command.name.utf8)
        let h = bytes.withUnsafeBytes { hashBytes($0, seed: 7) }
        var i = Int(truncatingIfNeeded: h) & slotMask
        while slots[i] >= 0 { i = (i + 1) & slotMask }
        slots[i] = Int32(commands.count)
        slotHashes[i] = h
        commands.append(command)
    }

    /// Finds a command by name, ASCII case-insensitively.
    public func lookup(_ name: UnsafeRawBufferPointer) -> Command? {
        if name.count == 0 || name.count > 64 { return nil }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: name.count) { lowered -> Command? in
            for i in 0..<name.count {
                let c = name[i]
                lowered[i] = c >= 65 && c <= 90 ? c + 32 : c
            }
            let raw = UnsafeRawBufferPointer(lowered)
            let h = hashBytes(raw, seed: 7)
            var i = Int(truncatingIfNeeded: h) & slotMask
            while slots[i] >= 0 {
                if slotHashes[i] == h {
                    let command = commands[Int(slots[i])]
                    if command.nameBytes.count == raw.count
                        && command.nameBytes.withUnsafeBytes({ memcmp($0.baseAddress!, raw.baseAddress!, raw.count) })
                            == 0
                    {
                        return command
                    }
                }
                i = (i + 1) & slotMask
            }
            return nil
        }
    }

    public func lookup(_ name: String) -> Command? {
        Array(name.utf8).withUnsafeBytes { lookup($0) }
    }

    /// Every command and subcommand, containers first.
    public var allCommands: [Command] {
        commands.flatMap { [$0] + $0.subcommands.values.sorted { $0.fullName < $1.fullName } }
    }
}
