"""Keyspace notifications side by side with a real redis-server: with
`notify-keyspace-events KEA` (and `KEn`…), the same writes raise the same `__keyspace@…`
and `__keyevent@…` messages, in the same order."""
import time

import pytest

WRITES = [
    ["SET", "s", "1"], ["SET", "s", "2", "EX", "100"], ["INCRBY", "s", "5"], ["APPEND", "s", "x"], ["GETDEL", "s"],
    ["MSET", "a", "1", "b", "2"], ["DEL", "a", "b", "zz"], ["SET", "r", "v"], ["RENAME", "r", "r2"], ["EXPIRE", "r2", "100"],
    ["PERSIST", "r2"], ["EXPIRE", "r2", "0"], ["RPUSH", "l", "a", "b"], ["LPUSH", "l", "c"], ["LPOP", "l"],
    ["LMOVE", "l", "l2", "LEFT", "RIGHT"], ["RPOP", "l"], ["RPOP", "l2"], ["HSET", "h", "f", "v"], ["HINCRBY", "h", "n", "2"],
    ["HDEL", "h", "f", "n"], ["SADD", "st", "a", "b"], ["SREM", "st", "a"], ["SMOVE", "st", "st2", "b"], ["ZADD", "z", "1", "m"],
    ["ZINCRBY", "z", "2", "m"], ["ZREM", "z", "m"], ["ZADD", "z", "1", "a", "2", "b"], ["ZPOPMIN", "z"],
    ["ZUNIONSTORE", "zu", "1", "z"], ["SETNX", "s", "x"], ["SETNX", "s", "y"], ["SET", "e", "1", "PX", "50"],
    ["SLEEP"], ["GET", "e"], ["COPY", "s", "s2"], ["MOVE", "s2", "1"], ["SINTERSTORE", "si", "st2", "nokey"],
    ["GET", "missing"], ["HGET", "nohash", "f"], ["SET", "gx", "1"], ["GETEX", "gx", "EX", "100"],
    ["GETEX", "gx", "PERSIST"], ["GETEX", "gx"], ["ZADD", "zi", "INCR", "5", "m"], ["FLUSHDB"],
]


def collect(server, flags):
    admin = server.raw()
    assert admin.command("CONFIG", "SET", "notify-keyspace-events", flags) == b"+OK\r\n"
    admin.command("FLUSHALL")
    sub = server.raw()
    sub.command("PSUBSCRIBE", "__key*__:*")
    for cmd in WRITES:
        if cmd == ["SLEEP"]:
            time.sleep(0.1)
            continue
        admin.command(*cmd)
    admin.command("PUBLISH", "__keyevent@0__:end", "end")
    messages = []
    while True:
        m = sub.reply()
        messages.append(m)
        if b"__keyevent@0__:end" in m:
            break
    admin.command("CONFIG", "SET", "notify-keyspace-events", "")
    admin.close()
    sub.close()
    return messages


@pytest.mark.parametrize("flags", ["KEA", "KEn", "Egl$", "Kx", "KEm"])
def test_notifications_equal_redis(shared_swiftlet, reference_redis, flags):
    expected = collect(reference_redis, flags)
    actual = collect(shared_swiftlet, flags)
    assert actual == expected
