"""No argument takes the server down: every command and subcommand gets integers at the
edges of 64 bits (and beyond), floats that are not numbers, and keywords in random places;
each must answer (a reply or an error) and the server must stay up, in RESP2 and RESP3."""
import random

import pytest
import redis

from conftest import SWIFTLET, RawConnection, Server

# Commands that block, end the connection or the server, or change what the others see.
SKIP = {
    "shutdown", "debug", "monitor", "subscribe", "psubscribe", "ssubscribe", "sync", "psync", "quit", "reset",
    "failover", "replicaof", "slaveof", "blpop", "brpop", "blmove", "brpoplpush", "blmpop", "bzpopmin", "bzpopmax",
    "bzmpop", "wait", "xread", "xreadgroup", "migrate", "save", "bgsave", "bgrewriteaof", "hello", "auth",
    "client|pause", "client|kill", "client|reply", "config|set", "acl|setuser", "acl|deluser", "acl|load",
    "script|kill", "function|kill", "module|load", "module|loadex",
}
VALUES = ["9223372036854775807", "-9223372036854775808", "18446744073709551616", "-1", "0", "4294967296", "1e308",
          "nan", "inf", "-inf", "k", "k2", "LIMIT", "COUNT", "STORE", "BYSCORE", "REV", "WITHSCORES", "MATCH",
          "s", "l", "h", "st", "z", "x", "p", "2147483648", "-4294967297", "1.5", "(1", "[a", "-", "+", "$", ">", "0-0",
          "GET", "SET", "INCRBY", "i64", "u63", "#1", "OVERFLOW", "BIT", "BYTE", "LEFT", "RIGHT", "NX", "GT", "FIELDS"]
# A key of every type, made again every few commands (many commands delete or change them).
SEED_KEYS = [("SET", "s", "hello world"), ("RPUSH", "l", "a", "b", "c", "1", "2"), ("HSET", "h", "f", "1", "g", "v"),
             ("SADD", "st", "a", "b", "1"), ("ZADD", "z", "1", "a", "2", "b", "3", "c"), ("XADD", "x", "*", "f", "v"),
             ("PFADD", "p", "a", "b")]


@pytest.mark.parametrize("protocol", ["2", "3"])
def test_extreme_arguments_never_stop_the_server(protocol):
    server = Server(SWIFTLET, ["--enable-debug-command", "yes"])
    try:
        names = []
        for name, info in redis.Redis(port=server.port).execute_command("COMMAND").items():
            names.append(name)
            names += [sub[0].decode() for sub in info.get("subcommands") or []]
        rng = random.Random(7)
        conn = RawConnection(server.port)
        conn.command("HELLO", protocol)
        sent = 0
        for name in sorted(names):
            if name in SKIP or name.split("|")[0] in SKIP:
                continue
            for count in range(1, 6):
                for _ in range(8):
                    if sent % 40 == 0:
                        for seed in SEED_KEYS:
                            conn.command("DEL", seed[1])
                            conn.command(*seed)
                    args = name.split("|") + [rng.choice(VALUES) for _ in range(count)]
                    try:
                        reply = conn.command(*args)
                    except ConnectionError:
                        open("/tmp/robust.log", "w").write(server.read_log())
                        raise AssertionError(f"connection lost after {args}")
                    assert reply[:1] in (b"+", b"-", b":", b"$", b"*", b"%", b"~", b",", b"_", b"#", b"=", b"(", b">"), args
                    sent += 1
        assert server.alive() and RawConnection(server.port).command("PING") == b"+PONG\r\n"
        assert sent > 10000
    finally:
        server.stop()
