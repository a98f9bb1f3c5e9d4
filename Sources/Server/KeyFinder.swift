import CommandFacts
import DataStore

/// A key argument of a command and how the command uses it: the flags of the key spec
/// that found it, or those its getkeys procedure gives (none, for the counted ones).
public struct KeyReference: Equatable, Sendable {
    public let position: Int
    public let flags: KeySpecFlags

    public init(_ position: Int, _ flags: KeySpecFlags) {
        self.position = position
        self.flags = flags
    }
}

/// The one key-spec interpreter (Redis's getKeysFromCommandWithSpecs): the key specs when
/// they can say, else the command's getkeys procedure. COMMAND GETKEYS and
/// GETKEYSANDFLAGS, ACL key checks, WATCH and tracking invalidation, keyspace
/// notifications, blocked clients and the background save's preservation all ask it.
public struct KeyFinder: Sendable {
    /// The specs that name keys (shard channels are specs flagged not_key).
    let specs: [KeySpec]
    let procedure: KeyProcedure?
    /// At least one key spec, none whose flags depend on the arguments.
    let specsFirst: Bool
    /// One spec, `index` then a fixed range: the common case, found without a walk.
    let singleRange: (first: Int, last: Int, step: Int, flags: KeySpecFlags)?

    public init(row: CommandRow) {
        specs = row.keySpecs.filter { !$0.flags.contains(.notKey) }
        procedure = row.keyProcedure
        specsFirst = !specs.isEmpty && !specs.contains { $0.flags.contains(.variableFlags) }
        if specs.count == 1, procedure == nil, specs[0].isComplete, case .index(let first) = specs[0].begin,
            case .range(let lastKey, let step, _) = specs[0].find, lastKey >= 0, step > 0
        {
            singleRange = (first, first + lastKey, step, specs[0].flags)
        } else {
            singleRange = nil
        }
    }

    /// Whether the command has keys at all (Redis's doesCommandHaveKeys).
    public var hasKeys: Bool { !specs.isEmpty || procedure != nil }

    /// The key arguments of a call with `argc` arguments, `arg(i)` reading one.
    public func keys(argc: Int, arg: (Int) -> ArraySlice<UInt8>) -> [KeyReference] {
        if let r = singleRange {
            // Out of bounds is a syntax error: no keys (as the walk below decides).
            guard r.last < argc else { return [] }
            return stride(from: r.first, through: r.last, by: r.step).map { KeyReference($0, r.flags) }
        }
        if specsFirst, let keys = keysFromSpecs(argc: argc, arg: arg) { return keys }
        guard let procedure else { return [] }
        return Self.keys(of: procedure, argc: argc, arg: arg)
    }

    /// Redis's getKeysUsingKeySpecs: nil when a spec is unknown, incomplete or invalid for
    /// these arguments (the procedure decides then).
    func keysFromSpecs(argc: Int, arg: (Int) -> ArraySlice<UInt8>) -> [KeyReference]? {
        var keys: [KeyReference] = []
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
                    if arg(i).elementsEqual(word.utf8, by: { ($0 | 0x20) == ($1 | 0x20) }) {
                        first = i + 1
                        break
                    }
                    i += start <= end ? 1 : -1
                }
                if first == 0 { continue }  // keyword not found: this spec has no keys
            case .unknown: return nil
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
                guard first + index < argc, let n = parseInt64(arg(first + index)), n >= 0, n <= argc else {
                    return nil
                }
                first += firstKey
                last = first + Int(n) - 1
                step = keyStep
            case .unknown: return nil
            }
            if last >= argc || last < first || first >= argc { return nil }
            var i = first
            while i <= last {
                keys.append(KeyReference(i, spec.flags))
                i += max(step, 1)
            }
            if spec.flags.contains(.incomplete) { return nil }
        }
        return keys
    }

    /// The getkeys procedures, as Redis 7.0's db.c has them.
    static func keys(of procedure: KeyProcedure, argc: Int, arg: (Int) -> ArraySlice<UInt8>) -> [KeyReference] {
        func word(_ i: Int, _ w: StaticString) -> Bool { equalsIgnoringCase(arg(i), w) }
        switch procedure {
        case .counted(let store, let count, let first):
            // genericGetKeys reads the count with atoi: leading digits, else 0.
            guard count < argc else { return [] }
            var n = 0
            var sign = 1
            var digits = arg(count)[...]
            if digits.first == UInt8(ascii: "-") {
                sign = -1
                digits = digits.dropFirst()
            } else if digits.first == UInt8(ascii: "+") {
                digits = digits.dropFirst()
            }
            for c in digits {
                guard c >= 48 && c <= 57, n < 1 << 40 else { break }
                n = n * 10 + Int(c - 48)
            }
            n *= sign
            guard n >= 1, n <= argc - first else { return [] }
            var keys = (first..<(first + n)).map { KeyReference($0, []) }
            if let store { keys.append(KeyReference(store, [])) }
            return keys
        case .sortReadOnly:
            return [KeyReference(1, [.ro, .access])]
        case .sort:
            // LIMIT/GET/BY arguments are skipped; the last STORE wins.
            var store: Int?
            var i = 2
            while i < argc {
                if word(i, "limit") {
                    i += 2
                } else if word(i, "get") || word(i, "by") {
                    i += 1
                } else if word(i, "store") && i + 1 < argc {
                    store = i + 1
                }
                i += 1
            }
            return [KeyReference(1, [.ro, .access])] + (store.map { [KeyReference($0, [.ow, .update])] } ?? [])
        case .migrate:
            var first = 3
            var count = 1
            if argc > 6 {
                var i = 6
                while i < argc {
                    if word(i, "keys") {
                        // KEYS with a key argument too is a syntax error: no keys.
                        if !arg(3).isEmpty {
                            count = 0
                        } else {
                            first = i + 1
                            count = argc - first
                        }
                        break
                    }
                    if word(i, "auth") {
                        i += 1
                    } else if word(i, "auth2") {
                        i += 2
                    }
                    i += 1
                }
            }
            return (first..<(first + count)).map { KeyReference($0, [.rw, .access, .delete]) }
        case .georadius:
            var stored: Int?
            var i = 5
            while i < argc {
                if (word(i, "store") || word(i, "storedist")) && i + 1 < argc {
                    stored = i + 1
                    i += 1
                }
                i += 1
            }
            return [KeyReference(1, [])] + (stored.map { [KeyReference($0, [])] } ?? [])
        case .xread:
            var streams: Int?
            var i = 1
            while i < argc {
                if word(i, "block") || word(i, "count") {
                    i += 1
                } else if word(i, "group") {
                    i += 2
                } else if word(i, "noack") {
                    // a flag without a value
                } else if word(i, "streams") {
                    streams = i
                    break
                } else {
                    break
                }
                i += 1
            }
            guard let streams else { return [] }
            let n = argc - streams - 1
            guard n > 0, n % 2 == 0 else { return [] }
            return ((streams + 1)..<(streams + 1 + n / 2)).map { KeyReference($0, []) }
        case .set:
            // GET makes SET read its key (its exact word, as Redis compares it).
            let get =
                argc > 3
                && (3..<argc).contains { i in
                    let a = arg(i)
                    return a.count == 3 && equalsIgnoringCase(a, "get")
                }
            return [KeyReference(1, get ? [.rw, .access, .update] : [.ow, .update])]
        case .bitfield:
            var readOnly = true
            var i = 2
            while i < argc {
                let remaining = argc - i - 1
                if word(i, "get") && remaining >= 2 {
                    i += 2
                } else if (word(i, "set") || word(i, "incrby")) && remaining >= 3 {
                    readOnly = false
                    break
                } else if word(i, "overflow") && remaining >= 1 {
                    i += 1
                } else {
                    // A syntax error: safer taken as a write.
                    readOnly = false
                    break
                }
                i += 1
            }
            return [KeyReference(1, readOnly ? [.ro, .access] : [.rw, .access, .update])]
        }
    }
}
