"""Crashes and hangs that Redis's own test suite (tests/compat) found, each kept as a test of
our own: the same commands, and the same answer from redis-server 7.0.15 where it helps."""
import socket
import time

import pytest
from conftest import RawConnection, encode


def crash_scripts():
    return [
        "return _G",
        "return {_G}",
        "return setmetatable({}, {__index = function() error('from index') end})",
        "return {setmetatable({}, {__index = function() return redis.call('ping') end})}",
        "local t = {} for i = 1, 200 do t = {t} end return t",
    ]


@pytest.mark.parametrize("script", crash_scripts())
def test_script_replies_that_raise_do_not_stop_the_server(swiftlet, reference_redis, script):
    # Converting a script's value to a reply reads tables raw, as Redis does, and runs
    # protected: `return _G` took the server down with Lua's PANIC.
    ours, theirs = swiftlet.raw(), reference_redis.raw()
    assert ours.command("EVAL", script, 0) == theirs.command("EVAL", script, 0)
    assert ours.command("PING") == b"+PONG\r\n"
    assert swiftlet.alive()


def test_function_returning_globals_does_not_stop_the_server(swiftlet, reference_redis):
    lib = "#!lua name=g\nredis.register_function('g', function() return _G end)"
    for server in (swiftlet, reference_redis):
        c = server.raw()
        assert c.command("FUNCTION", "LOAD", "REPLACE", lib) == b"$1\r\ng\r\n"
    assert swiftlet.raw().command("FCALL", "g", 0) == reference_redis.raw().command("FCALL", "g", 0)
    assert swiftlet.alive()


def test_error_table_with_raising_metatable(swiftlet):
    # The error object's fields are read raw outside any protection.
    c = swiftlet.raw()
    reply = c.command("EVAL", "error(setmetatable({}, {__index = function() error('x') end}))", 0)
    assert reply.startswith(b"-")
    assert c.command("PING") == b"+PONG\r\n"


def read_with_timeout(conn, seconds=3):
    conn.sock.settimeout(seconds)
    try:
        return conn.reply()
    except socket.timeout:
        return None


def test_pubsub_confirmations_and_messages_under_client_reply_off(swiftlet):
    # Subscribe confirmations and messages are pushes: CLIENT REPLY OFF does not hold them
    # back (the client waited forever).
    sub, pub = swiftlet.raw(), swiftlet.raw()
    sub.send(encode("CLIENT", "REPLY", "OFF"))
    sub.send(encode("SUBSCRIBE", "channel"))
    assert read_with_timeout(sub) == b"*3\r\n$9\r\nsubscribe\r\n$7\r\nchannel\r\n:1\r\n"
    sub.send(encode("PSUBSCRIBE", "ch*"))
    assert read_with_timeout(sub) == b"*3\r\n$10\r\npsubscribe\r\n$3\r\nch*\r\n:2\r\n"
    assert pub.command("PUBLISH", "channel", "hello") == b":2\r\n"
    assert read_with_timeout(sub) == b"*3\r\n$7\r\nmessage\r\n$7\r\nchannel\r\n$5\r\nhello\r\n"
    assert read_with_timeout(sub).startswith(b"*4\r\n$8\r\npmessage\r\n")
    sub.send(encode("UNSUBSCRIBE", "channel"))
    assert read_with_timeout(sub) == b"*3\r\n$11\r\nunsubscribe\r\n$7\r\nchannel\r\n:1\r\n"


@pytest.mark.parametrize(
    "replace",
    [
        [("SET", "mystream", "val1")],
        [("DEL", "mystream")],
        [("MULTI",), ("DEL", "mystream"), ("SADD", "mystream", "e1"), ("EXEC",)],
        [("FLUSHALL",)],
    ],
)
def test_blocked_xreadgroup_ends_when_its_stream_goes(swiftlet, replace):
    c, blocked = swiftlet.raw(), swiftlet.raw()
    c.command("DEL", "mystream")
    c.command("XADD", "mystream", "666", "f", "v")
    c.command("XGROUP", "CREATE", "mystream", "mygroup", "$")
    blocked.send(encode("XREADGROUP", "GROUP", "mygroup", "Alice", "BLOCK", "0", "STREAMS", "mystream", ">"))
    time.sleep(0.1)
    for cmd in replace:
        c.command(*cmd)
    assert read_with_timeout(blocked) == b"-UNBLOCKED the stream key no longer exists\r\n"


def test_list_waiter_not_woken_by_a_key_of_another_type(swiftlet):
    # LPUSH + DEL + SET in one transaction leaves a string: the BLPOP client keeps waiting,
    # and is served when the key is a list again.
    c, blocked = swiftlet.raw(), swiftlet.raw()
    c.command("DEL", "k")
    blocked.send(encode("BLPOP", "k", "0"))
    time.sleep(0.1)
    for cmd in [("MULTI",), ("LPUSH", "k", "a"), ("DEL", "k"), ("SET", "k", "s"), ("EXEC",)]:
        c.command(*cmd)
    assert read_with_timeout(blocked, 0.5) is None
    c.command("DEL", "k")
    c.command("RPUSH", "k", "x")
    assert read_with_timeout(blocked) == b"*2\r\n$1\r\nk\r\n$1\r\nx\r\n"


def test_swapdb_serves_blocked_clients(swiftlet):
    c, blocked = swiftlet.raw(), swiftlet.raw()
    c.command("SELECT", "4")
    c.command("FLUSHDB")
    c.command("RPUSH", "k", "v")
    blocked.command("SELECT", "9")
    blocked.command("DEL", "k")
    blocked.send(encode("BLPOP", "k", "0"))
    time.sleep(0.1)
    assert c.command("SWAPDB", "4", "9") == b"+OK\r\n"
    assert read_with_timeout(blocked) == b"*2\r\n$1\r\nk\r\n$1\r\nv\r\n"


def test_function_load_that_never_ends_is_stopped(swiftlet):
    # The library's code looped forever and the server with it; Redis stops it after 500 ms.
    c = swiftlet.raw()
    c.sock.settimeout(10)
    reply = c.command("FUNCTION", "LOAD", "#!lua name=lib\nlocal a = 1 while 1 do a = a + 1 end")
    assert reply.startswith(b"-ERR") and b"FUNCTION LOAD timeout" in reply
    assert c.command("PING") == b"+PONG\r\n"


def test_library_load_sees_only_its_api(swiftlet, reference_redis):
    for code in ["return math.random()", "return redis.call('ping')", "return redis.setresp(3)", "a = 1"]:
        lib = "#!lua name=lib2\n" + code
        ours = swiftlet.raw().command("FUNCTION", "LOAD", "REPLACE", lib)
        theirs = reference_redis.raw().command("FUNCTION", "LOAD", "REPLACE", lib)
        assert ours.split(b":")[0] == theirs.split(b":")[0]
        for text in (b"nonexistent global variable", b"readonly table"):
            assert (text in ours) == (text in theirs)


def test_lower_maxmemory_evicts_at_once(swiftlet):
    c, sub = swiftlet.raw(), swiftlet.raw()
    c.command("CONFIG", "SET", "notify-keyspace-events", "Ee")
    c.command("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
    sub.command("PSUBSCRIBE", "*")
    c.command("SET", "foo", "bar")
    c.command("CONFIG", "SET", "maxmemory", "1")
    assert read_with_timeout(sub) == b"*4\r\n$8\r\npmessage\r\n$1\r\n*\r\n$22\r\n__keyevent@0__:evicted\r\n$3\r\nfoo\r\n"
    c.command("CONFIG", "SET", "maxmemory", "0")


def test_client_pause_inside_exec_does_not_hold_the_exec(swiftlet):
    c, other = swiftlet.raw(), swiftlet.raw()
    for cmd in [("MULTI",), ("SET", "FOO1", "BAR"), ("CLIENT", "PAUSE", "60000", "WRITE"), ("SET", "FOO2", "BAR")]:
        c.command(*cmd)
    c.send(encode("EXEC"))
    assert read_with_timeout(c) == b"*3\r\n+OK\r\n+OK\r\n+OK\r\n"
    other.send(encode("SET", "FOO3", "BAR"))
    assert read_with_timeout(other, 0.5) is None
    assert c.command("CLIENT", "UNPAUSE") == b"+OK\r\n"
    assert read_with_timeout(other) == b"+OK\r\n"


def test_script_reads_track_declared_keys(swiftlet):
    c, writer = swiftlet.raw(), swiftlet.raw()
    c.command("HELLO", "3")
    c.command("CLIENT", "TRACKING", "ON")
    c.command("EVAL", "redis.call('get', 'key3')", "2", "key1", "key2")
    writer.command("MSET", "key2", "2", "key1", "2")
    assert read_with_timeout(c) == b">2\r\n$10\r\ninvalidate\r\n*1\r\n$4\r\nkey2\r\n"
    assert read_with_timeout(c) == b">2\r\n$10\r\ninvalidate\r\n*1\r\n$4\r\nkey1\r\n"


def test_bcast_invalidations_come_once_per_command(swiftlet):
    c, writer = swiftlet.raw(), swiftlet.raw()
    c.command("HELLO", "3")
    c.command("CLIENT", "TRACKING", "ON", "BCAST")
    writer.command("MSET", "a", "1", "b", "2")
    assert read_with_timeout(c) == b">2\r\n$10\r\ninvalidate\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n"


def test_aof_with_eval_replays_the_scripts_writes(start_swiftlet, tmp_path):
    # The script's own commands were refused with LOADING while the AOF loaded, so the keys
    # an EVAL in the AOF wrote were lost (Redis's suite: "EVAL can process writes from AOF").
    aof_dir = tmp_path / "appendonlydir"
    aof_dir.mkdir()
    (aof_dir / "appendonly.aof.manifest").write_text("file appendonly.aof.1.incr.aof seq 1 type i\n")
    commands = [("select", "9"), ("eval", 'redis.call("set",KEYS[1],"100")', "1", "foo")]
    commands += [("eval", 'redis.call("incr",KEYS[1])', "1", "foo")] * 2
    (aof_dir / "appendonly.aof.1.incr.aof").write_bytes(b"".join(encode(*c) for c in commands))
    server = start_swiftlet("--appendonly", "yes", workdir=str(tmp_path))
    c = server.raw()
    c.command("SELECT", "9")
    assert c.command("GET", "foo") == b"$3\r\n102\r\n"


def test_pfselftest_answers_as_redis(swiftlet, reference_redis):
    # Redis's suite calls it (hyperloglog unit); it checks our HyperLogLog code.
    assert swiftlet.client().execute_command("PFSELFTEST") == reference_redis.client().execute_command("PFSELFTEST")
    assert swiftlet.raw().command("PFSELFTEST", "extra") == reference_redis.raw().command("PFSELFTEST", "extra")
