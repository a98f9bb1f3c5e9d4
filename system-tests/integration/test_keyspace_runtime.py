"""Keyspace behaviour that needs a running server: active expiry, SCAN while the table
grows, client commands, shutdown, logging."""
import os
import re
import signal
import socket
import subprocess
import threading
import time

import redis

from conftest import SWIFTLET, Server


def test_active_expiry_reclaims_keys_never_read(swiftlet):
    r = swiftlet.client()
    pipe = r.pipeline(transaction=False)
    for i in range(5000):
        pipe.set(f"tmp:{i}", "x", px=200)
    for i in range(100):
        pipe.set(f"keep:{i}", "x")
    pipe.execute()
    assert r.dbsize() == 5100
    deadline = time.time() + 10
    while time.time() < deadline and r.dbsize() > 100:
        time.sleep(0.2)
    # Only the keys without a TTL remain, and nobody read the others.
    assert r.dbsize() == 100
    assert r.info("stats")["expired_keys"] == 5000


def test_active_field_expiry_reclaims_hash_fields_never_read(swiftlet):
    """Redis 7.4 hash field expiry: fields with a TTL go away without being read, a hash
    whose every field expired disappears, and the rest stays."""
    r = swiftlet.client()
    pipe = r.pipeline(transaction=False)
    for i in range(300):
        pipe.hset(f"h:{i}", mapping={"a": "1", "b": "2"})
        pipe.hpexpire(f"h:{i}", 150, "a", "b")
    pipe.hset("mixed", mapping={"a": "1", "b": "2", "c": "3"})
    pipe.hpexpire("mixed", 150, "a")
    pipe.execute()
    assert r.dbsize() == 301
    assert r.info("keyspace")["db0"]["subexpiry"] == 301
    deadline = time.time() + 10
    while time.time() < deadline and r.dbsize() > 1:
        time.sleep(0.2)
    assert r.dbsize() == 1
    assert r.info("stats")["expired_subkeys"] == 601
    assert r.hgetall("mixed") == {b"b": b"2", b"c": b"3"}
    assert r.httl("mixed", "a", "b") == [-2, -1]


def test_hash_field_expiry_lazy_and_overwrites(swiftlet):
    r = swiftlet.client()
    r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    r.hset("h", mapping={"a": "1", "b": "2", "n": "5"})
    assert r.hexpire("h", 100, "a", "n", "zz") == [1, 1, -2]
    assert r.object("encoding", "h") == b"listpackex"
    r.hincrby("h", "n", 1)  # keeps the TTL
    assert r.httl("h", "n")[0] > 0
    r.hset("h", "a", "new")  # overwriting drops it
    assert r.httl("h", "a") == [-1]
    assert r.hpexpire("h", 50, "b") == [1]
    time.sleep(0.2)
    assert r.hget("h", "b") is None and r.hlen("h") == 2
    assert r.hpexpire("h", 0, "a", "n") == [2, 2]
    assert r.exists("h") == 0


def test_debug_set_active_expire_stops_reclaiming(swiftlet):
    r = swiftlet.client()
    r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    for i in range(200):
        r.set(f"t{i}", "x", px=50)
    time.sleep(0.6)
    assert r.dbsize() == 200  # still there: no active expiry, no reads
    assert r.get("t1") is None  # lazy expiry on access
    assert r.dbsize() == 199
    r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")


def test_scan_visits_every_key_while_the_table_grows(swiftlet):
    r = swiftlet.client()
    initial = {f"k{i}".encode() for i in range(2000)}
    pipe = r.pipeline(transaction=False)
    for k in initial:
        pipe.set(k, "1")
    pipe.execute()
    seen = set()
    cursor = 0
    added = 0
    while True:
        cursor, keys = r.scan(cursor, count=50)
        seen.update(keys)
        # Grow the table under the scan.
        for _ in range(100):
            r.set(f"new{added}", "1")
            added += 1
        if cursor == 0:
            break
    assert initial <= seen


def test_keys_and_scan_match_and_type(swiftlet):
    r = swiftlet.client(decode_responses=True)
    for k in ["session:1", "session:2", "rate:1", "cache:[x]"]:
        r.set(k, "v")
    assert sorted(r.keys("session:*")) == ["session:1", "session:2"]
    assert r.keys("cache:\\[x\\]") == ["cache:[x]"]
    assert sorted(r.keys("?a*")) == ["cache:[x]", "rate:1"]
    got = set(r.scan_iter(match="sess*", _type="string"))
    assert got == {"session:1", "session:2"}
    assert list(r.scan_iter(_type="list")) == []


def test_client_commands(swiftlet):
    r = swiftlet.client(decode_responses=True)
    other = swiftlet.client(decode_responses=True)
    assert r.client_setname("main") is True
    assert r.client_getname() == "main"
    my_id = r.client_id()
    assert other.client_id() != my_id
    info = r.client_info()
    assert info["name"] == "main" and int(info["id"]) == my_id and info["cmd"] == "client|info"
    names = [c["name"] for c in r.client_list()]
    assert "main" in names
    assert r.execute_command("CLIENT", "SETINFO", "LIB-NAME", "mylib") == "OK"
    assert "lib-name=mylib" in r.execute_command("CLIENT", "INFO")
    # Kill the other connection by id.
    oid = other.client_id()
    assert r.client_kill_filter(_id=oid) == 1
    assert r.client_kill_filter(_id=oid) == 0
    # CLIENT REPLY OFF/SKIP on a raw connection.
    c = swiftlet.raw()
    c.send(b"CLIENT REPLY SKIP\r\nPING\r\nECHO a\r\n")
    assert c.reply() == b"$1\r\na\r\n"
    c.send(b"CLIENT REPLY OFF\r\nPING\r\nCLIENT REPLY ON\r\n")
    assert c.reply() == b"+OK\r\n"


def test_client_pause_write_holds_writes_only(swiftlet):
    r = swiftlet.client()
    r.set("k", "1")
    assert r.execute_command("CLIENT", "PAUSE", "300", "WRITE") in (b"OK", "OK", True)
    t0 = time.time()
    assert r.get("k") == b"1"
    assert time.time() - t0 < 0.2
    other = swiftlet.client()
    t0 = time.time()
    other.set("k", "2")
    assert time.time() - t0 >= 0.2
    assert r.get("k") == b"2"


def test_sigterm_shuts_down_cleanly_with_redis_log_lines(start_swiftlet):
    s = start_swiftlet()
    s.client().ping()
    os.kill(s.proc.pid, signal.SIGTERM)
    assert s.proc.wait(timeout=10) == 0
    log = s.read_log()
    assert re.search(r"^\d+:M \d\d \w{3} \d{4} \d\d:\d\d:\d\d\.\d{3} \* Ready to accept connections", log, re.M)
    assert "Received SIGTERM scheduling shutdown..." in log


def test_shutdown_command(start_swiftlet):
    s = start_swiftlet()
    c = s.raw()
    c.send(b"SHUTDOWN NOSAVE\r\n")
    assert c.closed_by_peer()
    assert s.proc.wait(timeout=10) == 0


def test_idle_timeout_closes_clients(start_swiftlet):
    s = start_swiftlet("--timeout", "1")
    c = s.raw()
    assert c.command("PING") == b"+PONG\r\n"
    assert c.closed_by_peer(timeout=5)


def test_unix_socket(start_swiftlet, tmp_path):
    path = str(tmp_path / "s.sock")
    s = start_swiftlet("--unixsocket", path, "--unixsocketperm", "700")
    r = redis.Redis(unix_socket_path=path)
    assert r.ping() is True
    assert r.client_info()["addr"].endswith(":0")


def test_info_sections(swiftlet):
    r = swiftlet.client()
    r.set("a", "1")
    r.get("a")
    r.get("missing")
    try:
        r.execute_command("NOPE")
    except redis.ResponseError:
        pass
    info = r.info("everything")
    for field in ["redis_version", "used_memory", "maxmemory_policy", "role", "loading", "keyspace_hits",
                  "connected_clients", "rdb_changes_since_last_save", "used_cpu_sys", "cmdstat_get",
                  "errorstat_ERR"]:
        assert field in info, field
    assert info["keyspace_hits"] == 1 and info["keyspace_misses"] == 1
    assert info["cmdstat_get"]["calls"] == 2
    assert info["db0"]["keys"] == 1
    default = r.info()
    assert "cmdstat_get" not in default and "errorstat_ERR" in default
    both = swiftlet.raw().command("INFO", "server", "keyspace")
    assert b"# Server" in both and b"# Keyspace" in both and b"# Memory" not in both


def test_ipv6_loopback_listener_and_logfile(start_swiftlet, tmp_path):
    logfile = str(tmp_path / "swiftlet.log")
    s = start_swiftlet("--bind", "127.0.0.1", "::1", "--logfile", logfile, "--loglevel", "verbose")
    sock = socket.create_connection(("::1", s.port), timeout=5)
    sock.sendall(b"CLIENT INFO\r\n")
    data = b""
    while not data.endswith(b"\r\n") or data.count(b"\r\n") < 2:
        data += sock.recv(4096)
    assert b"addr=[::1]:" in data and b"laddr=[::1]:" in data
    sock.close()
    time.sleep(0.2)
    text = open(logfile).read()
    assert "Ready to accept connections" in text
    assert re.search(r"^\d+:M .* - Accepted \[::1\]:\d+$", text, re.M)


def test_loglevel_warning_hides_notices(start_swiftlet, tmp_path):
    logfile = str(tmp_path / "quiet.log")
    s = start_swiftlet("--logfile", logfile, "--loglevel", "warning")
    s.client().ping()
    assert "Ready to accept connections" not in open(logfile).read()


def test_hash_field_expiry_raises_hexpired(swiftlet):
    """Redis 7.4: fields reclaimed by expiry raise `hexpired`, and `del` when the hash goes."""
    r = swiftlet.client()
    r.config_set("notify-keyspace-events", "Ehg")
    p = r.pubsub()
    p.psubscribe("__keyevent@0__:*")
    assert p.get_message(timeout=2)["type"] == "psubscribe"
    r.hset("fh", mapping={"a": "1", "b": "2"})
    r.hpexpire("fh", 100, "a", "b")
    events = []
    deadline = time.time() + 5
    while time.time() < deadline and b"del" not in [e[0] for e in events]:
        m = p.get_message(timeout=0.5)
        if m and m["type"] == "pmessage":
            events.append((m["channel"].split(b":")[-1], m["data"]))
    r.config_set("notify-keyspace-events", "")
    assert (b"hset", b"fh") in events and (b"hexpire", b"fh") in events
    assert (b"hexpired", b"fh") in events and events[-1] == (b"del", b"fh")
