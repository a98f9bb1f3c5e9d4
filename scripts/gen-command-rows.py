#!/usr/bin/env python3
"""Writes Sources/CommandFacts/CommandRows.swift: one typed row per command of a running
reference redis-server (7.0.15), from its COMMAND INFO and COMMAND DOCS.

Usage: scripts/gen-command-rows.py PORT > Sources/CommandFacts/CommandRows.swift

Every field COMMAND INFO and COMMAND DOCS show becomes a typed field of the row (flags,
ACL categories, tips, key specs, docs with their argument tree); the server encodes both
replies from the rows in Redis's field order (CommandFacts/CommandReplies.swift). Before
writing, the script re-encodes every row that way and checks it against the bytes the
reference sent, so a row can only say what Redis says.

Swiftlet's own facts about a command (which arguments are hash fields or set members,
what runs at once inside MULTI, what a subscribed RESP2 client may send, what may
propagate without being a write) live in SWIFTLET_FACTS below and become fields of the
same rows. Changes Redis made after the reference version (7.2's ZRANK WITHSCORE arity)
are in LATER_CHANGES; commands Redis added later are typed by hand in
Sources/CommandFacts/CommandRowAdditions.swift.
"""
import socket
import sys

SWIFTLET_FACTS = {
    # Arguments that name hash fields or set members, (first, step): a pipelined batch
    # prefetches them.
    "sadd": {"memberArguments": (2, 1)}, "srem": {"memberArguments": (2, 1)},
    "sismember": {"memberArguments": (2, 1)}, "smismember": {"memberArguments": (2, 1)},
    "hset": {"memberArguments": (2, 2)}, "hmset": {"memberArguments": (2, 2)},
    "hsetnx": {"memberArguments": (2, 2)}, "hget": {"memberArguments": (2, 1)},
    "hmget": {"memberArguments": (2, 1)}, "hdel": {"memberArguments": (2, 1)},
    "hexists": {"memberArguments": (2, 1)}, "hstrlen": {"memberArguments": (2, 1)},
    "hincrby": {"memberArguments": (2, 2)}, "hincrbyfloat": {"memberArguments": (2, 2)},
    # Run at once inside MULTI instead of being queued (Redis's processCommand).
    "exec": {"controlsTransaction": True}, "discard": {"controlsTransaction": True},
    "multi": {"controlsTransaction": True}, "watch": {"controlsTransaction": True},
    "quit": {"controlsTransaction": True, "allowedWhileSubscribed": True},
    "reset": {"controlsTransaction": True, "allowedWhileSubscribed": True},
    # What a RESP2 client in subscribed mode may send.
    "subscribe": {"allowedWhileSubscribed": True}, "ssubscribe": {"allowedWhileSubscribed": True},
    "sunsubscribe": {"allowedWhileSubscribed": True}, "psubscribe": {"allowedWhileSubscribed": True},
    "unsubscribe": {"allowedWhileSubscribed": True}, "punsubscribe": {"allowedWhileSubscribed": True},
    "ping": {"allowedWhileSubscribed": True},
}
# Redis's getkeys procedures (get_keys_function in its command JSON), which COMMAND INFO
# does not show: used where the key specs cannot find the keys.
KEY_PROCEDURES = {
    "bitfield": ".bitfield", "set": ".set", "migrate": ".migrate", "sort": ".sort", "sort_ro": ".sortReadOnly",
    "georadius": ".georadius", "georadiusbymember": ".georadius", "xread": ".xread", "xreadgroup": ".xread",
    "blmpop": ".counted(store: nil, count: 2, first: 3)", "bzmpop": ".counted(store: nil, count: 2, first: 3)",
    "eval": ".counted(store: nil, count: 2, first: 3)", "eval_ro": ".counted(store: nil, count: 2, first: 3)",
    "evalsha": ".counted(store: nil, count: 2, first: 3)", "evalsha_ro": ".counted(store: nil, count: 2, first: 3)",
    "fcall": ".counted(store: nil, count: 2, first: 3)", "fcall_ro": ".counted(store: nil, count: 2, first: 3)",
    "lmpop": ".counted(store: nil, count: 1, first: 2)", "zmpop": ".counted(store: nil, count: 1, first: 2)",
    "sintercard": ".counted(store: nil, count: 1, first: 2)", "zintercard": ".counted(store: nil, count: 1, first: 2)",
    "zdiff": ".counted(store: nil, count: 1, first: 2)", "zinter": ".counted(store: nil, count: 1, first: 2)",
    "zunion": ".counted(store: nil, count: 1, first: 2)",
    "zdiffstore": ".counted(store: 1, count: 2, first: 3)", "zinterstore": ".counted(store: 1, count: 2, first: 3)",
    "zunionstore": ".counted(store: 1, count: 2, first: 3)",
}
# CMD_MAY_REPLICATE, which COMMAND INFO hides: not writes, but propagated (paused by
# CLIENT PAUSE WRITE).
MAY_REPLICATE = {"eval", "evalsha", "fcall", "pfcount", "publish", "spublish"}

LATER_CHANGES = {
    # Redis 7.2: ZRANK/ZREVRANK key member [WITHSCORE].
    "zrank": {"arity": -3},
    "zrevrank": {"arity": -3},
}

COMMAND_FLAGS = [
    ("write", "write"), ("readonly", "readonly"), ("denyoom", "denyoom"), ("module", "module"),
    ("admin", "admin"), ("pubsub", "pubsub"), ("noscript", "noscript"), ("blocking", "blocking"),
    ("loading", "loading"), ("stale", "stale"), ("skip_monitor", "skipMonitor"),
    ("skip_slowlog", "skipSlowlog"), ("asking", "asking"), ("fast", "fast"), ("no_auth", "noAuth"),
    ("no_mandatory_keys", "noMandatoryKeys"), ("no_async_loading", "noAsyncLoading"),
    ("no_multi", "noMulti"), ("movablekeys", "movableKeys"), ("allow_busy", "allowBusy"),
]
ACL_CATEGORIES = [
    "keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap", "hyperloglog",
    "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking", "dangerous", "connection",
    "transaction", "scripting",
]
KEY_FLAGS = [
    ("RO", "ro"), ("RW", "rw"), ("OW", "ow"), ("RM", "rm"), ("access", "access"), ("update", "update"),
    ("insert", "insert"), ("delete", "delete"), ("not_key", "notKey"), ("incomplete", "incomplete"),
    ("variable_flags", "variableFlags"),
]
ARG_FLAGS = [("optional", "optional"), ("multiple", "multiple"), ("multiple_token", "multipleToken")]
DOC_FLAGS = [("deprecated", "deprecated"), ("syscmd", "syscmd")]
ARG_KINDS = {
    "string": "string", "integer": "integer", "double": "double", "key": "key", "pattern": "pattern",
    "unix-time": "unixTime", "pure-token": "pureToken", "oneof": "oneof", "block": "block",
}


# MARK: RESP3 reading

class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.buf = b""

    def send(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a.encode() if isinstance(a, str) else a
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.s.sendall(out)

    def _line(self):
        while b"\r\n" not in self.buf:
            self.buf += self.s.recv(1 << 20)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            self.buf += self.s.recv(1 << 20)
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def read(self):
        """One reply as (type byte, value, raw bytes)."""
        line = self._line()
        t, rest = line[:1], line[1:]
        raw = line + b"\r\n"
        if t in b"+-:,(#_":
            return t, rest.decode(), raw
        if t in b"$=":
            n = int(rest)
            data = self._exact(n)
            return t, data.decode(), raw + data + b"\r\n"
        if t in b"*~>%":
            n = int(rest)
            items = []
            for _ in range(n * 2 if t == b"%" else n):
                item = self.read()
                items.append(item)
                raw += item[2]
            return t, items, raw
        raise ValueError(line)


def as_map(item):
    t, items, _ = item
    assert t == b"%", item
    return {items[i][1]: items[i + 1] for i in range(0, len(items), 2)}


def strings(item):
    return [x[1] for x in item[1]]


# MARK: The model (plain dicts, the typed rows' fields)

def key_spec(item):
    m = as_map(item)
    spec = {"notes": m["notes"][1] if "notes" in m else None, "flags": strings(m["flags"])}
    begin = as_map(m["begin_search"])
    bspec = as_map(begin["spec"])
    if begin["type"][1] == "index":
        spec["begin"] = ("index", int(bspec["index"][1]))
    elif begin["type"][1] == "keyword":
        spec["begin"] = ("keyword", bspec["keyword"][1], int(bspec["startfrom"][1]))
    else:
        spec["begin"] = ("unknown",)
    find = as_map(m["find_keys"])
    fspec = as_map(find["spec"])
    if find["type"][1] == "range":
        spec["find"] = ("range", int(fspec["lastkey"][1]), int(fspec["keystep"][1]), int(fspec["limit"][1]))
    elif find["type"][1] == "keynum":
        spec["find"] = ("keynum", int(fspec["keynumidx"][1]), int(fspec["firstkey"][1]), int(fspec["keystep"][1]))
    else:
        spec["find"] = ("unknown",)
    return spec


def argument(item):
    m = as_map(item)
    known = {"name", "type", "display_text", "key_spec_index", "token", "summary", "since",
             "deprecated_since", "flags", "arguments"}
    assert set(m) <= known, set(m) - known
    return {
        "name": m["name"][1], "type": m["type"][1],
        "display_text": m["display_text"][1] if "display_text" in m else None,
        "key_spec_index": int(m["key_spec_index"][1]) if "key_spec_index" in m else None,
        "token": m["token"][1] if "token" in m else None,
        "summary": m["summary"][1] if "summary" in m else None,
        "since": m["since"][1] if "since" in m else None,
        "deprecated_since": m["deprecated_since"][1] if "deprecated_since" in m else None,
        "flags": strings(m["flags"]) if "flags" in m else [],
        "arguments": [argument(a) for a in m["arguments"][1]] if "arguments" in m else None,
    }


def docs_of(item):
    m = as_map(item)
    known = {"summary", "since", "group", "complexity", "doc_flags", "deprecated_since", "replaced_by",
             "history", "arguments", "subcommands"}
    assert set(m) <= known, set(m) - known
    return {
        "summary": m["summary"][1] if "summary" in m else None,
        "since": m["since"][1] if "since" in m else None,
        "group": m["group"][1],
        "complexity": m["complexity"][1] if "complexity" in m else None,
        "doc_flags": strings(m["doc_flags"]) if "doc_flags" in m else [],
        "deprecated_since": m["deprecated_since"][1] if "deprecated_since" in m else None,
        "replaced_by": m["replaced_by"][1] if "replaced_by" in m else None,
        "history": [(h[1][0][1], h[1][1][1]) for h in m["history"][1]] if "history" in m else None,
        "arguments": [argument(a) for a in m["arguments"][1]] if "arguments" in m else None,
        # The container's docs list its subcommands' in this order.
        "subcommand_docs": (
            [(m["subcommands"][1][i][1], docs_of(m["subcommands"][1][i + 1]))
             for i in range(0, len(m["subcommands"][1]), 2)] if "subcommands" in m else None),
    }


def row(info, docs):
    f = info[1]
    name = f[0][1]
    r = {
        "name": name, "arity": int(f[1][1]), "flags": strings(f[2]),
        "keys": (int(f[3][1]), int(f[4][1]), int(f[5][1])),
        "acl": [c.lstrip("@") for c in strings(f[6])], "tips": strings(f[7]),
        "key_specs": [key_spec(s) for s in f[8][1]],
        "docs": docs,
        "info_raw": b"".join(x[2] for x in f[:9]),
        "subcommands": [],
    }
    subdocs = dict(docs["subcommand_docs"] or [])
    subs = {s[1][0][1]: s for s in f[9][1]} if len(f) > 9 else {}
    # In the order the reference sent (its dict's, which changes from run to run) for the
    # check, sorted by name once checked.
    for sub_name in [n for n, _ in docs["subcommand_docs"] or []]:
        r["subcommands"].append(row(subs[sub_name], subdocs[sub_name]))
    return r


# MARK: Encoding as Redis does (the check)

def bulk(s):
    b = s.encode()
    return b"$%d\r\n%s\r\n" % (len(b), b)


def simple_set(names):
    return b"~%d\r\n" % len(names) + b"".join(b"+%s\r\n" % n.encode() for n in names)


def encode_key_spec(s):
    out = b"%%%d\r\n" % (4 if s["notes"] else 3)
    if s["notes"]:
        out += bulk("notes") + bulk(s["notes"])
    out += bulk("flags") + simple_set(s["flags"])
    b = s["begin"]
    out += bulk("begin_search") + b"%2\r\n" + bulk("type") + bulk(b[0]) + bulk("spec")
    if b[0] == "index":
        out += b"%1\r\n" + bulk("index") + b":%d\r\n" % b[1]
    elif b[0] == "keyword":
        out += b"%2\r\n" + bulk("keyword") + bulk(b[1]) + bulk("startfrom") + b":%d\r\n" % b[2]
    else:
        out += b"%0\r\n"
    k = s["find"]
    out += bulk("find_keys") + b"%2\r\n" + bulk("type") + bulk(k[0]) + bulk("spec")
    if k[0] == "range":
        out += b"%3\r\n" + bulk("lastkey") + b":%d\r\n" % k[1] + bulk("keystep") + b":%d\r\n" % k[2]
        out += bulk("limit") + b":%d\r\n" % k[3]
    elif k[0] == "keynum":
        out += b"%3\r\n" + bulk("keynumidx") + b":%d\r\n" % k[1] + bulk("firstkey") + b":%d\r\n" % k[2]
        out += bulk("keystep") + b":%d\r\n" % k[3]
    else:
        out += b"%0\r\n"
    return out


def encode_info(r):
    out = bulk(r["name"]) + b":%d\r\n" % r["arity"] + simple_set(r["flags"])
    out += b"".join(b":%d\r\n" % k for k in r["keys"])
    out += simple_set(["@" + c for c in r["acl"]])
    out += b"~%d\r\n" % len(r["tips"]) + b"".join(bulk(t) for t in r["tips"])
    out += b"~%d\r\n" % len(r["key_specs"]) + b"".join(encode_key_spec(s) for s in r["key_specs"])
    return out


def encode_args(args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        fields = [("name", bulk(a["name"])), ("type", bulk(a["type"]))]
        if a["display_text"] is not None:
            fields.append(("display_text", bulk(a["display_text"])))
        if a["key_spec_index"] is not None:
            fields.append(("key_spec_index", b":%d\r\n" % a["key_spec_index"]))
        for k in ("token", "summary", "since", "deprecated_since"):
            if a[k] is not None:
                fields.append((k, bulk(a[k])))
        if a["flags"]:
            fields.append(("flags", simple_set(a["flags"])))
        if a["arguments"] is not None:
            fields.append(("arguments", encode_args(a["arguments"])))
        out += b"%%%d\r\n" % len(fields) + b"".join(bulk(k) + v for k, v in fields)
    return out


def encode_docs(d, subs):
    fields = []
    if d["summary"] is not None:
        fields.append(("summary", bulk(d["summary"])))
    if d["since"] is not None:
        fields.append(("since", bulk(d["since"])))
    fields.append(("group", bulk(d["group"])))
    if d["complexity"] is not None:
        fields.append(("complexity", bulk(d["complexity"])))
    if d["doc_flags"]:
        fields.append(("doc_flags", simple_set(d["doc_flags"])))
    for k in ("deprecated_since", "replaced_by"):
        if d[k] is not None:
            fields.append((k, bulk(d[k])))
    if d["history"] is not None:
        fields.append(("history", b"~%d\r\n" % len(d["history"]) + b"".join(
            b"*2\r\n" + bulk(v) + bulk(t) for v, t in d["history"])))
    if d["arguments"] is not None:
        fields.append(("arguments", encode_args(d["arguments"])))
    if subs:
        fields.append(("subcommands", b"%%%d\r\n" % len(subs) + b"".join(
            bulk(s["name"]) + encode_docs(s["docs"], s["subcommands"]) for s in subs)))
    return b"%%%d\r\n" % len(fields) + b"".join(bulk(k) + v for k, v in fields)


# MARK: Swift

def swift_string(s):
    out = []
    for ch in s:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 32:
            out.append("\\u{%x}" % ord(ch))
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def option_set(names, table):
    lookup = dict(table)
    for n in names:
        assert n in lookup, n
    # Redis's reply order is the table's, and the rows must reproduce it.
    order = [wire for wire, _ in table if wire in names]
    assert order == names, (names, order)
    return "[" + ", ".join("." + lookup[n] for n in names) + "]"


def swift_args(args, pad):
    lines = []
    for a in args:
        parts = [swift_string(a["name"]), "." + ARG_KINDS[a["type"]]]
        if a["display_text"] is not None:
            parts.append("displayText: " + swift_string(a["display_text"]))
        if a["key_spec_index"] is not None:
            parts.append("keySpecIndex: %d" % a["key_spec_index"])
        for k, label in (("token", "token"), ("summary", "summary"), ("since", "since"),
                         ("deprecated_since", "deprecatedSince")):
            if a[k] is not None:
                parts.append("%s: %s" % (label, swift_string(a[k])))
        if a["flags"]:
            parts.append("flags: " + option_set(a["flags"], ARG_FLAGS))
        if a["arguments"] is None:
            lines.append(pad + "CommandArgument(" + ", ".join(parts) + "),")
        else:
            lines.append(pad + "CommandArgument(")
            lines.append(pad + "    " + ", ".join(parts) + ",")
            lines.append(pad + "    arguments: [")
            lines.extend(swift_args(a["arguments"], pad + "        "))
            lines.append(pad + "    ]),")
    return lines


def swift_key_spec(s):
    parts = []
    if s["notes"]:
        parts.append("notes: " + swift_string(s["notes"]))
    parts.append("flags: " + option_set(s["flags"], KEY_FLAGS))
    b = s["begin"]
    parts.append("begin: " + (
        ".index(%d)" % b[1] if b[0] == "index" else
        ".keyword(%s, startFrom: %d)" % (swift_string(b[1]), b[2]) if b[0] == "keyword" else ".unknown"))
    k = s["find"]
    parts.append("find: " + (
        ".range(lastKey: %d, keyStep: %d, limit: %d)" % k[1:] if k[0] == "range" else
        ".keynum(index: %d, firstKey: %d, keyStep: %d)" % k[1:] if k[0] == "keynum" else ".unknown"))
    return "KeySpec(" + ", ".join(parts) + ")"


def identifier(name):
    return "`" + name.replace("|", "_").replace("-", "_") + "`"


def swift_row(r, pad, out):
    """Appends the row's declaration (and its subcommands') to `out`: one static property
    each, so the compiler checks one small expression at a time."""
    name = r["name"]
    facts = SWIFTLET_FACTS.get(name, {})
    flags = option_set(r["flags"], COMMAND_FLAGS)
    if name in MAY_REPLICATE:
        flags = flags[:-1] + (", " if flags != "[]" else "") + ".mayReplicate]"
    lines = [pad + "static let %s = CommandRow(" % identifier(name)]
    lines.append(pad + "    %s, arity: %d, flags: %s," % (swift_string(name), r["arity"], flags))
    lines.append(pad + "    keys: KeyRange(first: %d, last: %d, step: %d), acl: %s," % (
        r["keys"] + ("[" + ", ".join("." + c for c in r["acl"]) + "]",)))
    for c in r["acl"]:
        assert c in ACL_CATEGORIES, c
    if r["tips"]:
        lines.append(pad + "    tips: [%s]," % ", ".join(swift_string(t) for t in r["tips"]))
    if r["key_specs"]:
        lines.append(pad + "    keySpecs: [")
        for s in r["key_specs"]:
            lines.append(pad + "        " + swift_key_spec(s) + ",")
        lines.append(pad + "    ],")
    if name in KEY_PROCEDURES:
        lines.append(pad + "    keyProcedure: %s," % KEY_PROCEDURES[name])
    if "memberArguments" in facts:
        lines.append(pad + "    memberArguments: MemberArguments(first: %d, step: %d)," % facts["memberArguments"])
    if facts.get("controlsTransaction"):
        lines.append(pad + "    controlsTransaction: true,")
    if facts.get("allowedWhileSubscribed"):
        lines.append(pad + "    allowedWhileSubscribed: true,")
    d = r["docs"]
    doc_parts = []
    for k, label in (("summary", "summary"), ("since", "since"), ("group", "group"), ("complexity", "complexity")):
        if d[k] is not None:
            doc_parts.append("%s: %s" % (label, swift_string(d[k])))
    if d["doc_flags"]:
        doc_parts.append("flags: " + option_set(d["doc_flags"], DOC_FLAGS))
    for k, label in (("deprecated_since", "deprecatedSince"), ("replaced_by", "replacedBy")):
        if d[k] is not None:
            doc_parts.append("%s: %s" % (label, swift_string(d[k])))
    more = d["history"] is not None or d["arguments"] is not None
    lines.append(pad + "    docs: CommandDocs(")
    lines.append(pad + "        " + ", ".join(doc_parts) + ("," if more else ""))
    if d["history"] is not None:
        lines.append(pad + "        history: [")
        for v, t in d["history"]:
            lines.append(pad + "            CommandHistory(%s, %s)," % (swift_string(v), swift_string(t)))
        lines.append(pad + "        ]" + ("," if d["arguments"] is not None else ""))
    if d["arguments"] is not None:
        lines.append(pad + "        arguments: [")
        lines.extend(swift_args(d["arguments"], pad + "            "))
        lines.append(pad + "        ]")
    lines.append(pad + "    )" + ("," if r["subcommands"] else ""))
    if r["subcommands"]:
        lines.append(pad + "    subcommands: [%s]" % ", ".join(identifier(s["name"]) for s in r["subcommands"]))
    lines.append(pad + ")")
    out.extend(lines)
    for s in r["subcommands"]:
        swift_row(s, pad, out)


def main():
    c = Conn(int(sys.argv[1]))
    c.send("HELLO", "3")
    c.read()
    c.send("COMMAND", "INFO")
    infos = c.read()[1]
    c.send("COMMAND", "DOCS")
    docs = c.read()
    docs_raw = {docs[1][i][1]: docs[1][i + 1] for i in range(0, len(docs[1]), 2)}
    rows = []
    for info in sorted(infos, key=lambda i: i[1][0][1]):
        name = info[1][0][1]
        r = row(info, docs_of(docs_raw[name]))
        # The check: the typed fields, encoded in Redis's order, are the reference's bytes.
        assert encode_info(r) == r["info_raw"], name
        assert encode_docs(r["docs"], r["subcommands"]) == docs_raw[name][2], name
        for sub in r["subcommands"]:
            assert encode_info(sub) == sub["info_raw"], sub["name"]
        r["subcommands"].sort(key=lambda sub: sub["name"])
        r.update(LATER_CHANGES.get(name, {}))
        rows.append(r)
    print("// Generated by scripts/gen-command-rows.py from redis-server 7.0.15's COMMAND INFO and")
    print("// COMMAND DOCS, with Swiftlet's facts about each command. Do not edit by hand:")
    print("// regenerate, or add later commands to CommandRowAdditions.swift.")
    print("// swift-format-ignore-file")
    print()
    print("extension CommandRow {")
    print("    /// Every command of the reference server (containers list their subcommands).")
    print("    public static let reference: [CommandRow] = [")
    for r in rows:
        print("        ReferenceRows.%s," % identifier(r["name"]))
    print("    ]")
    print("}")
    print()
    print("/// One property per command and subcommand (subcommands as `container_sub`).")
    print("enum ReferenceRows {")
    for r in rows:
        out = []
        swift_row(r, "    ", out)
        for line in out:
            print(line)
    print("}")


if __name__ == "__main__":
    main()
