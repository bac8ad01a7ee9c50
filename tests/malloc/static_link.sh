#!/bin/sh
# static_link.sh — the static-link option: links test_malloc_contract with libntheap-malloc.a
# and libntheap.a (no LD_PRELOAD) and runs it with NTH_TEST_EXPECT_NTHEAP=1, so every contract
# check runs against ntheap's malloc linked into the executable.
#
# -rdynamic exports the nth_ symbols so that the program finds them with dlsym, as it does when
# the shared library is preloaded. Exit 77 (skip) in sanitizer builds (their runtime owns malloc)
# and when no C compiler is installed.
. tests/harness/no_preload_under_sanitizers.sh
cc=${CC:-cc}
command -v "$cc" >/dev/null 2>&1 || { echo "no C compiler ($cc) to link the test"; exit 77; }
for file in "$build/libntheap-malloc.a" "$build/libntheap.a"; do
    if [ ! -e "$file" ]; then
        echo "missing $file: run make first"
        exit 1
    fi
done

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
if ! "$cc" -std=c11 -D_GNU_SOURCE -O2 -pthread -Iinclude -Itests -rdynamic \
    -o "$dir/contract_static" tests/malloc/test_malloc_contract.c \
    "$build/libntheap-malloc.a" "$build/libntheap.a" -lm -ldl; then
    echo "linking with libntheap-malloc.a and libntheap.a failed"
    exit 1
fi
out=$(NTH_TEST_EXPECT_NTHEAP=1 "$dir/contract_static" 2>&1)
status=$?
echo "$out"
[ $status -eq 0 ] || { echo "statically linked contract test exited with status $status"; exit 1; }
echo "$out" | grep -q '^# malloc in force: ntheap$' || { echo "ntheap's malloc was not linked in"; exit 1; }
echo "$out" | grep -q '^RESULT .* failed=0$' || exit 1
exit 0
