#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The Redis version that Swiftlet presents to clients (INFO, HELLO, error banners).
public let redisCompatibleVersion = "7.4.0"
public let swiftletVersion = "0.1.0"

/// How a directive's value is read and shown.
public enum DirectiveKind: Sendable {
    case bool
    case integer(min: Int64, max: Int64)
    /// Bytes, with Redis's units (`100mb`, `1gb`, `5k`); shown as a plain number.
    case memory(min: Int64, max: Int64)
    /// Bytes, or a percentage of maxmemory written `N%` (Redis's PERCENT_CONFIG:
    /// maxmemory-clients); kept as written.
    case memoryOrPercent(min: Int64, max: Int64)
    case enumeration([String])
    /// Several of a set of words, space-separated (Redis's MULTI_ARG enum: shutdown-on-sigint
    /// `now force`); shown in the declared order, the first word alone meaning none.
    case flags([String])
    case string
    /// Octal integer such as `unixsocketperm 700`.
    case octal
    /// Space-separated list (bind).
    case stringList
    /// `save <seconds> <changes> [...]` or `save ""`.
    case save
    case clientOutputBufferLimit
    case keyspaceEvents
    /// Space-separated percentiles between 0 and 100 (latency-tracking-info-percentiles),
    /// shown as Redis prints them (`%f` without trailing zeros: `50 99 99.9`).
    case percentiles
    /// Three scores between -2000 and 2000 for the primary, replica and background-child
    /// classes (oom-score-adj-values).
    case oomScoreAdjValues
}

/// One configuration directive, as in Redis's standardConfig table.
public struct Directive: Sendable {
    public let name: String
    public let kind: DirectiveKind
    public let defaultValue: String
    public let aliases: [String]
    public let mutable: Bool
    /// Redis's HIDDEN_CONFIG: testing knobs that CONFIG GET shows only when asked by name.
    public let hidden: Bool

    public init(
        _ name: String, _ kind: DirectiveKind, default value: String, aliases: [String] = [],
        mutable: Bool = true, hidden: Bool = false
    ) {
        self.name = name
        self.kind = kind
        self.defaultValue = value
        self.aliases = aliases
        self.mutable = mutable
        self.hidden = hidden
    }
}

/// A configuration error with Redis's reason text (without the surrounding report).
public struct ConfigError: Error, Equatable, Sendable {
    public let message: String
    /// The directive the error is about, when known.
    public let directive: String?
    public init(_ message: String, directive: String? = nil) {
        self.message = message
        self.directive = directive
    }
}

/// One `rename-command old new` line.
public struct CommandRename: Sendable {
    public let old: String
    public let new: String
    /// Redis's report for this line with the reason the rename failed.
    public let report: @Sendable (String) -> String
}

/// Redis's memtoull: a number with an optional unit (b, k, kb, m, mb, g, gb), case-insensitive.
public func parseMemory(_ text: String) -> Int64? {
    let lower = text.lowercased()
    let units: [(String, Int64)] = [
        ("gb", 1024 * 1024 * 1024), ("mb", 1024 * 1024), ("kb", 1024), ("g", 1_000_000_000), ("m", 1_000_000),
        ("k", 1000), ("b", 1),
    ]
    var digits = lower
    var multiplier: Int64 = 1
    for (suffix, mul) in units where lower.hasSuffix(suffix) {
        digits = String(lower.dropLast(suffix.count))
        multiplier = mul
        break
    }
    guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "-") }), let n = Int64(digits)
    else { return nil }
    let (v, overflow) = n.multipliedReportingOverflow(by: multiplier)
    return overflow ? nil : v
}

/// Keyspace notification classes (Redis's NOTIFY_* flags).
public struct KeyspaceEvents: OptionSet, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    public static let keyspace = KeyspaceEvents(rawValue: 1 << 0)
    public static let keyevent = KeyspaceEvents(rawValue: 1 << 1)
    public static let generic = KeyspaceEvents(rawValue: 1 << 2)
    public static let string = KeyspaceEvents(rawValue: 1 << 3)
    public static let list = KeyspaceEvents(rawValue: 1 << 4)
    public static let set = KeyspaceEvents(rawValue: 1 << 5)
    public static let hash = KeyspaceEvents(rawValue: 1 << 6)
    public static let zset = KeyspaceEvents(rawValue: 1 << 7)
    public static let expired = KeyspaceEvents(rawValue: 1 << 8)
    public static let evicted = KeyspaceEvents(rawValue: 1 << 9)
    public static let stream = KeyspaceEvents(rawValue: 1 << 10)
    public static let keyMiss = KeyspaceEvents(rawValue: 1 << 11)
    public static let module = KeyspaceEvents(rawValue: 1 << 12)
    public static let newKey = KeyspaceEvents(rawValue: 1 << 13)
    public static let all: KeyspaceEvents = [
        .generic, .string, .list, .set, .hash, .zset, .expired, .evicted, .stream, .module,
    ]

    static let letters: [(Character, KeyspaceEvents)] = [
        ("g", .generic), ("$", .string), ("l", .list), ("s", .set), ("h", .hash), ("z", .zset), ("x", .expired),
        ("e", .evicted), ("t", .stream), ("d", .module), ("n", .newKey),
    ]

    /// Redis's keyspaceEventsStringToFlags; nil for an unknown letter.
    public init?(parsing text: String) {
        var flags: KeyspaceEvents = []
        for ch in text {
            switch ch {
            case "A": flags.formUnion(.all)
            case "K": flags.insert(.keyspace)
            case "E": flags.insert(.keyevent)
            case "m": flags.insert(.keyMiss)
            default:
                guard let entry = Self.letters.first(where: { $0.0 == ch }) else { return nil }
                flags.insert(entry.1)
            }
        }
        self = flags
    }

    /// Redis's keyspaceEventsFlagsToString.
    public var description: String {
        var s = ""
        if isSuperset(of: .all) {
            s = "A"
        } else {
            for (ch, flag) in Self.letters where contains(flag) { s.append(ch) }
        }
        if contains(.keyspace) { s += "K" }
        if contains(.keyevent) { s += "E" }
        if contains(.keyMiss) { s += "m" }
        return s
    }
}

/// Live configuration: every directive's value, normalised to what CONFIG GET shows.
/// The encoding thresholds and size limits that writes consult, as integers.
public struct EncodingLimits: Sendable {
    public var hashMaxListpackEntries: Int64 = 128
    public var hashMaxListpackValue: Int64 = 64
    public var zsetMaxListpackEntries: Int64 = 128
    public var zsetMaxListpackValue: Int64 = 64
    public var setMaxIntsetEntries: Int64 = 512
    public var setMaxListpackEntries: Int64 = 128
    public var setMaxListpackValue: Int64 = 64
    public var listMaxListpackSize: Int64 = -2
    /// `maxmemory` (0: no limit) and what eviction reads, as numbers.
    public var maxmemory: Int64 = 0
    /// `maxmemory-clients` in bytes (a percentage is taken of maxmemory); 0: no client
    /// eviction.
    public var maxmemoryClients: Int64 = 0
    /// `maxmemory-policy` as EvictionPolicy's raw value (0 noeviction … 7 volatile-ttl).
    public var maxmemoryPolicy: UInt8 = 0
    public var maxmemorySamples: Int64 = 5
    public var evictionTenacity: Int64 = 10
    public var lfuLogFactor: Int64 = 10
    public var lfuDecayTime: Int64 = 1
    public var lazyfreeEviction = false
    public var lazyfreeUserDel = false
    /// `busy-reply-threshold`: milliseconds before a running script answers others BUSY.
    public var busyReplyThreshold: Int64 = 5000
    public var streamNodeMaxBytes: Int64 = 4096
    public var streamNodeMaxEntries: Int64 = 100
    public var protoMaxBulkLen: Int64 = 512 * 1024 * 1024
    public var clientQueryBufferLimit: Int64 = 1024 * 1024 * 1024
    public var slowlogSlowerThan: Int64 = 10000
    public var latencyMonitorThreshold: Int64 = 0
    /// `notify-keyspace-events`, parsed (empty: no notifications, the fast path).
    public var keyspaceEvents: KeyspaceEvents = []
    public var slowlogMaxLen: Int64 = 128
    /// min-replicas-to-write is in force (both it and min-replicas-max-lag above zero).
    public var minReplicasToWrite: Int64 = 0
    /// tracking-table-max-keys (0: no limit).
    public var trackingTableMaxKeys: Int64 = 1_000_000
    /// latency-tracking (per-command latency histograms) and the percentiles INFO shows.
    public var latencyTracking = true
    public var latencyPercentiles: [Double] = [50, 99, 99.9]
    /// `client-output-buffer-limit` for the normal and pubsub classes: hard bytes, soft
    /// bytes, soft seconds (plain fields, so reading a limit copies no storage).
    public var normalOutputLimit: (hard: Int64, soft: Int64, seconds: Int64) = (0, 0, 0)
    public var pubsubOutputLimit: (hard: Int64, soft: Int64, seconds: Int64) = (33_554_432, 8_388_608, 60)
    /// The replica class (`slave`/`replica`): the stream a replica has not read yet.
    public var replicaOutputLimit: (hard: Int64, soft: Int64, seconds: Int64) = (268_435_456, 67_108_864, 60)
    /// The smaller hard limit that is set (Int64.max when neither is): output below it needs
    /// no closer look after each command.
    public var smallestOutputHardLimit: Int64 = 33_554_432

    public init() {}

    init(_ config: Config) {
        hashMaxListpackEntries = config.int("hash-max-listpack-entries")
        hashMaxListpackValue = config.int("hash-max-listpack-value")
        zsetMaxListpackEntries = config.int("zset-max-listpack-entries")
        zsetMaxListpackValue = config.int("zset-max-listpack-value")
        setMaxIntsetEntries = config.int("set-max-intset-entries")
        setMaxListpackEntries = config.int("set-max-listpack-entries")
        setMaxListpackValue = config.int("set-max-listpack-value")
        listMaxListpackSize = config.int("list-max-listpack-size")
        maxmemory = config.int("maxmemory")
        let clients = config["maxmemory-clients"]
        maxmemoryClients =
            clients.hasSuffix("%") ? (Int64(clients.dropLast()) ?? 0) * maxmemory / 100 : parseMemory(clients) ?? 0
        maxmemoryPolicy =
            [
                "noeviction", "allkeys-lru", "allkeys-lfu", "allkeys-random", "volatile-lru", "volatile-lfu",
                "volatile-random", "volatile-ttl",
            ].firstIndex(of: config["maxmemory-policy"]).map { UInt8($0) } ?? 0
        maxmemorySamples = config.int("maxmemory-samples")
        evictionTenacity = config.int("maxmemory-eviction-tenacity")
        lfuLogFactor = config.int("lfu-log-factor")
        lfuDecayTime = config.int("lfu-decay-time")
        lazyfreeEviction = config.bool("lazyfree-lazy-eviction")
        lazyfreeUserDel = config.bool("lazyfree-lazy-user-del")
        busyReplyThreshold = config.int("busy-reply-threshold")
        streamNodeMaxBytes = config.int("stream-node-max-bytes")
        streamNodeMaxEntries = config.int("stream-node-max-entries")
        protoMaxBulkLen = config.int("proto-max-bulk-len")
        clientQueryBufferLimit = config.int("client-query-buffer-limit")
        slowlogSlowerThan = config.int("slowlog-log-slower-than")
        latencyMonitorThreshold = config.int("latency-monitor-threshold")
        keyspaceEvents = KeyspaceEvents(parsing: config["notify-keyspace-events"]) ?? []
        slowlogMaxLen = config.int("slowlog-max-len")
        minReplicasToWrite = config.int("min-replicas-max-lag") > 0 ? config.int("min-replicas-to-write") : 0
        trackingTableMaxKeys = config.int("tracking-table-max-keys")
        latencyTracking = config.bool("latency-tracking")
        latencyPercentiles = config["latency-tracking-info-percentiles"].split(separator: " ").compactMap { Double($0) }
        let words = config["client-output-buffer-limit"].split(separator: " ").map(String.init)
        var i = 0
        while i + 3 < words.count {
            let limit = (parseMemory(words[i + 1]) ?? 0, parseMemory(words[i + 2]) ?? 0, Int64(words[i + 3]) ?? 0)
            if words[i] == "normal" { normalOutputLimit = limit }
            if words[i] == "pubsub" { pubsubOutputLimit = limit }
            if words[i] == "slave" { replicaOutputLimit = limit }
            i += 4
        }
        smallestOutputHardLimit = [normalOutputLimit.hard, pubsubOutputLimit.hard].filter { $0 > 0 }.min() ?? .max
    }
}

public final class Config: @unchecked Sendable {
    public static let directives: [String: Directive] = {
        var map: [String: Directive] = [:]
        for d in Directive.all {
            map[d.name] = d
        }
        return map
    }()
    public static let aliases: [String: String] = {
        var map: [String: String] = [:]
        for d in Directive.all { for a in d.aliases { map[a] = d.name } }
        return map
    }()

    /// Sets a value the server itself changed (REPLICAOF's `replicaof`), without apply hooks.
    public func setQuietly(_ name: String, _ value: String) { values[name] = value }

    public private(set) var values: [String: String] = [:] {
        didSet { limits = EncodingLimits(self) }
    }
    /// Directives read on every write, parsed once per change instead of per command.
    public private(set) var limits = EncodingLimits()
    /// The config file the server started with, for CONFIG REWRITE.
    public var configFile: String?
    /// The `user` lines CONFIG REWRITE writes (every ACL user, as Redis's
    /// rewriteConfigUserOption), or nil when users live in an ACL file.
    public var userLinesForRewrite: (() -> [String]?)?
    /// `user <name> rules…` lines of the configuration, loaded as ACL users at start.
    public var userDirectives: [[String]] = []
    /// `rename-command` lines of the configuration, in order, applied to the command table
    /// before the server starts; each carries its FATAL CONFIG FILE ERROR report.
    public var commandRenames: [CommandRename] = []
    /// Called after a value changes; may refuse the change with an error text.
    public var applyHooks: [String: (String) -> String?] = [:]

    public init() {
        for d in Directive.all { values[d.name] = d.defaultValue }
        values["dir"] = Self.currentDirectory()
        limits = EncodingLimits(self)
    }

    static func currentDirectory() -> String {
        var buf = [CChar](repeating: 0, count: 4096)
        guard getcwd(&buf, buf.count) != nil else { return "/" }
        return stringFromCBuffer(buf)
    }

    public static func canonicalName(_ name: String) -> String? {
        let lower = name.lowercased()
        if directives[lower] != nil { return lower }
        return aliases[lower]
    }

    public subscript(name: String) -> String {
        if name == "dir" { return Self.currentDirectory() }
        return values[name] ?? ""
    }

    public func int(_ name: String) -> Int64 { Int64(self[name]) ?? 0 }
    public func bool(_ name: String) -> Bool { self[name] == "yes" }

    public var savePoints: [(seconds: Int64, changes: Int64)] {
        let parts = self["save"].split(separator: " ").compactMap { Int64($0) }
        return stride(from: 0, to: parts.count - 1, by: 2).map { (parts[$0], parts[$0 + 1]) }
    }

    public var keyspaceEvents: KeyspaceEvents { KeyspaceEvents(parsing: self["notify-keyspace-events"]) ?? [] }

    /// Validates `args` for a directive and returns the normalised value.
    public func normalize(_ directive: Directive, _ args: [String], fromFile: Bool = false) throws(ConfigError)
        -> String
    {
        switch directive.kind {
        case .bool:
            guard args.count == 1 else { throw ConfigError("wrong number of arguments") }
            switch args[0].lowercased() {
            case "yes": return "yes"
            case "no": return "no"
            default: throw ConfigError("argument must be 'yes' or 'no'")
            }
        case .integer(let lo, let hi):
            guard args.count == 1 else { throw ConfigError("wrong number of arguments") }
            guard let v = parseInt(args[0]) else { throw ConfigError("argument couldn't be parsed into an integer") }
            guard v >= lo && v <= hi else { throw ConfigError("argument must be between \(lo) and \(hi) inclusive") }
            return String(v)
        case .memory(let lo, let hi):
            guard args.count == 1 else { throw ConfigError("wrong number of arguments") }
            guard let v = parseMemory(args[0]) else { throw ConfigError("argument must be a memory value") }
            guard v >= lo && v <= hi else { throw ConfigError("argument must be between \(lo) and \(hi) inclusive") }
            return String(v)
        case .memoryOrPercent(let lo, let hi):
            guard args.count == 1 else { throw ConfigError("wrong number of arguments") }
            if args[0].hasSuffix("%") {
                guard let p = Int64(args[0].dropLast()), p >= 0 else {
                    throw ConfigError("argument must be a memory or percent value")
                }
                guard p <= 100 else { throw ConfigError("percentage argument must be less or equal to 100") }
                return "\(p)%"
            }
            guard let v = parseMemory(args[0]) else { throw ConfigError("argument must be a memory or percent value") }
            guard v >= lo && v <= hi else { throw ConfigError("argument must be between \(lo) and \(hi) inclusive") }
            return String(v)
        case .octal:
            guard args.count == 1, let v = Int64(args[0], radix: 8) else {
                throw ConfigError("argument couldn't be parsed into an integer")
            }
            return String(v, radix: 8)
        case .enumeration(let options):
            guard args.count == 1 else { throw ConfigError("wrong number of arguments") }
            // Matched in any case, shown as declared ("CN").
            let lower = args[0].lowercased()
            guard let option = options.first(where: { $0.lowercased() == lower }) else {
                throw ConfigError("argument(s) must be one of the following: " + options.joined(separator: ", "))
            }
            return option
        case .flags(let options):
            let words = args.flatMap { $0.split(separator: " ").map { $0.lowercased() } }
            guard !words.isEmpty, words.allSatisfy(options.contains) else {
                throw ConfigError("argument(s) must be one of the following: " + options.joined(separator: ", "))
            }
            let chosen = options.dropFirst().filter(words.contains)
            return chosen.isEmpty ? options[0] : chosen.joined(separator: " ")
        case .string:
            guard args.count == 1 else { throw ConfigError("wrong number of arguments") }
            if let problem = Self.announcedNameProblem(directive.name, args[0]) { throw ConfigError(problem) }
            return args[0]
        case .stringList:
            guard !args.isEmpty else { throw ConfigError("wrong number of arguments") }
            return args.joined(separator: " ")
        case .save:
            // A single argument may hold several pairs ("3600 1 300 100").
            var words = args.flatMap { $0.split(separator: " ").map(String.init) }
            if args.count == 1 && args[0].isEmpty { words = [] }
            guard words.count % 2 == 0, words.allSatisfy({ parseInt($0).map { $0 >= 0 } ?? false }) else {
                throw ConfigError("Invalid save parameters")
            }
            var pairs: [String] = []
            for i in stride(from: 0, to: words.count, by: 2) {
                pairs.append("\(parseInt(words[i])!) \(parseInt(words[i + 1])!)")
            }
            if fromFile && !pairs.isEmpty && self.fileSaveSeen {
                return ([self["save"]] + pairs).filter { !$0.isEmpty }.joined(separator: " ")
            }
            return pairs.joined(separator: " ")
        case .clientOutputBufferLimit:
            return try normalizeOutputBufferLimit(args)
        case .oomScoreAdjValues:
            let words = args.flatMap { $0.split(separator: " ").map(String.init) }
            guard words.count == 3 else { throw ConfigError("wrong number of arguments") }
            var values: [Int64] = []
            for word in words {
                guard let v = Int64(word), v >= -2000 && v <= 2000 else {
                    throw ConfigError("Invalid oom-score-adj-values, elements must be between -2000 and 2000.")
                }
                values.append(v)
            }
            return values.map(String.init).joined(separator: " ")
        case .keyspaceEvents:
            guard args.count == 1 else { throw ConfigError("wrong number of arguments") }
            guard let flags = KeyspaceEvents(parsing: args[0]) else {
                throw ConfigError("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")
            }
            return flags.description
        case .percentiles:
            let words = args.count == 1 && args[0].isEmpty ? [] : args
            var shown: [String] = []
            for word in words {
                guard let v = Double(word), v.isFinite else {
                    throw ConfigError("Invalid latency-tracking-info-percentiles parameters")
                }
                guard v >= 0 && v <= 100 else {
                    throw ConfigError("latency-tracking-info-percentiles parameters should sit between [0.0,100.0]")
                }
                shown.append(Self.percentileText(v))
            }
            return shown.joined(separator: " ")
        }
    }

    /// Redis's checks of the names a cluster node announces: a hostname of letters, digits,
    /// hyphens and dots under 256 bytes (isValidAnnouncedHostname), a human node name
    /// without the characters nodes.conf's fields use (isValidAuxString).
    static func announcedNameProblem(_ name: String, _ value: String) -> String? {
        func alphanumeric(_ c: UInt8) -> Bool {
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
        }
        switch name {
        case "cluster-announce-hostname":
            if value.utf8.count >= 256 { return "Hostnames must be less than 256 characters" }
            if !value.utf8.allSatisfy({ alphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") }) {
                return "Hostnames may only contain alphanumeric characters, hyphens or dots"
            }
        case "cluster-announce-human-nodename":
            let reserved = Set("!#$%&()*+:;<>?@[]^{|}~".utf8)
            if value.utf8.contains(where: reserved.contains) {
                return "Announced human node name contained invalid character"
            }
        default: break
        }
        return nil
    }

    /// A percentile as Redis prints it: `%f` with trailing zeros (and a bare dot) trimmed.
    public static func percentileText(_ value: Double) -> String {
        var buffer = [CChar](repeating: 0, count: 352)
        _ = withVaList([value]) { vsnprintf(&buffer, buffer.count, "%f", $0) }
        var text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if text.contains(".") {
            while text.hasSuffix("0") { text.removeLast() }
            if text.hasSuffix(".") { text.removeLast() }
        }
        return text
    }

    /// Within one config file, repeated `save` lines add points (the first one replaces the default).
    var fileSaveSeen = false

    func parseInt(_ text: String) -> Int64? {
        guard !text.isEmpty else { return nil }
        return Int64(text)
    }

    func normalizeOutputBufferLimit(_ args: [String]) throws(ConfigError) -> String {
        let words = args.flatMap { $0.split(separator: " ").map(String.init) }
        guard !words.isEmpty, words.count % 4 == 0 else {
            throw ConfigError("Wrong number of arguments in buffer limit configuration.")
        }
        var classes: [String: (String, String, String)] = [:]
        let current = self["client-output-buffer-limit"].split(separator: " ").map(String.init)
        for i in stride(from: 0, to: current.count - 3, by: 4) {
            classes[current[i]] = (current[i + 1], current[i + 2], current[i + 3])
        }
        for i in stride(from: 0, to: words.count, by: 4) {
            var cls = words[i].lowercased()
            if cls == "replica" { cls = "slave" }
            guard ["normal", "slave", "pubsub"].contains(cls) else {
                throw ConfigError("Invalid client class specified in buffer limit configuration.")
            }
            guard let hard = parseMemory(words[i + 1]), let soft = parseMemory(words[i + 2]),
                let secs = Int64(words[i + 3]), hard >= 0, soft >= 0, secs >= 0
            else {
                throw ConfigError("Error in hard, soft or soft_seconds setting in buffer limit configuration.")
            }
            classes[cls] = (String(hard), String(soft), String(secs))
        }
        return ["normal", "slave", "pubsub"].map { cls in
            let v = classes[cls] ?? ("0", "0", "0")
            return "\(cls) \(v.0) \(v.1) \(v.2)"
        }.joined(separator: " ")
    }

    /// Sets one directive from a config file line or flag (immutable ones too).
    public func load(_ name: String, _ args: [String]) throws(ConfigError) {
        guard let canonical = Self.canonicalName(name), let d = Self.directives[canonical] else {
            throw ConfigError("Bad directive or wrong number of arguments")
        }
        if canonical == "replicaof" {
            // Redis's loader: two arguments, `no one` or a host and a port of 0–65535.
            guard args.count == 2 else { throw ConfigError("wrong number of arguments") }
            if !(args[0].lowercased() == "no" && args[1].lowercased() == "one") {
                guard let port = Int(args[1]), (0...65535).contains(port) else {
                    throw ConfigError("Invalid master port")
                }
            }
        }
        let value = try normalize(d, args, fromFile: true)
        if canonical == "save" { fileSaveSeen = !value.isEmpty }
        if canonical == "dir" {
            guard chdir(value) == 0 else {
                throw ConfigError("Can't chdir to '\(value)': \(String(cString: strerror(errno)))")
            }
            values["dir"] = Self.currentDirectory()
            return
        }
        values[canonical] = value
    }

    /// Redis's PROTECTED_CONFIG directives: CONFIG SET changes them only where
    /// `enable-protected-configs` allows (they could point the server's files anywhere).
    static let protectedDirectives: Set<String> = ["dir", "dbfilename"]
    /// Redis's DENY_LOADING_CONFIG directives: not while the dataset loads.
    static let denyWhileLoading: Set<String> = ["dir", "appendonly", "repl-diskless-load"]
    /// The error CONFIG SET of a DENY_LOADING directive gets while the dataset loads; the
    /// command answers it as Redis's `-LOADING`.
    public static let loadingRefusal = ConfigError("LOADING")

    /// CONFIG SET: validates every pair, then applies them all or none. `allowProtected`
    /// is whether this client may change protected directives; `loading`, whether the
    /// dataset is loading.
    public func set(
        _ pairs: [(String, String)], allowProtected: Bool = true, loading: Bool = false
    ) throws(ConfigError) {
        var staged: [(String, String)] = []
        var seen = Set<String>()
        var refusedWhileLoading = false
        for (rawName, rawValue) in pairs {
            guard let canonical = Self.canonicalName(rawName), let d = Self.directives[canonical] else {
                throw ConfigError("Unknown option or number of arguments for CONFIG SET - '\(rawName)'")
            }
            guard seen.insert(canonical).inserted else {
                throw ConfigError("duplicate parameter", directive: rawName)
            }
            guard d.mutable else { throw ConfigError("can't set immutable config", directive: rawName) }
            if !allowProtected && Self.protectedDirectives.contains(canonical) {
                throw ConfigError("can't set protected config", directive: rawName)
            }
            if loading && Self.denyWhileLoading.contains(canonical) { refusedWhileLoading = true }
            let args: [String]
            switch d.kind {
            case .stringList, .save, .clientOutputBufferLimit, .percentiles, .oomScoreAdjValues, .flags:
                args = rawValue.isEmpty ? [""] : rawValue.split(separator: " ").map(String.init)
            default:
                args = [rawValue]
            }
            do {
                staged.append((canonical, try normalize(d, args)))
            } catch {
                throw ConfigError(error.message, directive: rawName)
            }
        }
        // Redis checks every pair first and gives the loading refusal precedence.
        if refusedWhileLoading { throw Self.loadingRefusal }
        let previous = staged.map { ($0.0, self[$0.0]) }
        // All values are set first, then the apply steps run, as Redis's CONFIG SET does:
        // a step sees every new value (a certificate and its key set together).
        var changed: [(String, String)] = []
        for (name, value) in staged {
            if name == "dir" {
                guard chdir(value) == 0 else {
                    let reason = String(cString: strerror(errno))
                    rollback(previous, applied: [])
                    throw ConfigError(reason, directive: name)
                }
                values["dir"] = Self.currentDirectory()
                continue
            }
            // A value set to what it was needs no applying (Redis skips the apply function).
            if values[name] != value { changed.append((name, value)) }
            values[name] = value
        }
        // Directives whose apply step ran: a later failure undoes them too (Redis's
        // restoreBackupConfig applies the old values again).
        var applied: [String] = []
        for (name, value) in changed {
            guard let hook = applyHooks[name] else { continue }
            if let failure = hook(value) {
                rollback(previous, applied: applied)
                throw ConfigError(failure, directive: name)
            }
            applied.append(name)
        }
    }

    func rollback(_ previous: [(String, String)], applied: [String]) {
        for (name, value) in previous {
            if name == "dir" { _ = chdir(value) }
            values[name] = value
        }
        for (name, value) in previous where applied.contains(name) { _ = applyHooks[name]?(value) }
    }

    /// CONFIG GET: every directive or alias matching any of the glob patterns.
    /// Directives (and aliases) whose names `matches`; hidden ones only where `named`
    /// names them exactly.
    public func matching(_ matches: (String) -> Bool, named: (String) -> Bool = { _ in false }) -> [(String, String)] {
        var result: [(String, String)] = []
        for d in Directive.all {
            if d.hidden {
                if named(d.name) { result.append((d.name, self[d.name])) }
                continue
            }
            if matches(d.name) { result.append((d.name, self[d.name])) }
            for a in d.aliases where matches(a) { result.append((a, self[d.name])) }
        }
        return result
    }

    /// How a value is written back to a config file.
    func fileLine(_ name: String) -> String {
        let value = self[name]
        if let d = Self.directives[name] {
            switch d.kind {
            case .save, .stringList, .clientOutputBufferLimit, .percentiles, .flags:
                if value.isEmpty { return "\(name) \"\"" }
                if case .clientOutputBufferLimit = d.kind {
                    let w = value.split(separator: " ")
                    return stride(from: 0, to: w.count, by: 4).map {
                        "\(name) \(w[$0]) \(w[$0 + 1]) \(w[$0 + 2]) \(w[$0 + 3])"
                    }.joined(separator: "\n")
                }
                return "\(name) \(value)"
            default: break
            }
        }
        return "\(name) \(quoteIfNeeded(value))"
    }

    func quoteIfNeeded(_ value: String) -> String {
        if !value.isEmpty
            && !value.contains(where: {
                $0 == " " || $0 == "\"" || $0 == "'" || $0 == "\\" || !$0.isASCII || $0.asciiValue! < 32
            })
        {
            return value
        }
        var s = "\""
        for ch in value.unicodeScalars {
            switch ch {
            case "\"": s += "\\\""
            case "\\": s += "\\\\"
            case "\n": s += "\\n"
            case "\r": s += "\\r"
            case "\t": s += "\\t"
            default:
                if ch.value < 32 || ch.value == 127 {
                    s += "\\x" + String(format2Hex(UInt8(ch.value)))
                } else {
                    s.unicodeScalars.append(ch)
                }
            }
        }
        return s + "\""
    }

    func format2Hex(_ b: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(b >> 4)], digits[Int(b & 15)]])
    }

    /// CONFIG REWRITE: rewrites the config file in place, keeping comments and the order of
    /// the lines, updating each directive's line and appending changed ones (every one with
    /// `forceAll`, DEBUG CONFIG-REWRITE-FORCE-ALL).
    public func rewrite(forceAll: Bool = false) throws(ConfigError) {
        guard let path = configFile else { throw ConfigError("The server is running without a config file") }
        let original = (try? readFile(path)) ?? ""
        var lines: [String] = []
        var written = Set<String>()
        let users = userLinesForRewrite?()
        var userIndex = 0
        let marker = "# Generated by CONFIG REWRITE"
        for line in original.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line == marker { continue }
            let trimmed = line.trimmingSpaces
            if trimmed.isEmpty || trimmed.hasPrefix("#") {
                lines.append(line)
                continue
            }
            if let args = splitConfigLine(trimmed), args.first?.lowercased() == "user" {
                // Each user line of the file takes the next user (in name order); users
                // left over are appended below, lines left over go.
                if userIndex < (users?.count ?? 0) {
                    lines.append(users![userIndex])
                    userIndex += 1
                }
                continue
            }
            guard let args = splitConfigLine(trimmed), let first = args.first,
                let canonical = Self.canonicalName(first)
            else {
                lines.append(line)
                continue
            }
            if written.contains(canonical) { continue }
            written.insert(canonical)
            lines.append(fileLine(canonical))
        }
        while lines.last == "" { lines.removeLast() }
        var appended: [String] = []
        for d in Directive.all where !written.contains(d.name) {
            let defaultValue = d.name == "dir" ? self["dir"] : d.defaultValue
            // Not a replica: there is no `replicaof` line to write, forced or not.
            if d.name == "replicaof" && self[d.name].isEmpty { continue }
            if self[d.name] != defaultValue || forceAll { appended.append(fileLine(d.name)) }
        }
        if let users { appended.append(contentsOf: users.dropFirst(userIndex)) }
        if !appended.isEmpty {
            lines.append(marker)
            lines.append(contentsOf: appended)
        }
        let text = lines.joined(separator: "\n") + "\n"
        let tmp = path + ".tmp-rewrite"
        guard let f = fopen(tmp, "w") else {
            throw ConfigError("Rewriting config file: \(String(cString: strerror(errno)))")
        }
        fputs(text, f)
        fflush(f)
        fsync(fileno(f))
        fclose(f)
        guard Glibc.rename(tmp, path) == 0 else {
            throw ConfigError("Rewriting config file: \(String(cString: strerror(errno)))")
        }
    }

    func splitConfigLine(_ line: String) -> [String]? {
        guard let parts = splitConfigArgs(line) else { return nil }
        return parts
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\r" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s.removeLast() }
        return String(s)
    }
}

/// A NUL-terminated C buffer as a String.
public func stringFromCBuffer(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

public func readFile(_ path: String) throws(ConfigError) -> String {
    guard let f = fopen(path, "r") else {
        throw ConfigError("Fatal error, can't open config file '\(path)': \(String(cString: strerror(errno)))")
    }
    defer { fclose(f) }
    var bytes: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = fread(&buf, 1, buf.count, f)
        if n <= 0 { break }
        bytes.append(contentsOf: buf[0..<n])
    }
    return String(decoding: bytes, as: UTF8.self)
}
