#!/usr/bin/env python3
"""PUBLISH to 50 subscribers, and MULTI/EXEC of 5 commands, against two servers side by side.

    pubsub_multi.py PORT_A PORT_B [ROUNDS]

A is the reference (redis-server), B the candidate. Each round measures both servers back
to back (order alternating); the reported ratio B/A is the median of the per-round ratios.
  publish : 50 subscriber connections read everything; one publisher sends pipelined
            PUBLISH commands (64 per batch) and waits for each batch's replies; rate is
            messages published per second once all subscribers received them.
  multi   : one client sends pipelined transactions (MULTI, SET, INCR, LPUSH, HSET, GET,
            EXEC; 32 transactions per batch); rate is transactions per second.
"""
import socket
import statistics
import sys
import threading
import time


def connect(port):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def read_until(sock, needle_count, marker):
    """Reads until `marker` was seen `needle_count` times."""
    seen, carry = 0, b""
    keep = len(marker) - 1
    while seen < needle_count:
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("closed")
        data = carry + chunk
        seen += data.count(marker)
        carry = data[-keep:] if keep else b""
    return seen


def bench_publish(port, messages=40000, subscribers=50):
    subs = []
    for _ in range(subscribers):
        s = connect(port)
        s.sendall(encode("SUBSCRIBE", "bench"))
        read_until(s, 1, b"subscribe")
        subs.append(s)
    done = []

    def drain(s):
        read_until(s, messages, b"$7\r\nmessage\r\n")
        done.append(1)

    threads = [threading.Thread(target=drain, args=(s,)) for s in subs]
    for t in threads:
        t.start()
    pub = connect(port)
    batch = encode("PUBLISH", "bench", "x" * 32) * 64
    t0 = time.time()
    for _ in range(messages // 64):
        pub.sendall(batch)
        read_until(pub, 64, b":")
    for t in threads:
        t.join()
    rate = messages // 64 * 64 / (time.time() - t0)
    for s in subs + [pub]:
        s.close()
    return rate


def bench_multi(port, transactions=160000):
    c = connect(port)
    tx = b"".join([
        encode("MULTI"), encode("SET", "k", "v"), encode("INCR", "n"), encode("LPUSH", "l", "x"),
        encode("HSET", "h", "f", "v"), encode("GET", "k"), encode("EXEC"),
    ])
    c.sendall(encode("DEL", "l"))
    read_until(c, 1, b":")
    batch = tx * 32
    t0 = time.time()
    for _ in range(transactions // 32):
        c.sendall(batch)
        read_until(c, 32, b"*5\r\n")
    rate = transactions // 32 * 32 / (time.time() - t0)
    c.sendall(encode("DEL", "l"))
    c.close()
    return rate


def main():
    a, b = int(sys.argv[1]), int(sys.argv[2])
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    for name, fn in (("publish x50 subscribers", bench_publish), ("multi/exec of 5", bench_multi)):
        ra, rb, ratios = [], [], []
        for r in range(rounds):
            order = (a, b) if r % 2 == 0 else (b, a)
            res = {p: fn(p) for p in order}
            ra.append(res[a])
            rb.append(res[b])
            ratios.append(res[b] / res[a])
        print("%-24s A=%9.0f/s  B=%9.0f/s  B/A=%.2f" % (
            name, statistics.median(ra), statistics.median(rb), statistics.median(ratios)))


if __name__ == "__main__":
    main()
