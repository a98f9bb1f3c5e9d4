import DataStore
import RESP

/// One key spec of COMMAND INFO: where a command's keys begin, how to find them, and the
/// access they get (Redis's keySpec).
public struct KeySpec {
    public enum Begin {
        case index(Int)
        case keyword(String, startFrom: Int)
    }
    public enum Find {
        case range(lastKey: Int, keyStep: Int, limit: Int)
        case keynum(index: Int, firstKey: Int, keyStep: Int)
    }
    public var begin: Begin?
    public var find: Find?
    /// ACL access bits: read (access) and write (insert, delete, update).
    var access: UInt8 = 0
    public var notKey = false
    var incomplete = false
    var variableFlags = false
    /// The spec's flags as COMMAND INFO names them (RW, access, delete, …), in its order.
    public var flagNames: [String] = []

    init?(_ reply: Reply) {
        guard case .map(let fields) = reply else { return nil }
        func map(_ r: Reply) -> [String: Reply] {
            guard case .map(let f) = r else { return [:] }
            var out: [String: Reply] = [:]
            var i = 0
            while i + 1 < f.count {
                if case .bulk(let k) = f[i] { out[String(decoding: k, as: UTF8.self)] = f[i + 1] }
                i += 2
            }
            return out
        }
        func int(_ r: Reply?) -> Int {
            if case .integer(let v) = r { return Int(v) }
            return 0
        }
        let top = map(.map(fields))
        if case .set(let flags) = top["flags"] {
            for case .simple(let flag) in flags {
                flagNames.append(flag)
                switch flag {
                case "access": access |= ACLKeyPattern.read
                case "insert", "delete", "update": access |= ACLKeyPattern.write
                case "not_key": notKey = true
                case "incomplete": incomplete = true
                case "variable_flags": variableFlags = true
                default: break
                }
            }
        }
        let begin = map(top["begin_search"] ?? .null)
        let beginSpec = map(begin["spec"] ?? .null)
        switch begin["type"] {
        case .bulk(let t) where t == Array("index".utf8): self.begin = .index(int(beginSpec["index"]))
        case .bulk(let t) where t == Array("keyword".utf8):
            if case .bulk(let word) = beginSpec["keyword"] {
                self.begin = .keyword(String(decoding: word, as: UTF8.self), startFrom: int(beginSpec["startfrom"]))
            }
        default: break
        }
        let find = map(top["find_keys"] ?? .null)
        let findSpec = map(find["spec"] ?? .null)
        switch find["type"] {
        case .bulk(let t) where t == Array("range".utf8):
            self.find = .range(
                lastKey: int(findSpec["lastkey"]), keyStep: int(findSpec["keystep"]), limit: int(findSpec["limit"]))
        case .bulk(let t) where t == Array("keynum".utf8):
            self.find = .keynum(
                index: int(findSpec["keynumidx"]), firstKey: int(findSpec["firstkey"]),
                keyStep: int(findSpec["keystep"]))
        default: break
        }
    }
}

extension Command {
    /// The access SET's and BITFIELD's key needs, which depends on their arguments (Redis's
    /// setGetKeys and bitfieldGetKeys; the key specs say variable_flags): nil for other
    /// commands. ACL checks and COMMAND GETKEYSANDFLAGS both read it.
    public func variableKeyAccess(argc: Int, arg: (Int) -> ArraySlice<UInt8>) -> UInt8? {
        guard keySpecs.contains(where: \.variableFlags) else { return nil }
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
                switch spec.begin! {
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
                }
                var last = 0
                var step = 1
                switch spec.find! {
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
