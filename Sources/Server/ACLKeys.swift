import CommandFacts
import DataStore
import RESP

extension KeySpec {
    /// The ACL access a key found by this spec needs: read for `access`, write for
    /// `insert`, `delete` and `update`.
    var access: UInt8 {
        var bits: UInt8 = 0
        if flags.contains(.access) { bits |= ACLKeyPattern.read }
        if !flags.isDisjoint(with: [.insert, .delete, .update]) { bits |= ACLKeyPattern.write }
        return bits
    }
}

extension Command {
    /// The access SET's and BITFIELD's key needs, which depends on their arguments (Redis's
    /// setGetKeys and bitfieldGetKeys; the key specs say variable_flags): nil for other
    /// commands. ACL checks and COMMAND GETKEYSANDFLAGS both read it.
    public func variableKeyAccess(argc: Int, arg: (Int) -> ArraySlice<UInt8>) -> UInt8? {
        guard keySpecs.contains(where: { $0.flags.contains(.variableFlags) }) else { return nil }
        let both = ACLKeyPattern.read | ACLKeyPattern.write
        switch fullName {
        case "set":
            let get = (3..<argc).contains { equalsIgnoringCase(arg($0), "get") }
            return get ? both : ACLKeyPattern.write
        case "bitfield":
            var i = 2
            while i < argc {
                let remaining = argc - i - 1
                let word = arg(i)
                if equalsIgnoringCase(word, "get") && remaining >= 2 {
                    i += 3
                } else if equalsIgnoringCase(word, "overflow") && remaining >= 1 {
                    i += 2
                } else {
                    // SET, INCRBY, or a syntax error (taken as a write, to be safe).
                    return both
                }
            }
            return ACLKeyPattern.read
        default:
            return nil
        }
    }

    /// The key arguments ACL checks and the access each needs: from the key specs, as
    /// getKeysUsingKeySpecs finds them, or — for commands whose specs cannot say (SORT's
    /// STORE, MIGRATE's KEYS) — from the command's own key finder, each key needing every
    /// access its specs mention.
    func aclKeys(_ ctx: CommandContext) -> [(Int, UInt8)] {
        let specs = keySpecs
        if specs.isEmpty { return [] }
        let argc = ctx.argc
        // Flags that depend on the arguments come from the getkeys procs (setGetKeys,
        // bitfieldGetKeys): SET reads its key only with GET, BITFIELD writes only with SET
        // or INCRBY.
        if let access = variableKeyAccess(argc: argc, arg: { ctx.arg($0) }) { return [(1, access)] }
        if keySpecsComplete {
            var keys: [(Int, UInt8)] = []
            var valid = true
            for spec in specs {
                var first = 0
                switch spec.begin {
                case .index(let i): first = i
                case .keyword(let word, let startFrom):
                    let start = startFrom > 0 ? startFrom : argc + startFrom
                    let end = startFrom > 0 ? argc - 1 : 1
                    var i = start
                    // As Redis's loop, the end index itself is not searched.
                    while i != end {
                        if i >= argc || i < 1 { break }
                        if ctx.arg(i).elementsEqual(word.utf8, by: { ($0 | 0x20) == ($1 | 0x20) }) {
                            first = i + 1
                            break
                        }
                        i += start <= end ? 1 : -1
                    }
                    if first == 0 { continue }
                case .unknown: continue  // not in a complete set of specs
                }
                var last = 0
                var step = 1
                switch spec.find {
                case .range(let lastKey, let keyStep, let limit):
                    if lastKey >= 0 {
                        last = first + lastKey
                    } else if limit == 0 {
                        last = argc + lastKey
                    } else {
                        last = first + ((argc - first) / limit + lastKey)
                    }
                    step = keyStep
                case .keynum(let index, let firstKey, let keyStep):
                    // A count past the arguments is invalid anyway (and must not overflow).
                    guard first + index < argc, let n = parseInt64(ctx.arg(first + index)), n >= 0, n <= argc
                    else {
                        valid = false
                        break
                    }
                    first += firstKey
                    last = first + Int(n) - 1
                    step = keyStep
                case .unknown: valid = false
                }
                if !valid { break }
                if Int(last) >= argc || last < first || first >= argc {
                    valid = false
                    break
                }
                var i = first
                while i <= last {
                    if i < argc { keys.append((i, spec.access)) }
                    i += max(step, 1)
                }
            }
            if valid { return keys }
        }
        let access = specs.reduce(UInt8(0)) { $0 | $1.access }
        return keyPositions(argc: argc) { ctx.arg($0) }.map { ($0, access) }
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
