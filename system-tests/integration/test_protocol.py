"""The wire protocol: pipelining, split frames, inline commands, protocol errors, and bad
input that must never take the server down."""
import os
import random
import socket
import time

from conftest import RawConnection, encode


def test_inline_and_multibulk_ping(swiftlet):
    c = swiftlet.raw()
    c.send(b"PING\r\n")
    assert c.reply() == b"+PONG\r\n"
    c.send(b"ping hello\r\n")
    assert c.reply() == b"$5\r\nhello\r\n"
    assert c.command("PING") == b"+PONG\r\n"
    c.send(b'ECHO "a\\x41\\n b"\r\n')
    assert c.reply() == b"$5\r\naA\n b\r\n"
    # Empty inline lines are skipped.
    c.send(b"\r\n\r\nPING\r\n")
    assert c.reply() == b"+PONG\r\n"


def test_pipeline_of_many_commands_answers_in_order(swiftlet):
    c = swiftlet.raw()
    batch = b"".join(encode("SET", "k%d" % i, "v%d" % i) for i in range(1000))
    batch += b"".join(encode("GET", "k%d" % i) for i in range(1000))
    c.send(batch)
    for _ in range(1000):
        assert c.reply() == b"+OK\r\n"
    for i in range(1000):
        v = b"v%d" % i
        assert c.reply() == b"$%d\r\n%s\r\n" % (len(v), v)


def test_one_byte_at_a_time(swiftlet):
    c = swiftlet.raw()
    data = encode("SET", "split", "x" * 100) + encode("GET", "split") + b"PING\r\n"
    for b in data:
        c.send(bytes([b]))
    assert c.reply() == b"+OK\r\n"
    assert c.reply() == b"$100\r\n" + b"x" * 100 + b"\r\n"
    assert c.reply() == b"+PONG\r\n"


def test_binary_safe_keys_and_values(swiftlet):
    c = swiftlet.raw()
    key = bytes(range(256))
    value = b"\x00\r\n\xff" * 100
    assert c.command("SET", key, value) == b"+OK\r\n"
    assert c.command("GET", key) == b"$%d\r\n%s\r\n" % (len(value), value)


PROTOCOL_ERRORS = [
    (b"*abc\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
    (b"*3000000000\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
    (b"*1\r\n$abc\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*1\r\n$-5\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*1\r\n$999999999999\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*1\r\nfoo\r\n", b"-ERR Protocol error: expected '$', got 'f'\r\n"),
    (b'SET "foo bar\r\n', b"-ERR Protocol error: unbalanced quotes in request\r\n"),
    (b"*1" + b"1" * 70000, b"-ERR Protocol error: too big mbulk count string\r\n"),
    (b"x" * 70000, b"-ERR Protocol error: too big inline request\r\n"),
]


def test_protocol_errors_match_redis_and_close(swiftlet, reference_redis):
    for payload, expected in PROTOCOL_ERRORS:
        for server in (reference_redis, swiftlet):
            c = server.raw()
            c.send(payload)
            assert c.reply() == expected, (server, payload[:40])
            assert c.closed_by_peer(), payload[:40]
            c.close()
    assert swiftlet.raw().command("PING") == b"+PONG\r\n"


def test_commands_before_a_protocol_error_still_run(swiftlet):
    c = swiftlet.raw()
    c.send(encode("SET", "before", "1") + b"*x\r\n")
    assert c.reply() == b"+OK\r\n"
    assert c.reply() == b"-ERR Protocol error: invalid multibulk length\r\n"
    assert swiftlet.raw().command("GET", "before") == b"$1\r\n1\r\n"


def test_random_bytes_never_crash_the_server(swiftlet):
    rng = random.Random(1234)
    for i in range(300):
        c = RawConnection(swiftlet.port, timeout=2)
        n = rng.randint(1, 2000)
        data = bytes(rng.getrandbits(8) for _ in range(n))
        if i % 3 == 0:
            data = b"*" + data
        elif i % 3 == 1:
            data = b"*2\r\n$" + data
        try:
            c.send(data)
            c.sock.settimeout(0.05)
            try:
                c.sock.recv(65536)
            except OSError:
                pass
        except OSError:
            pass
        c.close()
    assert swiftlet.alive()
    assert swiftlet.raw().command("PING") == b"+PONG\r\n"


def test_half_sent_commands_from_many_connections(swiftlet):
    conns = []
    for i in range(300):
        s = socket.create_connection(("127.0.0.1", swiftlet.port))
        # A huge declared bulk that never arrives, and a half command.
        s.sendall(b"*2\r\n$3\r\nSET\r\n$536870912\r\nabc" if i % 2 else b"*3\r\n$3\r\nSET\r\n$1\r\nk")
        conns.append(s)
    other = swiftlet.raw()
    t0 = time.time()
    assert other.command("PING") == b"+PONG\r\n"
    assert time.time() - t0 < 2
    other.close()
    for s in conns:
        s.close()
    time.sleep(0.3)
    assert swiftlet.alive()
    info = swiftlet.raw().command("INFO", "clients").decode()
    assert "connected_clients:1" in info


def test_unauthenticated_limits(start_swiftlet):
    s = start_swiftlet("--requirepass", "secret")
    c = s.raw()
    c.send(b"*20\r\n")
    assert c.reply() == b"-ERR Protocol error: unauthenticated multibulk length\r\n"
    assert c.closed_by_peer()
    c = s.raw()
    c.send(b"*2\r\n$3\r\nGET\r\n$20000\r\n")
    assert c.reply() == b"-ERR Protocol error: unauthenticated bulk length\r\n"
    # AUTH then a large value in the same pipeline works: limits lift after AUTH.
    c = s.raw()
    c.send(encode("AUTH", "secret") + encode("SET", "big", "x" * 20000) + encode("STRLEN", "big"))
    assert c.reply() == b"+OK\r\n"
    assert c.reply() == b"+OK\r\n"
    assert c.reply() == b":20000\r\n"


def test_quit_closes_after_reply(swiftlet):
    c = swiftlet.raw()
    c.send(encode("QUIT") + encode("PING"))
    assert c.reply() == b"+OK\r\n"
    assert c.closed_by_peer()


def test_resp3_types(swiftlet):
    c = swiftlet.raw()
    hello = c.command("HELLO", "3")
    assert hello.startswith(b"%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$5\r\n7.4.0\r\n")
    assert c.command("GET", "missing") == b"_\r\n"
    assert c.command("CONFIG", "GET", "maxmemory") == b"%1\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n"
    assert c.command("HELLO", "2").startswith(b"*14\r\n")
    assert c.command("GET", "missing") == b"$-1\r\n"
    assert c.command("HELLO", "4") == b"-NOPROTO unsupported protocol version\r\n"


def test_debug_protocol_and_error_like_redis(swiftlet, reference_redis):
    """DEBUG PROTOCOL's sample of every reply type (attribute and push before an ordinary
    reply, RESP3 only) and DEBUG ERROR's error line, as clients' own tests use them: byte
    for byte what redis-server sends, in RESP2 and RESP3."""
    types = "string integer double bignum null array set map attrib push verbatim true false nosuch".split()
    errors = [b"LOADING fake message", b"", b"a\r\nb", b"ERR x", b"READONLY You can't write against a read only replica."]
    seen = []
    for server in (reference_redis, swiftlet):
        c = server.raw()
        out = []
        for protocol in (2, 3):
            c.command("HELLO", protocol)
            out += [c.command("DEBUG", "PROTOCOL", t) for t in types]
            # attrib and push send two replies each: the stream is compared as a whole
            out += [c.reply() for t in types if t in ("attrib", "push") and protocol == 3]
            out += [c.command("DEBUG", "ERROR", e) for e in errors]
        c.close()
        seen.append(out)
    assert seen[0] == seen[1]
    assert b"-LOADING fake message\r\n" in seen[1]
