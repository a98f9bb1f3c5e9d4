// `help`, as redis-cli 7 gives it: entries built from the server's COMMAND DOCS (the
// argument syntax rendered as cliAddArgument renders it), sorted by name.

struct HelpEntry {
    var name: String  // "GET", "CLIENT KILL"
    var words: [String]  // lowercased words of the name
    var params: String
    var summary: String
    var since: String?
    var group: String
}

/// The pairs of a map reply (RESP3) or of a flat array (RESP2).
func pairs(_ reply: CLIReply) -> [(String, CLIReply)] {
    guard case .aggregate(_, let items) = reply else { return [] }
    var out: [(String, CLIReply)] = []
    var i = 0
    while i + 1 < items.count {
        out.append((text(items[i]), items[i + 1]))
        i += 2
    }
    return out
}

func text(_ reply: CLIReply) -> String {
    switch reply {
    case .string(let b), .status(let b), .verbatim(let b), .integer(let b), .double(let b), .bigNumber(let b):
        return String(decoding: b, as: UTF8.self)
    default: return ""
    }
}

/// cliAddArgument: one argument of COMMAND DOCS as help shows it.
func argumentSyntax(_ argument: CLIReply) -> String {
    var name = ""
    var type = ""
    var token = ""
    var optional = false
    var multiple = false
    var multipleToken = false
    var subArguments: [CLIReply] = []
    for (key, value) in pairs(argument) {
        switch key {
        case "name": name = text(value)
        case "type": type = text(value)
        case "token": token = text(value)
        case "flags":
            if case .aggregate(_, let flags) = value {
                for f in flags.map(text) {
                    if f == "optional" { optional = true }
                    if f == "multiple" { multiple = true }
                    if f == "multiple_token" { multipleToken = true }
                }
            }
        case "arguments":
            if case .aggregate(_, let items) = value { subArguments = items }
        default: break
        }
    }
    var repeating = ""
    switch type {
    case "key", "string", "integer", "double", "pattern", "unix-time", "token": repeating = name
    case "oneof": repeating = subArguments.map(argumentSyntax).joined(separator: "|")
    case "block": repeating = subArguments.map(argumentSyntax).joined(separator: " ")
    default: break
    }
    if !token.isEmpty && type != "pure-token" { token += " " }
    var out = optional ? "[" : ""
    out += token + repeating
    if multiple { out += " [" + (multipleToken ? token : "") + repeating + " ...]" }
    if optional { out += "]" }
    return out
}

func helpEntry(name: String, docs: CLIReply) -> HelpEntry {
    var entry = HelpEntry(
        name: name.split(separator: "|").map { $0.uppercased() }.joined(separator: " "),
        words: name.split(separator: "|").map { $0.lowercased() }, params: "", summary: "", since: nil, group: "")
    for (key, value) in pairs(docs) {
        switch key {
        case "summary": entry.summary = text(value)
        case "since": entry.since = text(value)
        case "group": entry.group = text(value)
        case "arguments":
            if case .aggregate(_, let items) = value { entry.params = items.map(argumentSyntax).joined(separator: " ") }
        default: break
        }
    }
    return entry
}

@MainActor var helpEntriesCache: [HelpEntry]?

@MainActor func helpEntries() -> [HelpEntry] {
    if let cached = helpEntriesCache { return cached }
    connection.send([Array("COMMAND".utf8), Array("DOCS".utf8)])
    var entries: [HelpEntry] = []
    for (name, docs) in pairs(connection.reply()) {
        entries.append(helpEntry(name: name, docs: docs))
        for (key, value) in pairs(docs) where key == "subcommands" {
            for (subName, subDocs) in pairs(value) { entries.append(helpEntry(name: subName, docs: subDocs)) }
        }
    }
    entries.sort { $0.name < $1.name }
    helpEntriesCache = entries
    return entries
}

func commandHelp(_ e: HelpEntry, group: Bool) -> String {
    var out = "\r\n  \u{1b}[1m\(e.name)\u{1b}[0m \u{1b}[90m\(e.params)\u{1b}[0m\r\n"
    out += "  \u{1b}[33msummary:\u{1b}[0m \(e.summary)\r\n"
    if let since = e.since { out += "  \u{1b}[33msince:\u{1b}[0m \(since)\r\n" }
    if group { out += "  \u{1b}[33mgroup:\u{1b}[0m \(e.group)\r\n" }
    return out
}

/// cliOutputHelp.
@MainActor func outputHelp(_ args: [String]) {
    if args.isEmpty {
        writeOut(
            1,
            """
            swiftlet-cli 7.4.0
            To get help about Redis commands type:
                  "help @<group>" to get a list of commands in <group>
                  "help <command>" for help on <command>
                  "help <tab>" to get a list of possible help topics
                  "quit" to exit

            To set redis-cli preferences:
                  ":set hints" enable online hints
                  ":set nohints" disable online hints
            Set your preferences in ~/.redisclirc

            """)
        return
    }
    var out = ""
    if args[0].hasPrefix("@") {
        let group = args[0].dropFirst().lowercased()
        for e in helpEntries() where e.group.lowercased() == group { out += commandHelp(e, group: false) }
    } else {
        let words = args.map { $0.lowercased() }
        for e in helpEntries() where words.count <= e.words.count && Array(e.words.prefix(words.count)) == words {
            out += commandHelp(e, group: true)
        }
    }
    writeOut(1, out + "\r\n")
}
