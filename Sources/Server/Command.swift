import CommandFacts
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

/// One command of the table: its row of facts, handler, subcommands and its INFO
/// commandstats.
public final class Command {
    public let name: String
    /// `config|get` for a subcommand.
    public let fullName: String
    public let row: CommandRow
    public let flags: CommandFlags
    public let arity: Int
    public let handler: Handler?
    public internal(set) var subcommands: [String: Command] = [:]
    public weak var parent: Command?
    /// For commands that name members of a hash or set (HSET's fields, SADD's members):
    /// the first such argument and the step to the next, so a pipelined batch can prefetch
    /// them (`CommandContext.prefetchBatchKeys`).
    public internal(set) var memberArguments: (first: Int, step: Int)?
    /// The row's legacy key range, copied out so hot paths do not copy the row.
    public let firstKey: Int
    public let lastKey: Int
    public let keyStep: Int
    /// Runs at once inside MULTI instead of being queued (EXEC, DISCARD, MULTI, WATCH, …).
    public let controlsTransaction: Bool
    /// Allowed to a RESP2 client in subscribed mode.
    public let allowedWhileSubscribed: Bool

    /// The ACL bit of this command (or subcommand), and its ACL categories' bits.
    public internal(set) var aclId = 0
    public internal(set) var aclCategories: UInt32 = 0
    /// Finds the key arguments of a call (the key specs, else the getkeys procedure).
    public let keyFinder: KeyFinder
    /// The commands cluster routing treats apart, named once here rather than compared by
    /// name on every call.
    /// SPUBLISH, SSUBSCRIBE and SUNSUBSCRIBE route by their channels' slots (key specs
    /// that are not keys, which the key finder leaves out).
    public enum ClusterRole { case exec, migrate, asking, shardChannels, other }
    public let clusterRole: ClusterRole

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

    init(row: CommandRow, fullName: String, handler: Handler?) {
        self.name = row.name
        self.firstKey = row.keys.first
        self.lastKey = row.keys.last
        self.keyStep = row.keys.step
        self.arity = row.arity
        self.fullName = fullName
        self.row = row
        self.flags = row.flags
        self.handler = handler
        self.memberArguments = row.memberArguments.map { ($0.first, $0.step) }
        self.controlsTransaction = row.controlsTransaction
        self.allowedWhileSubscribed = row.allowedWhileSubscribed
        aclCategories = row.acl.rawValue
        keyFinder = KeyFinder(row: row)
        switch row.name {
        case "exec": clusterRole = .exec
        case "migrate": clusterRole = .migrate
        case "asking": clusterRole = .asking
        case "spublish", "ssubscribe", "sunsubscribe": clusterRole = .shardChannels
        default: clusterRole = .other
        }
    }

    /// Redis's arity rule: a positive arity is exact, a negative one a minimum.
    @inline(__always)
    public func acceptsArgumentCount(_ argc: Int) -> Bool {
        let a = arity
        return a > 0 ? argc == a : argc >= -a
    }

    /// Every key argument's position (`keyFinder`'s keys).
    @inline(__always)
    public func keyPositions(argc: Int, arg: (Int) -> ArraySlice<UInt8>) -> [Int] {
        keyFinder.keys(argc: argc, arg: arg).map(\.position)
    }

    /// The COMMAND INFO entry for this command, with the subcommands the table serves;
    /// built once.
    public private(set) lazy var infoReply: Reply = .array(
        row.infoFields + [.set(subcommands.values.sorted { $0.fullName < $1.fullName }.map(\.infoReply))])

    /// The COMMAND DOCS entry (a container's lists its subcommands'); built once.
    public private(set) lazy var docsReply: Reply = row.docsReply
}

/// The command table: every command Swiftlet implements, found case-insensitively by the
/// bytes of its name without allocating.
public final class CommandTable {
    /// The commands served by name, in registration order (`rename-command X ""` takes
    /// one out).
    public private(set) var commands: [Command] = []
    /// Every command ever registered: it never shrinks, so the unretained references the
    /// batches keep stay valid for the server's life.
    var registered: [Command] = []
    /// The names the table answers to, each with its index in `registered`; the slots
    /// below are made from them.
    var names: [(name: [UInt8], index: Int)] = []
    var slots: [Int32]
    var slotHashes: [UInt64]
    /// The name each slot answers to (a renamed command's is not its `name`).
    var slotNames: [[UInt8]]
    let slotMask: Int

    public init(registrations: [(String, Handler)]) {
        let size = 1024
        slots = [Int32](repeating: -1, count: size)
        slotHashes = [UInt64](repeating: 0, count: size)
        slotNames = [[UInt8]](repeating: [], count: size)
        slotMask = size - 1
        var rowByName: [String: CommandRow] = [:]
        for row in CommandRow.all {
            rowByName[row.name] = row
            for sub in row.subcommands { rowByName[sub.name] = sub }
        }
        var byName: [String: Command] = [:]
        // Containers first, then their subcommands.
        for (name, handler) in registrations where !name.contains("|") {
            guard let row = rowByName[name] else { fatalError("no row for command '\(name)'") }
            let command = Command(row: row, fullName: name, handler: handler)
            byName[name] = command
            insert(command)
        }
        for (name, handler) in registrations where name.contains("|") {
            let parts = name.split(separator: "|", maxSplits: 1).map(String.init)
            guard let parent = byName[parts[0]], let row = rowByName[name] else {
                fatalError("no row for subcommand '\(name)'")
            }
            let child = Command(row: row, fullName: name, handler: handler)
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
        for row in CommandRow.all {
            names.insert(row.name)
            for sub in row.subcommands { names.insert(sub.name) }
        }
        for later in LaterCommand.all { names.insert(later.name) }
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
        names.append((Array(command.name.utf8), registered.count))
        registered.append(command)
        commands.append(command)
        place(names[names.count - 1])
    }

    func place(_ entry: (name: [UInt8], index: Int)) {
        let h = entry.name.withUnsafeBytes { hashBytes($0, seed: 7) }
        var i = Int(truncatingIfNeeded: h) & slotMask
        while slots[i] >= 0 { i = (i + 1) & slotMask }
        slots[i] = Int32(entry.index)
        slotHashes[i] = h
        slotNames[i] = entry.name
        lastFound = nil
        lastName = (0, 0)
    }

    /// `rename-command old new` of a configuration file, as Redis applies it while loading:
    /// the command answers to `new` only, or to nothing when `new` is empty. Returns
    /// Redis's error text.
    public func rename(_ old: String, to new: String) -> String? {
        let oldName = Array(old.lowercased().utf8)
        guard let at = names.firstIndex(where: { $0.name == oldName }) else {
            return "No such command in rename-command"
        }
        let entry = names.remove(at: at)
        if new.isEmpty {
            commands.removeAll { $0 === registered[entry.index] }
        } else {
            let newName = Array(new.lowercased().utf8)
            if names.contains(where: { $0.name == newName }) {
                names.insert(entry, at: at)
                return "Target command name already exists"
            }
            names.insert((newName, entry.index), at: at)
        }
        for i in slots.indices {
            slots[i] = -1
            slotNames[i] = []
        }
        for entry in names { place(entry) }
        return nil
    }

    /// The last name of up to 8 bytes looked up, as sent (a pipeline repeats its
    /// command), as its `nameWord`, and what it found (unretained: the table keeps every
    /// command for the server's life, as it only grows).
    var lastName: (word: UInt64, length: Int) = (0, 0)
    var lastFound: Unmanaged<Command>?

    /// Finds a command by name, ASCII case-insensitively.
    @inline(__always)
    public func lookup(_ name: UnsafeRawBufferPointer) -> Command? {
        let n = name.count
        guard n > 0 && n <= 8 else { return find(name) }
        let word = Self.nameWord(name)
        if n == lastName.length && word == lastName.word, let found = lastFound { return found.takeUnretainedValue() }
        let command = find(name)
        if let command {
            lastName = (word, n)
            lastFound = Unmanaged.passUnretained(command)
        }
        return command
    }

    /// The same, unretained (a batch's cache of its commands).
    @inline(__always)
    public func lookupUnretained(_ name: UnsafeRawBufferPointer) -> Unmanaged<Command>? {
        let n = name.count
        if n > 0 && n <= 8 && n == lastName.length && Self.nameWord(name) == lastName.word, let found = lastFound {
            return found
        }
        return lookup(name).map { Unmanaged.passUnretained($0) }
    }

    /// A name of 1 to 8 bytes as one word, unique among names of its length: from 4 bytes
    /// on, its first four and last four bytes (which overlap, and together cover it) in
    /// two loads; shorter ones byte by byte.
    @inline(__always)
    static func nameWord(_ name: UnsafeRawBufferPointer) -> UInt64 {
        let n = name.count
        if n >= 4 {
            let head = UInt64(name.loadUnaligned(fromByteOffset: 0, as: UInt32.self))
            let tail = UInt64(name.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self))
            return head | tail << 32
        }
        var word: UInt64 = 0
        for i in 0..<n { word |= UInt64(name[i]) << UInt64(i &* 8) }
        return word
    }

    func find(_ name: UnsafeRawBufferPointer) -> Command? {
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
                    let name = slotNames[i]
                    if name.withUnsafeBytes({ bytesEqual($0, raw) }) {
                        return registered[Int(slots[i])]
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
