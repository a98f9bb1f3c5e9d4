"""A real redis-server (Debian's 7.0.15) replicating from Swiftlet: the handshake, a full
sync from a point-in-time snapshot, then the write stream — the same effects the AOF gets,
with SELECTs, absolute expiry times, transactions whole — and a partial resync from the
backlog after the link drops. (Swiftlet as a replica, Sentinel and WAIT come later.)"""
import time

from conftest import REDIS_SERVER, Server


def wait_for(predicate, timeout=15, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def linked(replica):
    return replica.client().info("replication").get("master_link_status") == "up"


def test_a_redis_replica_syncs_and_follows_the_stream(start_swiftlet):
    primary = start_swiftlet()
    p = primary.client()
    p.set("before", "1")
    p.hset("h", mapping={"f": "v"})
    p.rpush("l", "a", "b")
    primary.client(db=3).set("in3", "x")
    replica = Server(REDIS_SERVER, ["--replicaof", "127.0.0.1", str(primary.port)])
    try:
        wait_for(lambda: linked(replica), what="the replica's link")
        r = replica.client()
        assert r.get("before") == b"1"
        assert r.hgetall("h") == {b"f": b"v"}
        assert r.lrange("l", 0, -1) == [b"a", b"b"]
        assert replica.client(db=3).get("in3") == b"x"
        # The primary counts its replica, with the port it announced.
        info = p.info("replication")
        assert info["connected_slaves"] == 1
        assert info["slave0"]["port"] == replica.port and info["slave0"]["state"] == "online"
        role = p.execute_command("ROLE")
        assert role[0] == b"master" and role[2][0][1] == str(replica.port).encode()
        assert "S" in [c for c in p.client_list() if c["id"] != str(p.client_id())][0]["flags"]
        # Writes after the sync arrive in order, in their databases, relative TTLs as
        # absolute deadlines, transactions whole.
        p.set("after", "2", ex=100)
        primary.client(db=5).incr("n5")
        pipe = p.pipeline(transaction=True)
        pipe.incr("counter").lpush("l", "z").execute()
        p.eval("redis.call('set', 'from_script', 'yes') return 1", 0)
        p.delete("before")
        wait_for(lambda: r.get("from_script") == b"yes" and r.get("before") is None, what="the stream")
        assert r.get("after") == b"2" and 0 < r.ttl("after") <= 100
        assert replica.client(db=5).get("n5") == b"1"
        assert r.get("counter") == b"1" and r.lindex("l", 0) == b"z"
        # The replica acknowledges what it applied: the primary's offset, reached.
        offset = p.info("replication")["master_repl_offset"]
        assert offset > 0
        # (A PING may have joined the stream since: at least that far.)
        wait_for(lambda: p.info("replication")["slave0"]["offset"] >= offset, what="the replica's ACK")
        assert r.info("replication")["master_repl_offset"] >= offset
    finally:
        replica.stop()


def test_a_dropped_link_continues_from_the_backlog(start_swiftlet):
    primary = start_swiftlet()
    p = primary.client()
    replica = Server(REDIS_SERVER, ["--replicaof", "127.0.0.1", str(primary.port)])
    try:
        wait_for(lambda: linked(replica), what="the replica's link")
        p.set("k1", "v1")
        r = replica.client()
        wait_for(lambda: r.get("k1") == b"v1", what="k1")
        # Kill the replication link from the primary's side: the replica reconnects and
        # asks PSYNC <replid> <offset>, which the backlog serves.
        p.client_kill_filter(_type="replica")
        p.set("k2", "v2")
        wait_for(lambda: linked(replica) and r.get("k2") == b"v2", what="k2 after the reconnect")
        assert "Partial resynchronization request" in primary.read_log()
        assert "accepted" in primary.read_log()
    finally:
        replica.stop()
