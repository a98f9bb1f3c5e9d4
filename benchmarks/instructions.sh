#!/usr/bin/env bash
# benchmarks/instructions.sh BIN [TESTS]: server-side user instructions per command, counted by
# callgrind (deterministic where wall time on a shared machine is not), for redis-benchmark's
# own tests and for commands it has no test for. BIN is swiftlet-server or redis-server.
#
# The server runs under valgrind on a free loopback port with redis-benchmark's data loaded
# first (10 000 string keys, a 10-field hash, a 100-element list and sorted set, one script);
# for each test the counters are zeroed, redis-benchmark sends N commands at pipeline 16 from
# 10 clients, and the counters are dumped. Prints "TEST instructions/command" per test.
# TESTS: comma list (default: all below). Needs valgrind and redis-benchmark.
# CLUSTER=1: the server runs in cluster mode, serving all 16 384 slots itself (what slot
# bookkeeping costs per command; leave out mset, whose random keys cross slots).
set -euo pipefail
bin=$1
tests=${2:-get,set,incr,lpush,sadd,hset,zadd,mset,lrange_100,hgetall,zrange,evalsha}
N=${N:-100000}
script="return redis.call('GET', KEYS[1])"
sha=d3c21d0c2b9ca22f82737626a27bcaf5d288f99f
# A free port whose cluster bus port (+10000) is a port too: at most 55535.
port=$(python3 -c 'import socket
for _ in range(100):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]
    if p <= 55535: print(p); break')
dir=$(mktemp -d)
out=$dir/cg.out
# valgrind 3.19 cannot read the DWARF of Swift 6 binaries: count on a stripped copy.
strip -o "$dir/server" "$bin"
(cd "$dir" && exec valgrind --tool=callgrind --callgrind-out-file="$out" --dump-instr=no "$dir/server" \
    --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
    ${CLUSTER:+--cluster-enabled yes --cluster-config-file "$dir/nodes.conf"} >"$dir/log" 2>&1) &
vpid=$!
cleanup() {
    [ -n "${spid:-}" ] && kill "$spid" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$vpid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$vpid" 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT
cli() { redis-cli -p "$port" "$@" >/dev/null; }
for _ in $(seq 1 300); do redis-cli -p "$port" PING >/dev/null 2>&1 && break; sleep 0.2; done
if [ -n "${CLUSTER:-}" ]; then
    cli CLUSTER ADDSLOTSRANGE 0 16383
    for _ in $(seq 1 100); do redis-cli -p "$port" CLUSTER INFO | grep -q cluster_state:ok && break; sleep 0.2; done
fi
spid=$(pgrep -P "$vpid" 2>/dev/null | head -1 || true)
[ -z "$spid" ] && spid=$vpid
bench() { timeout 600 redis-benchmark -p "$port" -n "$1" -r 10000 -d 16 -P 16 -c 10 -q "${@:2}" >/dev/null 2>&1; }

bench 10000 -t set
for i in $(seq 0 9); do cli HSET myhash10 "field:$i" xxxxxxxxxxxxxxxx; done
cli RPUSH mylist100 $(seq -f 'element:%g' 0 99)
cli ZADD myzset100 $(for i in $(seq 0 99); do echo "$i element:$i"; done)
[ "$(redis-cli -p "$port" SCRIPT LOAD "$script")" = "$sha" ]

for t in ${tests//,/ }; do
    callgrind_control -z "$spid" >/dev/null 2>&1
    case $t in
        hgetall) bench "$N" HGETALL myhash10 ;;
        zrange) bench "$N" ZRANGE myzset100 0 9 WITHSCORES ;;
        evalsha) bench "$N" EVALSHA "$sha" 1 key:__rand_int__ ;;
        *) bench "$N" -t "$t" ;;
    esac
    rm -f "$out".*
    callgrind_control -d "$t" "$spid" >/dev/null 2>&1
    sleep 1
    f=$(ls -t "$out".* 2>/dev/null | head -1 || true)
    ir=0
    [ -n "$f" ] && ir=$(awk '/^(summary|totals):/ { print $2 }' "$f" | tail -1)
    awk -v t="$t" -v ir="${ir:-0}" -v n="$N" 'BEGIN { printf "%-10s %8.0f instructions/command\n", t, ir / n }'
done
