"""Captures the first cluster-bus message a real redis-server sends when told to CLUSTER MEET
a listener, for Swiftlet's bus decoder tests (Tests/ClusterTests/BusFixtures.swift).

    capture_bus.py REDIS_SERVER PORT LISTEN_PORT OUT.hex [--peer] [--hostname NAME]

With --peer, a second node (PORT+1) joins first, so the MEET carries a gossip section about
it. Writes a comment line (the sender's id and port) and the message as hex."""
import argparse
import os
import shutil
import socket
import subprocess
import tempfile
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("server")
    ap.add_argument("port", type=int)
    ap.add_argument("listen", type=int)
    ap.add_argument("out")
    ap.add_argument("--peer", action="store_true")
    ap.add_argument("--hostname")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="capture-bus-")
    ports = [args.port] + ([args.port + 1] if args.peer else [])
    procs = []
    for port in ports:
        d = os.path.join(work, str(port))
        os.makedirs(d)
        extra = ["--cluster-announce-hostname", args.hostname] if args.hostname else []
        procs.append(subprocess.Popen([args.server, "--port", str(port), "--bind", "127.0.0.1",
                                       "--cluster-enabled", "yes", "--dir", d, "--save", ""] + extra,
                                      stdout=subprocess.DEVNULL))
    time.sleep(0.6)

    def cli(port, *a):
        return subprocess.run(["redis-cli", "-p", str(port), *a], capture_output=True, text=True).stdout.strip()

    try:
        if args.peer:
            cli(ports[0], "CLUSTER", "ADDSLOTSRANGE", "0", "8191")
            cli(ports[1], "CLUSTER", "ADDSLOTSRANGE", "8192", "16383")
            cli(ports[0], "CLUSTER", "MEET", "127.0.0.1", str(ports[1]))
            time.sleep(2.5)
        else:
            cli(ports[0], "CLUSTER", "ADDSLOTSRANGE", "0", "99")
            cli(ports[0], "CLUSTER", "ADDSLOTS", "5000")
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", args.listen))
        listener.listen(1)
        listener.settimeout(5)
        cli(ports[0], "CLUSTER", "MEET", "127.0.0.1", str(args.listen - 10000), str(args.listen))
        conn, _ = listener.accept()
        conn.settimeout(3)
        data = b""
        while len(data) < 8 or len(data) < int.from_bytes(data[4:8], "big"):
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
        ids = [cli(p, "CLUSTER", "MYID") for p in ports]
    finally:
        for p in procs:
            p.terminate()
            p.wait()
        shutil.rmtree(work, ignore_errors=True)
    length = int.from_bytes(data[4:8], "big")
    comment = f"# sender {ids[0]} port {ports[0]}" + (f" peer {ids[1]} port {ports[1]}" if args.peer else "")
    with open(args.out, "w") as f:
        f.write(comment + "\n" + data[:length].hex() + "\n")
    print(comment, length)


if __name__ == "__main__":
    main()
