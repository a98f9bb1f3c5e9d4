#!/usr/bin/env bash
# redis-benchmark --tls against Debian's redis-server (built with TLS) and a release
# Swiftlet, both on TLS ports with the same certificates (made here with openssl), rounds
# interleaved; prints requests per second per test and the ratio Swiftlet / Redis, and the
# geometric mean. Usage: benchmarks/tls-vs-redis.sh [rounds]   (N, CLIENTS, PIPELINE env)
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/ratio-table.sh
rounds=${1:-3}
N=${N:-100000}
CLIENTS=${CLIENTS:-50}
PIPELINE=${PIPELINE:-1}
work=$(mktemp -d)
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=bench" -addext "subjectAltName=IP:127.0.0.1" \
    -keyout "$work/key.pem" -out "$work/cert.pem" >/dev/null 2>&1
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
RP=$(free_port); SP=$(free_port)
tls=(--tls-cert-file "$work/cert.pem" --tls-key-file "$work/key.pem" --tls-auth-clients no)
redis-server --port 0 --tls-port "$RP" --bind 127.0.0.1 --save '' --appendonly no "${tls[@]}" >/dev/null 2>&1 &
RPID=$!
.build/release/swiftlet-server --port 0 --tls-port "$SP" --bind 127.0.0.1 --save '' "${tls[@]}" >/dev/null 2>&1 &
SPID=$!
trap 'kill $RPID $SPID 2>/dev/null || true; rm -rf "$work"' EXIT
sleep 1
bench() {
    redis-benchmark -p "$1" --tls --cacert "$work/cert.pem" -n "$N" -c "$CLIENTS" -P "$PIPELINE" \
        -t set,get,incr,lpush,sadd,hset -r 100000 --csv 2>/dev/null | tr -d '"' | awk -F, 'NR>1 {print $1, $2}'
}
declare -A redis swiftlet
for ((i = 1; i <= rounds; i++)); do
    while read -r test rps; do redis[$test]="${redis[$test]:-} $rps"; done < <(bench "$RP")
    while read -r test rps; do swiftlet[$test]="${swiftlet[$test]:-} $rps"; done < <(bench "$SP")
done
printf "TLS, %d clients, pipeline %d, %d requests, median of %d rounds\n" "$CLIENTS" "$PIPELINE" "$N" "$rounds"
ratio_table redis swiftlet "redis-server 7.0.15" Swiftlet "Swiftlet / Redis"
