#!/bin/sh
# page_heap_preload.sh — the page heap on the process heap under the malloc replacement: python3
# and sqlite3 give glibc's output with NTHEAP_OPTIONS=page_heap=1, and a C program's one-byte
# overrun of a malloc block dies by SIGSEGV at the write with a report naming the block, its size
# and the allocating function. Exit 77 (skip) in sanitizer builds (their runtime owns malloc) or
# when the library is not built.
build=${BUILD:-build}
lib=$(pwd)/$build/libntheap-malloc.so
[ -e "$lib" ] || { echo "$lib is not built"; exit 77; }
case "$build" in *asan* | *tsan*) echo "sanitizer build: its runtime replaces malloc itself"; exit 77 ;; esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0

same() { # name, command...
    name=$1; shift
    "$@" >"$tmp/want" 2>&1
    LD_PRELOAD=$lib NTHEAP_OPTIONS=page_heap=1,stack_traces=1 "$@" >"$tmp/got" 2>&1
    if cmp -s "$tmp/want" "$tmp/got"; then echo "ok   $name"; else echo "FAIL $name: output differs"; status=1; fi
}
if command -v python3 >/dev/null 2>&1; then
    same python3 python3 -c 'import json; print(sum(range(10**6))); print(json.dumps({"a": [1, 2] * 500})[:40])'
fi
if command -v sqlite3 >/dev/null 2>&1; then
    same sqlite3 sqlite3 :memory: "create table t(x); insert into t values (1), (2); select sum(x), group_concat(x) from t;"
fi

cat >"$tmp/overrun.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
char *make_buffer(size_t n);
__attribute__((noinline)) char *make_buffer(size_t n) { char *p = malloc(n); __asm__ volatile("" ::: "memory"); return p; }
int main(void)
{
    char *p = make_buffer(48);
    fprintf(stderr, "BLOCK=%p\n", (void *)p);
    ((volatile char *)p)[48] = 1;
    puts("not reached");
    return 0;
}
C
${CC:-cc} -O1 -rdynamic -o "$tmp/overrun" "$tmp/overrun.c" || { echo "no C compiler"; exit 77; }
(ulimit -c 0; LD_PRELOAD=$lib NTHEAP_OPTIONS=page_heap=1,stack_traces=1 "$tmp/overrun" >"$tmp/out" 2>"$tmp/err")
code=$?
block=$(sed -n 's/^BLOCK=//p' "$tmp/err")
if [ $code -ne 139 ]; then echo "FAIL overrun: exit status $code, not 139 (SIGSEGV)"; status=1; fi
if ! grep -q "buffer overrun of block $block (48 bytes)" "$tmp/err"; then echo "FAIL overrun: no report naming $block"; status=1; fi
if ! grep -q "make_buffer" "$tmp/err"; then echo "FAIL overrun: the allocation stack does not name make_buffer"; status=1; fi
if grep -q "not reached" "$tmp/out"; then echo "FAIL overrun: the program went on"; status=1; fi
[ $status -eq 0 ] && echo "ok   overrun under the preload"
cat "$tmp/err"
exit $status
