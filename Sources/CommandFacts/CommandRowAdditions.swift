// Commands and subcommands Redis added after the reference server the generated rows come
// from (7.0.15), typed by hand from redis.io's 7.4 documentation. A `container|sub` row
// joins its container's subcommands.
// swift-format-ignore-file

extension CommandRow {
    /// Redis 7.2 and 7.4 commands Swiftlet serves.
    public static let additions: [CommandRow] = [
        CommandRow(
            "cluster|myshardid", arity: 2, flags: [.stale],
            keys: KeyRange(first: 0, last: 0, step: 0), acl: [.slow],
            tips: ["nondeterministic_output"],
            docs: CommandDocs(
                summary: "Returns the shard ID of a node.", since: "7.2.0", group: "cluster", complexity: "O(1)"
            )
        ),
        CommandRow(
            "waitaof", arity: 4, flags: [.blocking],
            keys: KeyRange(first: 0, last: 0, step: 0), acl: [.slow, .connection, .blocking],
            tips: ["request_policy:all_shards", "response_policy:agg_min"],
            docs: CommandDocs(
                summary: "Blocks until all of the preceding write commands sent by the connection are written to the append-only file of the master and/or replicas.", since: "7.2.0", group: "generic", complexity: "O(1)",
                arguments: [
                    CommandArgument("numlocal", .integer),
                    CommandArgument("numreplicas", .integer),
                    CommandArgument("timeout", .integer),
                ]
            )
        ),
        CommandRow(
            "client|setinfo", arity: 4, flags: [.noscript, .loading, .stale],
            keys: KeyRange(first: 0, last: 0, step: 0), acl: [.slow, .connection],
            tips: ["request_policy:all_nodes"],
            docs: CommandDocs(
                summary: "Sets information specific to the client or connection.", since: "7.2.0", group: "connection", complexity: "O(1)",
                arguments: [
                    CommandArgument(
                        "attr", .oneof,
                        arguments: [
                            CommandArgument("libname", .string, token: "LIB-NAME"),
                            CommandArgument("libver", .string, token: "LIB-VER"),
                        ]),
                ]
            )
        ),
        CommandRow(
            "client|no-touch", arity: 3, flags: [.noscript, .loading, .stale],
            keys: KeyRange(first: 0, last: 0, step: 0), acl: [.slow, .connection],
            docs: CommandDocs(
                summary: "Controls whether commands sent by the client affect the LRU/LFU of accessed keys.", since: "7.2.0", group: "connection", complexity: "O(1)",
                arguments: [
                    CommandArgument(
                        "enabled", .oneof,
                        arguments: [
                            CommandArgument("on", .pureToken, token: "ON"),
                            CommandArgument("off", .pureToken, token: "OFF"),
                        ]),
                ]
            )
        ),
        CommandRow(
            "hexpire", arity: -6, flags: [.write, .denyoom, .fast],
            keys: KeyRange(first: 1, last: 1, step: 1), acl: [.write, .hash, .fast],
            keySpecs: [
                KeySpec(flags: [.rw, .update], begin: .index(1), find: .range(lastKey: 0, keyStep: 1, limit: 0)),
            ],
            docs: CommandDocs(
                summary: "Set expiry for hash field using relative time to expire (seconds)", since: "7.4.0", group: "hash", complexity: "O(N) where N is the number of specified fields",
                arguments: [
                    CommandArgument("key", .key, keySpecIndex: 0),
                    CommandArgument("seconds", .integer),
                    CommandArgument(
                        "condition", .oneof, flags: [.optional],
                        arguments: [
                            CommandArgument("nx", .pureToken, token: "NX"),
                            CommandArgument("xx", .pureToken, token: "XX"),
                            CommandArgument("gt", .pureToken, token: "GT"),
                            CommandArgument("lt", .pureToken, token: "LT"),
                        ]),
                    CommandArgument(
                        "fields", .block, token: "FIELDS",
                        arguments: [
                            CommandArgument("numfields", .integer),
                            CommandArgument("field", .string, flags: [.multiple]),
                        ]),
                ]
            )
        ),
        CommandRow(
            "hpexpire", arity: -6, flags: [.write, .denyoom, .fast],
            keys: KeyRange(first: 1, last: 1, step: 1), acl: [.write, .hash, .fast],
            keySpecs: [
                KeySpec(flags: [.rw, .update], begin: .index(1), find: .range(lastKey: 0, keyStep: 1, limit: 0)),
            ],
            docs: CommandDocs(
                summary: "Set expiry for hash field using relative time to expire (milliseconds)", since: "7.4.0", group: "hash", complexity: "O(N) where N is the number of specified fields",
                arguments: [
                    CommandArgument("key", .key, keySpecIndex: 0),
                    CommandArgument("milliseconds", .integer),
                    CommandArgument(
                        "condition", .oneof, flags: [.optional],
                        arguments: [
                            CommandArgument("nx", .pureToken, token: "NX"),
                            CommandArgument("xx", .pureToken, token: "XX"),
                            CommandArgument("gt", .pureToken, token: "GT"),
                            CommandArgument("lt", .pureToken, token: "LT"),
                        ]),
                    CommandArgument(
                        "fields", .block, token: "FIELDS",
                        arguments: [
                            CommandArgument("numfields", .integer),
                            CommandArgument("field", .string, flags: [.multiple]),
                        ]),
                ]
            )
        ),
        CommandRow(
            "hexpireat", arity: -6, flags: [.write, .denyoom, .fast],
            keys: KeyRange(first: 1, last: 1, step: 1), acl: [.write, .hash, .fast],
            keySpecs: [
                KeySpec(flags: [.rw, .update], begin: .index(1), find: .range(lastKey: 0, keyStep: 1, limit: 0)),
            ],
            docs: CommandDocs(
                summary: "Set expiry for hash field using an absolute Unix timestamp (seconds)", since: "7.4.0", group: "hash", complexity: "O(N) where N is the number of specified fields",
                arguments: [
                    CommandArgument("key", .key, keySpecIndex: 0),
                    CommandArgument("unix-time-seconds", .integer),
                    CommandArgument(
                        "condition", .oneof, flags: [.optional],
                        arguments: [
                            CommandArgument("nx", .pureToken, token: "NX"),
                            CommandArgument("xx", .pureToken, token: "XX"),
                            CommandArgument("gt", .pureToken, token: "GT"),
                            CommandArgument("lt", .pureToken, token: "LT"),
                        ]),
                    CommandArgument(
                        "fields", .block, token: "FIELDS",
                        arguments: [
                            CommandArgument("numfields", .integer),
                            CommandArgument("field", .string, flags: [.multiple]),
                        ]),
                ]
            )
        ),
        CommandRow(
            "hpexpireat", arity: -6, flags: [.write, .denyoom, .fast],
            keys: KeyRange(first: 1, last: 1, step: 1), acl: [.write, .hash, .fast],
            keySpecs: [
                KeySpec(flags: [.rw, .update], begin: .index(1), find: .range(lastKey: 0, keyStep: 1, limit: 0)),
            ],
            docs: CommandDocs(
                summary: "Set expiry for hash field using an absolute Unix timestamp (milliseconds)", since: "7.4.0", group: "hash", complexity: "O(N) where N is the number of specified fields",
                arguments: [
                    CommandArgument("key", .key, keySpecIndex: 0),
                    CommandArgument("unix-time-milliseconds", .integer),
                    CommandArgument(
                        "condition", .oneof, flags: [.optional],
                        arguments: [
                            CommandArgument("nx", .pureToken, token: "NX"),
                            CommandArgument("xx", .pureToken, token: "XX"),
                            CommandArgument("gt", .pureToken, token: "GT"),
                            CommandArgument("lt", .pureToken, token: "LT"),
                        ]),
                    CommandArgument(
                        "fields", .block, token: "FIELDS",
                        arguments: [
                            CommandArgument("numfields", .integer),
                            CommandArgument("field", .string, flags: [.multiple]),
                        ]),
                ]
            )
        ),
        CommandRow(
            "httl", arity: -5, flags: [.readonly, .fast],
            keys: KeyRange(first: 1, last: 1, step: 1), acl: [.read, .hash, .fast],
            keySpecs: [
                KeySpec(flags: [.ro, .access], begin: .index(1), find: .range(lastKey: 0, keyStep: 1, limit: 0)),
            ],
            docs: CommandDocs(
                summary: "Returns the TTL in seconds of a hash field.", since: "7.4.0", group: "hash", complexity: "O(N) where N is the number of specified fields",
                arguments: [
                    CommandArgument("key", .key, keySpecIndex: 0),
                    CommandArgument(
                        "fields", .block, token: "FIELDS",
                        arguments: [
                            CommandArgument("numfields", .integer),
                            CommandArgument("field", .string, flags: [.multiple]),
                        ]),
                ]
            )
        ),
        CommandRow(
            "hpttl", arity: -5, flags: [.readonly, .fast],
            keys: KeyRange(first: 1, last: 1, step: 1), acl: [.read, .hash, .fast],
            keySpecs: [
                KeySpec(flags: [.ro, .access], begin: .index(1), find: .range(lastKey: 0, keyStep: 1, limit: 0)),
            ],
            docs: CommandDocs(
                summary: "Returns the TTL in milliseconds of a hash field.", since: "7.4.0", group: "hash", complexity: "O(N) where N is the number of specified fields",
                arguments: [
                    CommandArgument("key", .key, keySpecIndex: 0),
                    CommandArgument(
                        "fields", .block, token: "FIELDS",
                        arguments: [
                            CommandArgument("numfields", .integer),
                            CommandArgument("field", .string, flags: [.multiple]),
                        ]),
                ]
            )
        ),
        CommandRow(
            "hexpiretime", arity: -5, flags: [.readonly, .fast],
            keys: KeyRange(first: 1, last: 1, step: 1), acl: [.read, .hash, .fast],
            keySpecs: [
                KeySpec(flags: [.ro, .access], begin: .index(1), find: .range(lastKey: 0, keyStep: 1, limit: 0)),
            ],
            docs: CommandDocs(
                summary: "Returns the expiration time of a hash field as a Unix timestamp, in seconds.", since: "7.4.0", group: "hash", complexity: "O(N) where N is the number of specified fields",
                arguments: [
                    CommandArgument("key", .key, keySpecIndex: 0),
                    CommandArgument(
                        "fields", .block, token: "FIELDS",
                        arguments: [
                            CommandArgument("numfields", .integer),
                            CommandArgument("field", .string, flags: [.multiple]),
                        ]),
                ]
            )
        ),
        CommandRow(
            "hpexpiretime", arity: -5, flags: [.readonly, .fast],
            keys: KeyRange(first: 1, last: 1, step: 1), acl: [.read, .hash, .fast],
            keySpecs: [
                KeySpec(flags: [.ro, .access], begin: .index(1), find: .range(lastKey: 0, keyStep: 1, limit: 0)),
            ],
            docs: CommandDocs(
                summary: "Returns the expiration time of a hash field as a Unix timestamp, in msec.", since: "7.4.0", group: "hash", complexity: "O(N) where N is the number of specified fields",
                arguments: [
                    CommandArgument("key", .key, keySpecIndex: 0),
                    CommandArgument(
                        "fields", .block, token: "FIELDS",
                        arguments: [
                            CommandArgument("numfields", .integer),
                            CommandArgument("field", .string, flags: [.multiple]),
                        ]),
                ]
            )
        ),
        CommandRow(
            "hpersist", arity: -5, flags: [.write, .fast],
            keys: KeyRange(first: 1, last: 1, step: 1), acl: [.write, .hash, .fast],
            keySpecs: [
                KeySpec(flags: [.rw, .update], begin: .index(1), find: .range(lastKey: 0, keyStep: 1, limit: 0)),
            ],
            docs: CommandDocs(
                summary: "Removes the expiration time for each specified field", since: "7.4.0", group: "hash", complexity: "O(N) where N is the number of specified fields",
                arguments: [
                    CommandArgument("key", .key, keySpecIndex: 0),
                    CommandArgument(
                        "fields", .block, token: "FIELDS",
                        arguments: [
                            CommandArgument("numfields", .integer),
                            CommandArgument("field", .string, flags: [.multiple]),
                        ]),
                ]
            )
        ),
    ]
}

extension LaterCommand {
    /// Redis 7.2 and 7.4 commands the rows do not carry (Swiftlet does not serve them yet):
    /// listed so that the compatibility page covers 7.4.
    public static let all: [LaterCommand] = []
}
