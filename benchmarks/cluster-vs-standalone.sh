#!/usr/bin/env bash
# What cluster mode costs one node: redis-benchmark against two release Swiftlets, one
# standalone and one with `cluster-enabled yes` serving all 16 384 slots itself (every
# command's keys are hashed to their slot and checked), rounds interleaved; prints requests
# per second per test, the ratio cluster / standalone and the geometric mean.
# Usage: benchmarks/cluster-vs-standalone.sh [rounds]   (N, CLIENTS, PIPELINE env; BIN to
# measure another server, e.g. BIN=redis-server for Redis's own figure)
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/ratio-table.sh
rounds=${1:-3}
N=${N:-200000}
CLIENTS=${CLIENTS:-50}
PIPELINE=${PIPELINE:-1}
BIN=${BIN:-.build/release/swiftlet-server}
[[ $BIN == /* ]] || BIN=$PWD/$BIN  # not realpath: Debian's redis-server is a symlink it must keep
work=$(mktemp -d)
free_port() {
    python3 -c 'import socket
for _ in range(100):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]
    if p <= 55535:
        t = socket.socket()
        try:
            t.bind(("127.0.0.1", p + 10000)); print(p); break
        except OSError: pass'
}
AP=$(free_port); CP=$(free_port)
mkdir "$work/a" "$work/c"
(cd "$work/a" && exec "$BIN" --port "$AP" --bind 127.0.0.1 --save '' --appendonly no >/dev/null 2>&1) &
APID=$!
(cd "$work/c" && exec "$BIN" --port "$CP" --bind 127.0.0.1 --save '' --appendonly no \
    --cluster-enabled yes >/dev/null 2>&1) &
CPID=$!
trap 'kill $APID $CPID 2>/dev/null || true; rm -rf "$work"' EXIT
sleep 1
redis-cli -p "$CP" CLUSTER ADDSLOTSRANGE 0 16383 >/dev/null
for _ in $(seq 1 50); do redis-cli -p "$CP" CLUSTER INFO | grep -q cluster_state:ok && break; sleep 0.2; done
bench() {
    redis-benchmark -p "$1" -n "$N" -c "$CLIENTS" -P "$PIPELINE" -t set,get,incr,lpush,sadd,hset -r 100000 --csv \
        2>/dev/null | tr -d '"' | awk -F, 'NR>1 {print $1, $2}'
}
declare -A alone cluster
for ((i = 1; i <= rounds; i++)); do
    while read -r test rps; do alone[$test]="${alone[$test]:-} $rps"; done < <(bench "$AP")
    while read -r test rps; do cluster[$test]="${cluster[$test]:-} $rps"; done < <(bench "$CP")
done
printf "%s, %d clients, pipeline %d, %d requests, median of %d rounds\n" "$(basename "$BIN")" "$CLIENTS" \
    "$PIPELINE" "$N" "$rounds"
ratio_table alone cluster standalone "cluster mode" "cluster / standalone"
