"""Crashes and hangs that Redis's own test suite (system-tests/compat) found, each kept as a test of
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


def info_field(conn, section, name):
    text = conn.command("INFO", section).decode()
    for line in text.split("\r\n"):
        if line.startswith(name + ":"):
            return line.split(":", 1)[1]
    return None


def test_script_errors_are_counted_once(swiftlet, reference_redis):
    # A redis.call error passed on as the script's error is counted when the command
    # failed, not again for EVAL; redis.error_reply's error is counted as the script's
    # (compared with redis-server 7.0.15).
    scripts = [
        ("return redis.call('select', 99)", 0),
        ("return redis.pcall('select', 99)", 0),
        ("return redis.error_reply('MY_ERR_CODE custom msg')", 0),
        ("return redis.error_reply('')", 0),
        ("return redis.call('nosuchcommand')", 0),
    ]
    for body, nkeys in scripts:
        seen = []
        for server in (swiftlet, reference_redis):
            c = server.raw()
            c.command("CONFIG", "RESETSTAT")
            reply = c.command("EVAL", body, nkeys)
            stats = c.command("INFO", "errorstats").decode().split("\r\n")[1:]
            seen.append((reply.split(b" script:")[0], sorted(s for s in stats if s), info_field(c, "stats", "total_error_replies")))
        assert seen[0] == seen[1], body


def test_oom_refusal_inside_a_script_is_counted(swiftlet):
    c = swiftlet.raw()
    c.command("CONFIG", "RESETSTAT")
    c.command("CONFIG", "SET", "maxmemory", "1")
    reply = c.command("EVAL", "return redis.call('set','x','y')", 1, "x")
    c.command("CONFIG", "SET", "maxmemory", "0")
    assert reply.startswith(b"-OOM command not allowed")
    assert info_field(c, "errorstats", "errorstat_OOM") == "count=1"
    assert "calls=0," in info_field(c, "commandstats", "cmdstat_set")
    assert "rejected_calls=1,failed_calls=0" in info_field(c, "commandstats", "cmdstat_set")
    assert "failed_calls=1" in info_field(c, "commandstats", "cmdstat_eval")


def test_script_sandbox_tricks_are_refused_as_readonly(swiftlet, reference_redis):
    for body in ["setmetatable(_G, {})", "local g = getmetatable(_G) g.__index = {}", "rawset(_G, 'x', 1)"]:
        for server in (swiftlet, reference_redis):
            reply = server.raw().command("EVAL", body, 0)
            assert b"Attempt to modify a readonly table" in reply, (server, body, reply)


def test_acl_check_cmd_answers_for_the_scripts_user(swiftlet, reference_redis):
    for server in (swiftlet, reference_redis):
        c = server.raw()
        c.command("ACL", "SETUSER", "bob", "on", ">123", "+@scripting", "+set", "~x*")
        assert c.command("AUTH", "bob", "123") == b"+OK\r\n"
        assert c.command("EVAL", "return redis.acl_check_cmd('set','xx',1)", 1, "xx") == b":1\r\n"
        assert c.command("EVAL", "return redis.acl_check_cmd('hset','xx','f',1)", 1, "xx") == b"$-1\r\n"
        assert c.command("EVAL", "return redis.acl_check_cmd('set','yy',1)", 0) == b"$-1\r\n"
        reply = c.command("EVAL", "return redis.acl_check_cmd('invalid-cmd','arg')", 0)
        assert reply.startswith(b"-ERR") and b"Invalid command passed to redis.acl_check_cmd()" in reply
        c.command("AUTH", "default", "")
        server.raw().command("ACL", "DELUSER", "bob")


def test_sort_by_constant_in_a_script_is_ordered(swiftlet, reference_redis):
    members = "a b c d e f g h i l m n o p q r s t u v z aa aaa azz".split()
    replies = []
    for server in (swiftlet, reference_redis):
        c = server.raw()
        c.command("SADD", "sort-by-constant", *members)
        replies.append(c.command("EVAL", "return redis.call('sort',KEYS[1],'by','_')", 1, "sort-by-constant"))
        c.command("DEL", "sort-by-constant")
    assert replies[0] == replies[1]


def test_shebang_with_empty_flags_and_quoted_library_name(swiftlet, reference_redis):
    for server in (swiftlet, reference_redis):
        c = server.raw()
        assert c.command("EVAL", "#!lua flags=\nreturn 1", 0) == b":1\r\n"
        lib = "#!lua name=\"foo\"\nredis.register_function('foo', function() return 1 end)"
        assert c.command("FUNCTION", "LOAD", "REPLACE", lib) == b"$3\r\nfoo\r\n"
        c.command("FUNCTION", "DELETE", "foo")


def test_min_replicas_refuses_writes_inside_scripts(swiftlet, reference_redis):
    for server in (swiftlet, reference_redis):
        c = server.raw()
        c.command("SET", "x", "v")
        c.command("CONFIG", "SET", "min-replicas-to-write", "1")
        assert c.command("EVAL", "#!lua flags=no-writes\nreturn redis.call('get','x')", 1, "x") == b"$1\r\nv\r\n"
        assert c.command("EVAL", "return redis.call('get','x')", 1, "x") == b"$1\r\nv\r\n"
        assert c.command("EVAL", "#!lua\nreturn redis.call('get','x')", 1, "x").startswith(b"-NOREPLICAS")
        assert c.command("EVAL", "return redis.call('set','x', 1)", 1, "x").startswith(b"-NOREPLICAS")
        c.command("CONFIG", "SET", "min-replicas-to-write", "0")
        c.command("DEL", "x")


def test_setbit_and_bitfield_leave_dirty_alone_when_nothing_changes(swiftlet):
    c = swiftlet.raw()

    def dirty():
        return int(info_field(c, "persistence", "rdb_changes_since_last_save"))

    start = dirty()
    c.command("SETBIT", "foo", 0, 0)
    c.command("BITFIELD", "foo2", "SET", "i5", 0, 0)
    assert dirty() == start + 2
    c.command("SETBIT", "foo", 0, 0)
    c.command("BITFIELD", "foo2", "SET", "i5", 0, 0)
    assert dirty() == start + 2
    c.command("SETBIT", "foo", 0, 1)
    c.command("BITFIELD", "foo2", "INCRBY", "i5", 0, 1)
    assert dirty() == start + 4


def test_debug_reload_options(swiftlet):
    c = swiftlet.raw()
    lib = "#!lua name=test\nredis.register_function('test', function() return 1 end)"
    c.command("FUNCTION", "LOAD", lib)
    c.command("SET", "x", "1")
    assert c.command("DEBUG", "RELOAD") == b"+OK\r\n"
    assert c.command("DEBUG", "RELOAD", "NOFLUSH") == b"-ERR Error trying to load the RDB dump, check server logs.\r\n"
    assert c.command("DEBUG", "RELOAD", "NOSAVE", "NOFLUSH", "MERGE") == b"+OK\r\n"
    assert c.command("DEBUG", "RELOAD", "BOGUS").startswith(b"-ERR DEBUG RELOAD only supports")
    assert c.command("FCALL", "test", 0) == b":1\r\n"
    assert c.command("GET", "x") == b"$1\r\n1\r\n"


def test_tracking_table_is_emptied_by_flushall_and_limited_before_commands(swiftlet):
    c, other = swiftlet.raw(), swiftlet.raw()
    c.command("CLIENT", "TRACKING", "ON")
    c.command("GET", "k1")
    c.command("GET", "k2")
    c.command("CLIENT", "TRACKING", "OFF")
    other.command("FLUSHALL")
    assert info_field(other, "stats", "tracking_total_keys") == "0"
    c.command("HELLO", "3")
    c.command("CLIENT", "TRACKING", "ON", "BCAST")
    assert c.command("CLIENT", "TRACKINGINFO").endswith(b"$8\r\nprefixes\r\n*1\r\n$0\r\n\r\n")


def test_config_set_port_rebinds_and_rolls_back(swiftlet, reference_redis):
    c = swiftlet.raw()
    taken = reference_redis.port
    reply = c.command("CONFIG", "SET", "maxmemory", "10000001", "port", str(taken))
    assert reply == b"-ERR CONFIG SET failed (possibly related to argument 'port') - Unable to listen on this port. Check server logs.\r\n"
    assert c.command("CONFIG", "GET", "maxmemory") == b"*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    assert c.command("CONFIG", "SET", "port", str(free)) == b"+OK\r\n"
    assert RawConnection(free).command("PING") == b"+PONG\r\n"
    swiftlet.port = free


def test_idle_client_reply_buffer_shrinks(swiftlet):
    c, idle = swiftlet.raw(), swiftlet.raw()
    c.command("DEBUG", "REPLYBUFFER", "PEAK-RESET-TIME", "100")
    idle.command("CLIENT", "SETNAME", "idle")
    deadline = time.time() + 3
    while time.time() < deadline:
        line = [l for l in c.command("CLIENT", "LIST").decode().split("\n") if "name=idle" in l][0]
        rbs = int(line.split("rbs=")[1].split()[0])
        if rbs < 2048:
            break
        time.sleep(0.1)
    assert 1024 <= rbs < 2048


def test_swiftlet_directives_stay_out_of_config_get_patterns(swiftlet):
    c = swiftlet.raw()
    listed = c.command("CONFIG", "GET", "*")
    assert b"metrics-port" not in listed and b"rdb-version" not in listed
    assert c.command("CONFIG", "GET", "rdb-version") == b"*2\r\n$11\r\nrdb-version\r\n$2\r\n10\r\n"


def test_latency_tracking_percentiles_config(swiftlet, reference_redis):
    for server in (swiftlet, reference_redis):
        c = server.raw()
        assert c.command("CONFIG", "SET", "latency-tracking-info-percentiles", "0.0 50.0 100.0") == b"+OK\r\n"
        assert c.command("CONFIG", "GET", "latency-tracking-info-percentiles").endswith(b"$8\r\n0 50 100\r\n")
        for bad in ("10.0 50.0 a", "10.0 50.0 101.0"):
            assert c.command("CONFIG", "SET", "latency-tracking-info-percentiles", bad).startswith(b"-ERR CONFIG SET failed")
        c.command("CONFIG", "RESETSTAT")
        c.command("SET", "a", "b")
        assert info_field(c, "latencystats", "latency_percentiles_usec_set").startswith("p0=")
        c.command("CONFIG", "SET", "latency-tracking-info-percentiles", "50 99 99.9")


def test_client_unblock_error_is_counted(swiftlet):
    c, blocked = swiftlet.raw(), swiftlet.raw()
    c.command("CONFIG", "RESETSTAT")
    blocked_id = int(blocked.command("CLIENT", "ID")[1:-2])
    blocked.send(encode("BLPOP", "list1", "0"))
    time.sleep(0.2)
    assert c.command("CLIENT", "UNBLOCK", str(blocked_id), "ERROR") == b":1\r\n"
    assert blocked.reply().startswith(b"-UNBLOCKED")
    assert info_field(c, "errorstats", "errorstat_UNBLOCKED") == "count=1"
    assert info_field(c, "stats", "total_error_replies") == "1"
