#!/bin/sh
# test_run_lecture.sh — `make demo`'s replay of the growable-heap lecture runs to the end: ntheap
# starts the lecture's program as its child, reads its heap from outside at each of its 12
# stops and writes a heap map per stop; the outside view tells the lecture's LFH story (no LFH
# after 17 allocations, the 18th creates it with a back-end block of its own, the 19th chunk
# is slot 0 of the first subsegment, the slot freed last is the first reused), and the 19th
# chunk it names is the one the program says it allocated 19th. The last line names the last
# map, which is a well-formed SVG (when xmllint is installed). Skips (77) when not built.
build=${BUILD:-build}
ntheap=$build/ntheap
lecture=$build/examples/lec04_growable_heap
[ -x "$ntheap" ] || { echo "no $ntheap"; exit 77; }
[ -x "$lecture" ] || { echo "no $lecture (make check builds it)"; exit 77; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
status=0
fail() { echo "FAIL: $*"; status=1; }

timeout 120 "$ntheap" demo --lecture "$lecture" --out "$out/maps" >"$out/log" 2>"$out/err"
got=$?
[ $got -eq 0 ] || { fail "the demo exited with $got"; tail -n 20 "$out/log"; cat "$out/err"; }
[ "$(grep -c '^==== Step ' "$out/log")" -eq 12 ] || fail "not 12 steps: $(grep -c '^==== Step ' "$out/log")"
grep -q 'ended normally after 12 steps' "$out/log" || fail "the program did not end normally"
grep -q '^=> the 18th allocation created the LFH; its own block came from the back-end' "$out/log" ||
    fail "the 18th allocation's LFH is not seen from outside"
sed -n '/^==== Step 2 /,/^==== Step 3 /p' "$out/log" | grep -q 'no LFH yet' ||
    fail "an LFH before the 18th allocation"
nineteenth=$(grep '^A heap chunk was allocated : ' "$out/log" | sed -n '19s/.*: //p')
[ -n "$nineteenth" ] || fail "the program did not print 19 allocations"
grep -q "^=> the 19th chunk ($nineteenth) is the LFH's first block: slot 0 of its first subsegment" "$out/log" ||
    fail "the 19th chunk ($nineteenth) is not seen as slot 0 of the LFH"
grep -q "^=> the slot freed last ($nineteenth) is the first one handed out again" "$out/log" ||
    fail "the freed slot is not seen reused first"
# The outside views say the same: `heap -s` has no LFH before the 18th allocation and one after
# it; `heap -hl` at step 4 lists the 19th chunk first in the LFH's data region.
sed -n '/^==== Step 2 /,/^==== Step 3 /p' "$out/log" | grep -Eq '^[0-9a-f]{16} .* LFH *$' &&
    fail "heap -s shows an LFH at step 2"
sed -n '/^==== Step 3 /,/^==== Step 4 /p' "$out/log" | grep -Eq '^[0-9a-f]{16} .* LFH *$' ||
    fail "heap -s shows no LFH at step 3"
hex=$(printf '%016x' "$nineteenth")
sed -n '/^==== Step 4 /,/^==== Step 5 /p' "$out/log" | grep -A2 "LFH data region at $hex " |
    grep -q "^ *$hex: .* busy" || fail "heap -hl does not list the 19th chunk ($hex) first in the LFH"
# Every stop ran the lecture's commands through ntheap.
grep -q '^0:001> dt _HEAP 00470000 ' "$out/log" || fail "no lecture command shown"
grep -q '^ntheap!nth_heap at ' "$out/log" || fail "no dt output"
last=$(tail -n 1 "$out/log")
[ "$last" = "Heap map of the last step: $out/maps/lec04-step12.svg" ] || fail "last line: $last"
[ "$(ls "$out/maps" | grep -c '^lec04-step[0-9][0-9]\.svg$')" -eq 12 ] || fail "not 12 maps: $(ls "$out/maps")"
grep -q 'class="lfh-busy"' "$out/maps/lec04-step12.svg" || fail "the last map shows no LFH block"
if command -v xmllint >/dev/null 2>&1; then
    xmllint --noout "$out/maps/lec04-step12.svg" || fail "the last map is not well-formed"
else
    echo "note: xmllint not installed; the map's well-formedness is not checked here"
fi
exit $status
