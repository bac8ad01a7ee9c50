#!/bin/sh
# stripped_static.sh — a stripped static executable has no symbol table: the inspector must still
# find its heap registry (by content, in the executable's writable data) and list its heaps.
build=${BUILD:-build}
tool=$build/ntheap
child_bin=$build/tests/inspect/test_target
[ -x "$tool" ] && [ -x "$child_bin" ] || { echo "not built"; exit 77; }
command -v strip >/dev/null 2>&1 || { echo "strip (binutils) is missing"; exit 77; }
work=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$work"' EXIT
cp "$child_bin" "$work/child" && strip "$work/child" || { echo "cannot strip a copy"; exit 77; }
nm "$work/child" 2>&1 | grep -q nth_heap_registry && { echo "FAIL: strip left the symbol table"; exit 1; }
pid=$("$work/child" --child "$work/report.txt" normal) || { echo "FAIL: the child did not start"; exit 1; }
"$tool" heap -p "$pid" >"$work/list.txt" 2>&1
status=$?
if [ $status -eq 2 ] && grep -q "ptrace refused" "$work/list.txt"; then
    echo "ptrace is refused here"
    exit 77
fi
[ $status -eq 0 ] || { cat "$work/list.txt"; echo "FAIL: exit $status on a stripped static executable"; exit 1; }
grep -q "found by content" "$work/list.txt" || { cat "$work/list.txt"; echo "FAIL: not found by content"; exit 1; }
for heap in $(awk '$1 == "heap" { print $2 }' "$work/report.txt"); do
    grep -q "$heap" "$work/list.txt" || { cat "$work/list.txt"; echo "FAIL: heap $heap not listed"; exit 1; }
done
exit 0
