#!/bin/sh
# tags_module.sh — NTHEAP_OPTIONS=tags=module,tag_report=1 under the malloc replacement: the exit
# report separates the program's own allocations from the C library's. test_tags --module-child
# makes 10 malloc(1000) and frees 3 of them, and has libc make 5 strdup copies.
# Exit 77 (skip) in sanitizer builds: their runtime intercepts malloc before any preload.
. tests/harness/no_preload_under_sanitizers.sh
so=$build/libntheap-malloc.so
prog=$build/tests/debug/test_tags
for file in "$so" "$prog"; do
    [ -e "$file" ] || { echo "missing $file: run make first"; exit 1; }
done

report=$(NTHEAP_OPTIONS=tags=module,tag_report=1 LD_PRELOAD=$so "$prog" --module-child 2>&1 >/dev/null)
status=$?
echo "$report"
[ $status -eq 0 ] || { echo "the child exited with status $status"; exit 1; }
echo "$report" | grep -q '^ntheap: tags of the process heap' || { echo "no tag report at exit"; exit 1; }
# columns: index tag allocs frees diff bytes peak
mine=$(echo "$report" | awk '$2 == "test_tags" { print $3, $4, $5, $6, $7 }')
[ "$mine" = "10 3 7 7000 10000" ] || { echo "the program's own row: got '$mine', want '10 3 7 7000 10000'"; exit 1; }
libc=$(echo "$report" | awk '$2 ~ /^libc\.so/ { print $3 }')
[ -n "$libc" ] && [ "$libc" -ge 5 ] || { echo "no libc row with at least the 5 strdup copies (got '$libc')"; exit 1; }
# Without the option there is no report and no tag.
plain=$(LD_PRELOAD=$so "$prog" --module-child 2>&1 >/dev/null)
[ -z "$plain" ] || { echo "unexpected output without the option: $plain"; exit 1; }
exit 0
