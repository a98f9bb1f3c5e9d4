/// What Redis's command table says about one command (or `container|sub`): arity, flags,
/// ACL categories, tips, key specs, the docs with their argument tree, the subcommands —
/// and Swiftlet's own facts about it. The rows of Redis 7.0.15 are generated
/// (CommandRows.swift, by scripts/gen-command-rows.py); later commands are typed by hand in
/// CommandRowAdditions.swift. COMMAND INFO and COMMAND DOCS are encoded from these rows
/// (CommandReplies.swift), the dispatcher's flags and the key-spec interpreter read them.
public struct CommandRow: Sendable {
    public var name: String
    public var arity: Int
    public var flags: CommandFlags
    /// COMMAND INFO's legacy first key, last key and step.
    public var keys: KeyRange
    public var acl: ACLCategories
    public var tips: [String]
    public var keySpecs: [KeySpec]
    public var docs: CommandDocs
    public var subcommands: [CommandRow]
    /// Arguments naming hash fields or set members (HSET's fields, SADD's members), which
    /// a pipelined batch prefetches.
    public var memberArguments: MemberArguments?
    /// Runs at once inside MULTI instead of being queued (EXEC, DISCARD, MULTI, WATCH, …).
    public var controlsTransaction: Bool
    /// Allowed to a RESP2 client in subscribed mode.
    public var allowedWhileSubscribed: Bool
    /// Redis's getkeys procedure, for when the key specs cannot say (see `KeyProcedure`).
    public var keyProcedure: KeyProcedure?

    public init(
        _ name: String, arity: Int, flags: CommandFlags, keys: KeyRange, acl: ACLCategories, tips: [String] = [],
        keySpecs: [KeySpec] = [], keyProcedure: KeyProcedure? = nil, memberArguments: MemberArguments? = nil,
        controlsTransaction: Bool = false, allowedWhileSubscribed: Bool = false, docs: CommandDocs,
        subcommands: [CommandRow] = []
    ) {
        self.name = name
        self.arity = arity
        self.flags = flags
        self.keys = keys
        self.acl = acl
        self.tips = tips
        self.keySpecs = keySpecs
        self.keyProcedure = keyProcedure
        self.memberArguments = memberArguments
        self.controlsTransaction = controlsTransaction
        self.allowedWhileSubscribed = allowedWhileSubscribed
        self.docs = docs
        self.subcommands = subcommands
    }
}

public struct KeyRange: Sendable, Equatable {
    public var first: Int
    public var last: Int
    public var step: Int

    public init(first: Int, last: Int, step: Int) {
        self.first = first
        self.last = last
        self.step = step
    }
}

public struct MemberArguments: Sendable, Equatable {
    public var first: Int
    public var step: Int

    public init(first: Int, step: Int) {
        self.first = first
        self.step = step
    }
}

/// Redis's command flags (COMMAND INFO shows all but `mayReplicate`, in `replyOrder`).
public struct CommandFlags: OptionSet, Sendable, Hashable {
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
    /// Not a write, but propagated (PUBLISH, PFCOUNT, EVAL): paused by CLIENT PAUSE WRITE.
    /// Hidden from COMMAND INFO, as Redis hides CMD_MAY_REPLICATE.
    public static let mayReplicate = CommandFlags(rawValue: 1 << 15)
    public static let module = CommandFlags(rawValue: 1 << 16)
    public static let asking = CommandFlags(rawValue: 1 << 17)
    public static let noMandatoryKeys = CommandFlags(rawValue: 1 << 18)
    public static let noAsyncLoading = CommandFlags(rawValue: 1 << 19)
    public static let movableKeys = CommandFlags(rawValue: 1 << 20)

    /// COMMAND INFO's names, in Redis's order (addReplyFlagsForCommand).
    public static let replyOrder: [(CommandFlags, String)] = [
        (.write, "write"), (.readonly, "readonly"), (.denyoom, "denyoom"), (.module, "module"), (.admin, "admin"),
        (.pubsub, "pubsub"), (.noscript, "noscript"), (.blocking, "blocking"), (.loading, "loading"),
        (.stale, "stale"), (.skipMonitor, "skip_monitor"), (.skipSlowlog, "skip_slowlog"), (.asking, "asking"),
        (.fast, "fast"), (.noAuth, "no_auth"), (.noMandatoryKeys, "no_mandatory_keys"),
        (.noAsyncLoading, "no_async_loading"), (.noMulti, "no_multi"), (.movableKeys, "movablekeys"),
        (.allowBusy, "allow_busy"),
    ]

    public var names: [String] { Self.replyOrder.compactMap { contains($0.0) ? $0.1 : nil } }
}

/// ACL command categories, one bit each in Redis's order.
public struct ACLCategories: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let names = [
        "keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap", "hyperloglog", "geo",
        "stream", "pubsub", "admin", "fast", "slow", "blocking", "dangerous", "connection", "transaction",
        "scripting",
    ]

    /// The bit of a category name (case-insensitive), or nil.
    public static func bit(_ name: String) -> UInt32? {
        let lower = name.lowercased()
        return names.firstIndex(of: lower).map { UInt32(1) << UInt32($0) }
    }

    public static let keyspace = ACLCategories(rawValue: 1 << 0)
    public static let read = ACLCategories(rawValue: 1 << 1)
    public static let write = ACLCategories(rawValue: 1 << 2)
    public static let set = ACLCategories(rawValue: 1 << 3)
    public static let sortedset = ACLCategories(rawValue: 1 << 4)
    public static let list = ACLCategories(rawValue: 1 << 5)
    public static let hash = ACLCategories(rawValue: 1 << 6)
    public static let string = ACLCategories(rawValue: 1 << 7)
    public static let bitmap = ACLCategories(rawValue: 1 << 8)
    public static let hyperloglog = ACLCategories(rawValue: 1 << 9)
    public static let geo = ACLCategories(rawValue: 1 << 10)
    public static let stream = ACLCategories(rawValue: 1 << 11)
    public static let pubsub = ACLCategories(rawValue: 1 << 12)
    public static let admin = ACLCategories(rawValue: 1 << 13)
    public static let fast = ACLCategories(rawValue: 1 << 14)
    public static let slow = ACLCategories(rawValue: 1 << 15)
    public static let blocking = ACLCategories(rawValue: 1 << 16)
    public static let dangerous = ACLCategories(rawValue: 1 << 17)
    public static let connection = ACLCategories(rawValue: 1 << 18)
    public static let transaction = ACLCategories(rawValue: 1 << 19)
    public static let scripting = ACLCategories(rawValue: 1 << 20)

    /// The category names, in Redis's order.
    public var categoryNames: [String] {
        Self.names.indices.compactMap { rawValue & (1 << UInt32($0)) != 0 ? Self.names[$0] : nil }
    }
}

/// One key spec: where a command's keys begin and how many follow (Redis 7's key specs).
public struct KeySpec: Sendable, Equatable {
    public enum BeginSearch: Sendable, Equatable {
        case index(Int)
        case keyword(String, startFrom: Int)
        case unknown
    }

    public enum FindKeys: Sendable, Equatable {
        case range(lastKey: Int, keyStep: Int, limit: Int)
        case keynum(index: Int, firstKey: Int, keyStep: Int)
        case unknown
    }

    public var notes: String?
    public var flags: KeySpecFlags
    public var begin: BeginSearch
    public var find: FindKeys

    public init(notes: String? = nil, flags: KeySpecFlags, begin: BeginSearch, find: FindKeys) {
        self.notes = notes
        self.flags = flags
        self.begin = begin
        self.find = find
    }

    /// Found by a key-spec walk alone (its search and count are known, its flags fixed).
    public var isComplete: Bool {
        begin != .unknown && find != .unknown && !flags.contains(.incomplete) && !flags.contains(.variableFlags)
    }
}

/// Redis's getkeys procedures (a command's `get_keys_function`): used when the key specs
/// cannot find the keys — a spec is incomplete (SORT's STORE, MIGRATE's KEYS), its flags
/// depend on the arguments (SET with GET, BITFIELD's SET), or it is invalid for these
/// arguments (a bad key count).
public enum KeyProcedure: Sendable, Equatable {
    /// genericGetKeys: a key count at `count`, that many keys from `first`, and a
    /// destination key at `store`.
    case counted(store: Int?, count: Int, first: Int)
    case sort, sortReadOnly, migrate, georadius, xread, set, bitfield
}

public struct KeySpecFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let ro = KeySpecFlags(rawValue: 1 << 0)
    public static let rw = KeySpecFlags(rawValue: 1 << 1)
    public static let ow = KeySpecFlags(rawValue: 1 << 2)
    public static let rm = KeySpecFlags(rawValue: 1 << 3)
    public static let access = KeySpecFlags(rawValue: 1 << 4)
    public static let update = KeySpecFlags(rawValue: 1 << 5)
    public static let insert = KeySpecFlags(rawValue: 1 << 6)
    public static let delete = KeySpecFlags(rawValue: 1 << 7)
    public static let notKey = KeySpecFlags(rawValue: 1 << 8)
    public static let incomplete = KeySpecFlags(rawValue: 1 << 9)
    public static let variableFlags = KeySpecFlags(rawValue: 1 << 10)

    public static let replyOrder: [(KeySpecFlags, String)] = [
        (.ro, "RO"), (.rw, "RW"), (.ow, "OW"), (.rm, "RM"), (.access, "access"), (.update, "update"),
        (.insert, "insert"), (.delete, "delete"), (.notKey, "not_key"), (.incomplete, "incomplete"),
        (.variableFlags, "variable_flags"),
    ]

    public var names: [String] { Self.replyOrder.compactMap { contains($0.0) ? $0.1 : nil } }
}

/// COMMAND DOCS's fields of a command.
public struct CommandDocs: Sendable {
    public var summary: String?
    public var since: String?
    public var group: String
    public var complexity: String?
    public var flags: DocFlags
    public var deprecatedSince: String?
    public var replacedBy: String?
    public var history: [CommandHistory]?
    public var arguments: [CommandArgument]?

    public init(
        summary: String? = nil, since: String? = nil, group: String, complexity: String? = nil, flags: DocFlags = [],
        deprecatedSince: String? = nil, replacedBy: String? = nil, history: [CommandHistory]? = nil,
        arguments: [CommandArgument]? = nil
    ) {
        self.summary = summary
        self.since = since
        self.group = group
        self.complexity = complexity
        self.flags = flags
        self.deprecatedSince = deprecatedSince
        self.replacedBy = replacedBy
        self.history = history
        self.arguments = arguments
    }
}

public struct DocFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let deprecated = DocFlags(rawValue: 1 << 0)
    public static let syscmd = DocFlags(rawValue: 1 << 1)

    public var names: [String] {
        [(DocFlags.deprecated, "deprecated"), (.syscmd, "syscmd")].compactMap { contains($0.0) ? $0.1 : nil }
    }
}

public struct CommandHistory: Sendable {
    public var version: String
    public var change: String

    public init(_ version: String, _ change: String) {
        self.version = version
        self.change = change
    }
}

/// One argument of COMMAND DOCS's argument tree.
public struct CommandArgument: Sendable {
    public enum Kind: String, Sendable {
        case string, integer, double, key, pattern
        case unixTime = "unix-time"
        case pureToken = "pure-token"
        case oneof, block
    }

    public var name: String
    public var kind: Kind
    public var displayText: String?
    public var keySpecIndex: Int?
    public var token: String?
    public var summary: String?
    public var since: String?
    public var deprecatedSince: String?
    public var flags: ArgumentFlags
    /// The choices of a `oneof`, the parts of a `block`.
    public var arguments: [CommandArgument]?

    public init(
        _ name: String, _ kind: Kind, displayText: String? = nil, keySpecIndex: Int? = nil, token: String? = nil,
        summary: String? = nil, since: String? = nil, deprecatedSince: String? = nil, flags: ArgumentFlags = [],
        arguments: [CommandArgument]? = nil
    ) {
        self.name = name
        self.kind = kind
        self.displayText = displayText
        self.keySpecIndex = keySpecIndex
        self.token = token
        self.summary = summary
        self.since = since
        self.deprecatedSince = deprecatedSince
        self.flags = flags
        self.arguments = arguments
    }
}

public struct ArgumentFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let optional = ArgumentFlags(rawValue: 1 << 0)
    public static let multiple = ArgumentFlags(rawValue: 1 << 1)
    public static let multipleToken = ArgumentFlags(rawValue: 1 << 2)

    public var names: [String] {
        [(ArgumentFlags.optional, "optional"), (.multiple, "multiple"), (.multipleToken, "multiple_token")]
            .compactMap { contains($0.0) ? $0.1 : nil }
    }
}

/// A command Redis 7.2–7.4 has that the rows do not describe fully: listed so the
/// compatibility page covers 7.4.
public struct LaterCommand: Sendable {
    public var name: String
    public var since: String
    public var group: String
    public var summary: String
}

extension CommandRow {
    /// Every row: the reference rows, with the later subcommands (`container|sub` rows of
    /// `additions`) joined to their containers, then the later commands.
    public static let all: [CommandRow] = {
        var rows = reference
        for addition in additions {
            let parts = addition.name.split(separator: "|", maxSplits: 1)
            guard parts.count == 2 else {
                rows.append(addition)
                continue
            }
            guard let i = rows.firstIndex(where: { $0.name == parts[0] }) else {
                fatalError("no container for '\(addition.name)'")
            }
            rows[i].subcommands.append(addition)
            rows[i].subcommands.sort { $0.name < $1.name }
        }
        return rows
    }()
}
