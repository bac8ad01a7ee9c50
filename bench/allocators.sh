# allocators.sh — sourced by bench/run.sh and bench/workloads.sh: which allocators to compare.
#
# list_allocators BUILD prints one line "name preload-path" per allocator present, in table
# order: glibc (no preload), ntheap (BUILD/libntheap-malloc.so), ntheap-baseline when
# BENCH_BASELINE names another build's libntheap-malloc.so (a before/after comparison in one
# run), then the peers from Debian's packages, found through the dynamic linker's cache (ldconfig -p), falling back to dpkg -L.
# Nothing is installed here: each missing allocator gets one line on stderr naming the package.

find_library() {
    for ldconfig in ldconfig /sbin/ldconfig /usr/sbin/ldconfig; do
        command -v "$ldconfig" >/dev/null 2>&1 || continue
        found=$("$ldconfig" -p 2>/dev/null | awk -v name="$1" '$1 == name { print $NF; exit }')
        if [ -n "$found" ] && [ -e "$found" ]; then
            echo "$found"
            return 0
        fi
    done
    if command -v dpkg >/dev/null 2>&1; then
        found=$(dpkg -L "$2" 2>/dev/null | grep "/$1\$" | head -n 1)
        if [ -n "$found" ] && [ -e "$found" ]; then
            echo "$found"
            return 0
        fi
    fi
    return 1
}

list_allocators() {
    echo "glibc -"
    so=$1/libntheap-malloc.so
    case "$so" in /*) ;; *) so=$PWD/$so ;; esac
    if [ -e "$so" ]; then
        echo "ntheap $so"
    else
        echo "missing: ntheap ($so is not built; run make)" >&2
    fi
    if [ -n "${BENCH_BASELINE:-}" ]; then
        if [ -e "$BENCH_BASELINE" ]; then
            echo "ntheap-baseline $BENCH_BASELINE"
        else
            echo "missing: ntheap-baseline ($BENCH_BASELINE does not exist)" >&2
        fi
    fi
    for peer in "mimalloc libmimalloc.so.2 libmimalloc2.0 libmimalloc-dev" \
        "jemalloc libjemalloc.so.2 libjemalloc2 libjemalloc-dev" \
        "tcmalloc libtcmalloc_minimal.so.4 libtcmalloc-minimal4 libtcmalloc-minimal4"; do
        set -- $peer
        if path=$(find_library "$2" "$3"); then
            echo "$1 $path"
        else
            echo "missing: $1 ($2 not found; install the Debian package $4)" >&2
        fi
    done
}
