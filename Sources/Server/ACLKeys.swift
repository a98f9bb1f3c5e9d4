import CommandFacts
import DataStore
import RESP

extension KeySpecFlags {
    /// The ACL access a key with these flags needs (ACLSelectorCheckKey): read for
    /// `access`, write for `insert`, `delete` and `update`; none for a procedure's key
    /// without flags.
    var aclAccess: UInt8 {
        var bits: UInt8 = 0
        if contains(.access) { bits |= ACLKeyPattern.read }
        if !isDisjoint(with: [.insert, .delete, .update]) { bits |= ACLKeyPattern.write }
        return bits
    }
}

extension Command {
    /// The key arguments ACL checks and the access each needs, as Redis's
    /// ACLSelectorCheckCmd finds them (getKeysFromCommandWithSpecs).
    func aclKeys(_ ctx: CommandContext) -> [(Int, UInt8)] {
        keyFinder.keys(argc: ctx.argc, arg: { ctx.arg($0) }).map { ($0.position, $0.flags.aclAccess) }
    }

    /// The channel arguments ACL checks (getChannelsFromCommand): PUBLISH's channel and
    /// every channel or pattern subscribed to.
    func aclChannels(argc: Int) -> [(Int, Bool)] {
        switch fullName {
        case "publish", "spublish": return [(1, false)]
        case "subscribe", "ssubscribe": return (1..<argc).map { ($0, false) }
        case "psubscribe": return (1..<argc).map { ($0, true) }
        default: return []
        }
    }
}
