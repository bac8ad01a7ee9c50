#!/bin/sh
# The committed corpus of hostile files (tests/data/pst/crafted/, see SOURCES.md there): each
# is still exactly what `test_pst_hostile --write` generates, and `ntheap pst FILE validate`
# rejects each one -- exit 1, "NOT SOUND", never "sound" -- within 10 seconds and 256 MiB of
# address space (the limit is left out in sanitizer builds, whose shadow memory needs
# terabytes of address space), printing less than 64 KB; `set` into a copy of each is
# refused (exit 1) within the same limits and leaves the copy byte for byte.
set -u
BUILD=${BUILD:-build}
CLI=$BUILD/ntheap
GEN=$BUILD/tests/pst/test_pst_hostile
DIR=tests/data/pst/crafted
[ -x "$CLI" ] || { echo "$CLI not built"; exit 1; }
[ -x "$GEN" ] || { echo "$GEN not built"; exit 1; }
command -v timeout >/dev/null 2>&1 || { echo "timeout not installed"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
fail() { echo "FAIL $*"; failed=$((failed + 1)); }
limit=""
[ -z "${SAN:-}" ] && limit="ulimit -v 262144;"

"$GEN" --write "$tmp" || { echo "could not run the generator"; exit 1; }
n=0
for f in "$DIR"/*.pst; do
    name=$(basename "$f")
    n=$((n + 1))
    cmp -s "$f" "$tmp/$name" || fail "$name differs from what the generator writes (regenerate it)"
    sh -c "$limit exec timeout 10 \"\$@\"" sh "$CLI" pst "$f" validate >"$tmp/out" 2>"$tmp/err"
    status=$?
    [ $status -eq 124 ] && fail "$name: validate timed out"
    [ $status -ge 128 ] && fail "$name: validate killed by signal $((status - 128))"
    [ $status -eq 1 ] || fail "$name: validate exit $status, expected 1"
    grep -q 'NOT SOUND$' "$tmp/out" || fail "$name: no NOT SOUND verdict"
    grep -q ': sound$' "$tmp/out" && fail "$name: called sound"
    [ "$(wc -c <"$tmp/out")" -lt 65536 ] || fail "$name: $(wc -c <"$tmp/out") bytes of output"
    # writing into it is refused, bounded, and leaves it byte for byte
    cp "$f" "$tmp/w.pst"
    sh -c "$limit exec timeout 10 \"\$@\"" sh "$CLI" pst "$tmp/w.pst" set 0x8082 0x66660102 \
        "$(head -c 3000 /dev/zero | od -An -tx1 -v | tr -d ' \n')" >"$tmp/out2" 2>&1
    status=$?
    [ $status -eq 1 ] || fail "$name: set exit $status, expected 1"
    cmp -s "$f" "$tmp/w.pst" || fail "$name: a refused set changed the file"
    ls "$tmp"/w.pst.* >/dev/null 2>&1 && fail "$name: a refused set left a temporary file"
    echo "ok   $name: NOT SOUND, $(grep -c 'offset 0x' "$tmp/out") findings with offsets; set refused, file untouched"
done
[ $n -ge 7 ] || fail "only $n crafted files in $DIR"
[ $failed -eq 0 ] && echo "all $n crafted files rejected"
[ $failed -eq 0 ]
