#!/bin/sh
# preload_programs.sh — real programs under LD_PRELOAD=libntheap-malloc.so.
#
# Each program runs twice on the same generated input: with the C library's malloc, then with
# ntheap's preloaded. Both runs must exit 0 with identical standard output and identical
# standard error (so any ntheap report fails the test). Programs: python3 on an allocation-heavy
# script (it also checks through ctypes that its malloc really is ntheap's), sort on generated
# lines (single- and multi-threaded), sqlite3 on a generated SQL workload. When the engine has a
# validate_at_exit option, the preloaded runs are repeated with
# NTHEAP_OPTIONS=validate_at_exit=1. A program that is not installed is reported and left out;
# if none is installed the test is skipped (77). Sanitizer builds skip: their runtime owns malloc.
. tests/harness/no_preload_under_sanitizers.sh
so=$build/libntheap-malloc.so
[ -e "$so" ] || { echo "missing $so: run make first"; exit 1; }

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
failures=0
ran=0

# compare NAME COMMAND...: runs COMMAND without and with the preload (and with validation at
# exit when available) and compares exit status, stdout and stderr.
compare() {
    name=$1
    shift
    "$@" >"$dir/$name.out.ref" 2>"$dir/$name.err.ref"
    ref_status=$?
    if [ $ref_status -ne 0 ]; then
        echo "FAIL $name: exit status $ref_status even without the preload"
        head -n 5 "$dir/$name.err.ref"
        failures=$((failures + 1))
        return
    fi
    for mode in preload $validate_mode; do
        if [ "$mode" = validate ]; then
            NTHEAP_OPTIONS=validate_at_exit=1 LD_PRELOAD=$so "$@" >"$dir/$name.out" 2>"$dir/$name.err"
        else
            LD_PRELOAD=$so "$@" >"$dir/$name.out" 2>"$dir/$name.err"
        fi
        status=$?
        if [ $status -ne 0 ]; then
            echo "FAIL $name ($mode): exit status $status"
            head -n 10 "$dir/$name.err"
            failures=$((failures + 1))
        elif ! cmp -s "$dir/$name.out.ref" "$dir/$name.out"; then
            echo "FAIL $name ($mode): standard output differs from the run without the preload"
            diff "$dir/$name.out.ref" "$dir/$name.out" | head -n 10
            failures=$((failures + 1))
        elif ! cmp -s "$dir/$name.err.ref" "$dir/$name.err"; then
            echo "FAIL $name ($mode): standard error differs from the run without the preload"
            head -n 10 "$dir/$name.err"
            failures=$((failures + 1))
        else
            echo "ok   $name ($mode): $(wc -c <"$dir/$name.out") bytes of identical output"
        fi
    done
    ran=$((ran + 1))
}

# The engine's options table names validate_at_exit once it supports it.
if grep -q 'validate_at_exit' "$so"; then
    validate_mode=validate
else
    validate_mode=
    echo "note: this engine has no validate_at_exit option yet; the validation runs are left out"
fi

if command -v python3 >/dev/null 2>&1; then
    cat >"$dir/heavy.py" <<'PY'
import ctypes, hashlib, json, os, random
random.seed(7)
table = {}
for i in range(150000):
    table["key%d" % i] = [random.random() for _ in range(i % 7)] + ["v" * (i % 50)]
text = json.dumps(table, sort_keys=True)
back = json.loads(text)
words = sorted(("w%x" % random.getrandbits(40)) * (1 + i % 3) for i in range(100000))
chunks = [bytes(n % 251 for n in range(size)) for size in range(0, 300000, 1500)]
del table
print(len(text), hashlib.sha256(text.encode()).hexdigest(), len(back), words[0], words[-1],
      sum(map(len, chunks)))
# Under the preload, check that this process's malloc is ntheap's.
if os.environ.get("LD_PRELOAD"):
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    owner = libc.nth_heap_from_pointer
    owner.restype = ctypes.c_void_p
    owner.argtypes = [ctypes.c_void_p]
    block = libc.malloc(100)
    if not owner(block):
        raise SystemExit("malloc is not served by ntheap")
    libc.free(block)
PY
    compare python3 python3 "$dir/heavy.py"
else
    echo "note: python3 is not installed; left out"
fi

if command -v sort >/dev/null 2>&1 && command -v awk >/dev/null 2>&1; then
    awk 'BEGIN { x = 12345; for (i = 0; i < 300000; i++) {
        x = (x * 1103515245 + 12345) % 2147483648;
        printf "%08x %d line-%d %s\n", x, x % 100000, i, substr("abcdefghijklmnopqrstuvwxyz", 1 + x % 26) } }' \
        >"$dir/lines.txt"
    compare sort sort "$dir/lines.txt"
    compare sort-numeric-parallel sort --parallel=2 -S 8M -k2,2n -k1,1 "$dir/lines.txt"
else
    echo "note: sort or awk is not installed; left out"
fi

if command -v sqlite3 >/dev/null 2>&1; then
    awk 'BEGIN {
        print "CREATE TABLE item(id INTEGER PRIMARY KEY, grp INTEGER, name TEXT, body BLOB);";
        print "BEGIN;";
        x = 7;
        for (i = 1; i <= 30000; i++) {
            x = (x * 69069 + 1) % 4294967296;
            printf "INSERT INTO item VALUES(%d, %d, '\''name-%x'\'', zeroblob(%d));\n", i, x % 97, x, x % 3000;
        }
        print "COMMIT;";
        print "CREATE INDEX item_grp ON item(grp, name);";
        print "SELECT grp, count(*), sum(length(body)), min(name) FROM item GROUP BY grp ORDER BY 3 DESC LIMIT 10;";
        print "SELECT count(*) FROM item a JOIN item b ON a.grp = b.grp AND a.id < b.id AND b.id - a.id < 50;";
        print "UPDATE item SET name = name || '\''-'\'' || grp WHERE id % 3 = 0;";
        print "DELETE FROM item WHERE id % 5 = 0;";
        print "VACUUM;";
        print "SELECT count(*), sum(length(name)), total(length(body)) FROM item;";
        print "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 50000) SELECT group_concat(n % 10, '\'''\'') IS NOT NULL, count(*) FROM c;";
    }' >"$dir/work.sql"
    compare sqlite3 sqlite3 :memory: ".read $dir/work.sql"
else
    echo "note: sqlite3 is not installed; left out"
fi

if [ $ran -eq 0 ]; then
    echo "none of python3, sort, sqlite3 is installed"
    exit 77
fi
[ $failures -eq 0 ]
