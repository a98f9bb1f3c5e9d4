"""CLIENT TRACKING side by side with a real redis-server: the same reads and writes give the
same invalidation messages (RESP3 pushes, RESP2 redirection to `__redis__:invalidate`),
BCAST prefixes, OPTIN/OPTOUT with CLIENT CACHING, NOLOOP, flushes, and the same errors."""


def scenario(server):
    out = []
    a, b, r2 = server.raw(), server.raw(), server.raw()
    a.command("HELLO", "3")
    a.command("FLUSHALL")
    rec = lambda conn, *cmd: out.append((cmd, conn.command(*cmd)))  # noqa: E731
    rec(a, "CLIENT", "TRACKING", "ON")
    rec(a, "CLIENT", "TRACKINGINFO")
    rec(a, "CLIENT", "GETREDIR")
    rec(a, "GET", "k1")
    rec(a, "MGET", "k2", "k3")
    rec(b, "SET", "k1", "v")
    out.append(("push", a.reply()))
    rec(b, "SET", "k1", "again")  # no longer tracked: nothing
    rec(b, "MSET", "k2", "x", "k3", "y")
    out.append(("push", a.reply()))
    out.append(("push", a.reply()))
    rec(a, "GET", "k1")
    rec(a, "SET", "k1", "mine")  # a's own write invalidates its own read
    out.append(("push", a.reply()))
    rec(a, "CLIENT", "TRACKING", "ON", "BCAST")
    rec(a, "CLIENT", "TRACKING", "OFF")
    rec(a, "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "user:", "PREFIX", "session:", "NOLOOP")
    rec(a, "CLIENT", "TRACKINGINFO")
    rec(b, "SET", "user:1", "x")
    out.append(("push", a.reply()))
    rec(b, "SET", "other", "x")
    rec(a, "SET", "user:2", "self")  # NOLOOP
    rec(b, "DEL", "session:9")  # nothing deleted: no change
    rec(b, "SET", "session:9", "s")
    out.append(("push", a.reply()))
    rec(a, "CLIENT", "TRACKING", "OFF")
    rec(a, "CLIENT", "TRACKING", "ON", "OPTIN")
    rec(a, "GET", "o1")
    rec(a, "CLIENT", "CACHING", "YES")
    rec(a, "GET", "o2")
    rec(b, "SET", "o1", "1")
    rec(b, "SET", "o2", "2")
    out.append(("push", a.reply()))
    rec(a, "CLIENT", "CACHING", "NO")
    rec(a, "CLIENT", "TRACKING", "ON", "OPTOUT")
    rec(a, "CLIENT", "TRACKING", "OFF")
    # RESP2 redirection: r2 subscribes to __redis__:invalidate and receives for a.
    r2.send(b"*2\r\n$9\r\nSUBSCRIBE\r\n$20\r\n__redis__:invalidate\r\n")
    out.append(("sub", r2.reply()))
    r2id = int(b.command("CLIENT", "LIST").split(b"id=")[-1].split(b" ")[0])  # b's id; r2 is b's neighbour
    rec(a, "CLIENT", "TRACKING", "ON", "REDIRECT", "999999")
    rec(a, "CLIENT", "TRACKING", "ON", "PREFIX", "x")
    rec(a, "CLIENT", "TRACKING", "ON", "OPTIN", "OPTOUT")
    rec(a, "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "ab", "PREFIX", "abc")
    rec(a, "CLIENT", "TRACKING", "MAYBE")
    rec(a, "CLIENT", "CACHING", "YES")
    rec(a, "GET", "k9")
    rec(b, "FLUSHALL")
    rec(a, "PING")
    for c in (a, b, r2):
        c.close()
    return out


def test_tracking_equal_redis(shared_swiftlet, reference_redis):
    expected = scenario(reference_redis)
    actual = scenario(shared_swiftlet)
    mismatches = [(e[0], e[1], a[1]) for e, a in zip(expected, actual) if e != a]
    assert mismatches == [], "\n".join("%r\n  redis:    %r\n  swiftlet: %r" % m for m in mismatches[:10])


def test_redirect_to_resp2_subscriber(swiftlet):
    a, sub, b = swiftlet.raw(), swiftlet.raw(), swiftlet.raw()
    sub_id = int(sub.command("CLIENT", "ID")[1:-2])
    sub.send(b"*2\r\n$9\r\nSUBSCRIBE\r\n$20\r\n__redis__:invalidate\r\n")
    sub.reply()
    assert a.command("CLIENT", "TRACKING", "ON", "REDIRECT", str(sub_id)) == b"+OK\r\n"
    assert a.command("CLIENT", "GETREDIR") == b":%d\r\n" % sub_id
    a.command("GET", "rk")
    b.command("SET", "rk", "1")
    assert sub.reply() == b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$2\r\nrk\r\n"
    b.command("FLUSHDB")
    assert sub.reply() == b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n$-1\r\n"
