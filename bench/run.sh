#!/bin/sh
# run.sh BUILD — runs every benchmark and prints one table per benchmark (make bench).
#
#   engine_random   the engine alone: nth_heap_alloc/free on a private heap vs glibc, one binary
#   micro           malloc micro-benchmarks, once per allocator through LD_PRELOAD
#   private_heap    nth_heap_* vs mimalloc's mi_heap_* (pairs, destroy, walk), one binary
#   workloads       bench/workloads.sh: work_*.c programs and real programs per allocator
#   rss             peak RSS of small programs (bench/small_rss.c, python3 -c pass) per allocator
#
# Allocators: glibc (no preload), ntheap (BUILD/libntheap-malloc.so), and mimalloc, jemalloc,
# tcmalloc from Debian's packages (see bench/allocators.sh); missing ones are installed with
# apt-get when run as root, else named and left out. Every ratio is computed from figures measured in this run.
# BENCH_QUICK=1 shortens everything (about a minute); the default takes a few minutes.
# BENCH_ONLY="micro workloads" runs a subset.
set -u
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/allocators.sh"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
only=${BENCH_ONLY:-engine_random micro private_heap workloads rss}
wanted() {
    case " $only " in *" $1 "*) return 0 ;; esac
    return 1
}

commit=$(git -C "$here/.." rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$here/.." status --porcelain -- src include bench 2>/dev/null)" ]; then
    commit="$commit (with uncommitted changes in src/include/bench)"
fi
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null)
echo "== ntheap benchmarks: $(date '+%Y-%m-%d %H:%M %Z'), commit $commit"
echo "== machine: $(nproc 2>/dev/null || echo '?') CPUs (${cpu:-unknown}), $(uname -sr)," \
    "$(awk '/^MemTotal/ { printf "%.0f GiB RAM", $2 / 1048576 }' /proc/meminfo 2>/dev/null)"
[ -n "${BENCH_QUICK:-}" ] && [ "${BENCH_QUICK}" != 0 ] && echo "== BENCH_QUICK: short runs, rougher figures"

list_allocators "$build" >"$tmp/allocators" 2>"$tmp/missing"
# The peers come from Debian's packages: install the missing ones when we can (root, apt-get).
peer_packages="libmimalloc-dev libjemalloc-dev libtcmalloc-minimal4 time"
if [ -s "$tmp/missing" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    absent=""
    for p in $peer_packages; do dpkg -s "$p" >/dev/null 2>&1 || absent="$absent $p"; done
    if [ -n "$absent" ]; then
        echo "== installing:$absent"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $absent >/dev/null 2>&1 ||
            { apt-get update -qq >/dev/null 2>&1 &&
              DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $absent >/dev/null 2>&1; }
        list_allocators "$build" >"$tmp/allocators" 2>"$tmp/missing"
    fi
fi
if [ -s "$tmp/missing" ]; then
    echo "== not compared (missing):"
    sed 's/^missing: /   /' "$tmp/missing"
fi
echo "== allocators: $(awk '{ printf "%s%s", sep, $1; sep = ", " }' "$tmp/allocators")"

status=0
run_program() { # run_program NAME: runs BUILD/bench/NAME, reports a failure
    if [ ! -x "$build/bench/$1" ]; then
        echo "$build/bench/$1 is not built (make bench builds it)"
        status=1
        return 1
    fi
    "$build/bench/$1" || {
        echo "$1 failed with status $?"
        status=1
    }
}

if wanted engine_random; then
    echo
    echo "### engine_random — nth_heap_alloc/nth_heap_free on a private heap vs glibc malloc/free"
    run_program engine_random
fi

if wanted micro; then
    echo
    echo "### micro — median ns per operation, each allocator through LD_PRELOAD (lower is better)"
    if [ -x "$build/bench/micro" ]; then
        while read -r name path; do
            if [ "$path" = - ]; then
                "$build/bench/micro" >"$tmp/micro.$name" 2>"$tmp/micro.$name.err"
            else
                LD_PRELOAD=$path "$build/bench/micro" >"$tmp/micro.$name" 2>"$tmp/micro.$name.err"
            fi
            code=$?
            if [ $code -ne 0 ]; then
                echo "micro under $name failed with status $code: $(tail -n 1 "$tmp/micro.$name.err")"
                status=1
            fi
        done <"$tmp/allocators"
        awk -v names="$(awk '{ print $1 }' "$tmp/allocators" | tr '\n' ' ')" -v dir="$tmp" '
        BEGIN {
            ncol = split(names, col, " ")
            for (c = 1; c <= ncol; c++) {
                file = dir "/micro." col[c]
                while ((getline line < file) > 0) {
                    split(line, f, " ")
                    if (f[1] != "micro") continue
                    key = f[2]
                    value[col[c], key] = f[3]
                    if (!(key in desc)) {
                        d = line
                        sub(/^micro [^ ]+ [^ ]+ /, "", d)
                        desc[key] = d
                        keys[++nkeys] = key
                    }
                }
                close(file)
                have[col[c]] = 1
            }
            printf "%-46s", "test"
            for (c = 1; c <= ncol; c++) printf " %9s", col[c]
            if (have["ntheap"] && have["glibc"]) printf " %12s", "ntheap/glibc"
            if (have["ntheap"] && have["mimalloc"]) printf " %12s", "ntheap/mi"
            printf "\n"
            for (k = 1; k <= nkeys; k++) {
                key = keys[k]
                printf "%-46s", desc[key]
                for (c = 1; c <= ncol; c++) {
                    if ((col[c], key) in value) printf " %9.2f", value[col[c], key]
                    else printf " %9s", "-"
                }
                n = value["ntheap", key]
                if (have["ntheap"] && have["glibc"])
                    printf " %12s", (n != "" && value["glibc", key] > 0) ? sprintf("%.2f", n / value["glibc", key]) : "-"
                if (have["ntheap"] && have["mimalloc"])
                    printf " %12s", (n != "" && value["mimalloc", key] > 0) ? sprintf("%.2f", n / value["mimalloc", key]) : "-"
                printf "\n"
            }
        }'
    else
        echo "$build/bench/micro is not built (make bench builds it)"
        status=1
    fi
fi

if wanted private_heap; then
    echo
    echo "### private_heap — nth_heap_* vs mimalloc mi_heap_* (median; ns, us, ms, M entries/s)"
    run_program private_heap
fi

if wanted workloads; then
    echo
    sh "$here/workloads.sh" "$build" || status=1
fi

# Resident baseline: peak RSS (GNU time's %M) of small programs, once per allocator.
if wanted rss; then
    echo
    echo "### rss — peak RSS KiB of small programs (lower is better; one run each)"
    if [ ! -x /usr/bin/time ] || [ ! -x "$build/bench/small_rss" ]; then
        echo "needs /usr/bin/time and $build/bench/small_rss (make bench builds it)"
        status=1
    else
        printf '%-24s' program
        while read -r name path; do printf ' %12s' "$name"; done <"$tmp/allocators"
        printf '\n'
        for prog in "small_rss 0" "small_rss 4" "python3 -c pass"; do
            set -- $prog
            cmd="$build/bench/$1"
            [ "$1" = python3 ] && cmd=$(command -v python3)
            [ -n "$cmd" ] || continue
            shift
            printf '%-24s' "$prog"
            while read -r name path; do
                [ "$path" = - ] && path=
                kib=$(LD_PRELOAD=$path /usr/bin/time -f '%M' "$cmd" "$@" 2>&1 >/dev/null | tail -n 1)
                printf ' %12s' "$kib"
            done <"$tmp/allocators"
            printf '\n'
        done
    fi
fi
exit $status
