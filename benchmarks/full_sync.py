#!/usr/bin/env python3
"""A replica's full sync from a loaded primary, Swiftlet beside Redis (a benchmark, not a
test: the figures depend on the machine). For each primary (swiftlet-server, then
redis-server), with KEYS keys from DEBUG POPULATE:

- sync_s: from REPLICAOF on a redis-server replica until its link is up;
- a concurrent client's round trips (alternately SET of a random key and GET) during the
  sync: p99 and worst, next to the same client's p99 before the sync;
- the primary's memory growth during the sync: its resident size plus what its children
  (Redis's fork) hold privately (copy-on-write), highest seen minus before.

    full_sync.py [KEYS]          (default 1000000; prints a Markdown table)
"""
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
SWIFTLET = os.path.join(ROOT, ".build", "release", "swiftlet-server")
REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.buf = b""

    def command(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)
        return self.reply()

    def line(self):
        while b"\r\n" not in self.buf:
            self.buf += self.sock.recv(1 << 16)
        i = self.buf.index(b"\r\n")
        line, self.buf = self.buf[:i], self.buf[i + 2:]
        return line

    def reply(self):
        line = self.line()
        if line[:1] == b"$":
            n = int(line[1:])
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self.buf += self.sock.recv(1 << 16)
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data
        return line


def start(binary, port, workdir, *args):
    log = open(os.path.join(workdir, f"{port}.log"), "wb")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", workdir,
         "--enable-debug-command", "yes", *args], stdout=log, stderr=subprocess.STDOUT)
    for _ in range(300):
        try:
            if Conn(port).command("PING") == b"+PONG":
                return proc
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{binary} did not start")


def private_kb(pid):
    """Resident kB of a process, and the private kB of its children (a fork's copies)."""
    rss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    children = 0
    try:
        kids = open(f"/proc/{pid}/task/{pid}/children").read().split()
    except OSError:
        kids = []
    for kid in kids:
        try:
            with open(f"/proc/{kid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith(("Private_Clean:", "Private_Dirty:")):
                        children += int(line.split()[1])
        except OSError:
            pass
    return rss + children


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] if values else 0.0


def measure(name, binary, keys):
    workdir = tempfile.mkdtemp(prefix="full-sync-")
    pport, rport = free_port(), free_port()
    extra = ["--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0"]
    primary = start(binary, pport, workdir, *extra)
    replica = None
    try:
        Conn(pport).command("DEBUG", "POPULATE", keys)
        time.sleep(1)
        latencies = {"before": [], "during": []}
        phase = ["before"]
        stop = threading.Event()

        def client():
            c = Conn(pport)
            n = 0
            while not stop.is_set():
                key = "key:%d" % random.randrange(keys)
                t = time.perf_counter()
                if n % 2:
                    c.command("SET", key, "x" * 16)
                else:
                    c.command("GET", key)
                latencies[phase[0]].append((time.perf_counter() - t) * 1000)
                n += 1
                time.sleep(0.0005)

        worker = threading.Thread(target=client)
        worker.start()
        time.sleep(2)
        base_kb = private_kb(primary.pid)
        peak_kb = [base_kb]

        def sampler():
            while not stop.is_set():
                peak_kb[0] = max(peak_kb[0], private_kb(primary.pid))
                time.sleep(0.005)

        watcher = threading.Thread(target=sampler)
        watcher.start()
        replica = start(REDIS, rport, workdir)
        phase[0] = "during"
        started = time.perf_counter()
        Conn(rport).command("REPLICAOF", "127.0.0.1", pport)
        check = Conn(rport)
        while b"master_link_status:up" not in check.command("INFO", "replication"):
            time.sleep(0.005)
        sync_s = time.perf_counter() - started
        phase[0] = "after"
        latencies["after"] = []
        stop.set()
        worker.join()
        watcher.join()
        return {
            "name": name, "keys": keys, "sync_s": sync_s,
            "p99_before_ms": percentile(latencies["before"], 0.99),
            "p99_during_ms": percentile(latencies["during"], 0.99),
            "max_during_ms": max(latencies["during"] or [0]),
            "requests_during": len(latencies["during"]),
            "base_mb": base_kb / 1024, "growth_mb": (peak_kb[0] - base_kb) / 1024,
        }
    finally:
        for p in (replica, primary):
            if p is not None:
                p.kill()
                p.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def main():
    keys = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    rows = [measure("swiftlet", SWIFTLET, keys), measure("redis 7.0.15", REDIS, keys)]
    print("| primary | keys | full sync (s) | client p99 before (ms) | p99 during (ms) | worst during (ms) "
          "| requests during | primary memory (MB) | growth during sync (MB) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['name']} | {r['keys']} | {r['sync_s']:.2f} | {r['p99_before_ms']:.2f} | "
              f"{r['p99_during_ms']:.2f} | {r['max_during_ms']:.1f} | {r['requests_during']} | "
              f"{r['base_mb']:.0f} | {r['growth_mb']:.1f} |")


if __name__ == "__main__":
    main()
