"""TLS as Redis has it (tls-port, tls-* directives), checked with real clients: Debian's
redis-cli --tls, redis-py with ssl=True, and redis-server 7.0.15 (Debian's, built with
TLS) as primary and replica of Swiftlet over TLS."""
import os
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.request

import pytest

from conftest import REDIS_SERVER, SWIFTLET, Server, free_port


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_cert(d, name, cn, usage=None):
    openssl("genrsa", "-out", f"{name}.key", "2048", cwd=d)
    openssl("req", "-new", "-sha256", "-subj", f"/O=Swiftlet Test/CN={cn}", "-key", f"{name}.key",
            "-out", f"{name}.csr", cwd=d)
    extra = ["-extfile", "ext.cnf", "-extensions", usage] if usage else []
    openssl("x509", "-req", "-sha256", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "30", "-out", f"{name}.crt", *extra, cwd=d)


@pytest.fixture(scope="module")
def certs():
    """A CA, a server certificate, client certificates (CN alice, CN nobody), a second
    server certificate for reloading, and an encrypted copy of the server's key."""
    d = tempfile.mkdtemp(prefix="swiftlet-tls-")
    openssl("genrsa", "-out", "ca.key", "2048", cwd=d)
    openssl("req", "-x509", "-new", "-nodes", "-sha256", "-key", "ca.key", "-days", "30",
            "-subj", "/O=Swiftlet Test/CN=Test CA", "-out", "ca.crt", cwd=d)
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("[server]\nsubjectAltName = IP:127.0.0.1\nextendedKeyUsage = serverAuth, clientAuth\n"
                "[client]\nextendedKeyUsage = clientAuth\n")
    make_cert(d, "server", "Server", "server")
    make_cert(d, "server2", "Server Two", "server")
    make_cert(d, "alice", "alice", "client")
    make_cert(d, "nobody", "nobody", "client")
    openssl("rsa", "-in", "server.key", "-out", "server.enc.key", "-aes256", "-passout", "pass:s3cret", cwd=d)
    return {n: os.path.join(d, n) for n in os.listdir(d)}


def tls_args(certs, port, *extra):
    return ["--tls-port", str(port), "--tls-cert-file", certs["server.crt"], "--tls-key-file", certs["server.key"],
            "--tls-ca-cert-file", certs["ca.crt"], *extra]


@pytest.fixture
def tls_server(certs):
    started = []

    def start(*extra, binary=SWIFTLET):
        port = free_port()
        s = Server(binary, tls_args(certs, port, *extra))
        s.tls_port = port
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


def cli(certs, port, *args, cert="alice"):
    flags = ["--tls", "--cacert", certs["ca.crt"]]
    if cert:
        flags += ["--cert", certs[f"{cert}.crt"], "--key", certs[f"{cert}.key"]]
    r = subprocess.run(["redis-cli", "-p", str(port), *flags, *args], capture_output=True, text=True, timeout=20)
    return (r.stdout + r.stderr).strip()


def py_client(certs, port, cert="alice", **kw):
    import redis

    extra = {"ssl_certfile": certs[f"{cert}.crt"], "ssl_keyfile": certs[f"{cert}.key"]} if cert else {}
    return redis.Redis(host="127.0.0.1", port=port, ssl=True, ssl_ca_certs=certs["ca.crt"], **extra, **kw)


def peer_subject(certs, port):
    """The Common Name of the certificate the server shows a new connection."""
    context = ssl.create_default_context(cafile=certs["ca.crt"])
    context.check_hostname = False
    context.load_cert_chain(certs["alice.crt"], certs["alice.key"])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with context.wrap_socket(raw) as s:
            subject = dict(x[0] for x in s.getpeercert()["subject"])
            return subject["commonName"]


def test_redis_cli_over_tls(certs, tls_server):
    s = tls_server()
    assert cli(certs, s.tls_port, "PING") == "PONG"
    assert cli(certs, s.tls_port, "SET", "session:1", '{"u":1}', "EX", "86400") == "OK"
    assert cli(certs, s.tls_port, "GET", "session:1") == '{"u":1}'
    # The plain port serves the same data beside the TLS one.
    assert s.client().get("session:1") == b'{"u":1}'


def test_client_certificate_required_by_default(certs, tls_server):
    s = tls_server()
    out = cli(certs, s.tls_port, "PING", cert=None)
    assert "PONG" not in out
    assert "reset" in out or "closed" in out or "Error" in out
    # The server goes on serving well-behaved clients.
    assert cli(certs, s.tls_port, "PING") == "PONG"


def test_plain_client_on_tls_port_is_reset(certs, tls_server):
    s = tls_server()
    with socket.create_connection(("127.0.0.1", s.tls_port), timeout=5) as sock:
        sock.sendall(b"*1\r\n$4\r\nPING\r\n")
        try:
            data = sock.recv(100)
        except ConnectionResetError:
            data = b""
        # Nothing a RESP client could read as a reply: the connection is reset.
        assert data == b""
    assert cli(certs, s.tls_port, "PING") == "PONG"


def test_tls_auth_clients_optional_and_no(certs, tls_server):
    s = tls_server()
    admin = s.client()
    assert admin.config_get("tls-auth-clients") == {"tls-auth-clients": "yes"}
    admin.config_set("tls-auth-clients", "optional")
    assert py_client(certs, s.tls_port, cert=None).ping()
    assert py_client(certs, s.tls_port).ping()
    admin.config_set("tls-auth-clients", "no")
    assert py_client(certs, s.tls_port, cert=None).ping()
    admin.config_set("tls-auth-clients", "yes")
    import redis

    with pytest.raises(redis.exceptions.ConnectionError):
        py_client(certs, s.tls_port, cert=None).ping()


def test_redis_py_ssl_workload(certs, tls_server):
    s = tls_server()
    r = py_client(certs, s.tls_port, decode_responses=True)
    pipe = r.pipeline(transaction=False)
    for i in range(2000):
        pipe.set(f"k{i}", "v" * (i % 300))
    pipe.execute()
    assert r.dbsize() == 2000
    assert r.get("k299") == "v" * 299
    big = "x" * 1_000_000
    r.set("big", big)
    assert r.get("big") == big
    p = r.pubsub()
    p.subscribe("events")
    p.get_message(timeout=2)
    assert py_client(certs, s.tls_port).publish("events", "hello") == 1
    msg = p.get_message(timeout=2)
    assert msg["data"] == "hello"


def test_config_set_reloads_certificate_for_new_connections(certs, tls_server):
    s = tls_server()
    assert peer_subject(certs, s.tls_port) == "Server"
    held = py_client(certs, s.tls_port)
    assert held.ping()
    import redis

    s2 = s.client()
    # A certificate without its key (or a key without its certificate) is refused.
    with pytest.raises(redis.exceptions.ResponseError, match="Unable to update TLS configuration"):
        s2.config_set("tls-cert-file", certs["server2.crt"])
    with pytest.raises(redis.exceptions.ResponseError, match="Unable to update TLS configuration"):
        s2.config_set("tls-key-file", certs["alice.key"])
    assert peer_subject(certs, s.tls_port) == "Server"
    # Set together, the pair is the new certificate.
    s2.execute_command("CONFIG", "SET", "tls-cert-file", certs["server2.crt"], "tls-key-file", certs["server2.key"])
    assert peer_subject(certs, s.tls_port) == "Server Two"
    # The connection made before keeps working.
    assert held.ping()
    assert s2.config_get("tls-cert-file")["tls-cert-file"] == certs["server2.crt"]


def test_encrypted_key_file(certs, tls_server):
    import redis

    s = tls_server()
    admin = s.client()
    with pytest.raises(redis.exceptions.ResponseError, match="Unable to update TLS configuration"):
        admin.config_set("tls-key-file", certs["server.enc.key"])
    admin.config_set("tls-key-file-pass", "s3cret")
    admin.config_set("tls-key-file", certs["server.enc.key"])
    assert cli(certs, s.tls_port, "PING") == "PONG"
    # At start too: the passphrase opens the key.
    port = free_port()
    s2 = Server(SWIFTLET, ["--tls-port", str(port), "--tls-cert-file", certs["server.crt"],
                           "--tls-key-file", certs["server.enc.key"], "--tls-key-file-pass", "s3cret",
                           "--tls-ca-cert-file", certs["ca.crt"]])
    try:
        assert cli(certs, port, "PING") == "PONG"
    finally:
        s2.stop()


def test_bad_tls_settings_fail_at_start_and_in_config_set(certs, tls_server):
    import redis

    port = free_port()
    p = subprocess.run([SWIFTLET, "--port", "0", "--tls-port", str(port), "--tls-cert-file", certs["server.crt"],
                        "--tls-key-file", "/nonexistent.key", "--tls-ca-cert-file", certs["ca.crt"]],
                       capture_output=True, text=True, timeout=20)
    assert p.returncode != 0
    assert "Failed to configure TLS. Check logs for more info." in p.stdout + p.stderr
    s = tls_server()
    admin = s.client()
    with pytest.raises(redis.exceptions.ResponseError, match="Unable to update TLS configuration"):
        admin.config_set("tls-protocols", "TLSv1.4")
    with pytest.raises(redis.exceptions.ResponseError, match="Unable to update TLS configuration"):
        admin.config_set("tls-ca-cert-file", "/nonexistent.crt")
    # Cipher lists the TLS library makes nothing of are refused, not fatal to the server.
    for ciphers in ["AES128-SHA256:AES256-SHA256", ":::@@@", "NOSUCHCIPHER"]:
        with pytest.raises(redis.exceptions.ResponseError, match="Unable to update TLS configuration"):
            admin.config_set("tls-ciphers", ciphers)
    assert admin.config_get("tls-ciphers")["tls-ciphers"] == ""
    # A failed CONFIG SET leaves the old value, and TLS still works.
    assert admin.config_get("tls-protocols")["tls-protocols"] == ""
    assert cli(certs, s.tls_port, "PING") == "PONG"


def test_tls_protocols_restrict_versions(certs, tls_server):
    s = tls_server("--tls-protocols", "TLSv1.3")

    def handshake(version):
        context = ssl.create_default_context(cafile=certs["ca.crt"])
        context.check_hostname = False
        context.load_cert_chain(certs["alice.crt"], certs["alice.key"])
        context.minimum_version = version
        context.maximum_version = version
        try:
            with socket.create_connection(("127.0.0.1", s.tls_port), timeout=5) as raw:
                with context.wrap_socket(raw) as c:
                    c.sendall(b"PING\r\n")
                    return c.recv(10)
        except (ssl.SSLError, ConnectionResetError, OSError):
            return None

    assert handshake(ssl.TLSVersion.TLSv1_3) == b"+PONG\r\n"
    assert handshake(ssl.TLSVersion.TLSv1_2) is None
    s.client().config_set("tls-protocols", "TLSv1.2")
    assert handshake(ssl.TLSVersion.TLSv1_2) == b"+PONG\r\n"
    assert handshake(ssl.TLSVersion.TLSv1_3) is None


def test_tls_port_set_at_runtime(certs, start_swiftlet):
    s = start_swiftlet("--tls-cert-file", certs["server.crt"], "--tls-key-file", certs["server.key"],
                       "--tls-ca-cert-file", certs["ca.crt"])
    port = free_port()
    s.client().config_set("tls-port", port)
    assert cli(certs, port, "PING") == "PONG"
    s.client().config_set("tls-port", 0)
    assert "PONG" not in cli(certs, port, "PING")


def test_client_certificate_common_name_logs_in(certs, tls_server):
    s = tls_server("--tls-auth-clients-user", "CN", "--requirepass", "pw")
    admin = s.client(password="pw")
    admin.execute_command("ACL", "SETUSER", "alice", "on", "nopass", "~*", "+@all")
    assert admin.config_get("tls-auth-clients-user") == {"tls-auth-clients-user": "CN"}
    assert cli(certs, s.tls_port, "ACL", "WHOAMI") == "alice"
    # A Common Name that names no user: the client stays unauthenticated, counted.
    out = cli(certs, s.tls_port, "GET", "x", cert="nobody")
    assert "NOAUTH" in out
    info = admin.info("stats")
    assert info["acl_access_denied_tls_cert"] == 1
    # A disabled user is no login either.
    admin.execute_command("ACL", "SETUSER", "alice", "off")
    assert "NOAUTH" in cli(certs, s.tls_port, "GET", "x")
    admin.config_set("tls-auth-clients-user", "off")
    admin.execute_command("ACL", "SETUSER", "alice", "on")
    assert "NOAUTH" in cli(certs, s.tls_port, "GET", "x")


def wait_link_up(client, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        info = client.info("replication")
        if info.get("master_link_status") == "up":
            return
        time.sleep(0.1)
    raise AssertionError(f"replication link not up: {client.info('replication')}")


def wait_equal(fn, expected, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if fn() == expected:
            return
        time.sleep(0.1)
    assert fn() == expected


@pytest.mark.parametrize("primary_binary,replica_binary", [
    (SWIFTLET, SWIFTLET), (SWIFTLET, REDIS_SERVER), (REDIS_SERVER, SWIFTLET)],
    ids=["swiftlet-swiftlet", "swiftlet-redis", "redis-swiftlet"])
def test_tls_replication(certs, tls_server, primary_binary, replica_binary):
    primary = tls_server(binary=primary_binary)
    p = primary.client()
    # More than one 256 KB chunk of snapshot, so the TLS file transfer takes several writes.
    pipe = p.pipeline(transaction=False)
    for i in range(3000):
        pipe.set(f"key:{i}", os.urandom(200).hex())
    pipe.execute()
    replica = tls_server("--tls-replication", "yes", binary=replica_binary)
    r = replica.client()
    r.replicaof("127.0.0.1", primary.tls_port)
    wait_link_up(r)
    wait_equal(r.dbsize, 3000)
    assert r.get("key:2999") == p.get("key:2999")
    # The stream after the snapshot goes over TLS too.
    p.set("after", "sync")
    p.incr("counter")
    wait_equal(lambda: r.get("after"), b"sync")
    assert r.get("counter") == b"1"
    # The primary shows the replica at its TLS port.
    info = p.info("replication")
    assert info["connected_slaves"] == 1
    assert info["slave0"]["port"] == replica.tls_port


def test_metrics_over_https(certs):
    port, metrics_port = free_port(), free_port()
    s = Server(SWIFTLET, tls_args(certs, port, "--metrics-port", str(metrics_port), "--metrics-tls", "yes"))
    try:
        context = ssl.create_default_context(cafile=certs["ca.crt"])
        context.check_hostname = False
        context.load_cert_chain(certs["alice.crt"], certs["alice.key"])
        with urllib.request.urlopen(f"https://127.0.0.1:{metrics_port}/metrics", context=context, timeout=10) as resp:
            body = resp.read().decode()
        assert "redis_connected_clients" in body or "swiftlet" in body
    finally:
        s.stop()


def test_cluster_bus_over_tls(certs):
    """tls-cluster yes: the nodes' bus links speak TLS; redis-cli --tls --cluster create
    builds the cluster on the TLS ports, which CLUSTER NODES and MOVED give out."""
    from test_cluster_bus import cluster_ports, nodes_of, wait_for

    servers = []
    try:
        for port in cluster_ports(3):
            tls_port = free_port()
            s = Server(SWIFTLET, tls_args(certs, tls_port, "--tls-cluster", "yes", "--cluster-enabled", "yes",
                                          "--cluster-node-timeout", "2000"), port=port)
            s.tls_port = tls_port
            servers.append(s)
        out = cli(certs, servers[0].tls_port, "--cluster", "create",
                  *[f"127.0.0.1:{s.tls_port}" for s in servers], "--cluster-yes")
        assert "[OK] All 16384 slots covered." in out, out
        wait_for(lambda: all(len(nodes_of(s)) == 3 for s in servers), what="three nodes known everywhere")
        wait_for(lambda: all(b"cluster_state:ok" in s.client().execute_command("CLUSTER", "INFO") for s in servers),
                 what="cluster_state:ok")
        assert {n["port"] for n in nodes_of(servers[1])} == {s.tls_port for s in servers}
        assert cli(certs, servers[0].tls_port, "-c", "SET", "foo", "bar") == "OK"
        assert cli(certs, servers[1].tls_port, "-c", "GET", "foo") == "bar"
        # A plain connection to a bus port is refused (the bus expects a TLS handshake).
        with socket.create_connection(("127.0.0.1", servers[0].port + 10000)) as raw:
            raw.sendall(b"RCmb" + bytes(2252))
            raw.settimeout(5)
            try:
                assert raw.recv(16) == b""
            except ConnectionResetError:
                pass
    finally:
        for s in servers:
            s.stop()
