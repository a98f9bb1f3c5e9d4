"""Blocking pops as Redis serves them: timeouts, wake-ups in the order clients blocked,
disconnects while blocked, and a pipeline that continues after the blocked command."""
import threading
import time

import redis

from conftest import encode


def test_blpop_timeout_and_wakeup(swiftlet):
    r = swiftlet.client()
    t0 = time.time()
    assert r.blpop(["q1", "q2"], timeout=0.3) is None
    assert 0.25 <= time.time() - t0 < 2
    result = {}

    def waiter():
        result["v"] = swiftlet.client().brpop(["q1", "q2"], timeout=5)

    t = threading.Thread(target=waiter)
    t.start()
    time.sleep(0.2)
    assert r.info("clients")["blocked_clients"] == 1
    r.rpush("q2", "job")
    t.join(5)
    assert result["v"] == (b"q2", b"job")
    assert r.exists("q2") == 0
    assert r.info("clients")["blocked_clients"] == 0


def test_clients_are_served_in_the_order_they_blocked(swiftlet):
    r = swiftlet.client()
    order = []
    threads = []
    for i in range(3):
        def waiter(i=i):
            v = swiftlet.client().blpop("jobs", timeout=5)
            order.append((i, v[1]))
        t = threading.Thread(target=waiter)
        t.start()
        threads.append(t)
        time.sleep(0.15)
    r.rpush("jobs", "a", "b", "c")
    for t in threads:
        t.join(5)
    assert sorted(order) == [(0, b"a"), (1, b"b"), (2, b"c")]


def test_blocked_client_disconnect_is_forgotten(swiftlet):
    c = swiftlet.raw()
    c.send(b"BLPOP gone 0\r\n")
    time.sleep(0.2)
    c.close()
    time.sleep(0.2)
    r = swiftlet.client()
    assert r.info("clients")["blocked_clients"] == 0
    r.rpush("gone", "x")
    assert r.lrange("gone", 0, -1) == [b"x"]


def test_pipeline_continues_after_blocking_command(swiftlet):
    c = swiftlet.raw()
    c.send(b"BLPOP pq 0.2\r\nPING\r\n")
    assert c.reply() == b"*-1\r\n"
    assert c.reply() == b"+PONG\r\n"
    c.send(b"HELLO 3\r\n")
    c.reply()
    c.send(b"BLPOP pq 0.1\r\n")
    assert c.reply() == b"_\r\n"


def test_blmove_brpoplpush_and_bzpopmin(swiftlet):
    r = swiftlet.client()
    result = {}

    def waiter():
        s = swiftlet.client()
        result["move"] = s.blmove("src", "dst", 5, "LEFT", "RIGHT")
        result["z"] = s.bzpopmin("zq", timeout=5)

    t = threading.Thread(target=waiter)
    t.start()
    time.sleep(0.2)
    r.lpush("src", "item")
    time.sleep(0.2)
    r.zadd("zq", {"m": 2.5})
    t.join(5)
    assert result["move"] == b"item"
    assert r.lrange("dst", 0, -1) == [b"item"]
    assert result["z"] == (b"zq", b"m", 2.5)
    assert r.brpoplpush("empty", "dst", timeout=0.1) is None


def test_timeout_errors(swiftlet):
    c = swiftlet.raw()
    assert c.command("BLPOP", "k", "abc") == b"-ERR timeout is not a float or out of range\r\n"
    assert c.command("BLPOP", "k", "-1") == b"-ERR timeout is negative\r\n"
    # Redis 7.4 (7.0 overflowed into "timeout is negative" or a wait without end).
    for command in (("BLPOP", "k", "1e300"), ("BLPOP", "k", "9223372036854775807"), ("WAIT", "1", "9223372036854775807"),
                    ("XREAD", "BLOCK", "9223372036854775807", "STREAMS", "s", "0"),
                    ("CLIENT", "PAUSE", "9223372036854775807")):
        assert c.command(*command) == b"-ERR timeout is out of range\r\n"


def test_client_unblock_timeout_and_error(swiftlet):
    r = swiftlet.client()
    c = swiftlet.raw()
    cid = int(c.command("CLIENT", "ID")[1:-2])
    c.send(b"BLPOP never 0\r\n")
    time.sleep(0.2)
    assert r.client_unblock(cid) is True or r.client_unblock(cid) == 1
    assert c.reply() == b"*-1\r\n"
    c.send(b"BRPOP never 0\r\n")
    time.sleep(0.2)
    assert r.execute_command("CLIENT", "UNBLOCK", cid, "ERROR") == 1
    assert c.reply() == b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"
    assert r.execute_command("CLIENT", "UNBLOCK", cid) == 0
    assert c.command("PING") == b"+PONG\r\n"


def test_bzmpop_wakes_on_zadd_and_zunionstore(swiftlet):
    """BullMQ-style sorted-set queues: BZMPOP waits on several keys and is woken by a ZADD,
    and by a sorted set written whole (ZUNIONSTORE) to a key it waits on."""
    r = swiftlet.client()
    assert r.bzmpop(0.2, 2, ["z1", "z2"], min=True) is None
    results = []

    def waiter():
        c = swiftlet.client()
        results.append(c.bzmpop(5, 2, ["z1", "z2"], max=True, count=2))
        results.append(c.bzmpop(5, 1, ["z3"], min=True))

    t = threading.Thread(target=waiter)
    t.start()
    time.sleep(0.2)
    r.zadd("z2", {"a": 1, "b": 2, "c": 3})
    time.sleep(0.2)
    r.zadd("src", {"only": 7})
    r.zunionstore("z3", ["src"])
    t.join(5)
    assert results[0] == [b"z2", [[b"c", b"3"], [b"b", b"2"]]]
    assert results[1] == [b"z3", [[b"only", b"7"]]]
    assert r.zrange("z2", 0, -1) == [b"a"] and r.exists("z3") == 0


def test_wait_without_replicas(swiftlet):
    """WAIT on a master with no replicas: 0 at once when none are asked for, else after
    the timeout; inside MULTI it cannot block; CLIENT UNBLOCK ends a WAIT with no timeout."""
    c = swiftlet.raw()
    assert c.command("WAIT", "0", "0") == b":0\r\n"
    started = time.monotonic()
    assert c.command("WAIT", "2", "150") == b":0\r\n"
    assert time.monotonic() - started >= 0.14
    assert c.command("MULTI") == b"+OK\r\n"
    assert c.command("WAIT", "1", "0") == b"+QUEUED\r\n"
    assert c.command("EXEC") == b"*1\r\n:0\r\n"
    waiter = swiftlet.raw()
    waiter_id = int(waiter.command("CLIENT", "ID")[1:-2])
    waiter.send(encode("WAIT", "1", "0"))
    time.sleep(0.1)
    assert c.command("CLIENT", "UNBLOCK", str(waiter_id)) == b":1\r\n"
    assert waiter.reply() == b":0\r\n"
