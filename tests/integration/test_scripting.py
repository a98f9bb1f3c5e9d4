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
    for cmd in (
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
