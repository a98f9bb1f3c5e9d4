#!/usr/bin/env python3
"""Runs redis-py's own test suite (from its sdist) against a fresh Swiftlet.

    run_redis_py_suite.py --suite DIR --must-pass LIST      CI mode: every listed test must pass
    run_redis_py_suite.py --suite DIR --discover FILES...   prints the tests that pass now
    --cluster: against a cluster of six Swiftlet nodes (three primaries, three replicas,
    made with redis-cli --cluster create) instead of one server, for tests/test_cluster.py.

Each listed test runs under both RESP2 and RESP3 (`--protocol=2` and `--protocol=3`), each
protocol against its own fresh server (or cluster) on free ports."""
import argparse
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "integration"))
from conftest import SWIFTLET, Server  # noqa: E402


def run(suite, targets, protocol, cluster=False):
    if cluster:
        from test_cluster_bus import create, start_nodes, stop_all

        servers = start_nodes([SWIFTLET] * 6)
        create(servers, 1)
    else:
        servers = [Server(SWIFTLET, ["--enable-debug-command", "yes"])]
    try:
        cmd = [
            sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA", "--tb=line", "--timeout", "20",
            f"--redis-url=redis://127.0.0.1:{servers[0].port}/0", f"--protocol={protocol}",
        ] + targets
        p = subprocess.run(cmd, cwd=suite, capture_output=True, text=True)
    finally:
        for server in servers:
            server.stop()
    outcomes = {}
    for line in p.stdout.splitlines():
        m = re.match(r"^(PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS) (\S+)", line)
        if m:
            outcomes.setdefault(m.group(2), m.group(1))
            if m.group(1) in ("FAILED", "ERROR"):
                outcomes[m.group(2)] = m.group(1)
    return outcomes, p.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--suite", required=True)
    ap.add_argument("--must-pass")
    ap.add_argument("--discover", nargs="*")
    ap.add_argument("--cluster", action="store_true")
    args = ap.parse_args()
    if args.discover is not None:
        passing = None
        for protocol in (2, 3):
            outcomes, _ = run(args.suite, args.discover, protocol, args.cluster)
            ok = {t for t, o in outcomes.items() if o == "PASSED"}
            passing = ok if passing is None else passing & ok
        for t in sorted(passing):
            print(t)
        return 0
    with open(args.must_pass) as f:
        tests = [l.strip() for l in f if l.strip() and not l.startswith("#")]
    failed_total = 0
    passed_total = 0
    # Run whole files (node ids of parametrized tests are not all stable), then check each listed test.
    files = sorted({t.split("::")[0] for t in tests})
    for protocol in (2, 3):
        outcomes, out = run(args.suite, files, protocol, args.cluster)
        failed = [t for t in tests if outcomes.get(t) != "PASSED"]
        passed_total += len(tests) - len(failed)
        failed_total += len(failed)
        if failed:
            print(out[-20000:])
            for t in failed:
                print(f"must-pass test did not pass (RESP{protocol}): {t} -> {outcomes.get(t, 'not run')}")
    print(f"redis-py suite{' (cluster)' if args.cluster else ''}: {passed_total} passed, {failed_total} failed")
    return 1 if failed_total else 0


if __name__ == "__main__":
    sys.exit(main())
