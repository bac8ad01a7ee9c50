#!/bin/sh
# `ntheap pst` on crafted hostile files (made from a sample by test_pst_hostile --write): every
# command finishes within seconds and a bounded address space, `validate` and `info` exit 1
# naming the damage, and with --json every output (failures included) is one JSON object,
# failures carrying an "error" field. Malformed node paths are errors, not octal or partial
# reads. The address-space limit is skipped in sanitizer builds (their shadow memory needs
# terabytes of address space).
set -u
BUILD=${BUILD:-build}
CLI=$BUILD/ntheap
GEN=$BUILD/tests/pst/test_pst_hostile
[ -x "$CLI" ] || { echo "$CLI not built"; exit 1; }
[ -x "$GEN" ] || { echo "$GEN not built"; exit 1; }
command -v timeout >/dev/null 2>&1 || { echo "timeout not installed"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
fail() { echo "FAIL $*"; failed=$((failed + 1)); }
"$GEN" --write "$tmp" || { echo "could not craft the files"; exit 1; }
limit=""
[ -z "${SAN:-}" ] && limit="ulimit -v 262144;"   # 256 MiB of address space

# run NAME ARGS...: the CLI under the limits; sets $status, output in $tmp/out, $tmp/err
run() {
    sh -c "$limit exec timeout 10 \"\$@\"" sh "$CLI" pst "$@" >"$tmp/out" 2>"$tmp/err"
    status=$?
    [ $status -eq 124 ] && fail "timed out: pst $*"
    [ $status -ge 128 ] && fail "killed by signal $((status - 128)): pst $*"
}

is_json() { command -v python3 >/dev/null 2>&1 || return 0; python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$1"; }

for crafted in self_sl amplify truncated bad_bsig wrong_client amap_hole folder_cycle; do
    f=$tmp/$crafted.pst
    start=$(date +%s)
    run "$f" validate
    [ $status -eq 1 ] || fail "$crafted: validate exit $status, expected 1"
    grep -q 'NOT SOUND$' "$tmp/out" || fail "$crafted: validate did not say NOT SOUND"
    grep -q 'offset 0x' "$tmp/out" || fail "$crafted: no offset named"
    run "$f" info
    [ $status -eq 1 ] || fail "$crafted: info exit $status, expected 1"
    grep -q '^problems        [1-9]' "$tmp/out" || fail "$crafted: info shows no problem count"
    run "$f" heaps
    want=1
    case $crafted in amap_hole | folder_cycle) want=0 ;; esac # the heaps themselves are intact
    [ $status -eq $want ] || fail "$crafted: heaps exit $status, expected $want"
    for cmd in validate info heaps "props 0x122" "table 0x12D" "hn 0x21"; do
        # shellcheck disable=SC2086
        run --json "$f" $cmd
        is_json "$tmp/out" || fail "$crafted: --json $cmd is not one JSON object: $(head -c 200 "$tmp/out")"
        if [ $status -ne 0 ] && ! grep -q '"error"\|"sound": *false\|"problems": *[1-9]\|"problems": *\[' "$tmp/out"; then
            fail "$crafted: --json $cmd failed without an error field"
        fi
    done
    end=$(date +%s)
    echo "ok   $crafted: every command done in $((end - start))s"
done

# the cycle is reported once, not once per visit
run "$tmp/self_sl.pst" validate
n=$(grep -c 'contains itself' "$tmp/out")
[ "$n" -eq 1 ] || fail "self_sl: cycle reported $n times"

# a folder listing its own parent: `tree` shows each folder once and says so
run "$tmp/folder_cycle.pst" tree
[ $status -eq 1 ] || fail "folder_cycle: tree exit $status, expected 1"
grep -q 'folder 0x8022 is listed again' "$tmp/out" || fail "folder_cycle: repeat not reported: $(tail -n 3 "$tmp/out")"
run "$tmp/folder_cycle.pst" validate
[ $status -eq 1 ] && grep -q 'hierarchy table at offset 0x.*names folder 0x8022, whose parent is 0x122' "$tmp/out" ||
    fail "folder_cycle: validate does not name the hierarchy row (exit $status)"
run --json "$tmp/folder_cycle.pst" tree
is_json "$tmp/out" || fail "folder_cycle: tree --json is not JSON"

# malformed paths and leading zeros
sample=tests/data/pst/pstsdk-sample1.pst
run "$sample" props 033
[ $status -eq 0 ] && grep -q 'PidTagDisplayName' "$tmp/out" || fail "props 033 (decimal 33 = 0x21) failed"
for bad in 0x21/ /0x21 0x 1a 0x200024//0x8025 -1; do
    run --json "$sample" props "$bad"
    [ $status -eq 1 ] || fail "props $bad: exit $status, expected 1"
    grep -q '"error": *".*bad node path' "$tmp/out" || fail "props $bad: no JSON error: $(cat "$tmp/out")"
done
run --json "$sample" frobnicate
[ $status -eq 2 ] && grep -q '"error": *"unknown command"' "$tmp/out" || fail "unknown command: no JSON error"
run --json "$sample" props
[ $status -eq 2 ] && grep -q '"error":' "$tmp/out" || fail "props without a path: no JSON error"
run --json "$tmp/nonexistent.pst" info
[ $status -eq 2 ] && grep -q '"error":' "$tmp/out" || fail "missing file: no JSON error"
run --json "$sample" table 0x21
[ $status -eq 1 ] && grep -q '"error": *".*not a Table Context' "$tmp/out" || fail "table on a PC: no JSON error"

[ $failed -eq 0 ] && echo "all hostile-file checks passed"
[ $failed -eq 0 ]
