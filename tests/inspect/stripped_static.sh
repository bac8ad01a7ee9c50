#!/bin/sh
# stripped_static.sh — a stripped static executable has no symbol table: the inspector must still
# find its heap registry (by content, in the executable's writable data) and list its heaps; also
# for a program that made private heaps only and never used the process heap.
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

# A program that never touched the process heap has none in its registry: its first private heap
# must vouch for the registry found by content.
command -v "${CC:-cc}" >/dev/null 2>&1 || exit 0
if [ -n "${SAN:-}" ]; then # the library's objects want the sanitizer's runtime and flags
    echo "note: a sanitizer build: the private-heap program is not built"
    exit 0
fi
cat >"$work/private.c" <<'EOF'
#include <stdio.h>
#include <unistd.h>
#include <ntheap.h>
int main(void)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    for (int i = 0; i < 40; i++) (void)!nth_heap_alloc(heap, 0, 100);
    printf("%d %p\n", (int)getpid(), (void *)heap);
    fflush(stdout);
    sleep(30);
    return 0;
}
EOF
"${CC:-cc}" -Iinclude -o "$work/private" "$work/private.c" "$build/libntheap.a" -pthread && strip "$work/private" ||
    { echo "FAIL: cannot build the private-heap program"; exit 1; }
kill -9 "$pid" 2>/dev/null
"$work/private" >"$work/private.out" &
pid=$!
for _ in 1 2 3 4 5 6 7 8 9 10; do [ -s "$work/private.out" ] && break; sleep 0.2; done
heap=$(awk '{ print $2 }' "$work/private.out")
"$tool" heap -p "$pid" >"$work/private.txt" 2>&1 || { cat "$work/private.txt"; echo "FAIL: a program without a process heap"; exit 1; }
grep -q "found by content" "$work/private.txt" && grep -qi "${heap#0x}" "$work/private.txt" ||
    { cat "$work/private.txt"; echo "FAIL: its private heap $heap not found by content"; exit 1; }
exit 0
