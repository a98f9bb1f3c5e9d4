"""Lua scripting (EVAL, EVALSHA, EVAL_RO, SCRIPT): scripts sent to Swiftlet and to a real
redis-server 7.0.15, replies compared byte for byte in RESP2 and RESP3 — conversions both
ways, the redis.* library, the sandbox's errors, errors of commands called from scripts.

Left out on purpose: math.random's values (Redis 7 no longer reseeds per script, so they
depend on what ran before), `os` (Redis 7.4 allows os.clock; 7.0 has no os table)."""
import pytest

SCRIPTS = [
    "return 1", "return 'x'", "return 3.99", "return -2.5", "return true", "return false", "return nil",
    "return {1, 2, 3.7, 'a', {ok='fine'}, {err='bad'}, true, false, nil, 5}", "return {1, {2, {3}}}",
    "local t = {} t[1]=1 t[3]=3 return t", "return {err='x'}", "return {err='MYCODE x'}", "return {ok='OK'}",
    "return 'a\\r\\nb'", "return redis.status_reply('a\\nb')", "return redis.error_reply('My Error')",
    "return redis.error_reply('-ERR x')", "return redis.status_reply('FINE')", "return redis.sha1hex('')",
    "return redis.sha1hex('abc')", "return redis.call('ping')", "return redis.call('set', KEYS[1], ARGV[1])",
    "return redis.call('get', KEYS[1])", "return type(redis.call('get', 'nokey'))",
    "return redis.call('incr', 'str')", "return redis.pcall('incr', 'str')", "return redis.call('nosuch')",
    "return redis.call('set', 'k')", "return redis.call()", "return redis.call({})", "return redis.call('multi')",
    "return redis.call('blpop', 'l', 0)", "return redis.call('hgetall', 'h')", "return redis.call('hgetall', 'nohash')",
    "return redis.call('exists', 'str', 'nokey')", "return redis.call('rpush', 'list', 1, 2.5, 'x')",
    "return redis.call('lrange', 'list', 0, -1)", "return redis.call('eval', 'return 1', 0)",
    "redis.setresp(3) return redis.call('hgetall', 'h')", "redis.setresp(3) return redis.call('smembers', 'oneset')",
    "redis.setresp(3) return redis.call('get', 'nokey')", "return redis.setresp(4)",
    "redis.call('select', 2) return redis.call('get', 'a')", "return redis.call('select', 3)",
    "x = 1", "return x", "function g() end", "string.len = 1", "redis = nil", "return loadfile", "return dofile",
    "return 1 +", "error('boom')", "error({err='CUSTOM bad'})", "return pcall(function() error({err='X y'}) end)",
    "local f = function() return 1 end return f()", "return KEYS[1] .. ARGV[1]", "return #KEYS + #ARGV",
    "return cjson.encode({a=1})", "return cjson.decode('[1,2,3]')", "return cjson.decode('{\"a\":[1,2]}').a[2]",
    "return bit.band(7, 3)", "return bit.tohex(65535)", "return string.format('%d %s', 3, 'x')",
    "return table.concat({'a', 'b'}, '-')", "return math.floor(2.7)", "return tostring(1/0)",
    "return redis.REDIS_VERSION ~= nil", "return redis.LOG_WARNING", "redis.log(redis.LOG_NOTICE, 'hello')",
    "return redis.log()", "return redis.set_repl(redis.REPL_ALL)", "return redis.replicate_commands()",
    "return redis.breakpoint()", "return tonumber('12')", "return unpack({1, 2})",
    "return struct.pack('>I2', 258)", "return {struct.unpack('<i4', struct.pack('<i4', -5))}",
    "return struct.size('>iIhHbB')", "return {struct.unpack('BBc3', 'xyabc')}", "return struct.pack('s', 'ab')",
    "return struct.pack('!4 b i', 1, 2)", "return {struct.unpack('bc0', struct.pack('b', 3) .. 'abc')}",
    "return struct.pack('z', 1)", "return struct.size('s')", "return {struct.unpack('>d', struct.pack('>d', 1.5))}",
    "return {struct.unpack('<I8', struct.pack('<I8', 2^40))}", "return {struct.unpack('i', 'ab')}",
]


# Scripts written the way libraries write theirs (rate-limiter-flexible's sliding window,
# redis-py's Lock, BullMQ's msgpack/json job payloads), with explicit keys and arguments.
LIBRARY_SCRIPTS = [
    ("""local key = KEYS[1]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', key, 0, now - window)
local count = redis.call('ZCARD', key)
if count < tonumber(ARGV[3]) then
  redis.call('ZADD', key, now, now .. '-' .. count)
  redis.call('PEXPIRE', key, window)
  return {1, count + 1}
end
return {0, count}""", ["rl:user"], ["1000", "500", "2"]),
    ("if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end return 0",
     ["lock:a"], ["token-1", "30000"]),
    ("if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end return 0",
     ["lock:a"], ["token-2", "30000"]),
    ("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
     ["lock:a"], ["token-2"]),
    ("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
     ["lock:a"], ["token-1"]),
    ("""local packed = cmsgpack.pack({name = 'job', data = {1, 2.5, 'x', true}, opts = {attempts = 3, delay = -7}})
local job = cmsgpack.unpack(packed)
local id = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1] .. id, 'name', job.name, 'data', cjson.encode(job.data), 'attempts', job.opts.attempts)
redis.call('RPUSH', KEYS[3], id)
return {packed, id, redis.call('HGETALL', KEYS[1] .. id), cjson.encode(job.opts)}""",
     ["bull:q:", "bull:q:id", "bull:q:wait"], []),
    ("return {cmsgpack.pack(1, -1, 127, 128, -33, 65536, 2^40, -2^40, 0.5, 1e300, 'a', string.rep('x', 40), {}, {{}})}",
     [], []),
    ("return {cmsgpack.unpack(cmsgpack.pack(1, 'two', {3, 4}, {k = 'v'}, false))}", [], []),
    ("return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 0)}", [], []),
    ("return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2, 1)}", [], []),
    ("return cmsgpack.unpack('\\217')", [], []),
    ("local t = cjson.decode(ARGV[1]) t.count = t.count + 1 return cjson.encode(t)", [], ['{"count":41}']),
    ("return redis.call('TYPE', KEYS[1])['ok']", ["bull:q:wait"], []),
]


def run_all(conn, resp3):
    conn.command("FLUSHALL")
    if resp3:
        conn.command("HELLO", "3")
    conn.command("SET", "str", "abc")
    conn.command("HSET", "h", "f", "v")
    conn.command("SADD", "oneset", "m")
    out = []
    for script in SCRIPTS:
        out.append((script, conn.command("EVAL", script, "1", "key1", "arg1")))
    for script, keys, args in LIBRARY_SCRIPTS:
        out.append((script, conn.command("EVAL", script, str(len(keys)), *keys, *args)))
    for cmd in (
        ["EVAL", "#!lua flags=no-writes\nreturn redis.call('set', 'a', 'b')", "0"],
        ["EVAL", "#!lua flags=no-writes\nreturn redis.call('get', 'str')", "0"],
        ["EVAL", "#!lua flags=bogus\nreturn 1", "0"], ["EVAL", "#!python\nreturn 1", "0"],
        ["EVAL", "#!lua name=x\nreturn 1", "0"], ["EVAL", "#!lua", "0"], ["EVAL", "#!lua\nreturn 1 +", "0"],
        ["SCRIPT", "LOAD", "return 1"], ["EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0"],
        ["EVALSHA", "E0E1F9FABFC9D4800C877A703B823AC0578FF8DB", "0"],
        ["EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "0"], ["EVALSHA", "abc", "0"],
        ["SCRIPT", "EXISTS", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "ffffffffffffffffffffffffffffffffffffffff"],
        ["SCRIPT", "LOAD", "return +"], ["EVAL", "return 1", "-1"], ["EVAL", "return 1", "2", "a"],
        ["EVAL", "return 1", "x"], ["EVAL_RO", "return redis.call('set','a','b')", "0"],
        ["EVAL_RO", "return redis.call('get','str')", "0"], ["SCRIPT", "FLUSH", "foo"], ["SCRIPT", "FLUSH", "ASYNC"],
        ["SCRIPT", "EXISTS", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db"], ["SCRIPT", "KILL"], ["SCRIPT", "FOO"],
        ["EVAL"], ["EVAL", "return 1"],
    ):
        out.append((cmd, conn.command(*cmd)))
    return out


@pytest.mark.parametrize("resp3", [False, True])
def test_scripts_reply_as_redis(shared_swiftlet, reference_redis, resp3):
    expected = run_all(reference_redis.raw(), resp3)
    actual = run_all(shared_swiftlet.raw(), resp3)
    mismatches = [(s, e, a) for (s, e), (_, a) in zip(expected, actual) if e != a]
    assert mismatches == [], "\n".join("%r\n  redis:    %r\n  swiftlet: %r" % m for m in mismatches[:20])


def test_script_writes_replay_from_the_aof(start_swiftlet):
    """Writes inside a script are logged as the commands it ran (in MULTI/EXEC), not as the
    script: a script using TIME and random picks replays to the same data."""
    import os

    s = start_swiftlet("--appendonly", "yes", "--appendfsync", "always", "--enable-debug-command", "yes")
    r = s.client()
    r.sadd("pool", *range(20))
    r.eval("local t = redis.call('time') redis.call('set', 'stamp', t[1] .. t[2]) "
           "redis.call('spop', 'pool', 3) return redis.call('incr', KEYS[1])", 1, "counter")
    before = r.execute_command("DEBUG", "DIGEST")
    s.stop()
    text = open(os.path.join(s.workdir, "appendonlydir", "appendonly.aof.1.incr.aof"), "rb").read()
    assert b"EVAL" not in text.upper().replace(b"EVALUATE", b"")
    assert b"MULTI" in text and b"SREM" in text
    again = start_swiftlet("--appendonly", "yes", "--enable-debug-command", "yes", workdir=s.workdir)
    assert again.client().execute_command("DEBUG", "DIGEST") == before


FUNCTION_COMMANDS = [
    ["FUNCTION", "LOAD", "return 1"], ["FUNCTION", "LOAD", "#!lua name=mylib\nreturn 1"],
    ["FUNCTION", "LOAD", "#!lua name=mylib\nredis.register_function('f1', function(keys, args) "
                         "return redis.call('set', keys[1], args[1]) end)"],
    ["FUNCTION", "LOAD", "#!lua name=mylib\nredis.register_function('f1', function() return 1 end)"],
    ["FUNCTION", "LOAD", "REPLACE", "#!lua name=mylib\nredis.register_function('f1', function(keys, args) "
                                    "return redis.call('set', keys[1], args[1]) end)"],
    ["FUNCTION", "LOAD", "#!lua name=lib2\nredis.register_function('f1', function() return 1 end)"],
    ["FUNCTION", "LOAD", "#!lua name=lib3 foo=bar\nreturn 1"], ["FUNCTION", "LOAD", "#!js name=lib3\nreturn 1"],
    ["FUNCTION", "LOAD", "#!lua\nreturn 1"], ["FUNCTION", "LOAD", "#!lua name=bad-name\nreturn 1"],
    ["FUNCTION", "LOAD", "#!lua name=lib4\nredis.register_function('bad-f', function() return 1 end)"],
    ["FUNCTION", "LOAD", "#!lua name=lib4\nredis.register_function()"],
    ["FUNCTION", "LOAD", "#!lua name=lib4\nredis.register_function('a')"],
    ["FUNCTION", "LOAD", "#!lua name=lib4\nredis.register_function(1, 2)"],
    ["FUNCTION", "LOAD", "#!lua name=lib4\nredis.register_function({function_name='g', callback=function(k, a) "
                         "return {k[1], a[1], #k} end, flags={'no-writes'}, description='desc'})"],
    ["FUNCTION", "LOAD", "#!lua name=lib5\nredis.register_function{function_name='h', callback=function() "
                         "return 2 end, flags={'bogus'}}"],
    ["FUNCTION", "LOAD", "#!lua name=lib5\nredis.call('ping')"], ["FUNCTION", "LOAD", "#!lua name=lib5\nreturn +"],
    ["FUNCTION", "LOAD", "#!lua name=lib5\nlocal x = 1 y = 2"],
    ["FUNCTION", "LOAD", "#!lua name=lib6\nredis.register_function('boom', function() error('bad') end) "
                         "redis.register_function('boom2', function() return redis.call('incr', 's') end)"],
    ["SET", "s", "x"], ["FCALL", "boom", "0"], ["FCALL", "boom2", "0"], ["FCALL", "f1", "1", "fk", "fv"],
    ["GET", "fk"], ["FCALL", "g", "2", "a", "b", "c"], ["FCALL", "nosuch", "0"], ["FCALL", "f1", "x"],
    ["FCALL", "f1", "-1"], ["FCALL", "f1", "5", "a"], ["FCALL_RO", "f1", "1", "a", "b"], ["FCALL_RO", "g", "0"],
    ["FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", "my*"], ["FUNCTION", "STATS"], ["FUNCTION", "DELETE", "nolib"],
    ["FUNCTION", "DELETE", "lib4"], ["FCALL", "g", "0"], ["FUNCTION", "KILL"], ["FUNCTION", "FLUSH", "bad"],
    ["SCRIPT", "FLUSH"], ["FCALL", "f1", "1", "k2", "v2"], ["FUNCTION", "FLUSH"], ["FUNCTION", "LIST"],
    ["FCALL", "f1", "1", "k", "v"],
]


@pytest.mark.parametrize("resp3", [False, True])
def test_functions_reply_as_redis(shared_swiftlet, reference_redis, resp3):
    def run(conn):
        conn.command("FUNCTION", "FLUSH")
        conn.command("FLUSHALL")
        if resp3:
            conn.command("HELLO", "3")
        return [(cmd, conn.command(*cmd)) for cmd in FUNCTION_COMMANDS]

    expected, actual = run(reference_redis.raw()), run(shared_swiftlet.raw())
    mismatches = [(c, e, a) for (c, e), (_, a) in zip(expected, actual) if e != a]
    assert mismatches == [], "\n".join("%r\n  redis:    %r\n  swiftlet: %r" % m for m in mismatches[:20])


LIBRARY = "#!lua name=counters\nredis.register_function('bump', function(keys, args) return redis.call('incrby', keys[1], args[1]) end)"


def test_function_libraries_cross_rdb_files_and_the_aof(tmp_path):
    """Libraries live in RDB files (FUNCTION2 opcodes) both ways with redis-server, in
    FUNCTION DUMP payloads Redis restores, and in the AOF (FUNCTION LOAD, then an
    RDB-preamble base after a rewrite)."""
    import os
    import shutil

    from conftest import REDIS_SERVER, SWIFTLET, Server

    sdir, rdir, adir = tmp_path / "s", tmp_path / "r", tmp_path / "a"
    for d in (sdir, rdir, adir):
        d.mkdir()
    s = Server(SWIFTLET, [], workdir=str(sdir))
    try:
        r = s.client()
        assert r.function_load(LIBRARY) == "counters" or r.function_load(LIBRARY, replace=True)
        assert r.fcall("bump", 1, "n", 5) == 5
        assert r.save()
        payload = r.function_dump()
    finally:
        s.stop()
    again = Server(SWIFTLET, [], workdir=str(sdir))
    try:
        assert again.client().fcall("bump", 1, "n", 1) == 6
    finally:
        again.stop()
    shutil.copy(os.path.join(sdir, "dump.rdb"), os.path.join(rdir, "dump.rdb"))
    redis = Server(REDIS_SERVER, [], workdir=str(rdir))
    try:
        rr = redis.client()
        assert rr.fcall("bump", 1, "n", 2) == 7
        # Our DUMP payload restores in Redis (LZF may compress differently: bytes can differ).
        assert rr.function_restore(payload, "REPLACE")
        rr.function_load(LIBRARY.replace("counters", "more").replace("'bump'", "'bump2'"))
        assert rr.save()
    finally:
        redis.stop()
    shutil.copy(os.path.join(rdir, "dump.rdb"), os.path.join(sdir, "dump.rdb"))
    back = Server(SWIFTLET, [], workdir=str(sdir))
    try:
        assert back.client().fcall("bump2", 1, "n", 3) == 10
        assert len(back.client().function_list()) == 2 and back.client().fcall("bump", 1, "n", 0) == 10
    finally:
        back.stop()
    aof = Server(SWIFTLET, ["--appendonly", "yes"], workdir=str(adir))
    try:
        c = aof.client()
        c.function_load(LIBRARY)
        c.fcall("bump", 1, "x", 2)
    finally:
        aof.stop()
    aof = Server(SWIFTLET, ["--appendonly", "yes"], workdir=str(adir))
    try:
        c = aof.client()
        assert c.fcall("bump", 1, "x", 2) == 4
        c.bgrewriteaof()
        import time

        for _ in range(200):
            if not c.info("persistence")["aof_rewrite_in_progress"]:
                break
            time.sleep(0.02)
    finally:
        aof.stop()
    aof = Server(SWIFTLET, ["--appendonly", "yes"], workdir=str(adir))
    try:
        assert aof.client().fcall("bump", 1, "x", 1) == 5
    finally:
        aof.stop()


def busy_scenario(server):
    """A script past busy-reply-threshold: others get BUSY, the wrong kill command is
    refused, the right one stops it and its caller gets Redis's error; a function
    likewise; a script that wrote is UNKILLABLE."""
    import threading
    import time

    from conftest import RawConnection

    c = RawConnection(server.port)
    c.command("CONFIG", "SET", "busy-reply-threshold", "200")
    c.command("FUNCTION", "LOAD", "REPLACE", "#!lua name=spin\nredis.register_function('spin', function() while true do end end)")
    out = []
    for script in (["EVAL", "local i = 0 while true do i = i + 1 end", "0"], ["FCALL", "spin", "0"]):
        caller = RawConnection(server.port)
        caller.send(__import__("conftest").encode(*script))
        time.sleep(0.5)
        out.append(c.command("GET", "x"))
        out.append(c.command("FUNCTION" if script[0] == "EVAL" else "SCRIPT", "KILL"))
        out.append(c.command("SCRIPT" if script[0] == "EVAL" else "FUNCTION", "KILL"))
        out.append(caller.reply())
        out.append(c.command("PING"))
    caller = RawConnection(server.port)
    caller.send(__import__("conftest").encode("EVAL", "redis.call('set', 'w', '1') local t = tonumber(redis.call('time')[1]) "
        "while tonumber(redis.call('time')[1]) < t + 2 do end return 1", "0"))
    time.sleep(0.5)
    out.append(c.command("SCRIPT", "KILL"))
    out.append(caller.reply())
    c.command("CONFIG", "SET", "busy-reply-threshold", "5000")
    c.command("FUNCTION", "DELETE", "spin")
    return out


def test_busy_scripts_and_kill_like_redis(shared_swiftlet, reference_redis):
    expected = busy_scenario(reference_redis)
    assert busy_scenario(shared_swiftlet) == expected
    assert expected[3].startswith(b"-ERR Script killed by user with SCRIPT KILL...")


def pcall_kill_scenario(server):
    """Scripts spinning inside pcall: the server still answers (BUSY), SCRIPT KILL stops
    them, and what pcall catches of the kill — and what escapes it — is Redis's."""
    import time

    from conftest import RawConnection, encode

    c = RawConnection(server.port)
    c.command("CONFIG", "SET", "busy-reply-threshold", "200")
    out = []
    for body in [
        "return pcall(function() while true do end end)",
        "local ok = pcall(function() while true do end end) return ok",
        "while true do pcall(function() for i = 1, 10 do end end) end",
        "local ok, e = pcall(function() while true do end end) return e",
        "return {pcall(function() local t = {} while true do t[1] = 1 end end)}",
    ]:
        caller = RawConnection(server.port)
        caller.send(encode("EVAL", body, "0"))
        time.sleep(0.5)
        out.append(c.command("PING"))
        out.append(c.command("SCRIPT", "KILL"))
        out.append(caller.reply())
        out.append(c.command("PING"))
    # A script's own yield inside pcall is still Lua 5.1's error.
    out.append(c.command("EVAL", "return {pcall(function() coroutine.yield(1) end)}", "0"))
    c.command("CONFIG", "SET", "busy-reply-threshold", "5000")
    return out


def test_scripts_spinning_inside_pcall_can_be_killed_like_redis(shared_swiftlet, reference_redis):
    expected = pcall_kill_scenario(reference_redis)
    assert pcall_kill_scenario(shared_swiftlet) == expected
    assert expected[0].startswith(b"-BUSY")
