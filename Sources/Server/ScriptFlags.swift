import CommandFacts
import RESP

/// Redis 7's script flags from a `#!lua flags=…` first line (nil without a shebang).
public struct ShebangFlags {
    public var noWrites = false
    public var allowOOM = false
    public var allowCrossSlot = false

    static let known: Set<String> = [
        "no-writes", "allow-oom", "allow-stale", "no-cluster", "allow-cross-slot-keys",
    ]

    /// evalExtractShebangFlags, with Redis's errors.
    public static func parse(_ body: [UInt8]) throws(CommandError) -> ShebangFlags? {
        guard body.count >= 2, body[0] == UInt8(ascii: "#"), body[1] == UInt8(ascii: "!") else { return nil }
        guard let end = body.firstIndex(of: UInt8(ascii: "\n")) else { throw .generic("Invalid script shebang") }
        guard let split = splitArgs(Array(body[..<end])), !split.isEmpty else {
            throw .generic("Invalid engine in script shebang")
        }
        let parts = split.map { String(decoding: $0, as: UTF8.self) }
        let engine = parts[0]
        if engine != "#!lua" { throw .generic("Unexpected engine in script shebang: \(engine)") }
        var flags = ShebangFlags()
        for part in parts.dropFirst() {
            guard part.hasPrefix("flags=") else { throw .generic("Unknown lua shebang option: \(part)") }
            // "flags=" alone declares no flags (sdssplitlen of nothing is no parts).
            let list = part.dropFirst(6)
            let named = list.isEmpty ? [] : list.split(separator: ",", omittingEmptySubsequences: false)
            for flag in named.map(String.init) {
                guard known.contains(flag) else { throw .generic("Unexpected flag in script shebang: \(flag)") }
                if flag == "no-writes" { flags.noWrites = true }
                if flag == "allow-oom" { flags.allowOOM = true }
                if flag == "allow-cross-slot-keys" { flags.allowCrossSlot = true }
            }
        }
        return flags
    }
}

extension CommandContext {
    /// Whether a script command may write, by the script's declared flags (Redis's
    /// evalGetCommandFlags / fcallGetCommandFlags): a `no-writes` script or function is a
    /// read, which CLIENT PAUSE WRITE lets through.
    func scriptDeclaresNoWrites(_ command: Command) -> Bool {
        guard argc >= 2 else { return false }
        switch command.name {
        case "eval":
            return (try? ShebangFlags.parse(argBytes(1)))??.noWrites == true
        case "evalsha":
            let sha = argString(1).lowercased()
            guard let body = server.scriptEngine?.scriptBody(sha: sha) else { return false }
            return (try? ShebangFlags.parse(body))??.noWrites == true
        case "fcall":
            return server.scriptEngine?.functionDeclaresNoWrites(argString(1)) == true
        default:
            return false
        }
    }

    /// Whether a script command counts as a write by its script's declared flags (Redis's
    /// evalGetCommandFlags / fcallGetCommandFlags): a script with a shebang, or a function,
    /// that does not declare `no-writes`. Scripts without a shebang are judged command by
    /// command as they run.
    func scriptDeclaresWrites(_ command: Command) -> Bool {
        guard argc >= 2 else { return false }
        switch command.name {
        case "eval":
            guard let flags = (try? ShebangFlags.parse(argBytes(1))) ?? nil else { return false }
            return !flags.noWrites
        case "evalsha":
            let sha = argString(1).lowercased()
            guard let body = server.scriptEngine?.scriptBody(sha: sha),
                let flags = (try? ShebangFlags.parse(body)) ?? nil
            else { return false }
            return !flags.noWrites
        case "fcall":
            guard let noWrites = server.scriptEngine?.functionDeclaresNoWrites(argString(1)) else { return false }
            return !noWrites
        default:
            return false
        }
    }
}
