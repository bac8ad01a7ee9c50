#!/bin/sh
# `ntheap pst` on the sample files: `heaps` lists exactly the heaps of the independent
# inventory with no problem, `validate` passes, the JSON outputs parse, and damaged or
# foreign files make `validate`/`info` fail with the structure and offset named.
set -u
BUILD=${BUILD:-build}
CLI=$BUILD/ntheap
DATA=tests/data/pst
[ -x "$CLI" ] || { echo "$CLI not built"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
fail() { echo "FAIL $*"; failed=$((failed + 1)); }

for name in pstsdk-test_ansi pstsdk-sample1 pstsdk-sample2; do
    pst=$DATA/$name.pst
    want=$(grep -vc '^#' "$DATA/$name.heaps.txt")
    "$CLI" pst "$pst" heaps >"$tmp/heaps.txt"
    status=$?
    summary=$(tail -n 1 "$tmp/heaps.txt")
    [ $status -eq 0 ] || fail "$name: heaps exit $status"
    case $summary in
    "$want heaps, "*", 0 problems, 0 notes") echo "ok   $name: $summary" ;;
    *) fail "$name: heaps summary \"$summary\", expected $want heaps and 0 problems" ;;
    esac
    # every inventory path appears once in the listing, with its client signature
    grep -v '^#' "$DATA/$name.heaps.txt" | while read -r path bid blocks size sig rest; do
        sig=${sig#0x}
        grep -Eq "^ +[0-9]+  $path +[A-Z_?]+ +$sig " "$tmp/heaps.txt" || echo "missing $path $sig"
    done >"$tmp/missing.txt"
    [ -s "$tmp/missing.txt" ] && fail "$name: $(head -n 3 "$tmp/missing.txt")"

    "$CLI" pst "$pst" validate >"$tmp/validate.txt" || fail "$name: validate exit $?"
    grep -q ': sound$' "$tmp/validate.txt" || fail "$name: validate did not say sound"

    "$CLI" pst "$pst" hn 0x21 >"$tmp/hn.txt" || fail "$name: hn 0x21 failed"
    grep -q '^  HID 0x20 ' "$tmp/hn.txt" || fail "$name: hn 0x21 lists no HID 0x20"
    "$CLI" pst "$pst" props 0x21 | grep -q 'PidTagDisplayName' || fail "$name: props 0x21"

    "$CLI" pst "$pst" tree >"$tmp/tree.txt" || fail "$name: tree exit $?"
    grep -Eq '^    (Sample[12]|Folder)  \(0x8082, 1 item, 0 unread\)$' "$tmp/tree.txt" ||
        fail "$name: tree lacks the folder holding the message: $(cat "$tmp/tree.txt")"
    grep -q '^  Search Root  (0x8042' "$tmp/tree.txt" || fail "$name: tree lacks Search Root"
    "$CLI" pst "$pst" ls 0x8082 >"$tmp/ls.txt" || fail "$name: ls 0x8082 exit $?"
    grep -q '^0x200024 .* Terry Mahaffey  *\(Here is a sample message\|Post\)$' "$tmp/ls.txt" ||
        fail "$name: ls 0x8082 does not list the message: $(cat "$tmp/ls.txt")"
    top=$(sed -n 's/^  \(Top of [A-Za-z ]*\)  (0x8022.*/\1/p' "$tmp/tree.txt")
    "$CLI" pst "$pst" ls "$top/Deleted Items" | grep -q '^Folder 0x8062: 0 items$' ||
        fail "$name: ls by folder names"
    if command -v python3 >/dev/null 2>&1; then
        for cmd in info heaps validate "hn 0x21" "props 0x21" "props 0x200024" tree "ls 0x8082" "table 0x12D"; do
            # shellcheck disable=SC2086
            "$CLI" pst --json "$pst" $cmd >"$tmp/out.json" || fail "$name: --json $cmd exit $?"
            python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$tmp/out.json" ||
                fail "$name: --json $cmd is not valid JSON"
        done
        "$CLI" pst --json "$pst" info >"$tmp/info.json"
        python3 - "$tmp/info.json" "$want" <<'PY' || fail "$name: info --json counts"
import json, sys
info = json.load(open(sys.argv[1]))
assert info["heaps"] == int(sys.argv[2]), info["heaps"]
assert info["crypt"] == "permute"
assert info["nbt_entries"] > 40 and info["bbt_entries"] > 30
PY
    fi
done

# A truncated copy: validate must fail and name an offset
head -c 40000 "$DATA/pstsdk-sample1.pst" >"$tmp/cut.pst"
"$CLI" pst "$tmp/cut.pst" validate >"$tmp/cut.txt" 2>&1
status=$?
[ $status -eq 1 ] || fail "truncated file: validate exit $status, expected 1"
grep -q 'offset 0x' "$tmp/cut.txt" || fail "truncated file: no offset in $(head -n 2 "$tmp/cut.txt")"
grep -q 'NOT SOUND' "$tmp/cut.txt" || fail "truncated file: not reported unsound"

# A flipped byte inside the message store's heap block: validate fails naming the trailer
cp "$DATA/pstsdk-sample2.pst" "$tmp/flip.pst"
ib=$("$CLI" pst --json "$DATA/pstsdk-sample2.pst" hn 0x21 | sed -n 's/.*"ib": *"\(0x[0-9A-F]*\)".*/\1/p' | head -n 1)
[ -n "$ib" ] || fail "no block offset in hn --json"
printf '\377' | dd of="$tmp/flip.pst" bs=1 seek=$((ib + 20)) conv=notrunc 2>/dev/null
"$CLI" pst "$tmp/flip.pst" validate >"$tmp/flip.txt" 2>&1 && fail "flipped byte: validate passed"
grep -q 'BLOCKTRAILER at offset 0x' "$tmp/flip.txt" || fail "flipped byte: trailer not named"

# Not a PST at all, and bad usage
printf 'hello' >"$tmp/not.pst"
"$CLI" pst "$tmp/not.pst" info 2>"$tmp/err.txt" && fail "non-PST accepted"
grep -q 'HEADER' "$tmp/err.txt" || fail "non-PST error does not name the HEADER"
"$CLI" pst "$DATA/pstsdk-sample1.pst" frobnicate 2>/dev/null
[ $? -eq 2 ] || fail "unknown command did not exit 2"
"$CLI" pst "$DATA/pstsdk-sample1.pst" props 2>/dev/null
[ $? -eq 2 ] || fail "props without NID did not exit 2"
"$CLI" pst "$DATA/pstsdk-sample1.pst" props 0x12345 2>/dev/null && fail "props on a missing NID passed"

[ $failed -eq 0 ] && echo "all CLI checks passed"
[ $failed -eq 0 ]
