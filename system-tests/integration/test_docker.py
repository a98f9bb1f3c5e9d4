"""The Docker image without Docker (CI machines have no engine): the entrypoint script run
in a temporary root laid out as the image is (/usr/local/bin with the programs and Redis's
aliases, /data as the working directory), the seed's compose command line through it, and
the Dockerfile's structure (Debian has no hadolint)."""
import os
import pwd
import re
import socket
import stat
import subprocess
import tempfile
import time

import redis

from conftest import ROOT, SWIFTLET, free_port

ENTRYPOINT = os.path.join(ROOT, "docker", "docker-entrypoint.sh")


def stub_root(uid="1000"):
    """A root whose programs only report how they were called."""
    root = tempfile.mkdtemp(prefix="swiftlet-image-")
    bin_dir = os.path.join(root, "usr", "local", "bin")
    os.makedirs(bin_dir)
    os.makedirs(os.path.join(root, "data"))
    log = os.path.join(root, "calls.log")
    report = '#!/bin/sh\nprintf "%s|umask=%s" "$(basename "$0")" "$(umask)" >> {log}\nfor a in "$@"; do printf "|%s" "$a" >> {log}; done\necho >> {log}\n'
    for name in ["swiftlet-server", "redis-server", "redis-cli", "setpriv", "find", "chown"]:
        path = os.path.join(bin_dir, name)
        with open(path, "w") as f:
            f.write(report.format(log=log))
        os.chmod(path, 0o755)
    with open(os.path.join(bin_dir, "id"), "w") as f:
        f.write(f"#!/bin/sh\necho {uid}\n")
    os.chmod(os.path.join(bin_dir, "id"), 0o755)
    return root, bin_dir, log


def run_entrypoint(args, uid="1000"):
    root, bin_dir, log = stub_root(uid)
    env = {"PATH": bin_dir + ":/usr/bin:/bin"}
    subprocess.run(
        ["sh", "-c", "umask 0022; exec sh " + ENTRYPOINT + ' "$@"', "entrypoint"] + args,
        cwd=os.path.join(root, "data"), env=env, check=True, timeout=10)
    with open(log) as f:
        return [line.rstrip("\n").split("|") for line in f]


def test_entrypoint_dispatch_like_the_redis_image():
    # `docker run img` (CMD swiftlet-server): protected mode off, a private umask.
    assert run_entrypoint(["swiftlet-server"]) == [
        ["swiftlet-server", "umask=0077", "--protected-mode", "no"]]
    # Options alone go to the server.
    assert run_entrypoint(["--requirepass", "x"]) == [
        ["swiftlet-server", "umask=0077", "--requirepass", "x", "--protected-mode", "no"]]
    # The Redis name works as the command, as in the seed's compose file.
    assert run_entrypoint(["redis-server", "--requirepass", "x"]) == [
        ["redis-server", "umask=0077", "--requirepass", "x", "--protected-mode", "no"]]
    assert run_entrypoint(["swiftlet-server", "--requirepass", "x"]) == [
        ["swiftlet-server", "umask=0077", "--requirepass", "x", "--protected-mode", "no"]]
    # A config file, or an explicit choice, keeps the server's protected-mode handling.
    assert run_entrypoint(["/etc/redis/redis.conf"]) == [
        ["swiftlet-server", "umask=0077", "/etc/redis/redis.conf"]]
    assert run_entrypoint(["redis-server", "--protected-mode", "yes"]) == [
        ["redis-server", "umask=0077", "--protected-mode", "yes"]]
    # Anything else runs as given (docker exec … redis-cli -a …).
    assert run_entrypoint(["redis-cli", "-a", "x", "PING"]) == [
        ["redis-cli", "umask=0022", "-a", "x", "PING"]]


def test_entrypoint_as_root_hands_data_to_the_server_user():
    calls = run_entrypoint(["redis-server", "--requirepass", "x"], uid="0")
    assert calls[0][0] == "find" and calls[0][2:] == [".", "!", "-user", "swiftlet", "-exec", "chown", "swiftlet", "{}", "+"]
    assert calls[1][0] == "setpriv"
    assert calls[1][2:] == [
        "--reuid=swiftlet", "--regid=swiftlet", "--init-groups",
        "redis-server", "--requirepass", "x", "--protected-mode", "no"]


def test_seed_compose_command_runs_the_server_through_the_entrypoint():
    """docker-compose.yml's command line, in an image-shaped root with the real server."""
    with open(os.path.join(ROOT, "docker-compose.yml")) as f:
        compose = f.read()
    command = re.search(r"^\s*command:\s*(.+)$", compose, re.M).group(1).strip()
    assert command == "redis-server --requirepass ${REDIS_PASSWORD}"
    assert re.search(r"^\s*image:\s*swiftlet", compose, re.M)
    assert "redis-data:/data" in compose and '"6379:6379"' in compose

    root = tempfile.mkdtemp(prefix="swiftlet-image-")
    bin_dir = os.path.join(root, "usr", "local", "bin")
    data = os.path.join(root, "data")
    os.makedirs(bin_dir)
    os.makedirs(data)
    os.symlink(SWIFTLET, os.path.join(bin_dir, "swiftlet-server"))
    os.symlink("swiftlet-server", os.path.join(bin_dir, "redis-server"))
    port = free_port()  # tests never use 6379: the port is the one addition
    password = "s3cret-from-env"
    args = command.replace("${REDIS_PASSWORD}", password).split() + ["--port", str(port), "--bind", "127.0.0.1"]
    # Run by root (as in a container), the entrypoint hands over to SWIFTLET_USER: here the
    # user running the tests, which exists on this machine.
    env = dict(os.environ, PATH=bin_dir + ":" + os.environ["PATH"], REDIS_PASSWORD=password,
               SWIFTLET_USER=pwd.getpwuid(os.getuid()).pw_name)
    proc = subprocess.Popen(
        ["sh", "-c", "umask 0022; exec sh " + ENTRYPOINT + ' "$@"', "entrypoint"] + args,
        cwd=data, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert time.time() < deadline and proc.poll() is None, "server did not start"
                time.sleep(0.05)
        anonymous = redis.Redis(port=port, protocol=2)
        try:
            anonymous.ping()
            raise AssertionError("PING without AUTH should fail")
        except redis.AuthenticationError as e:
            assert "NOAUTH" in str(e) or "Authentication required" in str(e)
        r = redis.Redis(port=port, password=password)
        assert r.ping() is True
        assert r.config_get("protected-mode") == {"protected-mode": "no"}
        r.set("session:1", '{"user": 1}', ex=86400)
        assert r.save()
        # dump.rdb lands in the working directory (/data), readable by its owner only.
        mode = os.stat(os.path.join(data, "dump.rdb")).st_mode
        assert stat.S_IMODE(mode) == 0o600, oct(mode)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_dockerfile_structure():
    with open(os.path.join(ROOT, "Dockerfile")) as f:
        text = f.read()
    lines = [l.strip() for l in text.replace("\\\n", " ").splitlines() if l.strip() and not l.strip().startswith("#")]
    froms = [l for l in lines if l.startswith("FROM ")]
    assert len(froms) == 2 and froms[0].startswith("FROM swift:") and " AS build" in froms[0]
    assert froms[1].startswith("FROM debian:")
    for required in ["EXPOSE 6379", "VOLUME /data", "WORKDIR /data", 'ENTRYPOINT ["docker-entrypoint.sh"]',
                     'CMD ["swiftlet-server"]']:
        assert required in lines, required
    assert any(l.startswith("HEALTHCHECK") and "swiftlet-cli ping" in l for l in lines)
    runtime = text[text.index(froms[1].split()[0] + " debian:"):]
    for package in ["liblua5.1-0", "lua-cjson", "lua-bitop", "tzdata"]:
        assert package in runtime, package
    for l in lines:
        if "apt-get install" in l:
            assert "--no-install-recommends" in l and "rm -rf /var/lib/apt/lists/*" in l, l
    for alias in ["redis-server", "redis-cli"]:
        assert f"/usr/local/bin/{alias}" in text
    assert "COPY docker/docker-entrypoint.sh" in text and os.access(ENTRYPOINT, os.X_OK)
    # Everything the build stage copies exists in the repository.
    for l in lines:
        m = re.match(r"COPY (?!--from)(\S+) ", l)
        if m:
            assert os.path.exists(os.path.join(ROOT, m.group(1))), m.group(1)
