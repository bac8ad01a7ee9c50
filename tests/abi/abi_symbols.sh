#!/bin/sh
# abi_symbols.sh — the shared libraries export exactly the names listed in tests/abi/*.symbols.
#
# Each list holds one "name@@VERSION-NODE" per line, sorted (LC_ALL=C). A name that appears in or
# disappears from a library's dynamic symbol table without the list changing with it fails the
# test: adding an export is a decision (the list, the version script and the headers change in
# one commit), removing one breaks every program linked against the SONAME.
#
#   sh tests/abi/abi_symbols.sh [BUILD]            check (run by the test harness)
#   sh tests/abi/abi_symbols.sh --update [BUILD]   rewrite the lists (make abi-symbols)
#
# Exit 77 (skip) when the libraries are not built or nm is missing.
update=0
if [ "$1" = "--update" ]; then update=1; shift; fi
build=${1:-${BUILD:-build}}
dir=$(dirname "$0")
command -v nm >/dev/null 2>&1 || { echo "nm is not installed"; exit 77; }

# exports LIB: the defined dynamic symbols of LIB, without the version-node entries themselves.
exports() {
    LC_ALL=C nm -D --defined-only "$1" | awk '$2 != "A" && $3 ~ /@@/ { print $3 }' | LC_ALL=C sort
}

status=0
checked=0
for lib in libntheap libntheap-pst libntheap-inspect; do
    so="$build/$lib.so"
    list="$dir/$lib.symbols"
    [ -e "$so" ] || continue
    if [ $update -eq 1 ]; then
        exports "$so" >"$list"
        echo "wrote $list ($(wc -l <"$list") names)"
        continue
    fi
    checked=$((checked + 1))
    actual=$(exports "$so")
    if [ -z "$actual" ]; then
        echo "FAIL: $so exports nothing with a version node (was it linked with its version script?)"
        status=1
        continue
    fi
    if ! printf '%s\n' "$actual" | diff -u "$list" - >"$build/abi-$lib.diff"; then
        echo "FAIL: the exports of $so differ from $list (+ exported now, - listed):"
        cat "$build/abi-$lib.diff"
        echo "If the change is intended, run 'make abi-symbols' and commit the lists."
        status=1
    fi
    rm -f "$build/abi-$lib.diff"
done
if [ $update -eq 0 ] && [ $checked -eq 0 ]; then
    echo "no shared libraries in $build"
    exit 77
fi
exit $status
