#!/usr/bin/env python3
"""Runs Redis's own Tcl test suite (tests/ of Debian's redis 7.0.15 source) against a server.

    run_compat.py --suite DIR --mode external [own] [--server swiftlet|redis] [--units U ...]
                  [--reference FILE] [--excluded FILE] [--record FILE]

external  one unit file at a time against a fresh server started here on a free loopback
          port (`--host/--port`, tags `-slow`, `--ignore-encoding`: the suite is 7.0's, whose
          small lists are `quicklist`, where 7.2 and later say `listpack`); after the unit
          the server must still answer.
own       the suite starts its servers itself from `src/redis-server` of a copy of the
          suite, where `src/` holds our binaries (swiftlet-server as redis-server,
          swiftlet-cli as redis-cli, swiftlet-check-aof/-rdb as redis-check-aof/-rdb).
tls       own mode with the suite's `--tls`: its servers listen on TLS ports only, with the
          certificates of Redis's utils/gen-test-certs.sh; its client speaks TLS (Tcl's
          `tls` package) and replicas link to their primaries over TLS.

A unit that makes no progress is stopped (the suite's own --timeout, and a wall-clock limit
here) and the tests it had not finished count as failed. --reference names the tests that
pass against Debian's redis-server 7.0.15 in that mode ({mode} in the path); with it only
units holding such tests run, and every one of those tests must pass unless --excluded (a
tab-separated list: mode, "unit: test name", reason) gives its reason. A unit that loses
its server or hangs fails the run too. The last line is `compat: N passed, M failed`: N
tests passed in all, M is what breaks that rule (0 for a good run)."""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
RELEASE = os.path.join(ROOT, ".build", "release")
# The reference binaries (`--server redis`): Debian's, or a built tree's src/ (Redis 8.0.2).
REDIS_BIN = os.environ.get("COMPAT_REDIS_BIN", "/usr/bin")

# The units of Redis's suite run in each mode. External mode runs every unit (those made
# only of `external:skip` tests end at once); the suite's own mode runs the units that
# restart servers, read their logs or use config files.
OWN_UNITS = [
    "integration/rdb", "integration/aof", "integration/aof-multi-part",
    "integration/convert-zipmap-hash-on-load", "integration/convert-ziplist-hash-on-load",
    "integration/convert-ziplist-zset-on-load", "unit/maxmemory", "unit/info",
    "unit/latency-monitor", "unit/shutdown", "unit/networking", "unit/querybuf",
    "unit/obuf-limits", "unit/limits", "unit/lazyfree", "unit/oom-score-adj",
    # Replication: Swiftlet primaries, replicas and chains, the suite's servers all ours.
    "integration/replication", "integration/replication-2", "integration/replication-3",
    "integration/replication-4", "integration/replication-psync", "integration/replication-buffer",
    "integration/psync2", "integration/psync2-reg", "integration/psync2-pingoff",
    "integration/psync2-master-restart", "integration/block-repl", "integration/failover", "unit/wait",
    # Units whose external:skip tests (server restarts, config files, command lines) only
    # this mode runs.
    "unit/acl", "unit/introspection", "unit/auth", "unit/pubsub", "unit/type/string", "unit/protocol",
    "unit/client-eviction",
    # Redis Cluster: clusters of our servers over the cluster bus.
    "unit/cluster", "unit/cluster-scripting", "unit/cluster/misc", "unit/cluster/links",
    "unit/cluster/announced-endpoints",
]

# Units that build clusters with `redis-cli --cluster`, which swiftlet-cli does not have:
# they run with Debian's redis-cli beside our server (the server is what they test).
REDIS_CLI_UNITS = {"unit/cluster"}

# Units run a second time when a test of theirs fails, and judged by that run: their
# assertions race the server's reads of other connections (unit/client-eviction reads
# CLIENT LIST on one connection right after writing a big argument on another, and opens a
# client right after closing one that held 3 MB), which a loaded 2-core machine sometimes
# loses. Each retry is printed, so a unit that needs one is visible in the log.
RETRIED_UNITS = {"unit/client-eviction"}

# The units run with TLS: the TLS unit itself, and ones that cover the paths TLS changes
# (authentication, a connection's life and limits, replication's links and snapshots).
TLS_UNITS = [
    "unit/tls", "unit/auth", "unit/acl", "unit/networking", "unit/introspection", "unit/pubsub",
    "unit/type/string", "unit/protocol", "integration/replication", "integration/replication-4",
]

ANSI = re.compile(r"\x1b\[[0-9;]*m")
# Test names that carry a random part (psync2.tcl draws its layouts and load sizes at
# random): compared with the numbers taken out, so a run matches the reference whatever
# it drew (a name is "ok" only when every test of that form passed).
RANDOM_NAMES = [
    (re.compile(r"^(PSYNC2: Set #)\d+( to replicate from #)\d+$"), r"\1N\2N"),
    (re.compile(r"^(PSYNC2: \[NEW LAYOUT\] Set #)\d+( as master)$"), r"\1N\2"),
    (re.compile(r"^(PSYNC2: cluster is consistent after load \(x = )\d+(\))$"), r"\1N\2"),
]


def normalized(name):
    """A test name with its random part replaced by N (see RANDOM_NAMES); `unit: ` kept."""
    unit, sep, test = name.partition(": ") if name.startswith(("integration/", "unit/")) else ("", "", name)
    for pattern, replacement in RANDOM_NAMES:
        test = pattern.sub(replacement, test)
    return unit + sep + test
LINE = re.compile(r"^\[(ok|err|skip|ignore|exception|TIMEOUT)\]: (.*)$")


def free_port():
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port != 6379:
            return port


def ping(port, timeout=2.0):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            s.settimeout(timeout)
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def all_units(suite):
    text = open(os.path.join(suite, "tests", "test_helper.tcl")).read()
    block = re.search(r"set ::all_tests \{(.*?)\}", text, re.S).group(1)
    return block.split()


def binaries(server):
    if server == "redis":
        return {n: os.path.join(REDIS_BIN, n) for n in
                ("redis-server", "redis-cli", "redis-benchmark", "redis-check-aof", "redis-check-rdb")}
    return {
        "redis-server": os.path.join(RELEASE, "swiftlet-server"),
        "redis-cli": os.path.join(RELEASE, "swiftlet-cli"),
        "redis-check-aof": os.path.join(RELEASE, "swiftlet-check-aof"),
        "redis-check-rdb": os.path.join(RELEASE, "swiftlet-check-rdb"),
        # No benchmark of our own: the suite's redis-benchmark unit drives the server with Redis's.
        "redis-benchmark": os.path.join(REDIS_BIN, "redis-benchmark"),
    }


def prepare_tree(suite, server, mode, workroot):
    """A copy of the suite whose src/ holds the binaries under Redis's names."""
    tree = os.path.join(workroot, f"suite-{server}-{mode}")
    if os.path.exists(tree):
        shutil.rmtree(tree)
    shutil.copytree(os.path.join(suite, "tests"), os.path.join(tree, "tests"), symlinks=True)
    shutil.copy(os.path.join(suite, "runtest"), tree)
    shutil.copy(os.path.join(suite, "redis.conf"), tree)
    if mode == "tls":
        # The suite's certificates, made as Redis's own CI makes them.
        os.makedirs(os.path.join(tree, "utils"), exist_ok=True)
        shutil.copy(os.path.join(suite, "utils", "gen-test-certs.sh"), os.path.join(tree, "utils"))
        subprocess.run(["bash", "utils/gen-test-certs.sh"], cwd=tree, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.makedirs(os.path.join(tree, "src"))
    for name, path in binaries(server).items():
        os.symlink(path, os.path.join(tree, "src", name))
    os.makedirs(os.path.join(tree, "tests", "tmp"), exist_ok=True)
    return tree


def parse(output):
    """Outcome per test name: 'ok' only when every run of that name passed."""
    outcomes = {}
    order = []
    problems = []
    for raw in output.splitlines():
        line = ANSI.sub("", raw)
        m = LINE.match(line)
        if not m:
            continue
        status, data = m.groups()
        if status == "ok":
            name = normalized(re.sub(r" \(\d+ ms\)$", "", data))
            if name not in outcomes:
                order.append(name)
                outcomes[name] = "ok"
        elif status == "err":
            name = normalized(re.sub(r" in tests/\S+\.tcl$", "", data))
            if name not in outcomes:
                order.append(name)
            outcomes[name] = "err"
        elif status in ("exception", "TIMEOUT"):
            problems.append(f"{status}: {data}")
    return outcomes, order, problems


def start_server(binary, workdir):
    port = free_port()
    log = open(os.path.join(workdir, "server.log"), "wb")
    cmd = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
           "--enable-debug-command", "yes", "--dir", workdir]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
    deadline = time.time() + 15
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited at start: see {workdir}/server.log")
        if ping(port, 0.5):
            return proc, port
        time.sleep(0.05)
    raise RuntimeError("server did not start")


def stop(proc):
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def run_tcl(tree, args, wall_limit):
    """Runs the suite's helper in its own process group; returns its output and whether it hung."""
    cmd = ["tclsh", "tests/test_helper.tcl", "--durable", "--timeout", "90"] + args
    proc = subprocess.Popen(cmd, cwd=tree, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=wall_limit)
        hung = False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        hung = True
    # Servers the suite started in its own mode live in its process group too.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return out.decode(errors="replace"), hung


def run_unit(tree, mode, server, unit, workroot, wall_limit):
    started = time.time()
    notes = []
    # Port ranges (the suite's own listener, the servers it starts) apart from the ephemeral
    # range, and apart per server kind so a reference run can go beside ours.
    baseport = int(os.environ.get("COMPAT_BASEPORT", 12000 if server == "swiftlet" else 22000))
    ports = ["--baseport", str(baseport), "--portcount", "4000"]
    if mode == "external":
        workdir = tempfile.mkdtemp(prefix="compat-", dir=workroot)
        proc, port = start_server(binaries(server)["redis-server"], workdir)
        try:
            out, hung = run_tcl(tree, ["--host", "127.0.0.1", "--port", str(port), "--single", unit,
                                       "--clients", "1", "--tags", "-slow", "--ignore-encoding"] + ports,
                                wall_limit)
            if not ping(port):
                notes.append("server lost" if proc.poll() is not None else "server stopped answering")
        finally:
            stop(proc)
        if not notes:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            notes.append(f"log: {workdir}/server.log")
    else:
        tls = ["--tls"] if mode == "tls" else []
        out, hung = run_tcl(tree, ["--single", unit, "--clients", "2", "--tags", "-slow"] + tls + ports,
                            wall_limit)
        # A server crash shows in the suite's own output.
        for marker in ("Crashed by signal", "crashed by signal", "PANIC", "Fatal error"):
            if marker in out:
                notes.append("server crashed")
                break
    if hung:
        notes.append(f"unit hung: stopped after {wall_limit} s")
    outcomes, order, problems = parse(out)
    notes += problems
    return {"unit": unit, "outcomes": outcomes, "order": order, "notes": notes,
            "seconds": round(time.time() - started, 1), "output": out}


def read_list(path):
    if not path or not os.path.exists(path):
        return []
    with open(path) as f:
        return [l.rstrip("\n") for l in f if l.strip() and not l.startswith("#")]


def read_exclusions(path):
    """{(mode, "unit: name"): reason} from the tab-separated exclusion list."""
    out = {}
    for line in read_list(path):
        mode, test, reason = line.split("\t", 2)
        out[(mode, test)] = reason
    return out


def run_mode(args, mode, suite, reference, exclusions):
    tree = prepare_tree(suite, args.server, mode, args.workdir)
    units = args.units or {"external": all_units(suite), "own": OWN_UNITS, "tls": TLS_UNITS}[mode]
    if reference and not args.units:
        # Units where Redis passes nothing (replication, cluster, TLS in external mode) have
        # nothing to compare; they are skipped unless named.
        units = [u for u in units if any(t.startswith(u + ": ") for t in reference)]
    passed, failed, lost = set(), set(), []
    cli = os.path.join(tree, "src", "redis-cli")
    for unit in units:
        if args.server == "swiftlet":
            os.unlink(cli)
            os.symlink(os.path.join(REDIS_BIN, "redis-cli") if unit in REDIS_CLI_UNITS
                       else binaries(args.server)["redis-cli"], cli)
        r = run_unit(tree, mode, args.server, unit, args.workdir, args.unit_limit)
        if unit in RETRIED_UNITS and any(r["outcomes"][n] != "ok" for n in r["order"]):
            print(f"{mode:8s} {unit:45s} failed {sum(r['outcomes'][n] != 'ok' for n in r['order'])}, run again",
                  flush=True)
            r = run_unit(tree, mode, args.server, unit, args.workdir, args.unit_limit)
        name = f"{args.server}-{mode}-" + unit.replace("/", "_") + ".out"
        with open(os.path.join(args.workdir, name), "w") as f:
            f.write(r["output"])
        ok = [n for n in r["order"] if r["outcomes"][n] == "ok"]
        bad = [n for n in r["order"] if r["outcomes"][n] != "ok"]
        passed |= {f"{unit}: {n}" for n in ok}
        failed |= {f"{unit}: {n}" for n in bad}
        stopped = any(n.startswith(("server", "unit hung", "TIMEOUT")) for n in r["notes"])
        # A unit whose stop is excused (a `unit: *` exclusion with its reason) does not fail
        # the run; its tests that did not run are listed one by one all the same.
        if stopped and (mode, f"{unit}: *") not in exclusions:
            lost.append(f"{mode} {unit}: " + "; ".join(r["notes"]))
        note = ("  [" + "; ".join(r["notes"]) + "]") if r["notes"] else ""
        print(f"{mode:8s} {unit:45s} {len(ok):4d} passed {len(bad):4d} failed  {r['seconds']:6.1f} s{note}",
              flush=True)
    return passed, failed, lost


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--suite", required=True, help="the unpacked Redis source tree")
    ap.add_argument("--mode", nargs="+", choices=["external", "own", "tls"], required=True)
    ap.add_argument("--server", choices=["swiftlet", "redis"], default="swiftlet")
    ap.add_argument("--units", nargs="*")
    ap.add_argument("--reference", help="Redis's passing tests, {mode} in the path for the mode")
    ap.add_argument("--excluded", help="tests Redis passes that are not expected to pass here, with reasons")
    ap.add_argument("--record", help="write the passing tests here ({mode} in the path for the mode)")
    ap.add_argument("--unit-limit", type=int, default=420, help="wall-clock seconds per unit")
    ap.add_argument("--workdir", default=os.path.join(ROOT, ".build", "compat"))
    args = ap.parse_args()

    suite = os.path.abspath(args.suite)
    os.makedirs(args.workdir, exist_ok=True)
    exclusions = read_exclusions(args.excluded)
    total_passed = 0
    unexplained = []
    stale = []
    lost_all = []
    summaries = []
    for mode in args.mode:
        reference = (
            list(dict.fromkeys(normalized(t) for t in read_list(args.reference.format(mode=mode))))
            if args.reference else [])
        passed, failed, lost = run_mode(args, mode, suite, reference, exclusions)
        lost_all += lost
        total_passed += len(passed)
        if args.record:
            with open(args.record.format(mode=mode), "w") as f:
                for t in sorted(passed):
                    f.write(t + "\n")
        if reference:
            expected = [t for t in reference if (mode, t) not in exclusions]
            missing = [t for t in expected if t not in passed]
            unexplained += [f"{mode} {t}" for t in missing]
            excluded_passing = [t for t in reference if (mode, t) in exclusions and t in passed]
            stale += [f"{mode}\t{t}" for t in excluded_passing]
            summaries.append(
                f"{mode}: {len(passed)} passed, {len(failed)} failed; of Redis's {len(reference)}, "
                f"{len(expected) - len(missing)} passed, {len(reference) - len(expected)} excluded with reasons, "
                f"{len(missing)} unexplained")
        else:
            summaries.append(f"{mode}: {len(passed)} passed, {len(failed)} failed")

    for t in unexplained:
        print(f"EXPECTED TO PASS (Redis passes it, no exclusion), did not: {t}")
    for line in lost_all:
        print(f"NO CRASH, NO HANG (the unit lost its server or stopped making progress): {line}")
    for t in stale:
        print(f"excluded but passes now (take it off the exclusion list): {t}")
    for line in summaries:
        print(line)
    if args.reference:
        # The gate: a test Redis passes either passes here or is excluded with its reason.
        print(f"compat: {total_passed} passed, {len(unexplained) + len(lost_all)} failed")
        return 1 if (unexplained or lost_all) else 0
    print(f"compat: {total_passed} passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
