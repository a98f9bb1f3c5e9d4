"""Clusters of several nodes over Redis Cluster's bus (issue #22): built and changed with
Debian's `redis-cli --cluster`, failed over by killing a primary, mixed with Debian's
redis-server 7.0.15 nodes, and used by redis-py's RedisCluster."""
import os
import random
import re
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import REDIS_SERVER, SWIFTLET, Server

REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"


def cluster_ports(count):
    """`count` free ports whose bus ports (+10000) are free too."""
    ports = []
    while len(ports) < count:
        port = random.randint(20000, 45000)
        if any(abs(port - p) < 2 for p in ports):
            continue
        try:
            for p in (port, port + 10000):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", p))
        except OSError:
            continue
        ports.append(port)
    return ports


def start_nodes(binaries):
    ports = cluster_ports(len(binaries))
    return [Server(b, ["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"], port=p)
            for b, p in zip(binaries, ports)]


def cli(*args, timeout=120):
    return subprocess.run([REDIS_CLI, *args], capture_output=True, text=True, timeout=timeout)


def nodes_of(server):
    """CLUSTER NODES as dicts."""
    out = []
    for line in server.client().execute_command("CLUSTER", "NODES").decode().splitlines():
        f = line.split()
        out.append({"id": f[0], "port": int(re.match(r"[^:]*:(\d+)@", f[1]).group(1)), "flags": f[2].split(","),
                    "primary": f[3], "slots": f[8:]})
    return out


def wait_for(condition, timeout=30, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if condition():
                return
        except Exception:  # noqa: BLE001 - a node busy failing over answers errors meanwhile
            pass
        time.sleep(0.2)
    raise AssertionError("timed out waiting for " + what)


def cluster_ok(servers):
    return all(b"cluster_state:ok" in s.client().execute_command("CLUSTER", "INFO") for s in servers)


def create(servers, replicas):
    result = cli("--cluster", "create", *[f"127.0.0.1:{s.port}" for s in servers],
                 "--cluster-replicas", str(replicas), "--cluster-yes")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[OK] All 16384 slots covered." in result.stdout
    wait_for(lambda: cluster_ok(servers), what="cluster_state:ok everywhere")
    # Every node knows every other, with the roles redis-cli gave.
    wait_for(lambda: all(len(nodes_of(s)) == len(servers) for s in servers), what="full membership")
    # The replicas' new role reaches every node with the next pings.
    wanted = len(servers) - len(servers) // (replicas + 1)
    wait_for(lambda: all(sum("slave" in n["flags"] for n in nodes_of(s)) == wanted for s in servers),
             what="every replica seen by every node")
    return result


def stop_all(servers):
    for s in servers:
        s.stop()


@pytest.fixture
def six_swiftlets():
    servers = start_nodes([SWIFTLET] * 6)
    yield servers
    stop_all(servers)


def test_redis_cli_creates_and_checks_a_cluster_with_replicas(six_swiftlets):
    servers = six_swiftlets
    create(servers, 1)
    for s in servers:
        assert sum("master" in n["flags"] for n in nodes_of(s)) == 3
    check = cli("--cluster", "check", f"127.0.0.1:{servers[3].port}")
    assert check.returncode == 0, check.stdout
    assert "[OK] All nodes agree about slots configuration." in check.stdout
    # Replicas replicate their primary over the replication protocol.
    replicas = [s for s in servers if any("myself" in n["flags"] and "slave" in n["flags"] for n in nodes_of(s))]
    assert len(replicas) == 3
    wait_for(lambda: all(s.client().info("replication")["master_link_status"] == "up" for s in replicas),
             what="replication links up")
    info = servers[0].client().execute_command("CLUSTER", "INFO").decode()
    assert "cluster_known_nodes:6" in info and "cluster_size:3" in info
    assert re.search(r"cluster_stats_messages_ping_sent:\d+", info)
    links = servers[0].client().execute_command("CLUSTER", "LINKS")
    assert len(links) >= 5


def test_failover_promotes_the_replica_and_keeps_acknowledged_writes(six_swiftlets):
    from redis.cluster import RedisCluster

    servers = six_swiftlets
    create(servers, 1)
    by_port = {s.port: s for s in servers}
    rc = RedisCluster(host="127.0.0.1", port=servers[0].port)
    for i in range(500):
        rc.set(f"key:{i}", i)
    view = nodes_of(servers[0])
    primaries = [n for n in view if "master" in n["flags"]]
    for p in primaries:
        assert by_port[p["port"]].client().execute_command("WAIT", "1", "5000") == 1
    victim = primaries[1]
    replica = next(n for n in view if n["primary"] == victim["id"])
    by_port[victim["port"]].stop()
    survivors = [s for s in servers if s.port != victim["port"]]

    def promoted():
        return all(any(n["id"] == replica["id"] and "master" in n["flags"] and n["slots"] for n in nodes_of(s))
                   for s in survivors)

    wait_for(promoted, what="the replica promoted on every node")
    wait_for(lambda: cluster_ok(survivors), what="cluster_state:ok after the failover")
    rc.close()
    rc = RedisCluster(host="127.0.0.1", port=survivors[0].port)
    assert all(rc.get(f"key:{i}") == str(i).encode() for i in range(500))
    rc.set("after", "failover")
    assert rc.get("after") == b"failover"
    rc.close()
    # The old primary comes back as a replica of the node that took its slots.
    again = Server(SWIFTLET, ["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"],
                   workdir=by_port[victim["port"]].workdir, port=victim["port"])
    servers.append(again)
    wait_for(lambda: any(n["id"] == victim["id"] and "slave" in n["flags"] and n["primary"] == replica["id"]
                         for n in nodes_of(survivors[0])), what="the old primary rejoining as a replica")


def test_reshard_add_node_rebalance_and_del_node():
    servers = start_nodes([SWIFTLET] * 4)
    try:
        create(servers[:3], 0)
        c = servers[0].client()
        from redis.cluster import RedisCluster

        rc = RedisCluster(host="127.0.0.1", port=servers[0].port)
        for i in range(300):
            rc.set(f"key:{i}", i)
        ids = [s.client().execute_command("CLUSTER", "MYID").decode() for s in servers]
        moved = cli("--cluster", "reshard", f"127.0.0.1:{servers[0].port}", "--cluster-from", ids[0],
                    "--cluster-to", ids[1], "--cluster-slots", "500", "--cluster-yes")
        assert moved.returncode == 0, moved.stdout + moved.stderr
        added = cli("--cluster", "add-node", f"127.0.0.1:{servers[3].port}", f"127.0.0.1:{servers[0].port}")
        assert "[OK] New node added correctly." in added.stdout, added.stdout
        wait_for(lambda: all(len(nodes_of(s)) == 4 for s in servers), what="the new node known everywhere")
        balanced = cli("--cluster", "rebalance", f"127.0.0.1:{servers[0].port}", "--cluster-use-empty-masters")
        assert balanced.returncode == 0, balanced.stdout + balanced.stderr
        wait_for(lambda: all(n["slots"] for n in nodes_of(servers[0])), what="slots on the new node")
        check = cli("--cluster", "check", f"127.0.0.1:{servers[0].port}")
        assert check.returncode == 0 and "[OK] All 16384 slots covered." in check.stdout, check.stdout
        # Empty the fourth node, then remove it.
        emptied = cli("--cluster", "reshard", f"127.0.0.1:{servers[0].port}", "--cluster-from", ids[3],
                      "--cluster-to", ids[0], "--cluster-slots", "16384", "--cluster-yes")
        assert emptied.returncode == 0, emptied.stdout
        removed = cli("--cluster", "del-node", f"127.0.0.1:{servers[0].port}", ids[3])
        assert removed.returncode == 0, removed.stdout
        wait_for(lambda: all(len(nodes_of(s)) == 3 for s in servers[:3]), what="the node forgotten")
        assert all(rc.get(f"key:{i}") == str(i).encode() for i in range(300))
        assert sum(s.client().dbsize() for s in servers[:3]) == 300
        assert c.execute_command("CLUSTER", "COUNTKEYSINSLOT", rc.cluster_keyslot("key:1")) >= 0
        rc.close()
    finally:
        stop_all(servers)


def test_replica_migrates_to_an_orphaned_primary():
    # Seven nodes: three primaries, one of them with two replicas.
    servers = start_nodes([SWIFTLET] * 7)
    try:
        create(servers, 1)
        by_port = {s.port: s for s in servers}
        view = nodes_of(servers[0])
        primaries = [n for n in view if "master" in n["flags"]]
        counts = {p["id"]: sum(n["primary"] == p["id"] for n in view) for p in primaries}
        rich = next(p for p in primaries if counts[p["id"]] == 2)
        poor = next(p for p in primaries if counts[p["id"]] == 1)
        lost = next(n for n in view if n["primary"] == poor["id"])
        by_port[lost["port"]].stop()
        alive = [s for s in servers if s.port != lost["port"]]

        # Once its only replica has failed for five seconds, one of the other shard's two
        # replicas (the one with the smaller name) moves over; the barrier (1) keeps one.
        def migrated():
            view = nodes_of(alive[0])
            working = [n for n in view if n["primary"] == poor["id"] and "fail" not in n["flags"]]
            return len(working) == 1 and sum(n["primary"] == rich["id"] for n in view) == 1

        wait_for(migrated, timeout=60, what="a replica migrating to the orphaned primary")
        mover = next(n for n in nodes_of(alive[0]) if n["primary"] == poor["id"] and "fail" not in n["flags"])
        wait_for(lambda: by_port[mover["port"]].client().info("replication")["master_port"] == poor["port"],
                 what="the migrated replica replicating its new primary")
        assert "Migrating to orphaned master " + poor["id"] in by_port[mover["port"]].read_log()
    finally:
        stop_all(servers)


def test_a_replica_with_stale_data_does_not_fail_over_until_the_validity_factor_allows():
    servers = start_nodes([SWIFTLET] * 4)
    try:
        create(servers[:3], 0)
        c = servers[3].client()
        primary = servers[0]
        primary_id = primary.client().execute_command("CLUSTER", "MYID").decode()
        assert cli("--cluster", "add-node", f"127.0.0.1:{servers[3].port}", f"127.0.0.1:{primary.port}",
                   "--cluster-slave", "--cluster-master-id", primary_id).returncode == 0
        wait_for(lambda: c.info("replication").get("master_link_status") == "up", what="the replica's link up")
        # The replication link goes down (the primary now wants a password the replica does
        # not have) while the bus stays up; the replica allows 1 s (its ping period) +
        # 2 s × 1 past the node timeout since then.
        c.config_set("cluster-replica-validity-factor", 1)
        c.config_set("repl-ping-replica-period", 1)
        primary.client().config_set("requirepass", "secret")
        primary.client(password="secret").execute_command("CLIENT", "KILL", "TYPE", "replica")
        wait_for(lambda: c.info("replication").get("master_link_status") == "down", what="the replica's link down")
        time.sleep(6)
        primary.stop()
        wait_for(lambda: any("fail" in n["flags"] and n["id"] == primary_id for n in nodes_of(servers[3])),
                 what="the primary marked failing")
        wait_for(lambda: "Currently unable to failover: Disconnected from master for longer than allowed."
                 in servers[3].read_log(), timeout=20, what="the replica saying its data is too old")
        assert any("slave" in n["flags"] for n in nodes_of(servers[3]) if "myself" in n["flags"])
        # With the check off it takes over.
        c.config_set("cluster-replica-validity-factor", 0)
        wait_for(lambda: any("myself" in n["flags"] and "master" in n["flags"] and n["slots"]
                             for n in nodes_of(servers[3])), what="the replica promoted")
    finally:
        stop_all(servers)


def test_a_link_past_the_send_buffer_limit_is_closed():
    import signal

    servers = start_nodes([SWIFTLET] * 3)
    try:
        create(servers, 0)
        c = servers[0].client()
        c.config_set("cluster-link-sendbuf-limit", 64 * 1024)
        # A node that stops reading: messages for it pile up in the link's send buffer.
        os.kill(servers[1].proc.pid, signal.SIGSTOP)
        try:
            payload = "x" * (1024 * 1024)
            for _ in range(40):
                c.publish("ch", payload)
            wait_for(lambda: int(re.search(rb"total_cluster_links_buffer_limit_exceeded:(\d+)",
                                           c.execute_command("CLUSTER", "INFO")).group(1)) >= 1,
                     what="the link closed at its limit")
            assert "due to exceeding send buffer memory limit." in servers[0].read_log()
        finally:
            os.kill(servers[1].proc.pid, signal.SIGCONT)
        wait_for(lambda: cluster_ok(servers), what="the cluster up again")
    finally:
        stop_all(servers)


class Workload:
    """redis-py's RedisCluster writing and reading on a thread: a write counts as
    acknowledged once SET answered and `WAIT 1` on the key's primary said a replica has it
    (Redis Cluster's own guarantee; an unacknowledged write may be lost in a failover)."""

    def __init__(self, port):
        import threading

        from redis.cluster import RedisCluster

        self.rc = RedisCluster(host="127.0.0.1", port=port, socket_timeout=5)
        self.acknowledged = {}
        self.written = 0
        self.failed = 0
        self.last_error = None
        self.wrong_reads = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        i = 0
        while not self.stopping.is_set():
            key, value = f"w:{i}", str(i)
            try:
                self.rc.set(key, value)
                self.written += 1
                node = self.rc.get_node_from_key(key)
                if self.rc.execute_command("WAIT", 1, 500, target_nodes=node) >= 1:
                    self.acknowledged[key] = value
                # Read back an earlier acknowledged key: it must have its value.
                if self.acknowledged and i % 5 == 0:
                    old = f"w:{random.choice(list(self.acknowledged))[2:]}"
                    got = self.rc.get(old)
                    if got is not None and got.decode() != self.acknowledged[old]:
                        self.wrong_reads.append((old, got))
            except Exception as e:  # noqa: BLE001 - a failover makes writes fail for a while
                self.failed += 1
                self.last_error = repr(e)
                time.sleep(0.05)
            i += 1

    def wait_for_writes(self, count, timeout=30):
        start = len(self.acknowledged)
        wait_for(lambda: len(self.acknowledged) >= start + count, timeout=timeout,
                 what=f"{count} more acknowledged writes ({len(self.acknowledged)} so far of {self.written} "
                 f"written, {self.failed} failed, the last with {self.last_error})")

    def stop(self):
        self.stopping.set()
        self.thread.join(timeout=30)


def test_workload_goes_on_through_resharding_and_a_primary_kill(six_swiftlets):
    from redis.cluster import RedisCluster

    servers = six_swiftlets
    create(servers, 1)
    by_port = {s.port: s for s in servers}
    work = Workload(servers[0].port)
    try:
        work.wait_for_writes(200)
        view = nodes_of(servers[0])
        primaries = [n for n in view if "master" in n["flags"]]
        # Move 2 000 slots (with their keys, by MIGRATE) while the writes go on.
        moved = cli("--cluster", "reshard", f"127.0.0.1:{servers[0].port}", "--cluster-from", primaries[0]["id"],
                    "--cluster-to", primaries[1]["id"], "--cluster-slots", "2000", "--cluster-yes",
                    "--cluster-pipeline", "20")
        assert moved.returncode == 0, moved.stdout[-2000:] + moved.stderr
        work.wait_for_writes(200)
        # Kill the primary that just received the slots; its replica takes them over.
        victim = primaries[1]
        replica = next(n for n in view if n["primary"] == victim["id"])
        by_port[victim["port"]].stop()
        survivors = [s for s in servers if s.port != victim["port"]]
        wait_for(lambda: all(any(n["id"] == replica["id"] and "master" in n["flags"] and n["slots"]
                                 for n in nodes_of(s)) for s in survivors),
                 what="the replica promoted on every node")
        wait_for(lambda: cluster_ok(survivors), what="cluster_state:ok after the failover")
        # The old primary comes back as the new one's replica: its shard acknowledges again.
        again = Server(SWIFTLET, ["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"],
                       workdir=by_port[victim["port"]].workdir, port=victim["port"])
        servers.append(again)
        wait_for(lambda: again.client().info("replication").get("master_link_status") == "up",
                 what="the old primary replicating the new one")
        work.wait_for_writes(200)
    finally:
        work.stop()
    assert work.wrong_reads == []
    assert len(work.acknowledged) >= 600
    check = cli("--cluster", "check", f"127.0.0.1:{survivors[0].port}")
    assert "[OK] All 16384 slots covered." in check.stdout, check.stdout
    rc = RedisCluster(host="127.0.0.1", port=survivors[0].port)
    lost = [k for k, v in work.acknowledged.items() if rc.get(k) != v.encode()]
    assert lost == [], f"{len(lost)} of {len(work.acknowledged)} acknowledged writes lost: {lost[:10]}"
    rc.close()


@pytest.mark.skipif(not os.path.exists(REDIS_SERVER), reason="redis-server not installed")
def test_mixed_cluster_with_redis_server_forms_reshards_and_fails_over():
    from redis.cluster import RedisCluster

    # Primaries and replicas of both kinds: redis-cli takes the first three as primaries.
    binaries = [SWIFTLET, REDIS_SERVER, SWIFTLET, REDIS_SERVER, SWIFTLET, REDIS_SERVER]
    servers = start_nodes(binaries)
    try:
        create(servers, 1)
        kinds = {s.port: b for s, b in zip(servers, binaries)}
        view = nodes_of(servers[1])
        primaries = [n for n in view if "master" in n["flags"]]
        assert {kinds[p["port"]] for p in primaries} == {SWIFTLET, REDIS_SERVER}
        rc = RedisCluster(host="127.0.0.1", port=servers[0].port)
        for i in range(300):
            rc.set(f"k{i}", i)
        by_port = {s.port: s for s in servers}
        # Reshard both ways between the kinds: redis-cli moves the keys with MIGRATE, whose
        # DUMP payloads each kind restores from the other.
        swift = next(p for p in primaries if kinds[p["port"]] == SWIFTLET)
        redis_primary = next(p for p in primaries if kinds[p["port"]] == REDIS_SERVER)
        for source, target in ((redis_primary, swift), (swift, redis_primary)):
            moved = cli("--cluster", "reshard", f"127.0.0.1:{servers[0].port}", "--cluster-from", source["id"],
                        "--cluster-to", target["id"], "--cluster-slots", "1500", "--cluster-yes")
            assert moved.returncode == 0, moved.stdout[-2000:] + moved.stderr
        # The new owners' claims spread with the next pings.
        wait_for(lambda: cli("--cluster", "check", f"127.0.0.1:{servers[1].port}").returncode == 0,
                 what="every node agreeing on the slots after the reshards")
        assert all(rc.get(f"k{i}") == str(i).encode() for i in range(300))
        assert sum(by_port[p["port"]].client().dbsize() for p in primaries) == 300
        for p in primaries:
            assert by_port[p["port"]].client().execute_command("WAIT", "1", "5000") == 1
        rc.close()
        # Kill one primary of each kind in turn; each replica is elected by the others' votes.
        alive = list(servers)
        for kind in (REDIS_SERVER, SWIFTLET):
            view = nodes_of(alive[0])
            victim = next(n for n in view if "master" in n["flags"] and n["slots"] and kinds[n["port"]] == kind
                          and by_port[n["port"]] in alive)
            replica = next(n for n in view if n["primary"] == victim["id"])
            by_port[victim["port"]].stop()
            alive = [s for s in alive if s.port != victim["port"]]
            wait_for(lambda: all(any(n["id"] == replica["id"] and "master" in n["flags"] and n["slots"]
                                     for n in nodes_of(s)) for s in alive),
                     what=f"the replica of the killed {os.path.basename(kind)} primary promoted")
            wait_for(lambda: cluster_ok(alive), what="cluster_state:ok")
        rc = RedisCluster(host="127.0.0.1", port=alive[0].port)
        assert all(rc.get(f"k{i}") == str(i).encode() for i in range(300))
        rc.close()
        # Redis 7.0 logs each ping extension it does not know: the shard-id extension goes
        # only to nodes that send one, so its logs stay quiet after the handshakes.
        for s, b in zip(servers, binaries):
            if b == REDIS_SERVER:
                assert open(s.log_path, errors="replace").read().count("Received unknown extension type") <= 10
    finally:
        stop_all(servers)


def test_publish_reaches_subscribers_on_other_nodes():
    servers = start_nodes([SWIFTLET] * 3)
    try:
        create(servers, 0)
        sub = servers[2].client().pubsub()
        sub.subscribe("news")
        wait_for(lambda: sub.get_message(timeout=0.1) is not None, what="subscribed")
        servers[0].client().publish("news", "hello")
        wait_for(lambda: (m := sub.get_message(timeout=0.1)) is not None and m["data"] == b"hello",
                 what="the message on another node")
        sub.close()
    finally:
        stop_all(servers)


def test_bus_command_errors_match_redis():
    from test_cluster import normalized, reply

    pair = [Server(b, ["--cluster-enabled", "yes", "--enable-debug-command", "yes"], port=cluster_ports(1)[0])
            for b in (SWIFTLET, REDIS_SERVER)]
    try:
        clients = [s.client() for s in pair]
        ids = [c.execute_command("CLUSTER", "MYID").decode() for c in clients]
        for command in [
            ("CLUSTER", "MEET", "not-an-ip", "7000"),
            ("CLUSTER", "MEET", "127.0.0.1", "abc"),
            ("CLUSTER", "MEET", "127.0.0.1", "7000", "xyz"),
            ("CLUSTER", "MEET", "127.0.0.1", "70000"),
            ("CLUSTER", "MEET", "127.0.0.1", "7000", "1", "2"),
            ("CLUSTER", "FORGET", "0" * 40),
            ("CLUSTER", "REPLICATE", "0" * 40),
            ("CLUSTER", "FAILOVER"),
            ("CLUSTER", "FAILOVER", "BOGUS"),
            ("CLUSTER", "COUNT-FAILURE-REPORTS", "0" * 40),
            # Sharded Pub/Sub routes by the channel's slot (here unserved).
            ("SPUBLISH", "foo", "x"),
            ("DEBUG", "CLUSTERLINK", "KILL", "TO", "0" * 40),
        ]:
            answers = [normalized(reply(c, *command), ids) for c in clients]
            assert answers[0] == answers[1], (command, answers)
        for c, myid in zip(clients, ids):
            assert reply(c, "CLUSTER", "FORGET", myid) == reply(clients[1], "CLUSTER", "FORGET", ids[1])
            assert reply(c, "CLUSTER", "REPLICATE", myid) == reply(clients[1], "CLUSTER", "REPLICATE", ids[1])
    finally:
        for s in pair:
            s.stop()
