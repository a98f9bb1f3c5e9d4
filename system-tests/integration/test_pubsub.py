"""Pub/Sub side by side with a real redis-server: the same scenario (subscribe, publish,
patterns, subscribed-mode rules, unsubscribe, PUBSUB introspection) gives the same bytes on
every connection, RESP2 and RESP3; then real clients (redis-py, redis-cli), and a slow
subscriber that its output limit disconnects while others carry on."""
import socket
import subprocess
import threading
import time

import pytest
import redis

# (connection, command); "sub" and "psub" subscribe, "pub" publishes. After each command the
# replies that connection expects are read by count (subscribe confirms one per channel).
SCENARIO = [
    ("sub", ["SUBSCRIBE", "news", "alerts"], 2), ("psub", ["PSUBSCRIBE", "n*", "[ab]lert?"], 2),
    ("pub", ["PUBLISH", "news", "hello"], 1), ("sub", None, 1), ("psub", None, 1),
    ("pub", ["PUBLISH", "alerts", "fire"], 1), ("sub", None, 1), ("psub", None, 1),
    ("pub", ["PUBLISH", "nothing-here", "x"], 1), ("psub", None, 1), ("pub", ["PUBLISH", "zzz", "x"], 1),
    ("sub", ["PING"], 1), ("sub", ["PING", "hi"], 1), ("sub", ["GET", "k"], 1), ("sub", ["SUBSCRIBE", "news"], 1),
    ("pub", ["PUBSUB", "CHANNELS", "a*"], 1), ("pub", ["PUBSUB", "CHANNELS", "n*"], 1),
    ("pub", ["PUBSUB", "NUMSUB", "news", "alerts", "none"], 1), ("pub", ["PUBSUB", "NUMPAT"], 1),
    ("pub", ["PUBSUB", "NUMSUB"], 1), ("pub", ["PUBSUB", "FOO"], 1),
    ("sub", ["UNSUBSCRIBE", "news", "never"], 2), ("pub", ["PUBLISH", "news", "again"], 1), ("psub", None, 1),
    ("sub", ["UNSUBSCRIBE"], 1), ("sub", ["UNSUBSCRIBE"], 1), ("sub", ["GET", "k"], 1),
    ("psub", ["PUNSUBSCRIBE"], 2), ("psub", ["PUNSUBSCRIBE"], 1), ("psub", ["SSUBSCRIBE", "s1"], 1),
    ("pub", ["SPUBLISH", "s1", "shard"], 1), ("psub", None, 1), ("pub", ["PUBSUB", "SHARDCHANNELS"], 1),
    ("pub", ["PUBSUB", "SHARDNUMSUB", "s1"], 1), ("psub", ["SUNSUBSCRIBE", "s1"], 1), ("psub", ["SUNSUBSCRIBE"], 1),
    ("pub", ["PUBLISH", "news", "nobody"], 1), ("sub", ["SUBSCRIBE"], 1),
]


def run(server, resp3):
    conns = {name: server.raw() for name in ("sub", "psub", "pub")}
    if resp3:
        for c in conns.values():
            c.command("HELLO", "3")
    out = []
    for name, cmd, replies in SCENARIO:
        c = conns[name]
        if cmd:
            c.send(b"".join([b"*%d\r\n" % len(cmd)] + [b"$%d\r\n%s\r\n" % (len(a), a.encode()) for a in cmd]))
        out.append((name, cmd, [c.reply() for _ in range(replies)]))
    for c in conns.values():
        c.close()
    return out


@pytest.mark.parametrize("resp3", [False, True])
def test_pubsub_bytes_equal_redis(shared_swiftlet, reference_redis, resp3):
    expected = run(reference_redis, resp3)
    actual = run(shared_swiftlet, resp3)
    mismatches = [(e[0], e[1], e[2], a[2]) for e, a in zip(expected, actual) if e != a]
    assert mismatches == [], "\n".join("%s %r\n  redis:    %r\n  swiftlet: %r" % m for m in mismatches[:10])


def test_redis_py_pubsub_and_resp3_push_on_a_normal_connection(swiftlet):
    r = swiftlet.client()
    p = r.pubsub()
    p.subscribe("events")
    p.psubscribe("user:*")
    assert p.get_message(timeout=2)["type"] == "subscribe"
    assert p.get_message(timeout=2)["type"] == "psubscribe"
    assert r.publish("events", "one") == 1
    assert r.publish("user:7", "two") == 1
    m1, m2 = p.get_message(timeout=2), p.get_message(timeout=2)
    assert (m1["type"], m1["data"]) == ("message", b"one")
    assert (m2["type"], m2["pattern"], m2["channel"], m2["data"]) == ("pmessage", b"user:*", b"user:7", b"two")
    # In order, per connection, across many messages.
    for i in range(500):
        r.publish("events", str(i))
    got = [p.get_message(timeout=2)["data"] for _ in range(500)]
    assert got == [str(i).encode() for i in range(500)]
    p.close()
    # RESP3: a client subscribes and keeps running commands on the same connection.
    raw = swiftlet.raw()
    raw.command("HELLO", "3")
    assert raw.command("SUBSCRIBE", "ch") == b">3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"
    assert raw.command("SET", "k", "v") == b"+OK\r\n"
    r.publish("ch", "pushed")
    assert raw.reply() == b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$6\r\npushed\r\n"
    assert raw.command("GET", "k") == b"$1\r\nv\r\n"


def test_redis_cli_subscribe_output(swiftlet):
    proc = subprocess.Popen(
        ["redis-cli", "-p", str(swiftlet.port), "SUBSCRIBE", "room"], stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)
        swiftlet.client().publish("room", "hi there")
        time.sleep(0.5)
    finally:
        proc.terminate()
    out = proc.communicate(timeout=5)[0]
    assert out.split("\n")[:6] == ["subscribe", "room", "1", "message", "room", "hi there"]


def test_slow_subscriber_is_disconnected_and_others_carry_on(start_swiftlet):
    s = start_swiftlet("--client-output-buffer-limit", "pubsub 4mb 1mb 2")
    sock = socket.create_connection(("127.0.0.1", s.port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall(b"SUBSCRIBE firehose\r\n")
    time.sleep(0.2)  # and never read again
    r = s.client()
    payload = b"x" * 65536
    sent = 0
    while sent < 100 * 1024 * 1024 and r.pubsub_numsub("firehose")[0][1] == 1:
        r.publish("firehose", payload)
        sent += len(payload)
    assert r.pubsub_numsub("firehose")[0][1] == 0, "the stalled subscriber should be gone"
    assert sent < 100 * 1024 * 1024
    t0 = time.time()
    for _ in range(100):
        r.ping()
    assert time.time() - t0 < 2
    sock.close()
