#!/bin/sh
# memcheck_visibility.sh — Valgrind's memcheck sees ntheap blocks: an overrun of a block from the
# native API and from the malloc replacement is an "Invalid write" 0 bytes after a block alloc'd
# by the test's own function, a use after free is an invalid access inside a block free'd, the
# leak summary counts ntheap blocks, and the engine's own header and free-list work draws no
# error at all (test_memcheck's checked workload: ERROR SUMMARY 0).
# Skips (77) without valgrind, and in sanitizer builds (the two cannot run together).
build=${BUILD:-build}
case "${SAN:-}$(basename "$build")" in
*asan* | *tsan* | *msan*) echo "sanitizer build: memcheck cannot run a sanitized program"; exit 77 ;;
esac
command -v valgrind >/dev/null 2>&1 || { echo "valgrind is not installed: memcheck visibility not checked"; exit 77; }
prog=$build/tests/debug/test_memcheck
so=$build/libntheap-malloc.so
[ -x "$prog" ] || { echo "missing $prog: run make first"; exit 1; }
log=$(mktemp)
trap 'rm -f "$log" "$log.rec"' EXIT
status=0

# memcheck MODE [extra valgrind options...]: runs one bug of test_memcheck, the log in $log.
memcheck() {
    mode=$1
    shift
    valgrind --log-file="$log" "$@" "$prog" $mode >/dev/null 2>&1
}

# record WHAT: the error record that starts with the line matching WHAT (up to the blank line).
record() {
    awk -v what="$1" '
        index($0, what) { on = 1 }
        on && /^==[0-9]+== *$/ { exit }
        on { print }' "$log" >"$log.rec"
    [ -s "$log.rec" ]
}

expect() { # expect DESCRIPTION PATTERN: PATTERN is in the current record
    if ! grep -q "$2" "$log.rec"; then
        echo "FAIL: $1: no \"$2\" in memcheck's record:"
        cat "$log.rec"
        status=1
    fi
}

NTH_TEST_UNDER_VALGRIND=1 valgrind --log-file="$log" --leak-check=full "$prog" >"$log.rec" 2>&1
if grep -q "debuginfo reader" "$log"; then
    # e.g. an older valgrind reading a newer compiler's DWARF: no stacks, nothing to compare
    echo "this valgrind cannot read the test's debug information: memcheck visibility not checked"
    exit 77
fi
grep -q '^RESULT test_memcheck .* failed=0$' "$log.rec" || { echo "FAIL: the workload under memcheck:"; cat "$log.rec"; status=1; }
grep -q 'ERROR SUMMARY: 0 errors' "$log" || { echo "FAIL: memcheck saw errors in the engine's own work:"; head -n 60 "$log"; status=1; }

memcheck overrun
if record "Invalid write of size 1"; then
    expect "native overrun" "0 bytes after a block of size 24 alloc'd"
    expect "native overrun" "victim_alloc (test_memcheck.c"
else
    echo "FAIL: native overrun: no invalid write reported"; cat "$log"; status=1
fi

memcheck uaf
if record "Invalid read of size 1"; then
    expect "use after free" "3 bytes inside a block of size 100 free'd"
    expect "use after free" "uaf_alloc (test_memcheck.c"
else
    echo "FAIL: use after free: no invalid read reported"; cat "$log"; status=1
fi

memcheck leak --leak-check=full
if record "231 bytes in 3 blocks are definitely lost"; then
    expect "leak" "leaker (test_memcheck.c"
else
    echo "FAIL: leak: the 3 blocks of 77 bytes are not in the leak summary"; cat "$log"; status=1
fi

# The malloc replacement; memcheck must be told not to put its own malloc in ntheap's place.
LD_PRELOAD=$so memcheck malloc --soname-synonyms=somalloc=nouserintercepts
if record "Invalid write of size 1"; then
    expect "malloc overrun" "0 bytes after a block of size 40 alloc'd"
    expect "malloc overrun" "victim_malloc (test_memcheck.c"
else
    echo "FAIL: malloc overrun: no invalid write reported"; cat "$log"; status=1
fi
if record "Invalid read of size 1"; then
    expect "malloc use after free" "inside a block of size 40 free'd"
else
    echo "FAIL: malloc use after free: no invalid read reported"; cat "$log"; status=1
fi
[ $status -eq 0 ] && echo "memcheck reports overruns, use after free and leaks of ntheap blocks"
exit $status
