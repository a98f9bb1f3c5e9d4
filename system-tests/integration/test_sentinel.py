"""Debian's redis-sentinel managing Swiftlet nodes, unchanged: three Sentinels watch a
primary and two replicas on loopback ports, find the replicas and each other (INFO, the
__sentinel__:hello channel), and when the primary is killed they promote a replica
(REPLICAOF NO ONE in a MULTI with CONFIG REWRITE and CLIENT KILL) and point the other one
and the restarted old primary at it. redis-py's Sentinel client keeps writing throughout;
every write a replica acknowledged (WAIT 1) is on the new primary. The same with a real
redis-server as the primary and Swiftlet replicas."""
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import pytest
import redis
from redis.sentinel import Sentinel

from conftest import REDIS_SERVER, SWIFTLET, Server, free_port
from test_replication import wait_for

REDIS_SENTINEL = shutil.which("redis-sentinel") or "/usr/bin/redis-sentinel"
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 4000


class SentinelProcess:
    def __init__(self, primary_port, quorum=2):
        self.port = free_port()
        self.workdir = tempfile.mkdtemp(prefix="swiftlet-sentinel-")
        self.config = os.path.join(self.workdir, "sentinel.conf")
        with open(self.config, "w") as f:
            f.write(
                f"port {self.port}\nbind 127.0.0.1\ndaemonize no\ndir {self.workdir}\n"
                f"sentinel monitor mymaster 127.0.0.1 {primary_port} {quorum}\n"
                f"sentinel down-after-milliseconds mymaster {DOWN_AFTER_MS}\n"
                f"sentinel failover-timeout mymaster {FAILOVER_TIMEOUT_MS}\n"
                "sentinel parallel-syncs mymaster 1\n"
            )
        self.log = open(os.path.join(self.workdir, "sentinel.log"), "wb")
        self.proc = subprocess.Popen(
            [REDIS_SENTINEL, self.config], stdout=self.log, stderr=subprocess.STDOUT, cwd=self.workdir
        )
        wait_for(self.answers, what="sentinel on port %d" % self.port)

    def client(self):
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2, decode_responses=True)

    def answers(self):
        try:
            return self.client().ping()
        except redis.ConnectionError:
            return False

    def master(self):
        return dict(self.client().execute_command("SENTINEL", "MASTER", "mymaster"))

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.log.close()


def linked(server):
    try:
        return server.client().info("replication").get("master_link_status") == "up"
    except redis.ConnectionError:
        return False


class Writer(threading.Thread):
    """Writes w:<n> through redis-py's Sentinel client, each followed by WAIT 1, and keeps
    the keys a replica acknowledged. Errors while the primary is away are retried."""

    def __init__(self, sentinel_ports):
        super().__init__(daemon=True)
        sentinel = Sentinel([("127.0.0.1", p) for p in sentinel_ports], socket_timeout=0.5)
        self.primary = sentinel.master_for("mymaster", socket_timeout=0.5, retry_on_timeout=False)
        self.acknowledged = []
        self.errors = 0
        self.written_at = []
        self.stopping = threading.Event()
        self.n = 0

    def run(self):
        while not self.stopping.is_set():
            key = "w:%d" % self.n
            try:
                self.primary.set(key, self.n)
                if self.primary.execute_command("WAIT", 1, 1000) >= 1:
                    self.acknowledged.append(key)
                    self.written_at.append(time.time())
                self.n += 1
            except (redis.ConnectionError, redis.TimeoutError, redis.ReadOnlyError, redis.ResponseError):
                self.errors += 1
                time.sleep(0.05)
            time.sleep(0.002)


def sentinel_failover(primary, replicas, start_replacement_primary):
    for r in replicas:
        r.client().execute_command("REPLICAOF", "127.0.0.1", primary.port)
    for r in replicas:
        wait_for(lambda: linked(r), what="replica link")
    sentinels = [SentinelProcess(primary.port) for _ in range(3)]
    writer = None
    try:
        # The Sentinels find both replicas (from the primary's INFO) and each other (hello).
        for s in sentinels:
            wait_for(
                lambda: int(s.master()["num-slaves"]) == 2 and int(s.master()["num-other-sentinels"]) == 2,
                what="the sentinels' view",
            )
        writer = Writer([s.port for s in sentinels])
        writer.start()
        wait_for(lambda: len(writer.acknowledged) >= 50, what="acknowledged writes")

        killed_at = time.time()
        primary.stop()
        addr = lambda: sentinels[0].client().execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster")
        wait_for(lambda: int(addr()[1]) != primary.port, timeout=30, what="the failover")
        switched_after = time.time() - killed_at
        print("failover seen after %.2f s" % switched_after)
        # Sentinel reports the switch once the promoted replica answers as a primary.
        new_port = int(addr()[1])
        promoted = [r for r in replicas if r.port == new_port][0]
        other = [r for r in replicas if r.port != new_port][0]
        assert promoted.client().execute_command("ROLE")[0] == b"master"
        # down-after-milliseconds to agree the primary is down, then the election and the
        # promotion (a split vote retries after the failover timeout).
        assert switched_after < (DOWN_AFTER_MS + 2 * FAILOVER_TIMEOUT_MS) / 1000 + 2, switched_after

        # The writer carries on through the new primary.
        count = len(writer.acknowledged)
        wait_for(lambda: len(writer.acknowledged) >= count + 50, what="writes after the failover")
        # The other replica follows the new primary.
        wait_for(
            lambda: other.client().info("replication").get("master_port") == new_port and linked(other),
            what="the other replica's new primary",
        )
        writer.stopping.set()
        writer.join(timeout=10)

        new_primary = promoted.client()
        pipe = new_primary.pipeline(transaction=False)
        for key in writer.acknowledged:
            pipe.exists(key)
        missing = [k for k, found in zip(writer.acknowledged, pipe.execute()) if not found]
        assert missing == [], "acknowledged writes lost: %r" % missing[:10]
        print("acknowledged %d writes, %d retried errors" % (len(writer.acknowledged), writer.errors))
        # ...and holds the same data as the new primary.
        offset = new_primary.info("replication")["master_repl_offset"]
        wait_for(lambda: other.client().info("replication")["master_repl_offset"] >= offset, what="catch-up")
        assert other.client().execute_command("DEBUG", "DIGEST") == new_primary.execute_command("DEBUG", "DIGEST")

        # The old primary, restarted on its port, is turned into a replica of the new one.
        restarted = start_replacement_primary(primary.port)
        try:
            wait_for(
                lambda: restarted.client().info("replication").get("master_port") == new_port and linked(restarted),
                timeout=30,
                what="the old primary rejoining as a replica",
            )
            assert restarted.client().get(writer.acknowledged[-1]) is not None
        finally:
            restarted.stop()
    finally:
        if writer is not None:
            writer.stopping.set()
        for s in sentinels:
            s.stop()


def test_sentinel_fails_over_swiftlet_nodes(start_swiftlet):
    primary = start_swiftlet("--enable-debug-command", "yes")
    replicas = [start_swiftlet("--enable-debug-command", "yes") for _ in range(2)]
    sentinel_failover(
        primary, replicas, lambda port: Server(SWIFTLET, ["--enable-debug-command", "yes"], port=port)
    )


def test_sentinel_with_a_redis_primary_and_swiftlet_replicas(start_swiftlet):
    primary = Server(REDIS_SERVER, ["--enable-debug-command", "yes"])
    replicas = [start_swiftlet("--enable-debug-command", "yes") for _ in range(2)]
    try:
        sentinel_failover(
            primary, replicas, lambda port: Server(REDIS_SERVER, ["--enable-debug-command", "yes"], port=port)
        )
    finally:
        primary.stop()
