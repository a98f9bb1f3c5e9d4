"""Helpers for integration tests: start Swiftlet (and a reference redis-server) on free
loopback ports, talk raw RESP to them, stop them by PID."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SWIFTLET = os.path.join(ROOT, ".build", "release", "swiftlet-server")
CHECK_RDB = os.path.join(ROOT, ".build", "release", "swiftlet-check-rdb")
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    if port == 6379:
        return free_port()
    return port


class Server:
    """A server process on a free port; `args` are redis-server-style flags."""

    def __init__(self, binary, args=(), config_file=None, workdir=None, port=None):
        self.port = port or free_port()
        self.workdir = workdir or tempfile.mkdtemp(prefix="swiftlet-test-")
        self.log_path = os.path.join(self.workdir, "server.log")
        cmd = [binary]
        if config_file:
            cmd.append(config_file)
        cmd += ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--dir", self.workdir]
        cmd += list(args)
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, cwd=self.workdir)
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited: " + self.read_log())
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    pass
            except OSError:
                time.sleep(0.05)
                continue
            self.wait_loaded(deadline)
            return
        raise RuntimeError("server did not start: " + self.read_log())

    def wait_loaded(self, deadline):
        """Waits until PING stops answering -LOADING (the dataset loads after the listener opens)."""
        while time.time() < deadline:
            conn = RawConnection(self.port)
            try:
                reply = conn.command("PING")
            finally:
                conn.close()
            if not reply.startswith(b"-LOADING"):
                return
            time.sleep(0.05)
        raise RuntimeError("server did not finish loading: " + self.read_log())

    def read_log(self):
        self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.log.close()

    def client(self, **kw):
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, **kw)

    def raw(self):
        return RawConnection(self.port)


class RawConnection:
    """A plain socket that sends bytes and reads whole RESP replies as raw bytes."""

    def __init__(self, port, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def close(self):
        self.sock.close()

    def send(self, data):
        self.sock.sendall(data)

    def command(self, *args):
        self.send(encode(*args))
        return self.reply()

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        i = self.buf.index(b"\r\n")
        line, self.buf = self.buf[: i + 2], self.buf[i + 2 :]
        return line

    def reply(self):
        """Returns one complete reply, as the raw bytes the server sent."""
        line = self._line()
        t = line[:1]
        if t in (b"$", b"=", b"!"):
            n = int(line[1:-2])
            if n < 0:
                return line
            while len(self.buf) < n + 2:
                self._fill()
            data, self.buf = self.buf[: n + 2], self.buf[n + 2 :]
            return line + data
        if t in (b"*", b"~", b">", b"%", b"|"):
            n = int(line[1:-2])
            if t in (b"%", b"|"):
                n *= 2
            out = line
            for _ in range(max(0, n)):
                out += self.reply()
            return out
        return line

    def closed_by_peer(self, timeout=3):
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False


def resident_bytes(server):
    """The server process's resident set size (VmRSS), in bytes."""
    with open(f"/proc/{server.proc.pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def encode(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        if isinstance(a, int):
            a = str(a)
        if isinstance(a, str):
            a = a.encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


@pytest.fixture
def swiftlet():
    s = Server(SWIFTLET, ["--enable-debug-command", "yes"])
    yield s
    s.stop()


@pytest.fixture
def start_swiftlet():
    started = []

    def start(*args, config_file=None, workdir=None):
        s = Server(SWIFTLET, args, config_file=config_file, workdir=workdir)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


@pytest.fixture(scope="session")
def reference_redis():
    s = Server(REDIS_SERVER, ["--enable-debug-command", "yes"])
    yield s
    s.stop()


@pytest.fixture(scope="session")
def shared_swiftlet():
    s = Server(SWIFTLET, ["--enable-debug-command", "yes"])
    yield s
    s.stop()
