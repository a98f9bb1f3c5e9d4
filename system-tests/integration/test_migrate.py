"""MIGRATE from Swiftlet and from a real redis-server to redis-server targets (one open, one
with requirepass): the same replies, the same keys moved, copied or kept, the same
keyspace events, for each option and error."""
import pytest

from conftest import REDIS_SERVER, Server


@pytest.fixture
def targets():
    open_target = Server(REDIS_SERVER)
    locked_target = Server(REDIS_SERVER, ["--requirepass", "pw"])
    yield open_target, locked_target
    open_target.stop()
    locked_target.stop()


def scenario(source, open_target, locked_target):
    s = source.client()
    t = open_target.client()
    locked = locked_target.client(password="pw")
    for r in (s, t, locked):
        r.flushall()
    s.config_set("notify-keyspace-events", "Eg")
    events = s.pubsub()
    events.psubscribe("__keyevent@0__:*")
    events.get_message(timeout=1)
    host, port, locked_port = "127.0.0.1", open_target.port, locked_target.port
    out = []

    def migrate(*args):
        try:
            out.append(s.execute_command("MIGRATE", *args))
        except Exception as e:  # the error text is what is compared
            out.append("error: %s" % e)

    s.set("a", "1", px=100000)
    s.rpush("l", "x", "y")
    s.hset("h", "f", "v")
    s.set("c", "2")
    migrate(host, port, "a", 0, 1000)
    out.append((s.exists("a"), t.get("a"), 90000 < t.pttl("a") <= 100000))
    migrate(host, port, "c", 0, 1000, "COPY")
    out.append((s.get("c"), t.get("c")))
    migrate(host, port, "c", 0, 1000)  # BUSYKEY: it stays here
    out.append(s.get("c"))
    migrate(host, port, "c", 0, 1000, "REPLACE")
    out.append((s.get("c"), t.get("c")))
    migrate(host, port, "", 0, 1000, "KEYS", "l", "h", "missing")
    out.append((s.exists("l", "h"), t.lrange("l", 0, -1), t.hgetall("h")))
    migrate(host, port, "", 0, 1000, "KEYS", "missing")
    migrate(host, port, "nokey", 0, 1000)
    migrate(host, port, "x", 0, 1000, "KEYS", "a")
    s.set("d", "4")
    migrate(host, port, "d", 3, 1000)
    t.execute_command("SELECT", 3)
    out.append(t.get("d"))
    for bad in (["d", "abc", 1000], ["d", 0, "x"], ["d", 0, 1000, "FOO"], ["d", 0, 1000, "AUTH"]):
        s.set("d", "4")
        migrate(host, port, *bad)
    s.set("e", "5")
    migrate(host, locked_port, "e", 0, 1000)
    migrate(host, locked_port, "e", 0, 1000, "AUTH", "bad")
    out.append(s.exists("e"))
    migrate(host, locked_port, "e", 0, 1000, "AUTH", "pw")
    out.append((s.exists("e"), locked.get("e")))
    s.set("f", "6")
    migrate(host, locked_port, "f", 0, 1000, "AUTH2", "default", "pw")
    out.append((s.exists("f"), locked.get("f")))
    s.set("g", "7")
    migrate(host, port, "g", 99, 1000)  # the target refuses the SELECT
    out.append(s.exists("g"))
    seen = []
    while True:
        m = events.get_message(timeout=0.2)
        if m is None:
            break
        if m["type"] == "pmessage":
            seen.append((m["channel"], m["data"]))
    out.append(seen)
    events.close()
    return out


def test_migrate_like_redis(shared_swiftlet, reference_redis, targets):
    expected = scenario(reference_redis, *targets)
    actual = scenario(shared_swiftlet, *targets)
    assert actual == expected
    assert b"OK" in actual and "error: Target instance replied with error: BUSYKEY Target key name already exists." in actual
    assert (b"__keyevent@0__:del", b"a") in actual[-1]  # a moved key is deleted here


def test_migrate_to_a_closed_port_is_an_io_error(shared_swiftlet):
    from conftest import free_port

    r = shared_swiftlet.client()
    r.set("m", "1")
    with pytest.raises(Exception, match="IOERR error or timeout writing to target instance"):
        r.execute_command("MIGRATE", "127.0.0.1", free_port(), "m", 0, 200)
    assert r.get("m") == b"1"
    r.delete("m")
