#!/bin/sh
# inspect.sh BUILD [N] — how long `ntheap heap -p PID -stat` takes on a live heap of N blocks
# (default 1,000,000): once with the LFH on (most blocks LFH) and once with back-end blocks
# only (one 16-byte header per block to read). The target is stopped, read through
# process_vm_readv in 64 KiB lines, and resumed; the figure is the wall time of the whole
# command (best of 3). Not part of `make bench`'s default set: run it on its own.
build=${1:-build}
n=${2:-1000000}
make -s "$build/bench/inspect_target" BUILD="$build" >/dev/null 2>&1 || make -s "$build/bench/inspect_target"
for mode in lfh backend; do
    pid=$("$build/bench/inspect_target" "$n" "$mode") || exit 1
    best=""
    for run in 1 2 3; do
        start=$(date +%s.%N)
        "$build/ntheap" heap -p "$pid" -stat >/dev/null || { kill "$pid"; exit 1; }
        end=$(date +%s.%N)
        t=$(echo "$end - $start" | bc 2>/dev/null || awk "BEGIN { print $end - $start }")
        if [ -z "$best" ] || [ "$(awk "BEGIN { print ($t < $best) }")" = 1 ]; then best=$t; fi
    done
    kill "$pid"
    printf 'ntheap heap -p PID -stat, %s blocks (%s): %.3f s\n' "$n" "$mode" "$best"
done
