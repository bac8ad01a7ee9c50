#!/bin/sh
# `ntheap pst FILE set NID TAG VALUE` writes a property back into a copy of a sample: the new
# value reads back (ours and, when installed, pffexport's), every other property and heap is
# unchanged, `validate` stays sound; a crash injected at each write step leaves the original
# byte for byte (or, after the rename, the complete new file); refused edits change nothing.
set -u
BUILD=${BUILD:-build}
CLI=$BUILD/ntheap
SAMPLE=tests/data/pst/pstsdk-sample1.pst
[ -x "$CLI" ] || { echo "$CLI not built"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
fail() { echo "FAIL $*"; failed=$((failed + 1)); }
utf16() { printf '%s' "$1" | od -An -tx1 -v | tr -d ' \n' | sed 's/\(..\)/\100/g'; }

f=$tmp/s.pst
cp "$SAMPLE" "$f"
"$CLI" pst "$f" props 0x8082 --raw >"$tmp/before.txt"
"$CLI" pst "$f" heaps | grep -v ' 0x8082 ' >"$tmp/heaps_before.txt"
"$CLI" pst "$f" set 0x8082 0x3001001F "Renamed folder" >/dev/null || fail "set DisplayName exit $?"
"$CLI" pst "$f" set 0x8082 0x66660003 1234 >/dev/null || fail "set a new property exit $?"
"$CLI" pst "$f" props 0x8082 --raw >"$tmp/after.txt"
want=$(utf16 "Renamed folder")
grep -q "^0x3001001f 0x001f $want\$" "$tmp/after.txt" || fail "new DisplayName not read back"
grep -q '^0x66660003 0x0003 d2040000$' "$tmp/after.txt" || fail "new property not read back"
# every other property identical
grep -v '^0x3001001f \|^0x66660003 ' "$tmp/before.txt" >"$tmp/b"
grep -v '^0x3001001f \|^0x66660003 ' "$tmp/after.txt" >"$tmp/a"
cmp -s "$tmp/a" "$tmp/b" || fail "other properties changed: $(diff "$tmp/b" "$tmp/a" | head -n 4)"
"$CLI" pst "$f" heaps | grep -v ' 0x8082 ' >"$tmp/heaps_after.txt"
cmp -s "$tmp/heaps_before.txt" "$tmp/heaps_after.txt" || fail "other heaps changed"
# a shrinking heap: the trailer moves to the end of the new size
"$CLI" pst "$f" set 0x8062 0x3001001F "D" >/dev/null || fail "set a shorter DisplayName exit $?"
"$CLI" pst "$f" props 0x8062 --raw | grep -q "^0x3001001f 0x001f 4400\$" || fail "shorter DisplayName not read back"
"$CLI" pst "$f" validate >"$tmp/v.txt" || fail "validate after set: $(tail -n 3 "$tmp/v.txt")"
if command -v pffexport >/dev/null 2>&1; then
    pffexport -m debug -f all -q -t "$tmp/export" "$f" >/dev/null 2>&1
    [ -d "$tmp/export.export/Folder00003/Top of Outlook data file/Renamed folder" ] ||
        [ -n "$(find "$tmp/export.export" -type d -name 'Renamed folder')" ] ||
        fail "pffexport does not see the renamed folder"
fi
echo "ok   set: new and changed values read back, the rest unchanged, validate sound"

# crash at each step: before the rename the original is untouched, after it the new file
for step in 1 2 3 4 5; do
    cp "$SAMPLE" "$tmp/c.pst"
    NTH_PST_CRASH_AT=$step "$CLI" pst "$tmp/c.pst" set 0x8082 0x3001001F "Crashed" >/dev/null 2>&1
    status=$?
    [ $status -eq 70 ] || fail "crash at step $step: exit $status, expected 70"
    if [ $step -le 4 ]; then
        cmp -s "$SAMPLE" "$tmp/c.pst" || fail "crash at step $step: the original changed"
    else
        "$CLI" pst "$tmp/c.pst" props 0x8082 --raw | grep -q "$(utf16 Crashed)" ||
            fail "crash at step 5 (after the rename): the new value is missing"
    fi
    "$CLI" pst "$tmp/c.pst" validate >/dev/null || fail "crash at step $step: file not sound"
    rm -f "$tmp"/c.pst.*
done
echo "ok   a crash at any of the 5 write steps leaves a sound file, the original until the rename"

# refused edits change nothing
cp "$SAMPLE" "$tmp/r.pst"
# (status 1: the edit cannot be made; 2: the arguments are malformed)
for args in "2 0x8082 0x66660048 00" "1 0x200024/0x8025 0x3001001F sub" \
    "2 0x8082 0x30010003 notanumber" "2 0x8082 0x3001 short" "1 0x802D 0x3001001F table"; do
    want=${args%% *}
    args=${args#* }
    # shellcheck disable=SC2086
    "$CLI" pst --json "$tmp/r.pst" set $args >"$tmp/out" 2>/dev/null
    status=$?
    [ $status -eq "$want" ] || fail "set $(echo "$args" | cut -c1-40): exit $status, expected $want"
    grep -q '"error":' "$tmp/out" || fail "set $(echo "$args" | cut -c1-40): no JSON error"
    cmp -s "$SAMPLE" "$tmp/r.pst" || fail "refused set $(echo "$args" | cut -c1-40) changed the file"
done
ls "$tmp"/r.pst.* >/dev/null 2>&1 && fail "a refused set left a temporary file"
echo "ok   refused edits (a type set does not write, a node in a subnode tree, bad value, bad tag, a TC) change nothing"

[ $failed -eq 0 ] && echo "all write checks passed"
[ $failed -eq 0 ]
