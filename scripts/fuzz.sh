#!/usr/bin/env bash
# Builds the libFuzzer harnesses of Fuzz/ (with AddressSanitizer) and runs each for
# FUZZ_SECONDS (default 60), starting from the seed corpus in Fuzz/Corpus/<harness>/.
# Working corpora and any crash inputs go to .build/fuzz/. Prints, per harness, the runs,
# executions per second and corpus size libFuzzer reports; exits 1 when a harness crashed
# (its input is then in .build/fuzz/artifacts/, to become a regression test).
#   scripts/fuzz.sh [harness ...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=(FuzzRequestParser FuzzRDB FuzzAOF FuzzRestore FuzzConfig FuzzACL FuzzBusMessage)
work=$PWD/.build/fuzz
mkdir -p "$work/artifacts"
# The harnesses link with lld (the Swift toolchain's): gold fails on libFuzzer's objects.
# SwiftPM applies --sanitize=fuzzer to this package's targets only; -Xswiftc/-Xcc carry the
# coverage instrumentation into Swiftlet's modules, which is what the fuzzer explores.
flags=(--sanitize=fuzzer --sanitize=address -Xswiftc -sanitize=fuzzer,address -Xcc -fsanitize=fuzzer-no-link
    -Xswiftc -Xclang-linker -Xswiftc -fuse-ld=lld)
failed=0
for h in "${harnesses[@]}"; do
    (cd Fuzz && swift build --product "$h" "${flags[@]}" 2>&1 | grep -E "error|Compiling|Build" | tail -2)
    mkdir -p "$work/$h"
    cp -n Fuzz/Corpus/"$h"/* "$work/$h/" 2>/dev/null || true
    log="$work/$h.log"
    if Fuzz/.build/debug/"$h" -max_total_time="$seconds" -print_final_stats=1 -max_len=65536 \
        -artifact_prefix="$work/artifacts/$h-" -close_fd_mask=3 "$work/$h" > "$log" 2>&1; then
        status=ok
    else
        status=CRASHED
        failed=1
    fi
    runs=$(grep -o "stat::number_of_executed_units: *[0-9]*" "$log" | grep -o "[0-9]*$" || echo 0)
    rate=$(grep -o "stat::average_exec_per_sec: *[0-9]*" "$log" | grep -o "[0-9]*$" || echo 0)
    corpus=$(ls "$work/$h" | wc -l)
    printf "%-18s %-8s %10s runs  %7s exec/s  corpus %5s inputs  (%s s)\n" "$h" "$status" "$runs" "$rate" "$corpus" "$seconds"
    if [ $status = CRASHED ]; then grep -E "ERROR|Fatal|panic|SUMMARY|Test unit written" "$log" | head -5; fi
done
exit $failed
