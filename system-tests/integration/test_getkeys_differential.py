"""The one key-spec interpreter against redis-server 7.0.15: COMMAND GETKEYSANDFLAGS for
calls of every command and subcommand built at random from Redis's own argument trees
(COMMAND DOCS), optional and repeated arguments included, with a stray keyword now and
then. The keys found, their flags, and the errors must be Redis's. The key finder serves
ACL key checks, WATCH, tracking, notifications and blocked clients the same way, so this
checks them all. Left out by design: ZRANK/ZREVRANK (Redis 7.2's WITHSCORE changed their
arity) and SCRIPT DEBUG (the Lua debugger is not implemented)."""
import random

import pytest
from redis.connection import Connection

# Redis 7.2+ differences (see the module docstring).
LATER = {("zrank",), ("zrevrank",), ("script", "debug")}
STRAYS = ["STORE", "store", "KEYS", "GET", "STREAMS", "by", "LIMIT", "k5"]


def raw(conn, *args):
    conn.send_command(*args)
    try:
        return conn.read_response()
    except Exception as e:  # an error reply is compared by its text
        return "ERR " + str(e)


def arguments(tree, rng, out):
    for a in tree:
        flags = a.get(b"flags", [])
        if b"optional" in flags and rng.random() < 0.5:
            continue
        for r in range(rng.randint(1, 3) if b"multiple" in flags else 1):
            kind, token = a[b"type"], a.get(b"token")
            if token and kind != b"pure-token" and (r == 0 or b"multiple_token" in flags):
                out.append(token.decode())
            if kind == b"pure-token":
                out.append(token.decode())
            elif kind == b"key":
                out.append("k%d" % rng.randint(1, 9))
            elif kind == b"integer":
                out.append(rng.choice(["1", "2", "0", "-1", "3", "x", "99999999999999999999"]))
            elif kind == b"double":
                out.append("1.5")
            elif kind == b"unix-time":
                out.append("100")
            elif kind == b"pattern":
                out.append("*")
            elif kind == b"oneof":
                arguments([rng.choice(a[b"arguments"])], rng, out)
            elif kind == b"block":
                arguments(a[b"arguments"], rng, out)
            else:
                out.append(rng.choice(["v", "store", "STORE", "get", "keys", "streams", "by", ""]))


@pytest.fixture(scope="module")
def pair(reference_redis, shared_swiftlet):
    ref = Connection(port=reference_redis.port, protocol=3)
    ours = Connection(port=shared_swiftlet.port, protocol=3)
    ref.connect()
    ours.connect()
    yield ref, ours
    ref.disconnect()
    ours.disconnect()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_getkeysandflags_matches_redis(pair, seed):
    ref, ours = pair
    rng = random.Random(seed)
    docs = raw(ref, "COMMAND", "DOCS")
    targets = []
    for name, d in sorted(docs.items()):
        targets.append((name.decode().split("|"), d))
        for sub, sd in sorted(d.get(b"subcommands", {}).items()):
            targets.append((sub.decode().split("|"), sd))
    differences = []
    calls = 0
    for parts, d in targets:
        if tuple(parts) in LATER:
            continue
        for _ in range(25):
            args = list(parts)
            arguments(d.get(b"arguments", []), rng, args)
            if rng.random() < 0.2:
                args.insert(rng.randint(len(parts), len(args)), rng.choice(STRAYS))
            expected = raw(ref, "COMMAND", "GETKEYSANDFLAGS", *args)
            got = raw(ours, "COMMAND", "GETKEYSANDFLAGS", *args)
            calls += 1
            if expected != got:
                differences.append((args, expected, got))
    assert calls > 5000
    assert differences[:5] == []
