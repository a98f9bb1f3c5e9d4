import CSupport
import CommandFacts
import DataStore
import RESP
import ServerConfig

#if canImport(Glibc)
    import Glibc
#endif

/// One key pattern of a selector, with the access it grants (`~p` both, `%R~p`, `%W~p`).
public struct ACLKeyPattern: Equatable {
    public static let read: UInt8 = 1
    public static let write: UInt8 = 2
    var pattern: [UInt8]
    var access: UInt8

    var description: String {
        let prefix =
            access == Self.read | Self.write ? "~" : access == Self.read ? "%R~" : "%W~"
        return prefix + String(decoding: pattern, as: UTF8.self)
    }
}

/// Why ACL SETUSER refused a rule (Redis's errno values in ACLSetUser).
enum ACLRuleError: Error {
    case syntax, unknownName, keysAfterAll, channelsAfterAll, noSuchPassword, badHash, firstArgOfSubcommand

    var message: String {
        switch self {
        case .unknownName: return "Unknown command or category name in ACL"
        case .syntax: return "Syntax error"
        case .keysAfterAll:
            return
                "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns"
        case .channelsAfterAll:
            return
                "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels"
        case .noSuchPassword: return "The password you are trying to remove from the user does not exist"
        case .badHash:
            return "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"
        case .firstArgOfSubcommand: return "Allowing first-arg of a subcommand is not supported"
        }
    }
}

/// What a permission check refused, in Redis's order of precedence (a key or channel
/// refusal is more telling than a command one).
public enum ACLDenial: Int, Comparable {
    case command = 1, key = 2, channel = 3
    public static func < (a: ACLDenial, b: ACLDenial) -> Bool { a.rawValue < b.rawValue }

    public var reason: String {
        switch self {
        case .command: return "command"
        case .key: return "key"
        case .channel: return "channel"
        }
    }
}

/// A set of permissions: the commands allowed (a bit per command id, the last bit meaning
/// "and commands added later", as Redis's), key patterns and channel patterns. A user has a
/// root selector and any number of extra ones; a command runs if one selector allows it.
public struct ACLSelector {
    var allKeys = false
    var allChannels = false
    var allCommands = false
    var allowed: [UInt64]
    /// `+select|0`-style rules: the first arguments allowed for a command whose bit is off.
    var firstArgs: [Int: [String]] = [:]
    var keyPatterns: [ACLKeyPattern] = []
    var channels: [[UInt8]] = []
    /// The command and category rules in the order given, as ACL LIST shows them.
    var commandRules: [String] = []

    init(commandCount: Int, allChannels: Bool) {
        allowed = [UInt64](repeating: 0, count: (commandCount + 1 + 63) / 64)
        self.allChannels = allChannels
    }

    func isAllowed(_ id: Int) -> Bool { allowed[id >> 6] & (1 << UInt64(id & 63)) != 0 }

    mutating func setAllowed(_ id: Int, _ on: Bool) {
        if on {
            allowed[id >> 6] |= 1 << UInt64(id & 63)
        } else {
            allowed[id >> 6] &= ~(1 << UInt64(id & 63))
            allCommands = false
        }
    }

    /// The reserved last bit: set only by +@all/allcommands.
    func allowsFutureCommands(_ table: CommandTable) -> Bool { isAllowed(table.aclIdCount) }

    /// A command and, for a container, all its subcommands (ACLChangeSelectorPerm).
    mutating func change(_ command: Command, allow: Bool) {
        setAllowed(command.aclId, allow)
        firstArgs[command.aclId] = nil
        for sub in command.subcommands.values { setAllowed(sub.aclId, allow) }
    }

    /// Keeps the rule list replayable: an older rule for the same command (or one of its
    /// subcommands) gives way to the new one (ACLUpdateCommandRules).
    mutating func updateRules(_ rule: String, allow: Bool) {
        let new = rule.lowercased()
        commandRules.removeAll { existing in
            let name = existing.dropFirst()
            return name == new[...] || (name.hasPrefix(new) && name.dropFirst(new.count).first == "|")
        }
        commandRules.append((allow ? "+" : "-") + new)
    }

    /// ACLSetSelector: one rule about commands, keys or channels.
    mutating func apply(_ op: [UInt8], table: CommandTable) throws(ACLRuleError) {
        let text = String(decoding: op, as: UTF8.self)
        let lower = text.lowercased()
        switch lower {
        case "allkeys", "~*":
            allKeys = true
            keyPatterns.removeAll()
            return
        case "resetkeys":
            allKeys = false
            keyPatterns.removeAll()
            return
        case "allchannels", "&*":
            allChannels = true
            channels.removeAll()
            return
        case "resetchannels":
            allChannels = false
            channels.removeAll()
            return
        case "allcommands", "+@all":
            for i in allowed.indices { allowed[i] = ~0 }
            allCommands = true
            commandRules.removeAll()
            firstArgs.removeAll()
            return
        case "nocommands", "-@all":
            for i in allowed.indices { allowed[i] = 0 }
            allCommands = false
            commandRules.removeAll()
            firstArgs.removeAll()
            return
        default: break
        }
        guard let first = op.first else { throw .syntax }
        if first == UInt8(ascii: "~") || first == UInt8(ascii: "%") {
            if allKeys { throw .keysAfterAll }
            var access: UInt8 = 0
            var offset = 1
            if first == UInt8(ascii: "%") {
                var ok = true
                while offset < op.count {
                    let c = op[offset] & ~0x20
                    if c == UInt8(ascii: "R") && access & ACLKeyPattern.read == 0 {
                        access |= ACLKeyPattern.read
                    } else if c == UInt8(ascii: "W") && access & ACLKeyPattern.write == 0 {
                        access |= ACLKeyPattern.write
                    } else if op[offset] == UInt8(ascii: "~") {
                        offset += 1
                        break
                    } else {
                        ok = false
                        break
                    }
                    offset += 1
                }
                if access == 0 || !ok { throw .syntax }
            } else {
                access = ACLKeyPattern.read | ACLKeyPattern.write
            }
            let pattern = Array(op[offset...])
            if AccessControl.hasSpaces(pattern) { throw .syntax }
            if let i = keyPatterns.firstIndex(where: { $0.pattern == pattern }) {
                keyPatterns[i].access |= access
            } else {
                keyPatterns.append(ACLKeyPattern(pattern: pattern, access: access))
            }
            allKeys = false
        } else if first == UInt8(ascii: "&") {
            if allChannels { throw .channelsAfterAll }
            let pattern = Array(op[1...])
            if AccessControl.hasSpaces(pattern) { throw .syntax }
            if !channels.contains(pattern) { channels.append(pattern) }
            allChannels = false
        } else if (first == UInt8(ascii: "+") || first == UInt8(ascii: "-")) && op.count > 1
            && op[1] == UInt8(ascii: "@")
        {
            let allow = first == UInt8(ascii: "+")
            guard let bit = ACLCategories.bit(String(text.dropFirst(2))) else { throw .unknownName }
            updateRules(String(text.dropFirst()), allow: allow)
            for command in table.commands {
                if command.aclCategories & bit != 0 { change(command, allow: allow) }
                for sub in command.subcommands.values where sub.aclCategories & bit != 0 {
                    change(sub, allow: allow)
                }
            }
        } else if (first == UInt8(ascii: "+") || first == UInt8(ascii: "-"))
            && table.aclLookup(String(text.dropFirst())) == nil
            && CommandTable.redisCommandNames.contains(String(text.dropFirst()).lowercased())
        {
            // A Redis command Swiftlet does not have (an ACL file written for Redis): the rule
            // is kept, so the user reads back as written; there is nothing to allow or deny.
            updateRules(String(text.dropFirst()), allow: first == UInt8(ascii: "+"))
        } else if first == UInt8(ascii: "+") {
            let name = String(text.dropFirst())
            guard let bar = name.lastIndex(of: "|") else {
                guard let command = table.aclLookup(name) else { throw .unknownName }
                change(command, allow: true)
                updateRules(command.fullName, allow: true)
                return
            }
            let base = String(name[..<bar])
            let sub = String(name[name.index(after: bar)...])
            guard let command = table.aclLookup(base) else { throw .unknownName }
            if command.parent != nil { throw .firstArgOfSubcommand }
            if sub.isEmpty { throw .syntax }
            if !command.subcommands.isEmpty {
                guard let subcommand = table.aclLookup(name) else { throw .unknownName }
                change(subcommand, allow: true)
            } else {
                // Allowing one first argument of a command otherwise blocked (SELECT|0).
                let lowerSub = sub.lowercased()
                var list = firstArgs[command.aclId] ?? []
                if !list.contains(lowerSub) { list.append(lowerSub) }
                firstArgs[command.aclId] = list
            }
            updateRules(name, allow: true)
        } else if first == UInt8(ascii: "-") {
            guard let command = table.aclLookup(String(text.dropFirst())) else { throw .unknownName }
            change(command, allow: false)
            updateRules(command.fullName, allow: false)
        } else {
            throw .syntax
        }
    }

    /// The command rules as ACL GETUSER and ACL LIST show them: +@all or -@all first.
    public func describeCommands(_ table: CommandTable) -> String {
        var parts = [allowsFutureCommands(table) ? "+@all" : "-@all"]
        parts += commandRules
        return parts.joined(separator: " ")
    }

    public func describeKeys() -> String {
        allKeys ? "~*" : keyPatterns.map(\.description).joined(separator: " ")
    }

    public func describeChannels() -> String {
        allChannels ? "&*" : channels.map(Self.channelRule).joined(separator: " ")
    }

    static func channelRule(_ channel: [UInt8]) -> String { "&" + String(decoding: channel, as: UTF8.self) }

    /// ACLDescribeSelector: keys, channels (from `resetchannels` unless all), then commands.
    public func describe(_ table: CommandTable) -> String {
        var parts = allKeys ? ["~*"] : keyPatterns.map(\.description)
        parts += allChannels ? ["&*"] : ["resetchannels"] + channels.map(Self.channelRule)
        parts.append(describeCommands(table))
        return parts.joined(separator: " ")
    }

    func keyAllowed(_ key: ArraySlice<UInt8>, access: UInt8) -> Bool {
        if allKeys { return true }
        return key.withUnsafeBytes { k in
            keyPatterns.contains { p in
                p.access & access == access && p.pattern.withUnsafeBytes { globMatch($0, k) }
            }
        }
    }

    /// A channel name matches a pattern; a pattern being subscribed must equal one.
    static func channelAllowed(_ list: [[UInt8]], _ channel: ArraySlice<UInt8>, isPattern: Bool) -> Bool {
        channel.withUnsafeBytes { c in
            list.contains { p in
                isPattern ? p.elementsEqual(channel) : p.withUnsafeBytes { globMatch($0, c) }
            }
        }
    }

    /// ACLSelectorCheckCmd: nil when this selector lets the command run, else what it
    /// refused and the argument at fault.
    public func check(_ command: Command, _ ctx: CommandContext) -> (ACLDenial, Int)? {
        if !allCommands && !command.flags.contains(.noAuth) && !isAllowed(command.aclId) {
            guard let list = firstArgs[command.aclId], ctx.argc >= 2 else { return (.command, 0) }
            let index = command.parent != nil ? 2 : 1
            guard index < ctx.argc, list.contains(ctx.argString(index).lowercased()) else { return (.command, 0) }
        }
        if !allKeys {
            for (position, access) in command.aclKeys(ctx) where !keyAllowed(ctx.arg(position), access: access) {
                return (.key, position)
            }
        }
        if !allChannels {
            for (position, isPattern) in command.aclChannels(argc: ctx.argc)
            where !Self.channelAllowed(channels, ctx.arg(position), isPattern: isPattern) {
                return (.channel, position)
            }
        }
        return nil
    }
}

/// One ACL user: flags, password hashes (SHA-256, hex) and selectors.
public final class ACLUser {
    public let name: String
    var enabled = false
    public var nopass = false
    var skipSanitizePayload = false
    public var passwords: [String] = []
    public var root: ACLSelector
    public var selectors: [ACLSelector] = []
    /// Every command, key and channel allowed by the root selector: the dispatcher skips
    /// the check for such a user (the default user as shipped).
    public private(set) var unrestricted = false

    init(name: String, commandCount: Int, allChannels: Bool) {
        self.name = name
        root = ACLSelector(commandCount: commandCount, allChannels: allChannels)
    }

    func copyRules(from other: ACLUser) {
        enabled = other.enabled
        nopass = other.nopass
        skipSanitizePayload = other.skipSanitizePayload
        passwords = other.passwords
        root = other.root
        selectors = other.selectors
        refresh()
    }

    func refresh() {
        unrestricted = root.allCommands && root.allKeys && root.allChannels
    }

    public var flagNames: [String] {
        var flags = [enabled ? "on" : "off"]
        if nopass { flags.append("nopass") }
        flags.append(skipSanitizePayload ? "skip-sanitize-payload" : "sanitize-payload")
        return flags
    }

    /// ACLDescribeUser: the rules that recreate this user (ACL LIST, ACL SAVE).
    public func describe(_ table: CommandTable) -> String {
        var out = flagNames.joined(separator: " ") + " "
        for p in passwords { out += "#" + p + " " }
        out += root.describe(table)
        for s in selectors { out += " (" + s.describe(table) + ")" }
        return out
    }

    /// ACLSetUser: one rule of ACL SETUSER.
    func apply(_ op: [UInt8], table: CommandTable, allChannelsByDefault: Bool) throws(ACLRuleError) {
        if op.isEmpty { return }
        let lower = String(decoding: op, as: UTF8.self).lowercased()
        switch lower {
        case "on": enabled = true
        case "off": enabled = false
        case "skip-sanitize-payload": skipSanitizePayload = true
        case "sanitize-payload": skipSanitizePayload = false
        case "nopass":
            nopass = true
            passwords.removeAll()
        case "resetpass":
            nopass = false
            passwords.removeAll()
        case "clearselectors": selectors.removeAll()
        case "reset":
            nopass = false
            passwords.removeAll()
            try root.apply(Array("resetkeys".utf8), table: table)
            try root.apply(Array("resetchannels".utf8), table: table)
            if allChannelsByDefault { try root.apply(Array("allchannels".utf8), table: table) }
            enabled = false
            skipSanitizePayload = false
            selectors.removeAll()
            try root.apply(Array("-@all".utf8), table: table)
        default:
            let first = op[0]
            // `>pw`/`<pw` name a password in clear, `#hash`/`!hash` by its SHA-256.
            func hash(clear: Bool) throws(ACLRuleError) -> String {
                if clear { return AccessControl.hashPassword(op[1...]) }
                guard AccessControl.isPasswordHash(op[1...]) else { throw .badHash }
                return String(decoding: op[1...], as: UTF8.self)
            }
            if first == UInt8(ascii: ">") || first == UInt8(ascii: "#") {
                let hash = try hash(clear: first == UInt8(ascii: ">"))
                if !passwords.contains(hash) { passwords.append(hash) }
                nopass = false
            } else if first == UInt8(ascii: "<") || first == UInt8(ascii: "!") {
                let hash = try hash(clear: first == UInt8(ascii: "<"))
                guard let i = passwords.firstIndex(of: hash) else { throw .noSuchPassword }
                passwords.remove(at: i)
            } else if first == UInt8(ascii: "(") && op.last == UInt8(ascii: ")") {
                var selector = ACLSelector(commandCount: table.aclIdCount, allChannels: allChannelsByDefault)
                for rule in splitRuleArguments(op.dropFirst().dropLast()) {
                    try selector.apply(rule, table: table)
                }
                selectors.append(selector)
            } else {
                try root.apply(op, table: table)
            }
        }
    }

    /// The rules inside a selector's parentheses, split on spaces (sdssplitargs without
    /// quotes, which rules never need).
    func splitRuleArguments(_ bytes: ArraySlice<UInt8>) -> [[UInt8]] {
        bytes.split(whereSeparator: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }).map(Array.init)
    }

    /// ACLCheckAllUserCommandPerm: nil when some selector allows the command, else the
    /// refusal to report (a command refusal unless a selector got as far as a key or
    /// channel; the last argument at fault).
    public func check(_ command: Command, _ ctx: CommandContext) -> (ACLDenial, Int)? {
        guard var (relevant, lastIndex) = root.check(command, ctx) else { return nil }
        for selector in selectors {
            guard let (denial, index) = selector.check(command, ctx) else { return nil }
            if denial > relevant || (denial == relevant && index > lastIndex) {
                relevant = denial
                lastIndex = index
            }
        }
        return (relevant, lastIndex)
    }

    /// Whether a subscribed channel (or pattern) is still allowed by some selector.
    func channelAllowed(_ channel: [UInt8], isPattern: Bool) -> Bool {
        for selector in CollectionOfOne(root) + selectors {
            if selector.allChannels
                || ACLSelector.channelAllowed(selector.channels, channel[...], isPattern: isPattern)
            {
                return true
            }
        }
        return false
    }
}

/// One entry of ACL LOG: similar refusals within a minute are counted in one entry.
public struct ACLLogEntry {
    public var count: Int
    public var reason: String
    public var context: String
    public var object: [UInt8]
    public var username: [UInt8]
    public var updated: Int64
    public var clientInfo: String
    public var entryID: Int64
    public var created: Int64
}

/// The server's users and its ACL LOG (Redis's acl.c state).
public final class AccessControl {
    let table: CommandTable
    public private(set) var users: [String: ACLUser] = [:]
    public let defaultUser: ACLUser
    public var log: [ACLLogEntry] = []
    var logEntriesCreated: Int64 = 0
    /// INFO's acl_access_denied_* counters.
    public var deniedAuth = 0
    public var deniedCommand = 0
    public var deniedKey = 0
    public var deniedChannel = 0
    /// Redis 8.6's acl_access_denied_tls_cert: TLS certificates whose Common Name named no
    /// enabled user (`tls-auth-clients-user CN`).
    public var deniedTLSCertificate = 0
    /// The requirepass value last applied to the default user.
    var appliedRequirepass: String?

    init(table: CommandTable) {
        self.table = table
        defaultUser = Self.makeDefaultUser(table)
        users["default"] = defaultUser
    }

    /// ACLCreateDefaultUser: every command, key and channel, no password.
    static func makeDefaultUser(_ table: CommandTable) -> ACLUser {
        let user = ACLUser(name: "default", commandCount: table.aclIdCount, allChannels: false)
        for rule in ["+@all", "~*", "&*", "on", "nopass"] {
            try? user.apply(Array(rule.utf8), table: table, allChannelsByDefault: false)
        }
        user.refresh()
        return user
    }

    public func user(named name: String) -> ACLUser? { users[name] }

    /// The users in name order (Redis keeps them in a radix tree).
    public var sortedUsers: [ACLUser] {
        users.values.sorted { Array($0.name.utf8).lexicographicallyPrecedes(Array($1.name.utf8)) }
    }

    /// requirepass is the default user's password (ACLUpdateDefaultUserPassword).
    public func applyRequirepass(_ password: String) {
        guard password != appliedRequirepass else { return }
        appliedRequirepass = password
        try? defaultUser.apply(Array("resetpass".utf8), table: table, allChannelsByDefault: false)
        let rule = password.isEmpty ? Array("nopass".utf8) : [UInt8(ascii: ">")] + Array(password.utf8)
        try? defaultUser.apply(rule, table: table, allChannelsByDefault: false)
        defaultUser.refresh()
    }

    /// Whether a new connection starts authenticated as the default user.
    public var defaultUserNeedsNoAuth: Bool { defaultUser.nopass && defaultUser.enabled }

    public static func hasSpaces(_ bytes: some Collection<UInt8>) -> Bool {
        bytes.contains { $0 == 0 || $0 == 0x20 || ($0 >= 0x09 && $0 <= 0x0d) }
    }

    static func hashPassword(_ bytes: ArraySlice<UInt8>) -> String {
        var digest = [UInt8](repeating: 0, count: 32)
        bytes.withUnsafeBytes { swiftlet_sha256($0.baseAddress, $0.count, &digest) }
        let hex = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for b in digest {
            out.append(hex[Int(b >> 4)])
            out.append(hex[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func isPasswordHash(_ bytes: ArraySlice<UInt8>) -> Bool {
        bytes.count == 64
            && bytes.allSatisfy {
                ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "f"))
                    || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9"))
            }
    }

    /// `tls-auth-clients-user CN` (Redis 8.6): a client whose certificate's Common Name names
    /// an enabled user runs as that user, without AUTH; another stays as it connected.
    public func logInByCertificate(_ session: ClientSession, commonName: String) {
        guard let user = users[commonName], user.enabled else {
            deniedTLSCertificate += 1
            return
        }
        session.aclUser = user
        session.authenticated = true
    }

    /// ACLCheckUserCredentials: the user when the name and password are good and the user
    /// is enabled.
    public func authenticate(user name: [UInt8], password: [UInt8]) -> ACLUser? {
        guard let user = users[String(decoding: name, as: UTF8.self)], user.enabled else { return nil }
        if user.nopass { return user }
        let hash = Array(Self.hashPassword(password[...]).utf8)
        var matched = false
        for p in user.passwords {
            var diff: UInt8 = 0
            for (a, b) in zip(hash, p.utf8) { diff |= a ^ b }
            if diff == 0 { matched = true }
        }
        return matched ? user : nil
    }

    /// getAclErrorMessage: Redis 7.2+'s texts (7.0 said "this user has no permissions…");
    /// `argument` given makes them verbose, as ACL DRYRUN's.
    public static func denialMessage(_ denial: ACLDenial, _ user: ACLUser, _ command: Command, _ argument: [UInt8]?)
        -> String
    {
        switch denial {
        case .command: return "User \(user.name) has no permissions to run the '\(command.fullName)' command"
        case .key:
            guard let argument else { return "No permissions to access a key" }
            return
                "User \(user.name) has no permissions to access the '\(String(decoding: argument, as: UTF8.self))' key"
        case .channel:
            guard let argument else { return "No permissions to access a channel" }
            return
                "User \(user.name) has no permissions to access the '\(String(decoding: argument, as: UTF8.self))' channel"
        }
    }

    /// ACLStringSetUser: applies every rule to a copy, and to the user only if all of them
    /// are good; returns the error text otherwise.
    public func setUser(_ name: String, rules: [[UInt8]], allChannelsByDefault: Bool) -> String? {
        let (merged, unmatched) = mergeSelectors(rules)
        if let start = unmatched {
            return
                "Unmatched parenthesis in acl selector starting at '\(String(decoding: rules[start], as: UTF8.self))'."
        }
        let scratch = ACLUser(name: name, commandCount: table.aclIdCount, allChannels: allChannelsByDefault)
        let existing = users[name]
        if let existing { scratch.copyRules(from: existing) }
        for rule in merged {
            do {
                try scratch.apply(rule, table: table, allChannelsByDefault: allChannelsByDefault)
            } catch {
                return "Error in ACL SETUSER modifier '\(String(decoding: rule, as: UTF8.self))': \(error.message)"
            }
        }
        if let existing {
            existing.copyRules(from: scratch)
        } else {
            scratch.refresh()
            users[name] = scratch
        }
        return nil
    }

    public func deleteUser(_ name: String) -> ACLUser? { users.removeValue(forKey: name) }

    /// Replaces every user but keeps the default user's object (sessions point at it).
    func replaceUsers(_ loaded: [String: ACLUser]) {
        var next = loaded
        defaultUser.copyRules(from: loaded["default"] ?? Self.makeDefaultUser(table))
        next["default"] = defaultUser
        users = next
    }

    /// addACLLogEntry
    func addLogEntry(
        reason: String, context: String, object: [UInt8], username: [UInt8], clientInfo: String, now: Int64,
        maxLength: Int
    ) {
        switch reason {
        case "auth": deniedAuth += 1
        case "command": deniedCommand += 1
        case "key": deniedKey += 1
        default: deniedChannel += 1
        }
        if maxLength == 0 {
            log.removeAll()
            return
        }
        for i in log.indices.prefix(10) {
            let e = log[i]
            if e.reason == reason && e.context == context && abs(e.updated - now) <= 60000 && e.object == object
                && e.username == username
            {
                var updated = e
                updated.count += 1
                updated.updated = now
                updated.clientInfo = clientInfo
                log.remove(at: i)
                log.insert(updated, at: 0)
                return
            }
        }
        let entry = ACLLogEntry(
            count: 1, reason: reason, context: context, object: object, username: username, updated: now,
            clientInfo: clientInfo, entryID: logEntriesCreated, created: now)
        logEntriesCreated += 1
        log.insert(entry, at: 0)
        if log.count > maxLength { log.removeLast(log.count - maxLength) }
    }

    /// ACLLoadFromFile's parse: users from `user <name> rules…` lines, or the errors.
    func parseUsers(lines: [String], fileName: String, allChannelsByDefault: Bool) -> Result<
        [String: ACLUser], AccessControlLoadError
    > {
        var loaded: [String: ACLUser] = [:]
        var errors = ""
        for (i, raw) in lines.enumerated() {
            let line = raw.trimmingCharacters(in: " \t\r\n")
            if line.isEmpty { continue }
            let argv = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            let lineNumber = i + 1
            if argv[0] != "user" || argv.count < 2 {
                errors += "\(fileName):\(lineNumber) should start with user keyword followed by the username. "
                continue
            }
            if Self.hasSpaces(Array(argv[1].utf8)) || argv[1].isEmpty {
                errors += "'\(fileName):\(lineNumber): username '\(argv[1])' contains invalid characters. "
                continue
            }
            if loaded[argv[1]] != nil {
                errors += "WARNING: Duplicate user '\(argv[1])' found on line \(lineNumber). "
                continue
            }
            let user = ACLUser(name: argv[1], commandCount: table.aclIdCount, allChannels: allChannelsByDefault)
            loaded[argv[1]] = user
            let rules = argv.dropFirst(2).map { Array($0.utf8) }
            var syntaxError = false
            let (merged, unmatched) = mergeSelectors(Array(rules))
            if unmatched != nil {
                errors += "\(fileName):\(lineNumber): Unmatched parenthesis in selector definition."
                continue
            }
            for rule in merged {
                let trimmed = Array(String(decoding: rule, as: UTF8.self).trimmingCharacters(in: "\t\r\n").utf8)
                do {
                    try user.apply(trimmed, table: table, allChannelsByDefault: allChannelsByDefault)
                } catch {
                    if error == .unknownName {
                        errors +=
                            "\(fileName):\(lineNumber): Error in applying operation '\(String(decoding: trimmed, as: UTF8.self))': \(error.message). "
                    } else if !syntaxError {
                        errors += "\(fileName):\(lineNumber): \(error.message). "
                        syntaxError = true
                    }
                }
            }
            user.refresh()
        }
        if !errors.isEmpty {
            return .failure(
                AccessControlLoadError(
                    message: errors
                        + "WARNING: ACL errors detected, no change to the previously active ACL rules was performed"))
        }
        return .success(loaded)
    }

    /// ACLMergeSelectorArguments: a selector split over several arguments joined back
    /// into one rule; `unmatched` is the argument whose parenthesis is left open.
    func mergeSelectors(_ rules: [[UInt8]]) -> (merged: [[UInt8]], unmatched: Int?) {
        var merged: [[UInt8]] = []
        var open: (start: Int, rule: [UInt8])?
        for (i, rule) in rules.enumerated() {
            if let selector = open {
                let joined = selector.rule + [UInt8(ascii: " ")] + rule
                if rule.last == UInt8(ascii: ")") {
                    merged.append(joined)
                    open = nil
                } else {
                    open = (selector.start, joined)
                }
            } else if rule.first == UInt8(ascii: "("), rule.last != UInt8(ascii: ")") {
                open = (i, rule)
            } else {
                merged.append(rule)
            }
        }
        return (merged, open?.start)
    }

    /// The ACL file's text (ACL SAVE).
    public func fileText() -> String {
        sortedUsers.map { "user \($0.name) \($0.describe(table))\n" }.joined()
    }
}

public struct AccessControlLoadError: Error {
    public let message: String
}

extension String {
    fileprivate func trimmingCharacters(in set: String) -> String {
        let chars = Set(set.unicodeScalars)
        var scalars = Substring(self).unicodeScalars[...]
        while let f = scalars.first, chars.contains(f) { scalars.removeFirst() }
        while let l = scalars.last, chars.contains(l) { scalars.removeLast() }
        return String(scalars)
    }
}

extension ServerState {
    /// addACLLogEntry with the server's clock and `acllog-max-len`.
    public func logACLDenial(reason: String, context: String, object: [UInt8], username: [UInt8], clientInfo: String) {
        acl.addLogEntry(
            reason: reason, context: context, object: object, username: username, clientInfo: clientInfo, now: clock(),
            maxLength: Int(config.int("acllog-max-len")))
    }

    /// ACLLoadUsersAtStartup: the configuration's `user` lines, then the ACL file; the
    /// text to log when the server must not start.
    public func loadUsersAtStartup() -> String? {
        let file = config["aclfile"]
        if !file.isEmpty && !config.userDirectives.isEmpty {
            return
                "Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid. This setup is very likely to lead to configuration errors and security holes, please define either an ACL file or declare users directly in your redis.conf, but not both."
        }
        let allChannels = config["acl-pubsub-default"] == "allchannels"
        for directive in config.userDirectives {
            let name = directive[0]
            if AccessControl.hasSpaces(Array(name.utf8)) { return "Spaces not allowed in ACL usernames" }
            let rules = directive.dropFirst().map { Array($0.utf8) }
            if name == "default" {
                // The default user's line replaces it, as Redis resets it before applying.
                _ = acl.setUser(name, rules: [Array("reset".utf8)], allChannelsByDefault: allChannels)
            }
            if let error = acl.setUser(name, rules: Array(rules), allChannelsByDefault: allChannels) {
                return "Error loading ACL rule for the user named '\(name)': \(error)"
            }
        }
        if !file.isEmpty, case .failure(let error) = loadACLFile(file, caller: nil) {
            return "Aborting Redis startup because of ACL errors: \(error.message)"
        }
        return nil
    }
}

extension ServerState {
    /// Reads the ACL file and, if every line is good, replaces the users: clients of a
    /// user that is gone, or that lost a channel they listen to, are disconnected. `caller`
    /// is the client running ACL LOAD (nil at start-up).
    public func loadACLFile(_ file: String, caller: ClientSession?) -> Result<
        Void, AccessControlLoadError
    > {
        let text: String
        do {
            text = try readFile(file)
        } catch {
            return .failure(
                AccessControlLoadError(
                    message: "Error loading ACLs, opening file '\(file)': \(String(cString: strerror(errno)))"))
        }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let acl = self.acl
        let loaded: [String: ACLUser]
        switch acl.parseUsers(
            lines: lines, fileName: file, allChannelsByDefault: config["acl-pubsub-default"] == "allchannels")
        {
        case .failure(let error): return .failure(error)
        case .success(let users): loaded = users
        }
        acl.replaceUsers(loaded)
        for c in clients.values {
            guard let old = c.aclUser else { continue }
            guard let new = acl.user(named: old.name) else {
                deauthenticateAndClose(c, caller: caller)
                continue
            }
            c.aclUser = new
        }
        for user in acl.users.values { closeSubscribersLosingChannels(of: user, caller: caller) }
        return .success(())
    }

    /// Clients of `user` subscribed to a channel or pattern the user may no longer use are
    /// disconnected (ACLKillPubsubClientsIfNeeded).
    public func closeSubscribersLosingChannels(of user: ACLUser, caller: ClientSession?) {
        for c in clients.values where c.aclUser === user && c.inPubSubMode {
            let lost =
                c.patterns.contains { !user.channelAllowed($0, isPattern: true) }
                || c.channels.contains { !user.channelAllowed($0, isPattern: false) }
                || c.shardChannels.contains { !user.channelAllowed($0, isPattern: false) }
            if lost { deauthenticateAndClose(c, caller: caller) }
        }
    }

    /// deauthenticateAndCloseClient: back to the default user, unauthenticated, closed —
    /// after its reply when it is the client running the command.
    public func deauthenticateAndClose(_ c: ClientSession, caller: ClientSession?) {
        c.aclUser = acl.defaultUser
        c.authenticated = false
        c.close(caller: caller)
    }
}
