#!/bin/sh
# outside_views.sh — the debug heap's views read from outside the process, against children of
# test_outside_views (--child FILE MODE) run with NTHEAP_OPTIONS, live (-p) and from a gcore core:
#   heap -a ADDR   an interior address of a traced block names outside_alloc as its allocation
#                  stack (back-end and big blocks; live and core), with its source line when
#                  addr2line is installed; a block the full page heap
#                  holds after its free is delayed-free with outside_free as its free stack
#   umdh -p -o     two snapshots around a leak of 7 blocks of one stack diff to exactly that
#                  stack with +7 (the baseline blocks do not show); a core snapshot diffs to 0
#   heap -t        the created tags' exact counters, --sort allocs, --watch/--count refreshes
#   hostile        damaged tables (a stack's frame range, a cyclic tag list, a bad delay queue):
#                  every view ends in time with a usage-level exit status, no crash
build=${BUILD:-build}
tool=$build/ntheap
child_bin=$build/tests/debug/test_outside_views
[ -x "$tool" ] && [ -x "$child_bin" ] || { echo "not built"; exit 77; }
command -v python3 >/dev/null 2>&1 || { echo "python3 is missing"; exit 77; }
work=$(mktemp -d)
pids=""
cleanup() { for p in $pids; do kill -9 "$p" 2>/dev/null; done; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

start_child() { # OPTIONS MODE -> prints the child's pid; its report in $work/MODE.txt
    p=$(NTHEAP_OPTIONS=$1 "$child_bin" --child "$work/$2.txt" "$2") || fail "child $2 did not start"
    for _ in $(seq 100); do grep -q '^ready' "$work/$2.txt" 2>/dev/null && break; sleep 0.05; done
    grep -q '^ready' "$work/$2.txt" || fail "child $2 is not ready"
    echo "$p"
}
probe() { awk -v k="$2" '$1 == k {print $2}' "$work/$1.txt"; }
plus() { printf '%x' $(($1 + $2)); }

# field FILE EXPR: a value of the JSON document in FILE (python expression over `d`)
field() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }

pid=$(start_child stack_traces=1 trace); pids="$pids $pid"
if ! "$tool" heap -p "$pid" >/dev/null 2>"$work/open.err" && grep -q "ptrace refused" "$work/open.err"; then
    cat "$work/open.err"; echo "ptrace is refused here: outside views not checked"; exit 77
fi
block=$(probe trace block); big=$(probe trace big)

check_a() { # NAME ADDRESS WANT_USER WANT_KIND WANT_STATE TARGET-ARGS...
    name=$1 address=$2 user=$3 kind=$4 state=$5; shift 5
    "$tool" heap "$@" -a "$address" --json >"$work/$name.json" 2>"$work/$name.err" ||
        { cat "$work/$name.err" "$work/$name.json"; fail "heap $* -a $address: exit $?"; }
    got=$(field "$work/$name.json" "'%d/%s/%s/%s' % (int(d['user'],16), d['kind'], d['state'], d['alloc_stack'][0]['symbol'])")
    want="$((user))/$kind/$state/outside_alloc"
    [ "$got" = "$want" ] || fail "heap $* -a $address: got $got, want $want"
}
check_a a_block "$(plus "$block" 8)" "$block" back-end busy -p "$pid"
check_a a_big "$(plus "$big" 4096)" "$big" "big (virtual)" busy -p "$pid"
if command -v addr2line >/dev/null 2>&1; then # the call's source line, from the test's own DWARF
    case "$(field "$work/a_block.json" "d['alloc_stack'][0]['source']")" in
    *test_outside_views.c:[0-9]*) ;;
    *) fail "heap -a: the allocating call has no source line: $(field "$work/a_block.json" "d['alloc_stack'][0]")" ;;
    esac
fi
"$tool" heap -p "$pid" -a "$(plus "$block" 8)" >"$work/a.txt" || fail "text -a"
grep -q 'allocation stack:' "$work/a.txt" && grep -q 'outside_alloc+0x' "$work/a.txt" || fail "text -a: no stack"
"$tool" heap -p "$pid" -a 10 >/dev/null; [ $? -eq 1 ] || fail "-a of an address in no block must exit 1"
"$tool" heap -p "$pid" -a >/dev/null 2>&1; [ $? -eq 2 ] || fail "-a without an address must exit 2"

core=""
if [ -n "${SAN:-}" ]; then
    echo "note: a sanitizer build's child has terabytes of shadow mappings: no core is made of it"
elif command -v gcore >/dev/null 2>&1 && gcore -o "$work/core" "$pid" >/dev/null 2>&1; then
    core=$work/core.$pid
    check_a c_block "$(plus "$block" 8)" "$block" back-end busy -c "$core"
else
    echo "note: gcore unavailable or refused: core views not checked"
fi
kill -9 "$pid"

pid=$(start_child stack_traces=1,page_heap=1 paged); pids="$pids $pid"
check_a a_paged "$(plus "$(probe paged block)" 8)" "$(probe paged block)" "page heap" busy -p "$pid"
check_a a_freed "$(plus "$(probe paged freed)" 20)" "$(probe paged freed)" "page heap" delayed-free -p "$pid"
[ "$(field "$work/a_freed.json" "d['free_stack'][0]['symbol']")" = outside_free ] || fail "the free stack of a delayed free"
kill -9 "$pid"

pid=$(start_child stack_traces=1 leak); pids="$pids $pid"
"$tool" umdh -p "$pid" -o "$work/A.txt" 2>/dev/null || fail "umdh -p A"
kill -USR1 "$pid"
for _ in $(seq 100); do grep -q '^leaked' "$work/leak.txt" && break; sleep 0.05; done
grep -q '^leaked' "$work/leak.txt" || fail "the child did not leak"
"$tool" umdh -p "$pid" -o "$work/B.txt" 2>/dev/null || fail "umdh -p B"
"$tool" umdh "$work/A.txt" "$work/B.txt" >"$work/diff.txt" || fail "umdh A B"
cat "$work/diff.txt"
[ "$(grep -c '^ *[-+][0-9]* blocks' "$work/diff.txt")" -eq 1 ] || fail "the diff must hold exactly one stack"
grep -q '^ *+7 blocks *+336 bytes' "$work/diff.txt" || fail "the diff must show +7 blocks, +336 bytes"
sed -n 2p "$work/diff.txt" | grep -q 'leak_more+0x' || fail "the stack's first frame must be leak_more"
grep -q '^total: +336 bytes in +7 blocks' "$work/diff.txt" || fail "diff total"
"$tool" umdh -p "$pid" --json >"$work/B.json" || fail "umdh -p --json"
[ "$(field "$work/B.json" "d['total_blocks']")" = 12 ] || fail "umdh --json: 5 + 7 blocks"
if [ -n "$core" ] && gcore -o "$work/lcore" "$pid" >/dev/null 2>&1; then
    "$tool" umdh -c "$work/lcore.$pid" -o "$work/C.txt" 2>/dev/null || fail "umdh -c"
    "$tool" umdh "$work/B.txt" "$work/C.txt" | grep -q '^total: +0 bytes in +0 blocks' || fail "live and core snapshots differ"
fi
kill -9 "$pid"
pid=$(start_child "" trace); pids="$pids $pid"
"$tool" umdh -p "$pid" -o "$work/none.txt" 2>"$work/none.err"; [ $? -eq 1 ] || fail "umdh -p of an untraced process must exit 1"
grep -q stack_traces=1 "$work/none.err" || fail "umdh -p without traces must say how to turn them on"
kill -9 "$pid"

pid=$(start_child "" tags); pids="$pids $pid"
"$tool" heap -p "$pid" -t --json >"$work/t.json" || fail "heap -t"
check_tags() { # FILE
    got=$(field "$1" "[(t['tag'], t['allocs'], t['frees'], t['diff'], t['bytes'], t['peak']) for t in d['tag_tables'][0]['tags']]")
    [ "$got" = "$2" ] || fail "heap -t: got $got, want $2"
}
check_tags "$work/t.json" "[('beta', 3, 0, 3, 3000, 3000), ('alpha', 5, 2, 3, 300, 500)]"
"$tool" heap -p "$pid" -t --sort allocs --json >"$work/ta.json" || fail "heap -t --sort allocs"
check_tags "$work/ta.json" "[('alpha', 5, 2, 3, 300, 500), ('beta', 3, 0, 3, 3000, 3000)]"
timeout 20 "$tool" heap -p "$pid" -t --watch 1 --count 2 >"$work/watch.txt" || fail "heap -t --watch --count"
[ "$(grep -c '^--- pid' "$work/watch.txt")" -eq 2 ] || fail "--count 2 must refresh twice"
[ "$(grep -c ' alpha ' "$work/watch.txt")" -eq 2 ] || fail "each refresh lists the tags"
"$tool" heap -c /dev/null -t --watch 1 >/dev/null 2>&1; [ $? -eq 2 ] || fail "--watch of a core must exit 2"
if [ -n "$core" ] && gcore -o "$work/tcore" "$pid" >/dev/null 2>&1; then
    "$tool" heap -c "$work/tcore.$pid" -t --json >"$work/tc.json" || fail "heap -c -t"
    check_tags "$work/tc.json" "[('beta', 3, 0, 3, 3000, 3000), ('alpha', 5, 2, 3, 300, 500)]"
fi
kill -9 "$pid"

pid=$(start_child stack_traces=1 hostile); pids="$pids $pid"
hostile_block=$(probe hostile block)
for view in "heap -a $(plus "$hostile_block" 4)" "heap -a 10" "heap -t" "heap -t --json" "umdh"; do
    # shellcheck disable=SC2086
    timeout 20 "$tool" $view -p "$pid" >"$work/hostile.out" 2>&1
    status=$?
    [ $status -le 2 ] || { cat "$work/hostile.out"; fail "ntheap $view on damaged tables: exit $status"; }
done
"$tool" heap -a "$(plus "$hostile_block" 4)" -p "$pid" --json >"$work/h.json" || fail "-a on damaged tables"
[ "$(field "$work/h.json" "len(d['alloc_stack'])")" = 0 ] || fail "a damaged stack must show no frames"
"$tool" heap -t -p "$pid" --json >"$work/ht.json" || fail "-t on damaged tables"
[ "$(field "$work/ht.json" "len(d['tag_tables'])")" = 1 ] || fail "a cyclic tag list must be read once"
kill -9 "$pid"
exit 0
