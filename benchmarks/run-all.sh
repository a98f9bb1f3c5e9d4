#!/usr/bin/env bash
# benchmarks/run-all.sh: what `make bench` runs, with its tables written to
# benchmarks/results/latest.md:
#   1. the microbenchmarks (Benchmarks/, ordo-one/benchmark), checked against the allocation
#      thresholds under Benchmarks/Thresholds/ (a new allocation on a hot path fails here);
#   2. server-side instructions per command (benchmarks/instructions.sh, callgrind) for the
#      release swiftlet-server and Debian's redis-server, side by side, and Redis 8 when
#      REDIS8_SERVER names its binary;
#   3. redis-benchmark side by side (benchmarks/run-vs-redis.sh), when the shared
#      bench-vs-redis.sh is there.
# Needs a release build (make release), valgrind and redis-benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."
out=benchmarks/results/latest.md
mkdir -p benchmarks/results
swiftlet=.build/release/swiftlet-server
redis=$(command -v redis-server)
{
    echo "# Benchmarks, $(date -u +%Y-%m-%d) on $(nproc) cores"
    echo
    version() { "$1" --version | sed 's/.*v=\([^ ]*\).*/\1/'; }
    echo "Swiftlet $(git rev-parse --short HEAD 2>/dev/null || echo unknown), redis-server $(version "$redis")"
    if [ -n "${REDIS8_SERVER:-}" ]; then echo "Redis 8: $(version "$REDIS8_SERVER")"; fi
    echo
} >"$out"

echo "== microbenchmarks (allocation thresholds checked)"
status=0
(cd Benchmarks && swift package --disable-sandbox benchmark thresholds check --no-progress) \
    | tee benchmarks/results/microbenchmarks.txt || status=$?
{
    echo "## Microbenchmarks"
    echo
    echo "Allocations per operation are exact (Swiftlet's malloc counts them); \`thresholds check\`"
    echo "exit status: $status (0: every benchmark at its threshold). Full tables:"
    echo "benchmarks/results/microbenchmarks.txt."
    echo
} >>"$out"

echo "== instructions per command (callgrind, pipeline 16)"
declare -A sw rd r8
while read -r t n _; do sw[$t]=$n; done < <(bash benchmarks/instructions.sh "$swiftlet")
while read -r t n _; do rd[$t]=$n; done < <(bash benchmarks/instructions.sh "$redis")
if [ -n "${REDIS8_SERVER:-}" ]; then
    while read -r t n _; do r8[$t]=$n; done < <(bash benchmarks/instructions.sh "$REDIS8_SERVER")
fi
{
    echo "## Instructions per command"
    echo
    echo "Server-side user instructions per command (benchmarks/instructions.sh: callgrind, pipeline 16,"
    echo "10 clients). Below 1.00 Swiftlet spends fewer."
    echo
    echo "| command | Swiftlet | redis-server | ratio | Redis 8 | ratio |"
    echo "|---|---|---|---|---|---|"
    for t in "${!sw[@]}"; do
        r8v=${r8[$t]:-}
        r8r=""
        [ -n "$r8v" ] && r8r=$(awk -v a="${sw[$t]}" -v b="$r8v" 'BEGIN { printf "%.2f", a / b }')
        awk -v t="$t" -v a="${sw[$t]}" -v b="${rd[$t]}" -v c="$r8v" -v cr="$r8r" \
            'BEGIN { printf "| %s | %d | %d | %.2f | %s | %s |\n", t, a, b, a / b, c, cr }'
    done | sort
    echo
} | tee -a "$out"

if [ -f ../shared/tools/bench-vs-redis.sh ]; then
    echo "== redis-benchmark side by side"
    { echo "## redis-benchmark side by side"; echo; echo '```'; } >>"$out"
    MODE=${MODE:-quick} bash benchmarks/run-vs-redis.sh | tee -a "$out"
    echo '```' >>"$out"
fi
echo "tables: $out"
exit "$status"
