"""The append-only file: Redis 7's multi-part layout written by Swiftlet and loaded by a real
redis-server and the reverse, commands logged in a form that replays the same, BGREWRITEAOF
without fork, a torn tail (aof-load-truncated yes/no), corrupt files refused, no acknowledged
write lost under `appendfsync always` after kill -9, swiftlet-check-aof, CONFIG SET
appendonly, and -LOADING while a large dataset loads."""
import os
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import REDIS_SERVER, ROOT, SWIFTLET, RawConnection, Server, encode, free_port
from test_rdb import build, snapshot

CHECK_AOF = os.path.join(ROOT, ".build", "release", "swiftlet-check-aof")
DEBUG = ["--enable-debug-command", "yes"]


def aof_args(*extra):
    return ["--appendonly", "yes", "--appendfsync", "always"] + DEBUG + list(extra)


def aof_dir(server):
    return os.path.join(server.workdir, "appendonlydir")


def manifest(server):
    with open(os.path.join(aof_dir(server), "appendonly.aof.manifest")) as f:
        return f.read()


def digest(r):
    return r.execute_command("DEBUG", "DIGEST")


def workload(r):
    """Writes whose arguments would not replay the same as sent: relative TTLs, random
    pops, float increments, transactions, expiry, in several databases."""
    build(r)
    r.set("ttl:ex", "v", ex=1000)
    r.execute_command("SETEX", "ttl:setex", 1000, "v")
    r.psetex("ttl:psetex", 1_000_000, "v")
    r.set("ttl:getex", "v")
    r.getex("ttl:getex", px=500_000)
    r.set("ttl:expire", "v")
    r.expire("ttl:expire", 777)
    r.set("gone", "v")
    r.expire("gone", -1)
    r.set("short", "v", px=1)
    r.incrbyfloat("float", "0.1")
    r.incrbyfloat("float", "0.2")
    r.hincrbyfloat("hfloat", "f", "1.25")
    r.sadd("spop", *range(50))
    r.spop("spop")
    r.spop("spop", 7)
    p = r.pipeline(transaction=True)
    p.incr("tx:a")
    p.incr("tx:a")
    p.rpush("tx:l", "x", "y")
    p.execute()
    r.execute_command("SELECT", 5)
    r.set("db5", "five")
    r.execute_command("SELECT", 0)
    time.sleep(0.01)
    assert r.get("short") is None  # expired: logged as a DEL


def test_aof_round_trip_and_replayable_form(start_swiftlet):
    s = start_swiftlet(*aof_args())
    r = s.client()
    workload(r)
    before, keys = digest(r), snapshot(r)
    s.stop()
    text = open(os.path.join(aof_dir(s), "appendonly.aof.1.incr.aof"), "rb").read()
    # Relative times and random picks are logged as what they did.
    assert b"PXAT" in text and b"PEXPIREAT" in text and b"SREM" in text and b"KEEPTTL" in text
    assert b"$5\r\nsetex" not in text and b"$6\r\nexpire\r\n" not in text
    assert b"$5\r\nMULTI\r\n" in text and b"$4\r\nEXEC\r\n" in text
    again = start_swiftlet(*aof_args(), workdir=s.workdir)
    r2 = again.client()
    assert digest(r2) == before
    assert snapshot(r2) == keys
    assert r2.execute_command("SELECT", 5) and r2.get("db5") == b"five"
    assert 990 <= again.client().ttl("ttl:ex") <= 1000


def test_swiftlet_aof_loads_in_redis_and_back(start_swiftlet, tmp_path):
    s = start_swiftlet(*aof_args())
    r = s.client()
    workload(r)
    r.bgrewriteaof()
    wait_rewrite(r)
    r.set("after:rewrite", "1")
    r.lpush("after:list", "a", "b")
    # Compared key by key: Redis 7.0 formats scores differently inside DEBUG DIGEST.
    expected = snapshot(r)
    s.stop()
    redis = Server(REDIS_SERVER, aof_args(), workdir=s.workdir)
    try:
        rr = redis.client()
        assert snapshot(rr) == expected
        # Redis appends to the same files; Swiftlet loads what Redis wrote.
        rr.set("from:redis", "yes")
        rr.incrbyfloat("float", "1.5")
        rr.bgrewriteaof()
        wait_rewrite(rr)
        rr.sadd("from:redis:set", "a", "b")
        expected = snapshot(rr)
    finally:
        redis.stop()
    back = start_swiftlet(*aof_args(), workdir=s.workdir)
    assert snapshot(back.client()) == expected
    assert back.client().get("from:redis") == b"yes"


def wait_rewrite(r, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        info = r.info("persistence")
        if not info["aof_rewrite_in_progress"] and not info["aof_rewrite_scheduled"]:
            return info
        time.sleep(0.05)
    raise AssertionError("rewrite did not finish")


def test_bgrewriteaof_under_writes_and_restart(start_swiftlet):
    s = start_swiftlet(*aof_args("--appendfsync", "everysec"))
    r = s.client()
    r.execute_command("DEBUG", "POPULATE", 50000, "k", 20)
    stop = threading.Event()
    written = []

    def writer():
        w = s.client()
        i = 0
        while not stop.is_set():
            w.set(f"live:{i}", i)
            w.incr("counter")
            written.append(i)
            i += 1

    t = threading.Thread(target=writer)
    t.start()
    time.sleep(0.05)
    conn = s.raw()
    assert conn.command("BGREWRITEAOF") == b"+Background append only file rewriting started\r\n"
    again_reply = conn.command("BGREWRITEAOF")
    if conn.command("INFO", "persistence").find(b"aof_rewrite_in_progress:1") >= 0:
        assert again_reply == b"-ERR Background append only file rewriting already in progress\r\n"
    info = wait_rewrite(r)
    time.sleep(0.05)
    stop.set()
    t.join()
    assert info["aof_rewrites"] == 1 and info["aof_last_bgrewrite_status"] == "ok"
    expected = digest(r)
    m = manifest(s)
    assert "appendonly.aof.2.base.rdb seq 2 type b" in m and "appendonly.aof.2.incr.aof seq 2 type i" in m
    assert sorted(os.listdir(aof_dir(s))) == [
        "appendonly.aof.2.base.rdb",
        "appendonly.aof.2.incr.aof",
        "appendonly.aof.manifest",
    ]
    r.shutdown(nosave=True)
    again = start_swiftlet(*aof_args(), workdir=s.workdir)
    r2 = again.client()
    assert digest(r2) == expected
    assert int(r2.get("counter")) == len(written)


def test_rewrite_without_rdb_preamble_loads_in_both(start_swiftlet):
    s = start_swiftlet(*aof_args("--aof-use-rdb-preamble", "no"))
    r = s.client()
    build(r)
    r.hset("hfe", mapping={"a": "1", "b": "2"})
    r.execute_command("HPEXPIREAT", "hfe", int(time.time() * 1000) + 900_000, "FIELDS", 1, "a")
    r.bgrewriteaof()
    wait_rewrite(r)
    base = open(os.path.join(aof_dir(s), "appendonly.aof.2.base.aof"), "rb").read()
    assert base.startswith(b"*2\r\n$6\r\nSELECT\r\n") and b"HPEXPIREAT" in base
    expected = digest(r)
    ttl = r.execute_command("HPTTL", "hfe", "FIELDS", 1, "a")[0]
    s.stop()
    again = start_swiftlet(*aof_args(), workdir=s.workdir)
    r2 = again.client()
    assert digest(r2) == expected
    assert 0 < r2.execute_command("HPTTL", "hfe", "FIELDS", 1, "a")[0] <= ttl
    # Redis 7.0 has no hash field TTLs: without that hash, the command base loads there.
    r2.delete("hfe")
    r2.bgrewriteaof()
    wait_rewrite(r2)
    expected = snapshot(r2)
    again.stop()
    redis = Server(REDIS_SERVER, aof_args(), workdir=s.workdir)
    try:
        assert snapshot(redis.client()) == expected
    finally:
        redis.stop()


def test_redis_aof_with_preamble_and_tail_loads_in_swiftlet(start_swiftlet):
    redis = Server(REDIS_SERVER, aof_args())
    try:
        rr = redis.client()
        build(rr)
        rr.bgrewriteaof()
        wait_rewrite(rr)
        rr.set("tail", "after rewrite", ex=5000)
        rr.spop("set:big", 3)
        rr.incrbyfloat("float", "2.5")
        keys = snapshot(rr)
    finally:
        redis.stop()
    s = start_swiftlet(*aof_args(), workdir=redis.workdir)
    assert snapshot(s.client()) == keys


def test_old_style_single_aof_is_migrated(start_swiftlet, tmp_path):
    with open(tmp_path / "appendonly.aof", "wb") as f:
        f.write(encode("SELECT", 0) + encode("SET", "old", "style") + encode("RPUSH", "l", "a", "b"))
    s = start_swiftlet(*aof_args(), workdir=str(tmp_path))
    assert s.client().get("old") == b"style" and s.client().lrange("l", 0, -1) == [b"a", b"b"]
    assert "file appendonly.aof seq 1 type b" in manifest(s)
    assert "Successfully migrated an old-style AOF" in s.read_log()


def test_no_aof_yet_loads_the_rdb_then_creates_the_aof(start_swiftlet):
    s = start_swiftlet(*DEBUG)
    build(s.client())
    expected = digest(s.client())
    s.client().save()
    s.stop()
    again = start_swiftlet(*aof_args(), workdir=s.workdir)
    assert digest(again.client()) == expected
    assert "appendonly.aof.1.base.rdb seq 1 type b" in manifest(again)


def torn_aof(start_swiftlet):
    s = start_swiftlet(*aof_args())
    r = s.client()
    for i in range(100):
        r.set(f"k{i}", i)
    s.stop()
    path = os.path.join(aof_dir(s), "appendonly.aof.1.incr.aof")
    with open(path, "ab") as f:
        f.write(b"*3\r\n$3\r\nSET\r\n$4\r\ntorn\r\n$5\r\nval")
    return s, path


def test_truncated_tail_is_trimmed_or_refused(start_swiftlet):
    s, path = torn_aof(start_swiftlet)
    size = os.path.getsize(path)
    refused = subprocess.run(
        [SWIFTLET, "--port", str(free_port()), "--bind", "127.0.0.1", "--dir", s.workdir] + aof_args("--aof-load-truncated", "no"),
        cwd=s.workdir, capture_output=True, timeout=30)
    assert refused.returncode != 0
    assert b"Unexpected end of file reading the append only file appendonly.aof.1.incr.aof" in refused.stdout
    assert os.path.getsize(path) == size
    again = start_swiftlet(*aof_args(), workdir=s.workdir)
    assert again.client().dbsize() == 100 and again.client().get("torn") is None
    log = again.read_log()
    assert "Truncating the AOF appendonly.aof.1.incr.aof" in log and "loaded anyway because aof-load-truncated" in log
    assert os.path.getsize(path) < size
    # Writes after the trim land after the last whole command.
    again.client().set("next", "1")
    again.stop()
    third = start_swiftlet(*aof_args(), workdir=s.workdir)
    assert third.client().get("next") == b"1" and third.client().dbsize() == 101


def test_incomplete_transaction_at_the_end_is_reverted(start_swiftlet):
    s = start_swiftlet(*aof_args())
    s.client().set("before", "1")
    s.stop()
    path = os.path.join(aof_dir(s), "appendonly.aof.1.incr.aof")
    with open(path, "ab") as f:
        f.write(encode("MULTI") + encode("SET", "inside", "1"))
    again = start_swiftlet(*aof_args(), workdir=s.workdir)
    assert again.client().get("before") == b"1" and again.client().get("inside") is None
    assert "Revert incomplete MULTI/EXEC transaction" in again.read_log()


@pytest.mark.parametrize("damage", ["garbage", "unknown-command", "missing-file", "bad-manifest"])
def test_corrupt_aof_is_refused(start_swiftlet, damage):
    s = start_swiftlet(*aof_args())
    for i in range(20):
        s.client().set(f"k{i}", i)
    s.stop()
    d = aof_dir(s)
    incr = os.path.join(d, "appendonly.aof.1.incr.aof")
    if damage == "garbage":
        data = open(incr, "rb").read()
        open(incr, "wb").write(data[:40] + b"!!garbage!!" + data[40:])
        message = b"Bad file format reading the append only file"
    elif damage == "unknown-command":
        open(incr, "ab").write(encode("NOSUCHCOMMAND", "x"))
        message = b"Unknown command 'NOSUCHCOMMAND' reading the append only file"
    elif damage == "missing-file":
        os.unlink(incr)
        message = b"Unable to obtain the AOF file appendonly.aof.1.incr.aof length. stat: No such file or directory"
    else:
        open(os.path.join(d, "appendonly.aof.manifest"), "w").write("file x seq\n")
        message = b"Invalid AOF manifest file format"
    result = subprocess.run(
        [SWIFTLET, "--port", str(free_port()), "--bind", "127.0.0.1", "--dir", s.workdir] + aof_args(), cwd=s.workdir, capture_output=True, timeout=30)
    assert result.returncode == 1, result.stdout
    # As Redis: the reason is the last line logged before the exit.
    assert message in result.stdout.strip().split(b"\n")[-1], result.stdout


def test_bit_flipped_rdb_is_refused(start_swiftlet):
    s = start_swiftlet(*DEBUG)
    build(s.client())
    s.client().save()
    s.stop()
    path = os.path.join(s.workdir, "dump.rdb")
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2] ^= 0x40
    open(path, "wb").write(bytes(data))
    result = subprocess.run(
        [SWIFTLET, "--port", str(free_port()), "--bind", "127.0.0.1", "--dir", s.workdir], cwd=s.workdir, capture_output=True, timeout=30)
    assert result.returncode == 1
    assert b"Fatal error loading the DB" in result.stdout


def test_no_acknowledged_write_is_lost_with_appendfsync_always(start_swiftlet):
    s = start_swiftlet(*aof_args())
    acked = [0] * 4
    stop = threading.Event()

    def client(n):
        conn = RawConnection(s.port)
        try:
            while not stop.is_set():
                conn.send(encode("INCR", f"counter:{n}"))
                reply = conn.reply()
                assert reply.startswith(b":")
                acked[n] = int(reply[1:-2])
        except (ConnectionError, OSError):
            pass

    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    os.kill(s.proc.pid, signal.SIGKILL)
    s.proc.wait()
    stop.set()
    for t in threads:
        t.join()
    assert all(a > 10 for a in acked)
    again = start_swiftlet(*aof_args(), workdir=s.workdir)
    r = again.client()
    for n in range(4):
        value = int(r.get(f"counter:{n}") or 0)
        # Every acknowledged INCR survived; at most the one in flight went further.
        assert acked[n] <= value <= acked[n] + 1


def test_check_aof_tool(start_swiftlet):
    s, path = torn_aof(start_swiftlet)
    m = os.path.join(aof_dir(s), "appendonly.aof.manifest")
    bad = subprocess.run([CHECK_AOF, m], capture_output=True, text=True)
    assert bad.returncode == 1
    assert "AOF analyzed: filename=appendonly.aof.1.incr.aof" in bad.stdout
    assert "AOF appendonly.aof.1.incr.aof is not valid. Use the --fix option to try fixing it." in bad.stdout
    fixed = subprocess.run([CHECK_AOF, "--fix", m], input="y\n", capture_output=True, text=True)
    assert fixed.returncode == 0, fixed.stdout
    assert "Successfully truncated AOF" in fixed.stdout
    ok = subprocess.run([CHECK_AOF, m], capture_output=True, text=True)
    assert ok.returncode == 0 and "All AOF files and manifest are valid" in ok.stdout
    # redis-check-aof agrees, when Debian ships it.
    if shutil.which("redis-check-aof"):
        theirs = subprocess.run(["redis-check-aof", m], capture_output=True, text=True)
        assert theirs.returncode == 0, theirs.stdout
    again = start_swiftlet(*aof_args("--aof-load-truncated", "no"), workdir=s.workdir)
    assert again.client().dbsize() == 100


def test_config_set_appendonly_at_runtime(start_swiftlet):
    s = start_swiftlet(*DEBUG)
    r = s.client()
    build(r)
    assert r.info("persistence")["aof_enabled"] == 0
    assert r.config_set("appendonly", "yes")
    wait_rewrite(r)
    info = r.info("persistence")
    assert info["aof_enabled"] == 1 and info["aof_last_bgrewrite_status"] == "ok"
    r.set("after", "on")
    expected = digest(r)
    assert "appendonly.aof.1.base.rdb" in manifest(s) and "appendonly.aof.1.incr.aof" in manifest(s)
    s.stop()
    again = start_swiftlet(*aof_args(), workdir=s.workdir)
    assert digest(again.client()) == expected
    assert again.client().config_set("appendonly", "no")
    assert again.client().info("persistence")["aof_enabled"] == 0
    again.client().set("not:logged", 1)


def test_info_persistence_aof_fields(start_swiftlet):
    s = start_swiftlet(*aof_args("--appendfsync", "everysec"))
    r = s.client()
    r.set("a", "1")
    info = r.info("persistence")
    for field in ("aof_current_size", "aof_base_size", "aof_pending_rewrite", "aof_buffer_length",
                  "aof_pending_bio_fsync", "aof_delayed_fsync", "aof_last_write_status", "aof_rewrites"):
        assert field in info, field
    assert info["aof_current_size"] > info["aof_base_size"] > 0


def test_loading_state_while_a_large_rdb_loads(tmp_path):
    redis = Server(REDIS_SERVER, DEBUG, workdir=str(tmp_path))
    try:
        redis.client().execute_command("DEBUG", "POPULATE", 1500000, "key", 30)
        redis.client().save()
    finally:
        redis.stop()
    port = socket.socket()
    port.bind(("127.0.0.1", 0))
    number = port.getsockname()[1]
    port.close()
    log = open(tmp_path / "s.log", "wb")
    proc = subprocess.Popen(
        [SWIFTLET, "--port", str(number), "--bind", "127.0.0.1", "--save", "", "--dir", str(tmp_path)],
        cwd=str(tmp_path), stdout=log, stderr=subprocess.STDOUT)
    try:
        seen_loading = False
        seen_info = False
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                conn = RawConnection(number)
            except OSError:
                time.sleep(0.01)
                continue
            reply = conn.command("PING")
            if reply.startswith(b"-LOADING"):
                assert reply == b"-LOADING Redis is loading the dataset in memory\r\n"
                seen_loading = True
                info = conn.command("INFO", "persistence")
                if b"loading:1" in info and b"loading_loaded_perc:" in info and b"loading_eta_seconds:" in info:
                    seen_info = True
            elif reply == b"+PONG\r\n":
                assert conn.command("DBSIZE") == b":1500000\r\n"
                conn.close()
                break
            conn.close()
            time.sleep(0.02)
        assert seen_loading and seen_info
    finally:
        proc.kill()
        proc.wait()
        log.close()


def stream_entries_only(snap):
    return {k: (t, v[0] if t == b"stream" else v, ttl) for k, (t, v, ttl) in snap.items()}


def test_rdb_version_directive(start_swiftlet):
    s = start_swiftlet(*DEBUG, "--rdb-version", "9")
    build(s.client())
    expected = snapshot(s.client())
    s.client().save()
    assert open(os.path.join(s.workdir, "dump.rdb"), "rb").read(9) == b"REDIS0009"
    s.stop()
    redis = Server(REDIS_SERVER, DEBUG, workdir=s.workdir)
    try:
        # Version 9's stream type (15) has no counters (entries added, largest deleted ID,
        # groups' entries read): Redis estimates them on load, so streams compare by entries.
        assert stream_entries_only(snapshot(redis.client())) == stream_entries_only(expected)
    finally:
        redis.stop()
    # Hashes with field TTLs raise the version to 12, which keeps them.
    t = start_swiftlet(*DEBUG)
    r = t.client()
    r.hset("h", mapping={"a": "1", "b": "2", "c": "3"})
    r.execute_command("HEXPIRE", "h", 5000, "FIELDS", 2, "a", "b")
    r.hset("big", mapping={f"f{i}": "v" * 100 for i in range(200)})
    r.execute_command("HEXPIRE", "big", 5000, "FIELDS", 1, "f7")
    r.save()
    assert open(os.path.join(t.workdir, "dump.rdb"), "rb").read(9) == b"REDIS0012"
    t.stop()
    again = start_swiftlet(*DEBUG, workdir=t.workdir)
    r2 = again.client()
    assert r2.execute_command("HTTL", "h", "FIELDS", 3, "a", "b", "c")[2] == -1
    assert 4990 <= r2.execute_command("HTTL", "h", "FIELDS", 1, "a")[0] <= 5000
    assert 4990 <= r2.execute_command("HTTL", "big", "FIELDS", 1, "f7")[0] <= 5000
    assert r2.hlen("big") == 200


def manifest_lines(server):
    return manifest(server).strip().split("\n")


def test_history_kept_under_disabled_auto_gc_then_removed(start_swiftlet):
    """aof-disable-auto-gc yes keeps replaced files as history (newest first, each base
    before the incremental files it replaced, as Redis orders them); turning it off again
    deletes them at once. A rewrite with appendonly off leaves a base only; turning AOF
    on again starts incremental numbering at 1; DEBUG LOADAOF keeps the numbering going."""
    s = start_swiftlet(*aof_args())
    r = s.client()
    r.set("k", "v")
    r.config_set("aof-disable-auto-gc", "yes")
    for _ in range(2):
        r.bgrewriteaof()
        wait_rewrite(r)
    assert manifest_lines(s) == [
        "file appendonly.aof.3.base.rdb seq 3 type b",
        "file appendonly.aof.2.incr.aof seq 2 type h",
        "file appendonly.aof.2.base.rdb seq 2 type h",
        "file appendonly.aof.1.incr.aof seq 1 type h",
        "file appendonly.aof.1.base.rdb seq 1 type h",
        "file appendonly.aof.3.incr.aof seq 3 type i",
    ]
    for name in ["appendonly.aof.1.base.rdb", "appendonly.aof.2.incr.aof"]:
        assert os.path.exists(os.path.join(aof_dir(s), name))
    r.config_set("aof-disable-auto-gc", "no")
    assert manifest_lines(s) == ["file appendonly.aof.3.base.rdb seq 3 type b", "file appendonly.aof.3.incr.aof seq 3 type i"]
    assert sorted(os.listdir(aof_dir(s))) == [
        "appendonly.aof.3.base.rdb", "appendonly.aof.3.incr.aof", "appendonly.aof.manifest"]

    r.config_set("appendonly", "no")
    r.bgrewriteaof()
    wait_rewrite(r)
    assert manifest_lines(s) == ["file appendonly.aof.4.base.rdb seq 4 type b"]
    r.config_set("appendonly", "yes")
    wait_rewrite(r)
    assert manifest_lines(s) == ["file appendonly.aof.5.base.rdb seq 5 type b", "file appendonly.aof.1.incr.aof seq 1 type i"]
    before = digest(r)
    r.execute_command("DEBUG", "LOADAOF")
    assert digest(r) == before
    r.bgrewriteaof()
    wait_rewrite(r)
    assert manifest_lines(s) == ["file appendonly.aof.6.base.rdb seq 6 type b", "file appendonly.aof.2.incr.aof seq 2 type i"]


def test_flush_of_an_empty_database_is_logged(start_swiftlet):
    s = start_swiftlet(*aof_args())
    r = s.client()
    r.flushdb()
    r.flushdb()
    r.flushall()
    data = open(os.path.join(aof_dir(s), "appendonly.aof.1.incr.aof"), "rb").read().lower()
    assert data.count(b"flushdb") == 2 and data.count(b"flushall") == 1


def test_timestamp_annotations_and_truncate_to_timestamp(start_swiftlet):
    """aof-timestamp-enabled writes `#TS:<seconds>` before the first command of each second
    (and at the start of a command-form base); swiftlet-check-aof --truncate-to-timestamp
    cuts the last file there, and refuses a file that is not the last."""
    s = start_swiftlet(*aof_args("--aof-use-rdb-preamble", "no"))
    r = s.client()
    r.config_set("aof-timestamp-enabled", "yes")
    r.set("a", 1)
    incr = os.path.join(aof_dir(s), "appendonly.aof.1.incr.aof")
    assert open(incr, "rb").read().startswith(b"#TS:")
    r.bgrewriteaof()
    wait_rewrite(r)
    base = [l.split()[1] for l in manifest_lines(s) if l.endswith("type b")][0]
    assert open(os.path.join(aof_dir(s), base), "rb").read().startswith(b"#TS:")
    s.stop()

    # A hand-made AOF with four seconds in its last file.
    d = aof_dir(s)
    for name in os.listdir(d):
        os.unlink(os.path.join(d, name))
    open(os.path.join(d, "appendonly.aof.1.base.aof"), "wb").write(
        b"#TS:100\r\n" + encode("SET", "base", "1") + b"#TS:150\r\n" + encode("SET", "base2", "1"))
    open(os.path.join(d, "appendonly.aof.1.incr.aof"), "wb").write(
        b"#TS:200\r\n" + encode("SET", "a", "1") + b"#TS:300\r\n" + encode("SET", "b", "1") + b"#TS:400\r\n" + encode("SET", "c", "1"))
    m = os.path.join(d, "appendonly.aof.manifest")
    open(m, "w").write("file appendonly.aof.1.base.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n")
    cut = subprocess.run([CHECK_AOF, "--truncate-to-timestamp", "300", m], capture_output=True, text=True)
    assert cut.returncode == 0, cut.stdout
    assert "Start to check BASE AOF (RESP format)." in cut.stdout
    assert "Successfully truncated AOF appendonly.aof.1.incr.aof to timestamp 300" in cut.stdout
    back = start_swiftlet(*aof_args(), workdir=s.workdir)
    assert back.client().mget("base", "a", "b", "c") == [b"1", b"1", b"1", None]
    back.stop()
    refused = subprocess.run([CHECK_AOF, "--truncate-to-timestamp", "120", m], capture_output=True, text=True)
    assert refused.returncode == 1 and "Failed to truncate AOF" in refused.stdout and "not the last file" in refused.stdout


@pytest.mark.parametrize("text,message", [
    ("file appendonly.aof.1.incr.aof seq 1 type i\n\nfile appendonly.aof.2.incr.aof seq 2 type i\n",
     "Invalid AOF manifest file format"),
    ("file appendonly.aof.1.incr.aof seq 1 type x\n", "Unknown AOF file type"),
    ("file appendonly.aof.1.incr.aof seq 1 type i " + "x" * 1100 + "\n", "The AOF manifest file contains too long line"),
    ("file appendonly.aof.1.incr.aof seq 1 type i\nfile appendonly.aof.2.incr.aof seq 2 type i\n",
     "Unable to obtain the AOF file appendonly.aof.2.incr.aof length. stat: No such file or directory"),
])
def test_manifest_faults_stop_the_start_with_redis_messages(start_swiftlet, text, message):
    s = start_swiftlet(*aof_args())
    s.client().set("k", "v")
    s.stop()
    open(os.path.join(aof_dir(s), "appendonly.aof.manifest"), "w").write(text)
    result = subprocess.run(
        [SWIFTLET, "--port", str(free_port()), "--bind", "127.0.0.1", "--dir", s.workdir] + aof_args(),
        cwd=s.workdir, capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert message in result.stdout.strip().split("\n")[-1], result.stdout


def test_file_name_with_spaces_is_quoted_in_the_manifest(start_swiftlet):
    s = start_swiftlet(*aof_args("--appendfilename", "my file.aof"))
    r = s.client()
    r.set("k", "v")
    r.bgrewriteaof()
    wait_rewrite(r)
    text = open(os.path.join(aof_dir(s), "my file.aof.manifest")).read()
    assert 'file "my file.aof.2.base.rdb" seq 2 type b' in text
    s.stop()
    back = start_swiftlet(*aof_args("--appendfilename", "my file.aof"), workdir=s.workdir)
    assert back.client().get("k") == b"v"


def test_a_long_script_in_the_aof_lets_others_see_loading(start_swiftlet):
    """DEBUG LOADAOF of an AOF whose script runs past busy-reply-threshold (lua-time-limit,
    its alias): other clients get -LOADING meanwhile, the reloading client its OK at the end."""
    s = start_swiftlet(*aof_args("--lua-time-limit", "1", "--aof-use-rdb-preamble", "no"))
    r = s.client()
    assert r.config_get("busy-reply-threshold") == {"busy-reply-threshold": "1"}
    incr = os.path.join(aof_dir(s), "appendonly.aof.1.incr.aof")
    script = "redis.call('set',KEYS[1],'y'); for i=1,3000000 do redis.call('ping') end return 'ok'"
    open(incr, "wb").write(encode("SELECT", "9") + encode("EVAL", script, "1", "x"))
    reloader = RawConnection(s.port, timeout=60)
    reloader.send(encode("DEBUG", "LOADAOF"))
    seen = set()
    deadline = time.time() + 30
    while time.time() < deadline:
        reply = RawConnection(s.port).command("PING")
        seen.add(reply.split(b" ")[0])
        if reply == b"+PONG\r\n":
            break
        time.sleep(0.01)
    assert b"-LOADING" in seen
    assert reloader.reply() == b"+OK\r\n"
    r.select(9)
    assert r.get("x") == b"y"
    assert "Slow script detected" in s.read_log()
