#!/bin/sh
# callgrind_pair.sh — instructions per allocation+free pair, counted with callgrind.
#
# Usage: sh bench/callgrind_pair.sh [BUILD-DIR]   (default: build; `make` it first)
#
# For each allocator the loop of bench/callgrind_pair.c runs for N and for 2N pairs under
# valgrind --tool=callgrind; (I(2N) - I(N)) / N is the cost of one pair, start-up and exit
# cancelling out. Rows:
#   ntheap malloc       malloc+free through the PLT, LD_PRELOAD=BUILD/libntheap-malloc.so
#   ntheap nth_heap     nth_heap_alloc+nth_heap_free on a private heap (static link)
#   glibc               malloc+free of the C library
#   mimalloc, jemalloc, tcmalloc   the distribution's libraries by LD_PRELOAD, when installed
# and the same rows for the window loop (1000 live blocks of 16 B to 64 KiB, a random one replaced
# each time: mostly the back-end's free lists, splitting and coalescing), where a third ntheap
# row runs the window on a NTH_NO_SERIALIZE heap (no LFH: the back-end alone).
# N defaults to 100000 (CALLGRIND_N=... to change it); CALLGRIND_PEERS=0 prints the ntheap rows
# only. Needs valgrind.
set -eu
BUILD=${1:-build}
N=${CALLGRIND_N:-100000}
PROG=$BUILD/bench/callgrind_pair
if [ ! -x "$PROG" ]; then
    make -s "BUILD=$BUILD" "$PROG" "$BUILD/libntheap-malloc.so" >/dev/null
fi
command -v valgrind >/dev/null || { echo "callgrind_pair: valgrind not found" >&2; exit 1; }
LIBDIR=$(dirname "$(find /usr/lib /usr/lib64 -name 'libc.so.6' 2>/dev/null | head -n 1)")
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# count PRELOAD MODE PAIRS: prints the instructions of one run
count() {
    if [ -n "$1" ]; then
        LD_PRELOAD=$1 valgrind --tool=callgrind --callgrind-out-file="$TMP/out" "$PROG" "$2" "$3" 2>"$TMP/err" >/dev/null
    else
        valgrind --tool=callgrind --callgrind-out-file="$TMP/out" "$PROG" "$2" "$3" 2>"$TMP/err" >/dev/null
    fi
    sed -n 's/.*Collected : *\([0-9]*\).*/\1/p' "$TMP/err"
}

# row NAME PRELOAD MODE
row() {
    if [ -n "$2" ] && [ ! -e "$2" ]; then
        printf '| %-16s | %s |\n' "$1" "- (not installed)"
        return
    fi
    one=$(count "$2" "$3" "$N")
    two=$(count "$2" "$3" $((2 * N)))
    printf '| %-16s | %s |\n' "$1" "$(( (two - one + N / 2) / N ))"
}

# table MODE-PREFIX TITLE
table() {
    echo "$2, (I(2N) - I(N)) / N with N = $N"
    echo "| allocator        | instructions |"
    echo "|------------------|--------------|"
    row "ntheap malloc" "$(cd "$BUILD" && pwd)/libntheap-malloc.so" "${1}malloc"
    row "ntheap nth_heap" "" "${1}heap"
    [ "$1" = "window-" ] && row "ntheap NO_SERIALIZE" "" "window-noser"
    [ "${CALLGRIND_PEERS:-1}" = 0 ] && return 0
    row "glibc" "" "${1}malloc"
    row "mimalloc" "$LIBDIR/libmimalloc.so.2" "${1}malloc"
    row "jemalloc" "$LIBDIR/libjemalloc.so.2" "${1}malloc"
    row "tcmalloc" "$LIBDIR/libtcmalloc_minimal.so.4" "${1}malloc"
}

table "" "instructions per pair"
echo
table "window-" "instructions per pair, window of 1000 blocks of 16 B-64 KiB"
