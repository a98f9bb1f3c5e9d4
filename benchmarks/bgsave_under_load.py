#!/usr/bin/env python3
"""BGSAVE's cost to a GET load, side by side: for each server (host ports A and B, both
filled the same way beforehand, e.g. with DEBUG POPULATE 1000000), GET throughput from
redis-benchmark without and with back-to-back BGSAVEs, and the longest PING round trip
seen during the snapshots.

    bgsave_under_load.py PORT_A PORT_B [seconds]
"""
import socket
import subprocess
import sys
import threading
import time


def command(sock, *args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    sock.sendall(out)
    data = b""
    while not data.endswith(b"\r\n"):
        data += sock.recv(65536)
    if data.startswith(b"$"):
        n = int(data[1:data.index(b"\r\n")])
        while len(data) < data.index(b"\r\n") + 2 + n + 2:
            data += sock.recv(65536)
    return data


def info_field(sock, field):
    text = command(sock, "INFO", "persistence").decode()
    for line in text.split("\r\n"):
        if line.startswith(field + ":"):
            return line.split(":", 1)[1]
    return None


def gets_per_second(port, requests):
    out = subprocess.run(
        ["redis-benchmark", "-p", str(port), "-t", "get", "-n", str(requests), "-c", "50", "-r", "1000000", "-q"],
        capture_output=True, text=True).stdout
    line = [l for l in out.replace("\r", "\n").split("\n") if "requests per second" in l][-1]
    return float(line.split(":")[1].split()[0])


def measure(port, seconds):
    requests = 400000
    base = gets_per_second(port, requests)
    stop = threading.Event()
    saves = [0]
    worst = [0.0]

    def saver():
        s = socket.create_connection(("127.0.0.1", port))
        while not stop.is_set():
            if info_field(s, "rdb_bgsave_in_progress") == "0":
                command(s, "BGSAVE")
                saves[0] += 1
            time.sleep(0.005)

    def pinger():
        s = socket.create_connection(("127.0.0.1", port))
        while not stop.is_set():
            t = time.perf_counter()
            command(s, "PING")
            worst[0] = max(worst[0], time.perf_counter() - t)
            time.sleep(0.001)

    threads = [threading.Thread(target=saver), threading.Thread(target=pinger)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    during = gets_per_second(port, requests)
    stop.set()
    for t in threads:
        t.join()
    return base, during, saves[0], worst[0] * 1000


def main():
    a, b = int(sys.argv[1]), int(sys.argv[2])
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 5
    for name, port in (("A", a), ("B", b)):
        base, during, saves, worst = measure(port, seconds)
        print(f"{name} port={port} get_rps_idle={base:.0f} get_rps_bgsave={during:.0f} "
              f"kept={during / base:.2f} bgsaves={saves} worst_ping_ms={worst:.1f}")


if __name__ == "__main__":
    main()
