#!/bin/sh
# examples_build.sh — the ported programs in examples/ build unchanged against the Windows
# header shims with -Wall -Wextra -Werror, under gcc and clang, link against the library built
# in $BUILD, and run: the seed sample must walk a new heap as Region, Block, Uncommitted range,
# and the port-style program must end with OK. Exit 77 (skip) when no library is built.
build=${BUILD:-build}
lib="$build/libntheap.a"
[ -f "$lib" ] || { echo "no $lib"; exit 77; }
san=
compilers="gcc clang"
case "$build" in *asan*) san="-fsanitize=address,undefined" ;; *tsan*) san="-fsanitize=thread" ;; esac
# A sanitizer runtime must match the compiler that built the library.
if [ -n "$san" ]; then
    case "$build" in *clang*) compilers=clang ;; *) compilers=gcc ;; esac
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
status=0
for cc in $compilers; do
    command -v "$cc" >/dev/null 2>&1 || continue
    for example in enumerate_heap port_leak_report; do
        if ! "$cc" -std=c11 -Wall -Wextra -Werror $san -Iinclude -Iinclude/ntheap/compat \
                -o "$out/$example" "examples/$example.c" "$lib" -pthread; then
            echo "FAIL: $cc could not build examples/$example.c"
            status=1
            continue
        fi
        if ! "$out/$example" >"$out/$example.txt" 2>&1; then
            echo "FAIL: examples/$example.c ($cc) exited with an error:"
            cat "$out/$example.txt"
            status=1
        fi
    done
    [ -f "$out/enumerate_heap.txt" ] || continue
    kinds=$(grep -E '^[A-Z]' "$out/enumerate_heap.txt" | grep -v '^Walking heap' | tr '\n' ',')
    if [ "$kinds" != "Region,Block,Uncommitted range," ]; then
        echo "FAIL: enumerate_heap ($cc) printed the entries $kinds"
        status=1
    fi
    grep -Eq '^Walking heap 0X[0-9A-F]{16}\.\.\.$' "$out/enumerate_heap.txt" ||
        { echo "FAIL: enumerate_heap ($cc) header line"; status=1; }
    grep -q '^OK$' "$out/port_leak_report.txt" 2>/dev/null ||
        { echo "FAIL: port_leak_report ($cc) did not end with OK"; status=1; }
    rm -f "$out"/*.txt
done
exit $status
