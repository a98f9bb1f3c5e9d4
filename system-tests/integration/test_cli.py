"""swiftlet-cli against redis-cli: the same command lines, byte for byte the same output on
stdout and stderr and the same exit code — raw (a pipe, the default here) and formatted
(--no-raw), RESP2 and RESP3, commands from arguments and from standard input."""
import os
import re
import shutil
import subprocess

import pytest

from conftest import ROOT, free_port

CLI = os.path.join(ROOT, ".build", "release", "swiftlet-cli")
REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"


def run(binary, args, stdin=None):
    p = subprocess.run([binary] + args, input=stdin, capture_output=True, timeout=20)
    return p.stdout, p.stderr, p.returncode


def same(args, stdin=None):
    ours = run(CLI, args, stdin)
    theirs = run(REDIS_CLI, args, stdin)
    assert ours == theirs, (args, ours, theirs)
    return ours


@pytest.fixture(scope="module")
def server(shared_swiftlet):
    r = shared_swiftlet.client()
    r.flushall()
    r.rpush("cli:list", "a", "b c", 'q"x', "")
    r.hset("cli:hash", mapping={"f1": "v1", "f 2": "x y"})
    r.sadd("cli:set", "m1")
    r.sadd("cli:ints", 1, 2, 3)
    r.zadd("cli:z", {"a": 1.5, "b": 2})
    r.set("cli:bin", b"a\x01b\"c\n\t\\\xff")
    r.set("cli:num", 42)
    r.xadd("cli:stream", {"f": "v"}, id="1-1")
    yield shared_swiftlet
    r.flushall()


READ_ONLY = [
    ["GET", "cli:missing"],
    ["GET", "cli:bin"],
    ["GET", "cli:num"],
    ["STRLEN", "cli:bin"],
    ["LRANGE", "cli:list", "0", "-1"],
    ["LRANGE", "cli:nothing", "0", "-1"],
    ["HGETALL", "cli:hash"],
    ["HGETALL", "cli:nothing"],
    ["SMEMBERS", "cli:set"],
    ["SMEMBERS", "cli:ints"],
    ["ZRANGE", "cli:z", "0", "-1", "WITHSCORES"],
    ["ZSCORE", "cli:z", "a"],
    ["XRANGE", "cli:stream", "-", "+"],
    ["EXISTS", "cli:num", "cli:missing"],
    ["TYPE", "cli:hash"],
    ["PING"],
    ["ECHO", "hello world"],
    ["CONFIG", "GET", "maxmemory*"],
    ["NOSUCHCOMMAND", "x"],
    ["INCR", "cli:bin"],
    ["GET"],
    ["COMMAND", "INFO", "get"],
    ["OBJECT", "ENCODING", "cli:list"],
]


@pytest.mark.parametrize(
    "flags", [[], ["--no-raw"], ["-3"], ["-3", "--no-raw"], ["--raw"], ["--csv"], ["-3", "--csv"], ["--csv", "--raw"], ["--raw", "--csv"]]
)
def test_replies_print_as_redis_cli_prints_them(server, flags):
    for command in READ_ONLY:
        same(["-p", str(server.port)] + flags + command)


def test_commands_from_standard_input(server):
    script = (
        b"get cli:num\n"
        b"lrange cli:list 0 -1\n"
        b'echo "tab\\there" \'single q\'\n'
        b"hgetall cli:hash\n"
        b"nosuch\n"
        b'echo "unbalanced\n'
        b"\n"
        b"ping\n"
    )
    for flags in [[], ["--no-raw"], ["-3", "--no-raw"]]:
        same(["-p", str(server.port)] + flags, stdin=script)


def test_options(server):
    port = str(server.port)
    # -x: the last argument from standard input.
    run(REDIS_CLI, ["-p", port, "-x", "SET", "cli:x1"], stdin=b"from stdin\n")
    run(CLI, ["-p", port, "-x", "SET", "cli:x2"], stdin=b"from stdin\n")
    assert same(["-p", port, "GET", "cli:x1"]) == same(["-p", port, "GET", "cli:x2"])
    # -e: errors on standard error and exit code 1.
    out = same(["-p", port, "-e", "NOSUCH"])
    assert out[2] == 1 and out[1].startswith(b"ERR unknown command")
    same(["-p", port, "-e", "PING"])
    # -n, -u with a database, -r.
    same(["-p", port, "-n", "3", "SET", "cli:db3", "x"])
    same(["-p", port, "-n", "3", "GET", "cli:db3"])
    same(["-u", f"redis://127.0.0.1:{port}/3", "GET", "cli:db3"])
    run(REDIS_CLI, ["-p", port, "-r", "3", "INCR", "cli:r1"])
    assert run(CLI, ["-p", port, "-r", "3", "INCR", "cli:r2"])[0] == b"1\n2\n3\n"
    # A password on the command line: the warning, and AUTH's error when it is wrong.
    same(["-p", port, "-a", "wrong", "PING"])
    same(["-p", port, "--no-auth-warning", "-a", "wrong", "PING"])
    # Options after the command name belong to the command.
    assert run(CLI, ["-p", port, "INCRBY", "cli:neg1", "-5"]) == run(REDIS_CLI, ["-p", port, "INCRBY", "cli:neg2", "-5"])
    # Nothing listening.
    closed = str(free_port())
    same(["-p", closed, "PING"])


def test_password_and_resp3_hello(tmp_path):
    from conftest import SWIFTLET, Server

    s = Server(SWIFTLET, ["--requirepass", "pw"])
    try:
        port = str(s.port)
        same(["-p", port, "PING"])
        same(["-p", port, "--no-auth-warning", "-a", "pw", "PING"])
        same(["-p", port, "--no-auth-warning", "-a", "pw", "-3", "HGETALL", "nothing"])
        same(["-p", port, "--no-auth-warning", "--user", "default", "--pass", "pw", "PING"])
    finally:
        s.stop()


def test_scan_bigkeys_memkeys_and_pipe(shared_swiftlet):
    r = shared_swiftlet.client()
    port = str(shared_swiftlet.port)
    p = r.pipeline(transaction=False)
    for i in range(250):
        p.set(f"big:{i}", "v" * (i % 17))
    p.rpush("big:list", *range(30))
    p.hset("big:hash", mapping={f"f{i}": i for i in range(12)})
    p.sadd("big:set", "a", "b")
    p.zadd("big:zset", {"m": 1})
    p.xadd("big:stream", {"a": "b"})
    p.execute()
    same(["-p", port, "--scan", "--pattern", "big:1*"])
    for mode in ["--bigkeys", "--memkeys"]:
        ours, theirs = run(CLI, ["-p", port, mode]), run(REDIS_CLI, ["-p", port, mode])
        assert ours[1:] == theirs[1:]
        # Up to the summary the lines are identical; the summary's blocks list the types in
        # the order of redis-cli's hash table (seeded at random), so they compare as sets.
        head = lambda out: out.split(b"-------- summary -------")[0]
        assert head(ours[0]) == head(theirs[0])
        assert sorted(ours[0].splitlines()) == sorted(theirs[0].splitlines())
    # --pipe: the counts on stdout, the errors on stderr, exit code 1 when there were any.
    protocol = b"SET pipe:a 1\r\nGET pipe:a\r\n*2\r\n$4\r\nINCR\r\n$6\r\npipe:b\r\nNOSUCH\r\n"
    same(["-p", port, "--pipe"], stdin=protocol)
    same(["-p", port, "--pipe"], stdin=b"PING\r\n")
    for i in range(250):
        r.delete(f"big:{i}")


def first_lines(args, n):
    """The first n lines a never-ending mode prints, then the process is stopped."""
    proc = subprocess.Popen([CLI] + args, stdout=subprocess.PIPE)
    try:
        return [proc.stdout.readline() for _ in range(n)]
    finally:
        proc.kill()
        proc.wait()


def test_stat_and_latency_modes(shared_swiftlet):
    import re

    port = str(shared_swiftlet.port)
    # --latency through a pipe: one "min max avg samples" line after a second, exit 0.
    out, err, code = run(CLI, ["-p", port, "--latency"])
    assert code == 0 and err == b"" and re.fullmatch(rb"\d+ \d+ \d+\.\d\d \d+\n", out), out
    # With --csv the same figures, comma-separated (redis-cli's latencyModePrint).
    out, err, code = run(CLI, ["-p", port, "--latency", "--csv"])
    assert code == 0 and err == b"" and re.fullmatch(rb"\d+,\d+,\d+\.\d\d,\d+\n", out), out
    # --latency-history: a line per sample, and the range line when the interval ends.
    lines = first_lines(["-p", port, "--latency-history", "-i", "0.3"], 40)
    assert all(re.fullmatch(rb"(\d+ \d+ \d+\.\d\d \d+| -- \d+\.\d\d seconds range)\n", l) for l in lines), lines
    assert any(l.startswith(b" -- ") for l in lines)
    # --stat: redis-cli's header, then a line per interval.
    lines = first_lines(["-p", port, "--stat", "-i", "0.2"], 4)
    assert lines[0] == b"------- data ------ --------------------- load -------------------- - child -\n"
    assert lines[1] == b"keys       mem      clients blocked requests            connections          \n"
    assert re.fullmatch(rb"\d+ +\d+(\.\d\d)?[BKMG] +\d+ +\d+ +\d+ \(\+\d+\) +\d+ *\n", lines[2]), lines[2]


def test_help_like_redis_cli(shared_swiftlet):
    port = str(shared_swiftlet.port)
    script = b"help get\nhelp @hyperloglog\nhelp client kill\nhelp client\nhelp nosuch\nhelp @string\nhelp xadd\n"
    same(["-p", port], stdin=script)


def read_pty(fd, seconds, quiet=None):
    """What a pseudo-terminal prints within `seconds` — or, with `quiet`, until it has been
    silent that long after printing something."""
    import select
    import time

    out = b""
    deadline = time.time() + seconds
    while time.time() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.05)
        if ready:
            try:
                out += os.read(fd, 4096)
            except OSError:
                break
            if quiet is not None:
                deadline = time.time() + quiet
    return out


def test_prompt_edits_completes_and_remembers(shared_swiftlet, tmp_path):
    """The prompt on a pseudo-terminal: Tab completes a command name, the arrow keys walk
    the history, which is kept in REDISCLI_HISTFILE."""
    import pty

    history = tmp_path / "history"
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["REDISCLI_HISTFILE"] = str(history)
        os.execv(CLI, [CLI, "-p", str(shared_swiftlet.port)])
    output = b""

    def read_for(seconds):
        nonlocal output
        output += read_pty(fd, seconds)

    try:
        read_for(0.5)
        os.write(fd, b"ECHO hello\r")
        read_for(0.5)
        os.write(fd, b"PI\t\r")  # completes to PING
        read_for(0.5)
        os.write(fd, b"\x1b[A\x1b[A\r")  # two lines back: ECHO hello again
        read_for(0.5)
        os.write(fd, b"quit\r")
        read_for(0.5)
    finally:
        os.close(fd)
        os.waitpid(pid, 0)
    assert output.count(b'"hello"') == 2, output
    assert b"PONG" in output
    assert history.read_text().splitlines() == ["ECHO hello", "PING", "ECHO hello", "quit"]


HINT = re.compile(rb"\x1b\[(?:0;)?90(?:;49)?m(.*?)\x1b\[0m")


def hints_while_typing(binary, port, lines, columns):
    """Types each line a key at a time on a pseudo-terminal of the given width and returns
    the grey hint shown after every key (redis-cli draws it with linenoise's escape codes,
    we with plain ones: only the text is compared)."""
    import fcntl
    import pty
    import struct
    import termios

    pid, fd = pty.fork()
    if pid == 0:
        os.environ["REDISCLI_HISTFILE"] = "/dev/null"
        os.execv(binary, [binary, "-p", str(port)])
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))

    def settle(wait=2.0):
        return read_pty(fd, wait, quiet=0.05)

    seen = []
    try:
        start = b""
        for _ in range(20):
            start += settle()
            if b"> " in start:
                break
        for line in lines:
            for i in range(len(line)):
                os.write(fd, line[i].encode())
                shown = HINT.findall(settle())
                seen.append((line[: i + 1], shown[-1].decode() if shown else ""))
            os.write(fd, b"\x15")  # Ctrl-U: clear the line
            settle()
        os.write(fd, b"quit\r")
        settle()
    finally:
        os.close(fd)
        os.waitpid(pid, 0)
    return seen


@pytest.mark.parametrize("columns", [200, 40])
def test_hints_narrow_as_arguments_are_typed(shared_swiftlet, columns):
    """The grey hint after each key: the syntax still to type once arguments are there (up
    to the first optional one), a subcommand's own syntax, nothing for unknown commands,
    cut to the terminal's width — the same text redis-cli shows against the same server."""
    lines = ["SET k v EX 10 ", "get a b", "client kill 1.2.3.4:5 ", "CONFIG get x", "zadd z NX 1 m ", "nosuch x "]
    ours = hints_while_typing(CLI, shared_swiftlet.port, lines, columns)
    theirs = hints_while_typing(REDIS_CLI, shared_swiftlet.port, lines, columns)
    assert ours == theirs
    if columns == 200:
        assert ("SET k v ", "[NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|KEEPTTL]") in ours
        assert ("get a", " ") in ours


def test_rdb_snapshot_like_redis_cli(tmp_path):
    """--rdb against Swiftlet (REPLCONF rdb-only + SYNC): the same messages as redis-cli's,
    files redis-check-rdb accepts, with the dataset in them."""
    from conftest import SWIFTLET, Server

    s = Server(SWIFTLET, [])
    try:
        r = s.client()
        r.set("rdb:a", "1")
        r.hset("rdb:h", mapping={"f": "v"})
        r.rpush("rdb:l", "x", "y")
        port = str(s.port)
        ours = run(CLI, ["-p", port, "--rdb", str(tmp_path / "ours.rdb")])
        theirs = run(REDIS_CLI, ["-p", port, "--rdb", str(tmp_path / "theirs.rdb")])
        strip = lambda err: re.sub(rb"after \d+ bytes", b"after N bytes", err).replace(b"theirs.rdb", b"ours.rdb")
        assert (ours[0], strip(ours[1]), ours[2]) == (theirs[0], strip(theirs[1]), theirs[2])
        assert ours[2] == 0 and b"Transfer finished with success" in ours[1]
        for name in ["ours.rdb", "theirs.rdb"]:
            check = subprocess.run(["redis-check-rdb", str(tmp_path / name)], capture_output=True, timeout=30)
            assert b"RDB looks OK" in check.stdout, check.stdout
        # The snapshot clients were not taken for replicas.
        assert r.info("replication")["connected_slaves"] == 0
        assert r.ping()
    finally:
        s.stop()
