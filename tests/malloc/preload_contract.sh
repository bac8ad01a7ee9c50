#!/bin/sh
# preload_contract.sh — runs test_malloc_contract with ntheap's malloc preloaded.
#
# The runner also starts test_malloc_contract directly, where it checks the C library's malloc
# as a control. Here NTH_TEST_EXPECT_NTHEAP=1 makes the program fail unless ntheap serves every
# malloc call, and the ntheap-only checks (bad pointers, private-heap blocks, ...) run too.
# Exit 77 (skip) in sanitizer builds: their runtime intercepts malloc before any preload.
. tests/harness/no_preload_under_sanitizers.sh
so=$build/libntheap-malloc.so
prog=$build/tests/malloc/test_malloc_contract
for file in "$so" "$prog"; do
    if [ ! -e "$file" ]; then
        echo "missing $file: run make first"
        exit 1
    fi
done

out=$(LD_PRELOAD=$so NTH_TEST_EXPECT_NTHEAP=1 "$prog" 2>&1)
status=$?
echo "$out"
if [ $status -ne 0 ]; then
    echo "test_malloc_contract under LD_PRELOAD exited with status $status"
    exit 1
fi
echo "$out" | grep -q '^# malloc in force: ntheap$' || { echo "ntheap's malloc was not in force"; exit 1; }
echo "$out" | grep -q '^RESULT .* failed=0$' || exit 1
exit 0
