#!/usr/bin/env bash
# Starts redis-server and a release Swiftlet on free ports, then runs the shared
# side-by-side benchmark (quick mode unless MODE is set). Usage: benchmarks/run-vs-redis.sh
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${MODE:-quick}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
RP=$(free_port); SP=$(free_port)
redis-server --port "$RP" --bind 127.0.0.1 --save '' --appendonly no >/dev/null 2>&1 &
RPID=$!
.build/release/swiftlet-server --port "$SP" --bind 127.0.0.1 --save '' >/dev/null 2>&1 &
SPID=$!
trap 'kill $RPID $SPID 2>/dev/null || true' EXIT
sleep 1
bash ../shared/tools/bench-vs-redis.sh "$RP" "$SP" "$MODE"
