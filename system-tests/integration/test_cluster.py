"""Cluster mode on one node (issue #22, before the cluster bus): nodes.conf, the CLUSTER
commands that need no other node, and the redirections, side by side with Debian's
redis-server 7.0.15 in cluster mode."""
import os
import re
import subprocess
import time

import pytest

from conftest import REDIS_SERVER, SWIFTLET, Server


def cluster_port():
    """A free port whose bus port (+10000) is free too, at most 55535 as cluster mode needs."""
    from test_cluster_bus import cluster_ports

    return cluster_ports(1)[0]


def start(binary, workdir=None):
    return Server(binary, ["--cluster-enabled", "yes"], workdir=workdir, port=cluster_port())


def reply(client, *args):
    try:
        return client.execute_command(*args)
    except Exception as e:  # noqa: BLE001 - the error text is the reply compared
        return "error: " + str(e)


def normalized(value, ids, ports=()):
    """Replies with node ids, ports and pong times replaced, so two servers' answers compare."""
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str):
        for node_id in ids:
            value = value.replace(node_id, "<node>")
        return re.sub(r":\d+@\d+", ":<port>@<busport>", value)
    if isinstance(value, list):
        return [normalized(v, ids, ports) for v in value]
    if isinstance(value, dict):
        return {normalized(k, ids, ports): normalized(v, ids, ports) for k, v in value.items()}
    if isinstance(value, int) and value in ports:
        return "<port>"
    return value


@pytest.fixture
def pair():
    servers = [start(SWIFTLET), start(REDIS_SERVER)]
    yield servers
    for s in servers:
        s.stop()


def test_single_node_commands_match_redis(pair):
    clients = [s.client() for s in pair]
    ids = [c.execute_command("CLUSTER", "MYID").decode() for c in clients]
    ports = [s.port for s in pair]
    script = [
        ("CLUSTER", "ADDSLOTSRANGE", "0", "16382"),
        ("CLUSTER", "ADDSLOTS", "5"),
        ("CLUSTER", "ADDSLOTS", "99999"),
        ("CLUSTER", "ADDSLOTS", "-1"),
        ("CLUSTER", "DELSLOTS", "7"),
        ("CLUSTER", "DELSLOTS", "7"),
        ("CLUSTER", "ADDSLOTSRANGE", "5", "2"),
        ("CLUSTER", "ADDSLOTSRANGE", "1"),
        ("CLUSTER", "KEYSLOT", "foo"),
        ("CLUSTER", "KEYSLOT", "{user1000}.following"),
        ("CLUSTER", "COUNTKEYSINSLOT", "16384"),
        ("CLUSTER", "GETKEYSINSLOT", "1", "-1"),
        ("CLUSTER", "SETSLOT", "5", "MIGRATING", "abc"),
        ("CLUSTER", "SETSLOT", "5", "BOGUS"),
        ("CLUSTER", "COUNT-FAILURE-REPORTS", "nosuchnode"),
        ("SELECT", "1"),
        ("SELECT", "0"),
        ("INFO", "cluster"),
    ]
    for command in script:
        answers = [normalized(reply(c, *command), ids, ports) for c in clients]
        assert answers[0] == answers[1], (command, answers)
    # Slots 7 and 16383 unassigned: the cluster is down for keys.
    time.sleep(2.2)
    for command in [("SET", "foo", "bar"), ("GET", "foo"), ("MSET", "a", "1", "b", "2"),
                    ("CLUSTER", "ADDSLOTS", "7", "16383")]:
        answers = [normalized(reply(c, *command), ids, ports) for c in clients]
        assert answers[0] == answers[1], (command, answers)
    # Redis updates its state before its next sleep; both are up within a second.
    deadline = time.time() + 5
    while time.time() < deadline and any(b"cluster_state:ok" not in c.execute_command("CLUSTER", "INFO")
                                         for c in clients):
        time.sleep(0.1)
    for command in [
        ("SET", "foo", "bar"), ("GET", "foo"), ("MSET", "a", "1", "b", "2"), ("MSET", "{t}a", "1", "{t}b", "2"),
        ("CLUSTER", "COUNTKEYSINSLOT", "12182"), ("CLUSTER", "GETKEYSINSLOT", "12182", "10"),
        ("CLUSTER", "SET-CONFIG-EPOCH", "-5"), ("CLUSTER", "SET-CONFIG-EPOCH", "3"),
        ("CLUSTER", "SET-CONFIG-EPOCH", "4"), ("CLUSTER", "BUMPEPOCH"), ("CLUSTER", "SLOTS"),
        ("CLUSTER", "FLUSHSLOTS"), ("READONLY",), ("READWRITE",), ("ASKING",),
    ]:
        answers = [normalized(reply(c, *command), ids, ports) for c in clients]
        assert answers[0] == answers[1], (command, answers)
    info = [dict(line.split(":", 1) for line in c.execute_command("CLUSTER", "INFO").decode().split("\r\n") if line)
            for c in clients]
    for field in ["cluster_state", "cluster_slots_assigned", "cluster_slots_ok", "cluster_known_nodes",
                  "cluster_size", "cluster_current_epoch", "cluster_my_epoch"]:
        assert info[0][field] == info[1][field], field
    nodes = [normalized(c.execute_command("CLUSTER", "NODES"), ids) for c in clients]
    assert nodes[0] == nodes[1]


def test_nodes_conf_is_kept_across_restarts_and_a_corrupt_one_stops_the_server():
    s = start(SWIFTLET)
    workdir, port = s.workdir, s.port
    c = s.client()
    myid = c.execute_command("CLUSTER", "MYID")
    c.execute_command("CLUSTER", "ADDSLOTSRANGE", "0", "99")
    s.stop()
    conf = open(os.path.join(workdir, "nodes.conf")).read()
    assert conf.startswith(myid.decode() + " :") and " myself,master " in conf and conf.rstrip().endswith(
        "vars currentEpoch 0 lastVoteEpoch 0")
    again = Server(SWIFTLET, ["--cluster-enabled", "yes"], workdir=workdir, port=port)
    try:
        c = again.client()
        assert c.execute_command("CLUSTER", "MYID") == myid
        assert b"0-99" in c.execute_command("CLUSTER", "NODES")
        assert "Node configuration loaded, I'm " + myid.decode() in again.read_log()
    finally:
        again.stop()
    with open(os.path.join(workdir, "nodes.conf"), "w") as f:
        f.write("garbage line\n")
    proc = subprocess.run([SWIFTLET, "--port", str(port), "--cluster-enabled", "yes", "--dir", workdir, "--save", ""],
                          capture_output=True, text=True, timeout=20)
    assert proc.returncode != 0
    assert 'Unrecoverable error: corrupted cluster config file "garbage line".' in proc.stdout + proc.stderr


def test_redis_py_cluster_client_on_one_node():
    from redis.cluster import RedisCluster

    s = start(SWIFTLET)
    try:
        s.client().execute_command("CLUSTER", "ADDSLOTSRANGE", "0", "16383")
        deadline = time.time() + 5
        while b"cluster_state:ok" not in s.client().execute_command("CLUSTER", "INFO") and time.time() < deadline:
            time.sleep(0.1)
        rc = RedisCluster(host="127.0.0.1", port=s.port)
        for i in range(200):
            rc.set(f"key:{i}", i)
        assert rc.get("key:42") == b"42"
        assert rc.mget("{tag}a", "{tag}b") == [None, None]
        pipe = rc.pipeline()
        for i in range(20):
            pipe.incr(f"counter:{i}")
        assert pipe.execute() == [1] * 20
        slot = rc.cluster_keyslot("key:7")
        assert rc.cluster_countkeysinslot(slot) >= 1
        rc.close()
    finally:
        s.stop()
