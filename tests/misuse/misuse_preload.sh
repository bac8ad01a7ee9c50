#!/bin/sh
# misuse_preload.sh — the malloc rows of the misuse table (test_misuse_malloc, rows 301..) with
# ntheap's malloc preloaded. NTH_TEST_EXPECT_NTHEAP=1 makes the program fail unless ntheap
# serves malloc. The script fails if any row fails (each row prints "row N ...: ok|FAIL (...)").
# Exit 77 (skip) in sanitizer builds: their runtime intercepts malloc before any preload.
. tests/harness/no_preload_under_sanitizers.sh
so=$build/libntheap-malloc.so
prog=$build/tests/misuse/test_misuse_malloc
for file in "$so" "$prog"; do
    if [ ! -e "$file" ]; then
        echo "missing $file: run make first"
        exit 1
    fi
done

out=$(LD_PRELOAD=$so NTH_TEST_EXPECT_NTHEAP=1 "$prog" 2>&1)
status=$?
echo "$out"
echo "$out" | grep -q '^# malloc in force: ntheap$' || { echo "ntheap's malloc was not in force"; exit 1; }
if [ $status -ne 0 ]; then
    echo "failing rows:"
    echo "$out" | grep '^row .*: FAIL'
    exit 1
fi
echo "$out" | grep -q '^RESULT .* failed=0$' || exit 1
exit 0
