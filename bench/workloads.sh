#!/bin/sh
# workloads.sh BUILD — whole programs under every allocator (called by bench/run.sh).
#
# Workloads: the bench/work_*.c programs (server-like churn, fragmentation, larson-style,
# large blocks, producer/consumer) and real programs on generated inputs: python3 on an
# allocation-heavy script, sqlite3 on a generated SQL workload, gcc -O2 compiling a generated C
# file. Each runs RUNS times per allocator (3; 1 with BENCH_QUICK=1) under /usr/bin/time, in
# rounds that take every allocator in turn; the table gives the median wall time and the median
# peak RSS (GNU time's %M: the largest process of the run, so for gcc the cc1 child). Then, per
# allocator, the geometric mean over the workloads of time and of peak RSS relative to glibc,
# and ntheap's relative to mimalloc.
# The standard output of every run is compared with glibc's: a difference or a failing run is
# flagged and leaves that workload out of the geometric means.
set -u
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/allocators.sh"
quick=0
[ -n "${BENCH_QUICK:-}" ] && [ "${BENCH_QUICK}" != 0 ] && quick=1
runs=3
[ $quick = 1 ] && runs=1

echo "### workloads — median of $runs: wall seconds and peak RSS MiB per allocator"
if [ ! -x /usr/bin/time ]; then
    echo "/usr/bin/time (GNU time) is missing: install the Debian package 'time'. Workloads skipped."
    exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
list_allocators "$build" >"$tmp/allocators" 2>/dev/null

# ------------------------------------------------------------------------ generated inputs
scale=1
[ $quick = 1 ] && scale=8

cat >"$tmp/alloc.py" <<PY
import collections, json, random, re
random.seed(11)
N = 100000 // $scale
records = [{"id": i, "name": "user%d" % random.randrange(100000), "score": random.random(),
            "tags": ["t%d" % random.randrange(50) for _ in range(random.randrange(6))]}
           for i in range(N)]
by_tag = collections.defaultdict(list)
for r in records:
    for t in r["tags"]:
        by_tag[t].append(r["id"])
text = json.dumps(records)
del records
back = json.loads(text)
line = "".join("%s:%0.4f;" % (r["name"], r["score"]) for r in back[: N // 2])
counts = collections.Counter(re.findall(r"user\d+", line))
class Node:
    __slots__ = ("left", "right")
    def __init__(self, left, right):
        self.left, self.right = left, right
def tree(depth):
    return Node(tree(depth - 1), tree(depth - 1)) if depth else Node(None, None)
def check(node):
    return 1 if node.left is None else 1 + check(node.left) + check(node.right)
nodes = sum(check(tree(14)) for _ in range(max(1, 10 // $scale)))
print(len(text), len(by_tag), counts.most_common(1)[0][1], nodes)
PY

awk -v rows=$((30000 / scale)) 'BEGIN {
    print "CREATE TABLE item(id INTEGER PRIMARY KEY, grp INTEGER, name TEXT, body BLOB);";
    print "BEGIN;";
    x = 7;
    for (i = 1; i <= rows; i++) {
        x = (x * 69069 + 1) % 4294967296;
        printf "INSERT INTO item VALUES(%d, %d, '\''name-%x'\'', zeroblob(%d));\n", i, x % 97, x, x % 3000;
    }
    print "COMMIT;";
    print "CREATE INDEX item_grp ON item(grp, name);";
    print "SELECT grp, count(*), sum(length(body)), min(name) FROM item GROUP BY grp ORDER BY 3 DESC LIMIT 5;";
    print "SELECT count(*) FROM item a JOIN item b ON a.grp = b.grp AND a.id < b.id AND b.id - a.id < 50;";
    print "UPDATE item SET name = name || '\''-'\'' || grp WHERE id % 3 = 0;";
    print "DELETE FROM item WHERE id % 5 = 0;";
    print "VACUUM;";
    print "SELECT count(*), sum(length(name)), total(length(body)) FROM item;";
    print "SELECT count(*), max(length(s)) FROM (SELECT group_concat(name, '\'','\'') AS s FROM item GROUP BY grp);";
}' >"$tmp/work.sql"

awk -v functions=$((240 / scale)) 'BEGIN {
    print "#include <stdio.h>";
    print "#include <string.h>";
    for (f = 0; f < functions; f++) {
        printf "struct s%d { int a; double b; char c[%d]; struct s%d *next; };\n", f, 8 + f % 40, f;
        printf "static int f%d(int x, const char *text) {\n", f;
        printf "    struct s%d v; memset(&v, 0, sizeof v); v.a = x; v.b = x * %d.5;\n", f, f % 9;
        printf "    int acc = (int)strlen(text);\n";
        printf "    for (int i = 0; i < x; i++) {\n        switch ((i + %d) %% 7) {\n", f;
        for (c = 0; c < 7; c++)
            printf "        case %d: acc += i * %d + (acc >> %d); break;\n", c, (f * 7 + c) % 13 + 1, c % 5 + 1;
        printf "        }\n        if (acc > %d) acc -= v.a + (int)v.b;\n    }\n", 100000 + f;
        printf "    return acc + v.c[%d];\n}\n", f % 8;
    }
    print "int main(int argc, char **argv) {";
    print "    long total = 0;";
    for (f = 0; f < functions; f++) printf "    total += f%d(argc + %d, argv[0]);\n", f, f % 50;
    print "    printf(\"%ld\\n\", total);";
    print "    return 0;";
    print "}";
}' >"$tmp/big.c"

# --------------------------------------------------------------------------- the workloads
# One line each: name, then the command (words split by the shell).
: >"$tmp/workloads"
for work in work_server work_frag work_larson work_large work_huge work_prodcons; do
    if [ -x "$build/bench/$work" ]; then
        echo "$work $build/bench/$work" >>"$tmp/workloads"
    else
        echo "note: $build/bench/$work is not built (make bench builds it); left out"
    fi
done
if command -v python3 >/dev/null 2>&1; then
    echo "python3 $(command -v python3) $tmp/alloc.py" >>"$tmp/workloads"
else
    echo "note: python3 is not installed; left out"
fi
if command -v sqlite3 >/dev/null 2>&1; then
    echo "sqlite3 $(command -v sqlite3) :memory: .read\\ $tmp/work.sql" >>"$tmp/workloads"
else
    echo "note: sqlite3 is not installed; left out"
fi
if command -v gcc >/dev/null 2>&1; then
    echo "gcc $(command -v gcc) -O2 -c -o $tmp/big.o $tmp/big.c" >>"$tmp/workloads"
else
    echo "note: gcc is not installed; left out"
fi

# ------------------------------------------------------------------------------------ runs
# Rounds: each round runs the workload once under every allocator, in table order, so a slow
# spell of the machine falls on all of them alike rather than on one allocator's runs.
# state.NAME: ok, output-differs or failed(...); samples.NAME: "seconds rss-kib", one per run.
# results: workload allocator median-seconds median-rss-kib flag
: >"$tmp/results"
while read -r work command; do
    while read -r name path; do
        echo ok >"$tmp/state.$name"
        : >"$tmp/samples.$name"
    done <"$tmp/allocators"
    r=0
    while [ $r -lt $runs ]; do
        r=$((r + 1))
        while read -r name path; do
            [ "$path" = - ] && path=
            case $(cat "$tmp/state.$name") in failed*) continue ;; esac
            # The sqlite3 line carries an escaped space; eval restores it as one argument.
            eval "LD_PRELOAD=\$path /usr/bin/time -f '%e %M' -o \"\$tmp/time\" $command" \
                >"$tmp/out" 2>"$tmp/err"
            code=$?
            if [ $code -ne 0 ]; then
                echo "failed(status=$code)" >"$tmp/state.$name"
                echo "  $work under $name failed with status $code: $(tail -n 1 "$tmp/err")"
                continue
            fi
            if [ "$name" = glibc ]; then
                cp "$tmp/out" "$tmp/expected.$work"
            elif ! cmp -s "$tmp/out" "$tmp/expected.$work"; then
                [ "$(cat "$tmp/state.$name")" = ok ] && echo "  $work under $name: output differs from glibc's"
                echo output-differs >"$tmp/state.$name"
            fi
            tail -n 1 "$tmp/time" >>"$tmp/samples.$name"
        done <"$tmp/allocators"
    done
    while read -r name path; do
        flag=$(cat "$tmp/state.$name")
        if [ "$flag" = ok ] || [ "$flag" = output-differs ]; then
            t=$(awk '{ print $1 }' "$tmp/samples.$name" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
            m=$(awk '{ print $2 }' "$tmp/samples.$name" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
        else
            t=- m=-
        fi
        echo "$work $name $t $m $flag" >>"$tmp/results"
    done <"$tmp/allocators"
done <"$tmp/workloads"

# ---------------------------------------------------------------------------------- tables
awk -v names="$(awk '{ print $1 }' "$tmp/allocators" | tr '\n' ' ')" '
{
    key = $1 SUBSEP $2
    time[key] = $3; rss[key] = $4; flag[key] = $5
    if (!($1 in seen)) { seen[$1] = 1; works[++nworks] = $1 }
}
END {
    ncol = split(names, col, " ")
    printf "%-14s", "workload"
    for (c = 1; c <= ncol; c++) printf " %18s", col[c] " s / MiB"
    printf "\n"
    for (w = 1; w <= nworks; w++) {
        printf "%-14s", works[w]
        for (c = 1; c <= ncol; c++) {
            key = works[w] SUBSEP col[c]
            if (time[key] == "-" || time[key] == "") cell = "failed"
            else cell = sprintf("%7.2f / %6.1f%s", time[key], rss[key] / 1024, flag[key] == "ok" ? "" : "!")
            printf " %18s", cell
        }
        printf "\n"
    }
    # Geometric means relative to glibc, over the workloads every allocator ran correctly.
    for (c = 1; c <= ncol; c++) { lt[c] = 0; lm[c] = 0; n[c] = 0 }
    used = 0
    for (w = 1; w <= nworks; w++) {
        good = 1
        for (c = 1; c <= ncol; c++) {
            key = works[w] SUBSEP col[c]
            if (flag[key] != "ok" || time[key] <= 0 || rss[key] <= 0) good = 0
        }
        if (!good) continue
        used++
        base = works[w] SUBSEP "glibc"
        for (c = 1; c <= ncol; c++) {
            key = works[w] SUBSEP col[c]
            lt[c] += log(time[key] / time[base]); lm[c] += log(rss[key] / rss[base])
        }
    }
    printf "\ngeometric mean over %d workloads (relative to glibc; lower is better)\n", used
    printf "%-14s", ""
    for (c = 1; c <= ncol; c++) printf " %9s", col[c]
    printf "\n%-14s", "time"
    for (c = 1; c <= ncol; c++) printf " %9s", used ? sprintf("%.2f", exp(lt[c] / used)) : "-"
    printf "\n%-14s", "peak RSS"
    for (c = 1; c <= ncol; c++) printf " %9s", used ? sprintf("%.2f", exp(lm[c] / used)) : "-"
    printf "\n"
    for (c = 1; c <= ncol; c++) { if (col[c] == "ntheap") nt = c; if (col[c] == "mimalloc") mi = c }
    if (used && nt && mi)
        printf "ntheap relative to mimalloc: time %.2f, peak RSS %.2f\n",
               exp((lt[nt] - lt[mi]) / used), exp((lm[nt] - lm[mi]) / used)
    printf "(! = output differed from glibc; failed = the run did not finish; both are left out of the means)\n"
}' "$tmp/results"

grep -qv ' ok$' "$tmp/results" && exit 1
exit 0
