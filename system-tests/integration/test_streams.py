"""Streams: the same commands sent to Swiftlet and to a real redis-server 7.0.15, replies
compared byte for byte in RESP2 and RESP3 (explicit IDs keep them deterministic); blocking
reads; streams through RDB files, DUMP/RESTORE and the AOF in both directions.

Left out of the byte comparison on purpose (Redis 7.2+ changed them and we follow 7.4):
XINFO CONSUMERS gains `inactive`, XINFO STREAM FULL's consumers gain `active-time`;
those are checked on their own below."""
import os
import random
import re
import socket
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from conftest import RawConnection, encode  # noqa: E402

BIG = "v" * 300

COMMANDS = [
    # XADD and its options
    ["XADD", "s", "1-1", "f", "v"], ["XADD", "s", "1-1", "f", "v"], ["XADD", "s", "1-0", "f", "v"],
    ["XADD", "s", "0-0", "f", "v"], ["XADD", "s", "1-*", "f", "v"], ["XADD", "s", "2", "a", "1", "b", "2"],
    ["XADD", "s", "2-*", "a", "1"], ["XADD", "s", "3-5", "f"], ["XADD", "s", "3-5"], ["XADD", "s", "abc", "f", "v"],
    ["XADD", "s", "-", "f", "v"], ["XADD", "s", "+", "f", "v"], ["XADD", "s", "3-x", "f", "v"],
    ["XADD", "s", "18446744073709551616-0", "f", "v"], ["XADD", "s", "-1-0", "f", "v"], ["XADD", "s", "3-", "f", "v"],
    ["XADD", "e", "0-*", "f", "v"], ["XADD", "e2", "0-0", "f", "v"], ["EXISTS", "e2"],
    ["XADD", "s", "NOMKSTREAM", "4-0", "f", "v"], ["XADD", "nos", "NOMKSTREAM", "4-0", "f", "v"], ["EXISTS", "nos"],
    ["XADD", "s", "MAXLEN", "-1", "5-0", "f", "v"], ["XADD", "s", "MAXLEN", "abc", "5-0", "f", "v"],
    ["XADD", "s", "MAXLEN", "10", "MINID", "0", "5-0", "f", "v"], ["XADD", "s", "LIMIT", "10", "5-0", "f", "v"],
    ["XADD", "s", "MAXLEN", "10", "LIMIT", "10", "5-0", "f", "v"],
    ["XADD", "s", "MAXLEN", "~", "10", "LIMIT", "-1", "5-0", "f", "v"],
    ["XADD", "s", "MAXLEN", "=", "3", "5-0", "f", "v"], ["XLEN", "s"], ["XRANGE", "s", "-", "+"],
    ["XADD", "s", "MINID", "3", "6-0", "x", "y"], ["XRANGE", "s", "-", "+"],
    ["XADD", "s", "MAXLEN", "~", "1", "7-0", "x", "y"], ["XLEN", "s"],
    ["XADD", "s", "MINID", "~", "7", "LIMIT", "5", "8-0", "x", "y"], ["XLEN", "s"],
    ["XADD", "s", "MINID", "-", "9-0", "x", "y"], ["XADD", "s", "MINID", "(1", "9-0", "x", "y"],
    ["XADD", "s", "18446744073709551615-18446744073709551615", "x", "y"], ["XADD", "s", "*", "x", "y"],
    ["XADD", "s", "18446744073709551615-*", "x", "y"], ["DEL", "s"],
    ["SET", "str", "x"], ["XADD", "str", "1-0", "f", "v"], ["XLEN", "str"], ["XRANGE", "str", "-", "+"],
    # XRANGE / XREVRANGE
    ["XADD", "r", "1-0", "a", "1"], ["XADD", "r", "1-1", "a", "2"], ["XADD", "r", "2-0", "b", "3", "c", "4"],
    ["XADD", "r", "3-0", "a", "5"], ["XADD", "r", "5-7", "a", BIG],
    ["XRANGE", "r", "-", "+"], ["XRANGE", "r", "1", "1"], ["XRANGE", "r", "(1-0", "+"], ["XRANGE", "r", "-", "(3-0"],
    ["XRANGE", "r", "(1", "2"], ["XRANGE", "r", "2", "1"], ["XRANGE", "r", "-", "+", "COUNT", "2"],
    ["XRANGE", "r", "-", "+", "COUNT", "0"], ["XRANGE", "r", "-", "+", "COUNT", "-1"],
    ["XRANGE", "r", "-", "+", "COUNT"], ["XRANGE", "r", "-", "+", "FOO", "1"], ["XRANGE", "r", "(-", "+"],
    ["XRANGE", "r", "(18446744073709551615-18446744073709551615", "+"], ["XRANGE", "r", "-", "(0-0"],
    ["XRANGE", "r", "x", "+"], ["XRANGE", "nokey", "-", "+"], ["XRANGE", "nokey", "-", "+", "COUNT", "0"],
    ["XREVRANGE", "r", "+", "-"], ["XREVRANGE", "r", "+", "-", "COUNT", "2"], ["XREVRANGE", "r", "3", "1-1"],
    ["XREVRANGE", "r", "(3-0", "(1-0"], ["XREVRANGE", "r", "-", "+"], ["XREVRANGE", "r", "2", "2"],
    # XDEL, XTRIM, XSETID
    ["XDEL", "r", "1-1", "9-9"], ["XDEL", "r", "1-1"], ["XDEL", "r", "abc"], ["XDEL", "nokey", "abc"],
    ["XDEL", "r", "-"], ["XRANGE", "r", "-", "+"], ["XLEN", "r"],
    ["XTRIM", "r", "MAXLEN", "2"], ["XRANGE", "r", "-", "+"], ["XTRIM", "r", "MINID", "5"], ["XLEN", "r"],
    ["XTRIM", "r"], ["XTRIM", "r", "FOO", "1"], ["XTRIM", "r", "MAXLEN", "~", "0"], ["XTRIM", "r", "MAXLEN", "0"],
    ["XLEN", "r"], ["EXISTS", "r"], ["TYPE", "r"], ["XTRIM", "nokey", "MAXLEN", "0"],
    ["XTRIM", "r", "MAXLEN", "1", "LIMIT", "1"], ["XTRIM", "r", "MAXLEN", "~", "1", "LIMIT", "1"],
    ["XTRIM", "r", "MINID", "abc"], ["XTRIM", "r", "MAXLEN", "1", "NOMKSTREAM"],
    ["XSETID", "r", "10-0"], ["XADD", "r", "9-0", "f", "v"], ["XADD", "r", "10-1", "f", "v"],
    ["XSETID", "r", "10-0"], ["XSETID", "r", "10-1", "ENTRIESADDED", "0"], ["XSETID", "r", "10-1", "ENTRIESADDED", "-1"],
    ["XSETID", "r", "11-0", "MAXDELETEDID", "12-0"], ["XSETID", "r", "11-0", "ENTRIESADDED", "99", "MAXDELETEDID", "10-5"],
    ["XSETID", "r", "11-0", "FOO"], ["XSETID", "nokey", "1-0"], ["XSETID", "r", "abc"], ["XSETID", "str", "1-0"],
    # consumer groups
    ["XGROUP", "CREATE", "nokey", "g", "$"], ["XGROUP", "CREATE", "g1", "g", "$", "MKSTREAM"], ["TYPE", "g1"],
    ["XLEN", "g1"], ["XGROUP", "CREATE", "g1", "g", "$"], ["XGROUP", "CREATE", "g1", "h", "0", "ENTRIESREAD", "-2"],
    ["XGROUP", "CREATE", "g1", "h", "0", "FOO"], ["XGROUP", "CREATE", "g1", "h", "abc"],
    ["XGROUP", "CREATE", "str", "g", "$"], ["XGROUP", "FOO", "g1", "g"], ["XGROUP", "HELP"],
    ["XADD", "q", "1-0", "f", "1"], ["XADD", "q", "2-0", "f", "2"], ["XADD", "q", "3-0", "f", "3"],
    ["XADD", "q", "4-0", "f", "4"], ["XGROUP", "CREATE", "q", "g", "0"], ["XGROUP", "CREATE", "q", "late", "$"],
    ["XGROUP", "CREATECONSUMER", "q", "g", "alice"], ["XGROUP", "CREATECONSUMER", "q", "g", "alice"],
    ["XGROUP", "CREATECONSUMER", "q", "nog", "alice"],
    ["XREADGROUP", "GROUP", "g", "alice", "COUNT", "2", "STREAMS", "q", ">"],
    ["XREADGROUP", "GROUP", "g", "bob", "STREAMS", "q", ">"], ["XREADGROUP", "GROUP", "g", "bob", "STREAMS", "q", ">"],
    ["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "q", "0"], ["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "q", "1"],
    ["XREADGROUP", "GROUP", "g", "carol", "STREAMS", "q", "0"],
    ["XREADGROUP", "GROUP", "nog", "alice", "STREAMS", "q", ">"], ["XREADGROUP", "GROUP", "g", "a", "STREAMS", "q", "$"],
    ["XREADGROUP", "GROUP", "g", "a", "STREAMS", "q"], ["XREADGROUP", "STREAMS", "q", ">"],
    ["XREADGROUP", "GROUP", "g", "a", "STREAMS", "nokey", ">"], ["XREADGROUP", "GROUP", "g", "a", "FOO", "STREAMS", "q", ">"],
    ["XPENDING", "q", "g"], ["XPENDING", "q", "g", "-", "+", "10"], ["XPENDING", "q", "g", "-", "+", "10", "bob"],
    ["XPENDING", "q", "g", "-", "+", "10", "nobody"], ["XPENDING", "q", "g", "(1-0", "+", "1"],
    ["XPENDING", "q", "g", "-", "+"], ["XPENDING", "q", "nog"], ["XPENDING", "nokey", "g"],
    ["XPENDING", "q", "g", "-", "+", "abc"], ["XPENDING", "q", "g", "x", "+", "1"],
    ["XPENDING", "q", "g", "IDLE", "abc", "-", "+", "1"], ["XPENDING", "q", "late"],
    ["XACK", "q", "g", "1-0", "9-0"], ["XACK", "q", "g", "1-0"], ["XACK", "q", "g", "abc"], ["XACK", "q", "nog", "1-0"],
    ["XACK", "nokey", "g", "abc"], ["XPENDING", "q", "g"],
    ["XCLAIM", "q", "g", "carol", "0", "2-0", "JUSTID"], ["XPENDING", "q", "g", "-", "+", "10", "carol"],
    ["XCLAIM", "q", "g", "carol", "0", "3-0", "4-0"], ["XCLAIM", "q", "g", "dave", "3600000", "3-0"],
    ["XCLAIM", "q", "g", "dave", "abc", "3-0"], ["XCLAIM", "q", "g", "dave", "0", "3-0", "FOO"],
    ["XCLAIM", "q", "g", "dave", "0", "3-0", "IDLE", "abc"], ["XCLAIM", "q", "g", "dave", "0", "3-0", "RETRYCOUNT", "x"],
    ["XCLAIM", "q", "nog", "dave", "0", "3-0"], ["XCLAIM", "q", "g", "dave", "0", "3-0", "RETRYCOUNT", "7", "JUSTID"],
    ["XPENDING", "q", "g", "3-0", "3-0", "1"], ["XDEL", "q", "4-0"],
    ["XCLAIM", "q", "g", "dave", "0", "4-0"], ["XPENDING", "q", "g"],
    ["XCLAIM", "q", "g", "erin", "0", "1-0", "FORCE", "JUSTID"], ["XPENDING", "q", "g"],
    ["XAUTOCLAIM", "q", "g", "erin", "0", "0", "COUNT", "1"], ["XAUTOCLAIM", "q", "g", "erin", "0", "0", "JUSTID"],
    ["XAUTOCLAIM", "q", "g", "erin", "0", "0", "COUNT", "0"], ["XAUTOCLAIM", "q", "g", "erin", "x", "0"],
    ["XAUTOCLAIM", "q", "g", "erin", "0", "x"], ["XAUTOCLAIM", "q", "nog", "erin", "0", "0"],
    ["XAUTOCLAIM", "q", "g", "erin", "0", "0", "FOO"], ["XAUTOCLAIM", "q", "g", "erin", "3600000", "0"],
    ["XINFO", "GROUPS", "q"], ["XINFO", "STREAM", "q"], ["XINFO", "STREAM", "q", "FULL", "FOO"],
    ["XINFO", "STREAM", "nokey"], ["XINFO", "GROUPS", "str"], ["XINFO", "CONSUMERS", "q", "nog"], ["XINFO", "HELP"],
    ["XINFO", "FOO", "q"], ["XINFO", "STREAM"],
    ["XGROUP", "SETID", "q", "g", "0", "ENTRIESREAD", "0"], ["XINFO", "GROUPS", "q"],
    ["XGROUP", "SETID", "q", "g", "$"], ["XGROUP", "SETID", "q", "nog", "$"], ["XGROUP", "SETID", "q", "g", "0", "FOO", "1"],
    ["XINFO", "GROUPS", "q"], ["XREADGROUP", "GROUP", "g", "alice", "NOACK", "STREAMS", "q", ">"],
    ["XADD", "q", "5-0", "f", "5"], ["XREADGROUP", "GROUP", "g", "alice", "NOACK", "STREAMS", "q", ">"],
    ["XINFO", "GROUPS", "q"], ["XPENDING", "q", "g", "-", "+", "10", "alice"],
    ["XGROUP", "DELCONSUMER", "q", "g", "carol"], ["XGROUP", "DELCONSUMER", "q", "g", "carol"],
    ["XGROUP", "DELCONSUMER", "q", "nog", "carol"], ["XGROUP", "DESTROY", "q", "late"], ["XGROUP", "DESTROY", "q", "late"],
    ["XGROUP", "DESTROY", "nokey", "g"], ["XINFO", "GROUPS", "q"],
    # XREAD without blocking
    ["XREAD", "STREAMS", "q", "0"], ["XREAD", "COUNT", "1", "STREAMS", "q", "g1", "0", "0"],
    ["XREAD", "STREAMS", "q", "$"], ["XREAD", "STREAMS", "q", "5-0"], ["XREAD", "STREAMS", "nokey", "0"],
    ["XREAD", "STREAMS", "q"], ["XREAD", "STREAMS", "q", ">"], ["XREAD", "GROUP", "g", "c", "STREAMS", "q", "0"],
    ["XREAD", "NOACK", "STREAMS", "q", "0"], ["XREAD", "COUNT", "x", "STREAMS", "q", "0"], ["XREAD", "FOO"],
    ["XREAD", "BLOCK", "-1", "STREAMS", "q", "0"], ["XREAD", "BLOCK", "x", "STREAMS", "q", "0"],
    ["XREAD", "STREAMS", "str", "0"], ["XREAD", "STREAMS", "q", "abc"],
    ["MULTI"], ["XREAD", "BLOCK", "0", "STREAMS", "q", "$"], ["EXEC"],
    # lag and counters
    ["XADD", "lag", "1-0", "a", "1"], ["XADD", "lag", "2-0", "a", "2"], ["XADD", "lag", "3-0", "a", "3"],
    ["XGROUP", "CREATE", "lag", "g", "0"], ["XINFO", "GROUPS", "lag"],
    ["XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "lag", ">"], ["XINFO", "GROUPS", "lag"],
    ["XDEL", "lag", "2-0"], ["XINFO", "GROUPS", "lag"], ["XREADGROUP", "GROUP", "g", "c", "STREAMS", "lag", ">"],
    ["XINFO", "GROUPS", "lag"], ["XADD", "lag", "4-0", "a", "4"], ["XINFO", "GROUPS", "lag"],
    ["XGROUP", "CREATE", "lag", "g2", "1-0"], ["XINFO", "GROUPS", "lag"], ["XTRIM", "lag", "MAXLEN", "0"],
    ["xinfo", "groups", "lag"], ["XINFO", "STREAM", "lag"],
    # node layout: approximate trimming removes whole nodes only
    *[["XADD", "big", "%d-0" % i, "field", "value%d" % i] for i in range(1, 351)],
    ["XINFO", "STREAM", "big"], ["XTRIM", "big", "MAXLEN", "~", "120"], ["XLEN", "big"],
    ["XTRIM", "big", "MINID", "~", "290"], ["XLEN", "big"], ["XINFO", "STREAM", "big"],
    ["XADD", "big", "MAXLEN", "~", "5", "400-0", "f", "v"], ["XLEN", "big"], ["XDEL", "big", "300-0", "301-0"],
    ["XINFO", "STREAM", "big"],
    *[["XADD", "wide", "%d-0" % i, "f%d" % (i % 3), "x" * (i * 7 % 200)] for i in range(1, 200)],
    ["XINFO", "STREAM", "wide"], ["XTRIM", "wide", "MAXLEN", "~", "50"], ["XLEN", "wide"],
    # other commands on streams
    ["TYPE", "q"], ["OBJECT", "ENCODING", "q"], ["COPY", "q", "q2"], ["XINFO", "GROUPS", "q2"], ["XRANGE", "q2", "-", "+"],
    ["RENAME", "q2", "q3"], ["XLEN", "q3"], ["LPUSH", "q3", "x"], ["GET", "q3"], ["SCAN", "0", "TYPE", "stream", "COUNT", "1000"],
    ["DEBUG", "DIGEST-VALUE", "q", "big", "wide"],
]


def run_all(conn, resp3):
    conn.command("FLUSHALL")
    if resp3:
        conn.command("HELLO", "3")
    out = []
    for cmd in COMMANDS:
        args = [a.encode("latin-1") if isinstance(a, str) else a for a in cmd]
        out.append((cmd, conn.command(*args)))
    return out


def normalise(cmd, reply):
    """SCAN's order is the table's: compare SCAN replies as sets of keys. XPENDING's idle
    times depend on how fast the commands ran: compare them as zero."""
    if cmd[0] == "SCAN":
        return sorted(reply.split(b"\r\n"))
    if cmd[:2] == ["xinfo", "groups"]:
        # Redis 7.4 reports lag 0 for a stream trimmed to nothing (7.0: added - read).
        return re.sub(rb"\$3\r\nlag\r\n(:-?\d+|\$-1)\r\n", b"", reply)
    if cmd[0] == "XPENDING":
        return re.sub(rb"(\*4\r\n\$\d+\r\n[^\r]*\r\n\$\d+\r\n[^\r]*\r\n):\d+\r\n", rb"\1:0\r\n", reply)
    return reply


@pytest.mark.parametrize("resp3", [False, True])
def test_stream_replies_equal_redis(shared_swiftlet, reference_redis, resp3):
    expected = run_all(reference_redis.raw(), resp3)
    actual = run_all(shared_swiftlet.raw(), resp3)
    mismatches = [
        (cmd, e, a) for (cmd, e), (_, a) in zip(expected, actual) if normalise(cmd, e) != normalise(cmd, a)
    ]
    assert mismatches == [], "\n".join("%r\n  redis:    %r\n  swiftlet: %r" % m for m in mismatches[:20])


if __name__ == "__main__":
    # python3 test_streams.py REDIS_PORT SWIFTLET_PORT: the comparison against running servers.
    for resp3 in (False, True):
        e = run_all(RawConnection(int(sys.argv[1])), resp3)
        a = run_all(RawConnection(int(sys.argv[2])), resp3)
        for (cmd, x), (_, y) in zip(e, a):
            if normalise(cmd, x) != normalise(cmd, y):
                print(cmd, "\n  redis:   ", x[:400], "\n  swiftlet:", y[:400])


def blocking_scenario(port):
    """Blocking reads: `$` means the last ID when the read blocked; a timeout answers a null
    array; XREADGROUP `>` is served and its entries become pending; a destroyed group or a
    deleted key ends the wait with Redis's errors."""
    xreadgroup_block = ["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">"]
    out = []
    c, b = RawConnection(port), RawConnection(port)
    c.command("FLUSHALL")
    c.command("XADD", "s", "1-0", "a", "1")
    c.command("XGROUP", "CREATE", "s", "g", "$")
    b.send(encode("XREAD", "BLOCK", "0", "STREAMS", "s", "$"))
    time.sleep(0.2)
    c.command("XADD", "s", "2-0", "b", "2")
    out.append(b.reply())
    out.append(b.command("XREAD", "BLOCK", "50", "STREAMS", "s", "$"))
    out.append(b.command(*xreadgroup_block))
    b.send(encode(*xreadgroup_block))
    time.sleep(0.2)
    c.command("XADD", "s", "3-0", "c", "3")
    out.append(b.reply())
    out.append(c.command("XPENDING", "s", "g"))
    b.send(encode(*xreadgroup_block))
    time.sleep(0.2)
    out.append(c.command("XGROUP", "DESTROY", "s", "g"))
    out.append(b.reply())
    b.send(encode("XREAD", "BLOCK", "0", "STREAMS", "s", "$"))
    time.sleep(0.2)
    c.command("DEL", "s")
    c.command("XADD", "s", "1-5", "early", "x")  # below the ID it waits after: still waiting
    c.command("XADD", "s", "9-5", "d", "4")
    out.append(b.reply())
    c.command("XGROUP", "CREATE", "s", "g", "$")
    b.send(encode(*xreadgroup_block))
    time.sleep(0.2)
    c.command("DEL", "s")
    out.append(b.reply())
    return out


def test_blocking_reads_like_redis(shared_swiftlet, reference_redis):
    expected = blocking_scenario(reference_redis.port)
    assert blocking_scenario(shared_swiftlet.port) == expected
    assert expected[-1] == b"-UNBLOCKED the stream key no longer exists\r\n"


def test_blocked_read_times_out_in_resp3(shared_swiftlet):
    c = shared_swiftlet.raw()
    c.command("HELLO", "3")
    c.command("DEL", "nothing")
    assert c.command("XREAD", "BLOCK", "30", "STREAMS", "nothing", "$") == b"_\r\n"


def test_stream_info_follows_redis_7_4(shared_swiftlet):
    """XINFO CONSUMERS's `inactive` and XINFO STREAM FULL's `active-time` (Redis 7.2+),
    XREAD's `+` (Redis 7.4: the last entry) and 7.4's group lag."""
    r = shared_swiftlet.client()
    r.delete("info74")
    r.xadd("info74", {"a": "1"}, id="1-0")
    r.xadd("info74", {"b": "2"}, id="2-0")
    r.xgroup_create("info74", "g", id="0")
    r.xgroup_createconsumer("info74", "g", "never")
    r.xreadgroup("g", "reader", {"info74": ">"}, count=1)
    consumers = {c["name"]: c for c in r.xinfo_consumers("info74", "g")}
    assert consumers[b"never"]["inactive"] == -1
    assert 0 <= consumers[b"reader"]["inactive"] < 5000 and consumers[b"reader"]["pending"] == 1
    full = r.xinfo_stream("info74", full=True)
    reader = [c for c in full["groups"][0]["consumers"] if c[b"name"] == b"reader"][0]
    assert reader[b"active-time"] >= reader[b"seen-time"] - 1000
    # Redis 7.4's lag: a group before the first entry is estimated from the stream (7.0
    # would subtract ENTRIESREAD and report -6 here).
    r.delete("lag74")
    r.xadd("lag74", {"a": "1"}, id="5-0")
    r.xgroup_create("lag74", "g", id="0", entries_read=7)
    assert r.xinfo_groups("lag74")[0]["lag"] == 1
    r.xadd("lag74", {"b": "2"}, id="6-0")
    r.xreadgroup("g", "c", {"lag74": ">"}, count=1)
    r.xtrim("lag74", maxlen=0)
    assert r.xinfo_groups("lag74")[0]["lag"] == 0  # empty stream: nothing to wait for
    raw = shared_swiftlet.raw()
    assert raw.command("XREAD", "STREAMS", "info74", "+") == encode_reply([[b"info74", [[b"2-0", [b"b", b"2"]]]]])


def encode_reply(v):
    if isinstance(v, list):
        return b"*%d\r\n" % len(v) + b"".join(encode_reply(x) for x in v)
    return b"$%d\r\n%s\r\n" % (len(v), v)


SKEYS = ["s0", "s1"]
GROUPS = ["g0", "g1"]
CONSUMERS = ["c0", "c1", "c2"]


def random_id(rng, strict=False):
    choices = ["%d-%d" % (rng.randrange(1, 40), rng.randrange(0, 3)), "%d" % rng.randrange(1, 40), "0"]
    if not strict:
        choices += ["-", "+", "(%d-%d" % (rng.randrange(1, 40), rng.randrange(0, 3))]
    return rng.choice(choices)


def random_stream_command(rng, clock):
    k = rng.choice(SKEYS)
    g = rng.choice(GROUPS)
    c = rng.choice(CONSUMERS)
    fields = ["f%d" % rng.randrange(3), str(rng.randrange(100))]
    options = [
        lambda: ["XADD", k, "%d-%d" % (clock[0], rng.randrange(3))] + fields,
        lambda: ["XADD", k, "%d-*" % clock[0]] + fields,
        lambda: ["XADD", k, "MAXLEN", rng.choice(["=", "~"]), str(rng.randrange(0, 30)), "%d-*" % clock[0]] + fields,
        lambda: ["XADD", k, "MINID", random_id(rng, strict=True), "%d-*" % clock[0]] + fields,
        lambda: ["XDEL", k, random_id(rng, strict=True), random_id(rng, strict=True)],
        lambda: ["XTRIM", k, rng.choice(["MAXLEN", "MINID"]), "~" if rng.random() < 0.3 else "=",
                 str(rng.randrange(0, 20)) if rng.random() < 0.5 else random_id(rng, strict=True)],
        lambda: ["XRANGE", k, random_id(rng), random_id(rng)] + (["COUNT", str(rng.randrange(0, 5))] if rng.random() < 0.5 else []),
        lambda: ["XREVRANGE", k, random_id(rng), random_id(rng)],
        lambda: ["XLEN", k],
        lambda: ["XGROUP", "CREATE", k, g, rng.choice(["$", "0", random_id(rng, strict=True)])]
                + (["MKSTREAM"] if rng.random() < 0.5 else []),
        lambda: ["XGROUP", "SETID", k, g, rng.choice(["$", "0", random_id(rng, strict=True)])],
        lambda: ["XGROUP", "DELCONSUMER", k, g, c],
        lambda: ["XGROUP", "CREATECONSUMER", k, g, c],
        lambda: ["XREADGROUP", "GROUP", g, c, "COUNT", str(rng.randrange(1, 4)), "STREAMS", k, rng.choice([">", "0", ">"])],
        lambda: ["XREADGROUP", "GROUP", g, c, "NOACK", "STREAMS", k, ">"],
        lambda: ["XACK", k, g, random_id(rng, strict=True), random_id(rng, strict=True)],
        lambda: ["XCLAIM", k, g, c, "0", random_id(rng, strict=True), "JUSTID"],
        lambda: ["XCLAIM", k, g, c, "0", random_id(rng, strict=True), "FORCE", "RETRYCOUNT", "3"],
        lambda: ["XAUTOCLAIM", k, g, c, "0", "0", "COUNT", str(rng.randrange(1, 5)), "JUSTID"],
        lambda: ["XAUTOCLAIM", k, g, c, "0", "0", "COUNT", str(rng.randrange(1, 5))],
        lambda: ["XPENDING", k, g],
        lambda: ["XINFO", "GROUPS", k],
        lambda: ["XINFO", "STREAM", k],
        lambda: ["XREAD", "COUNT", "3", "STREAMS", k, random_id(rng, strict=True)],
        lambda: ["XSETID", k, "%d-%d" % (clock[0] + rng.randrange(0, 2), rng.randrange(0, 5))],
    ]
    if rng.random() < 0.3:
        clock[0] += 1
    return rng.choice(options)()


def test_random_stream_commands_equal_redis(shared_swiftlet, reference_redis):
    """Seeded random stream commands (ids, trims, groups, claims); XPENDING's extended form
    is left out (idle times), XINFO CONSUMERS too (7.4 fields)."""
    rng = random.Random(11)
    clock = [1]
    commands = [random_stream_command(rng, clock) for _ in range(3000)]
    a, b = reference_redis.raw(), shared_swiftlet.raw()
    a.command("FLUSHALL")
    b.command("FLUSHALL")
    mismatches = []
    for cmd in commands:
        x, y = a.command(*cmd), b.command(*cmd)
        if cmd[:2] == ["XINFO", "GROUPS"]:
            # Redis 7.4 reports a different lag after trims (see test_stream_info_follows_redis_7_4).
            x, y = (re.sub(rb"\$3\r\nlag\r\n(:-?\d+|\$-1)\r\n", b"", v) for v in (x, y))
        if x != y:
            mismatches.append((cmd, x, y))
    assert mismatches == [], "\n".join("%r\n  redis:    %r\n  swiftlet: %r" % m for m in mismatches[:10])
