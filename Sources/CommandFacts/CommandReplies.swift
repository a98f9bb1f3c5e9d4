import RESP

/// COMMAND INFO and COMMAND DOCS from a row, field for field in Redis's order
/// (addReplyCommandInfo, addReplyCommandDocs and the functions they call).
extension CommandRow {
    /// COMMAND INFO's entry without the subcommands (the table adds those it serves).
    public var infoFields: [Reply] {
        [
            .bulk(Array(name.utf8)), .integer(Int64(arity)), .set(flags.names.map { .simple($0) }),
            .integer(Int64(keys.first)), .integer(Int64(keys.last)), .integer(Int64(keys.step)),
            .set(acl.categoryNames.map { .simple("@" + $0) }), .set(tips.map { .bulk(Array($0.utf8)) }),
            .set(keySpecs.map(\.reply)),
        ]
    }

    /// COMMAND DOCS's map, the subcommands' docs nested in their container's.
    public var docsReply: Reply {
        var fields: [Reply] = []
        func add(_ key: String, _ value: Reply) {
            fields.append(.bulk(Array(key.utf8)))
            fields.append(value)
        }
        func add(_ key: String, _ text: String?) {
            if let text { add(key, .bulk(Array(text.utf8))) }
        }
        add("summary", docs.summary)
        add("since", docs.since)
        add("group", docs.group)
        add("complexity", docs.complexity)
        if !docs.flags.isEmpty { add("doc_flags", .set(docs.flags.names.map { .simple($0) })) }
        add("deprecated_since", docs.deprecatedSince)
        add("replaced_by", docs.replacedBy)
        if let history = docs.history {
            add("history", .set(history.map { .array([.bulk(Array($0.version.utf8)), .bulk(Array($0.change.utf8))]) }))
        }
        if let arguments = docs.arguments { add("arguments", CommandArgument.reply(arguments)) }
        if !subcommands.isEmpty {
            add("subcommands", .map(subcommands.flatMap { [.bulk(Array($0.name.utf8)), $0.docsReply] }))
        }
        return .map(fields)
    }
}

extension KeySpec {
    var reply: Reply {
        func bulk(_ s: String) -> Reply { .bulk(Array(s.utf8)) }
        var fields: [Reply] = []
        if let notes { fields += [bulk("notes"), bulk(notes)] }
        fields += [bulk("flags"), .set(flags.names.map { .simple($0) })]
        let beginSpec: Reply
        let beginType: String
        switch begin {
        case .index(let i):
            beginType = "index"
            beginSpec = .map([bulk("index"), .integer(Int64(i))])
        case .keyword(let word, let startFrom):
            beginType = "keyword"
            beginSpec = .map([bulk("keyword"), bulk(word), bulk("startfrom"), .integer(Int64(startFrom))])
        case .unknown:
            beginType = "unknown"
            beginSpec = .map([])
        }
        fields += [bulk("begin_search"), .map([bulk("type"), bulk(beginType), bulk("spec"), beginSpec])]
        let findSpec: Reply
        let findType: String
        switch find {
        case .range(let lastKey, let keyStep, let limit):
            findType = "range"
            findSpec = .map([
                bulk("lastkey"), .integer(Int64(lastKey)), bulk("keystep"), .integer(Int64(keyStep)), bulk("limit"),
                .integer(Int64(limit)),
            ])
        case .keynum(let index, let firstKey, let keyStep):
            findType = "keynum"
            findSpec = .map([
                bulk("keynumidx"), .integer(Int64(index)), bulk("firstkey"), .integer(Int64(firstKey)),
                bulk("keystep"), .integer(Int64(keyStep)),
            ])
        case .unknown:
            findType = "unknown"
            findSpec = .map([])
        }
        fields += [bulk("find_keys"), .map([bulk("type"), bulk(findType), bulk("spec"), findSpec])]
        return .map(fields)
    }
}

extension CommandArgument {
    static func reply(_ arguments: [CommandArgument]) -> Reply {
        .array(
            arguments.map { a in
                var fields: [Reply] = []
                func add(_ key: String, _ text: String?) {
                    if let text { fields += [.bulk(Array(key.utf8)), .bulk(Array(text.utf8))] }
                }
                add("name", a.name)
                add("type", a.kind.rawValue)
                add("display_text", a.displayText)
                if let index = a.keySpecIndex {
                    fields += [.bulk(Array("key_spec_index".utf8)), .integer(Int64(index))]
                }
                add("token", a.token)
                add("summary", a.summary)
                add("since", a.since)
                add("deprecated_since", a.deprecatedSince)
                if !a.flags.isEmpty { fields += [.bulk(Array("flags".utf8)), .set(a.flags.names.map { .simple($0) })] }
                if let sub = a.arguments { fields += [.bulk(Array("arguments".utf8)), reply(sub)] }
                return .map(fields)
            })
    }
}
