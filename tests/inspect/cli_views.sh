#!/bin/sh
# cli_views.sh — every `ntheap heap` view and `ntheap address`, run from outside against a child
# that built known heaps (tests/inspect/known_heaps.h), live (-p) and from a gcore core file
# (-c): the JSON of each view must match the child's own walk (entries, busy/free counts,
# bytes, the size histogram), -x/-i must find the chosen blocks, -l must list the dropped blocks
# (also one whose address survives only in dead stack below the stack pointer) and none of the
# kept ones (a global, a live frame). Then hostile targets: a damaged heap (exit 1, problems reported),
# a registry of another layout version (exit 2, the reason), a truncated core (no crash).
build=${BUILD:-build}
tool=$build/ntheap
child_bin=$build/tests/inspect/test_target
[ -x "$tool" ] && [ -x "$child_bin" ] || { echo "not built"; exit 77; }
command -v python3 >/dev/null 2>&1 || { echo "python3 is missing"; exit 77; }
work=$(mktemp -d)
pids=""
cleanup() { for p in $pids; do kill -9 "$p" 2>/dev/null; done; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

start_child() { # MODE -> prints the child's pid; its report in $work/MODE.txt
    p=$("$child_bin" --child "$work/$1.txt" "$1") || fail "child $1 did not start"
    [ -s "$work/$1.txt" ] || fail "child $1 wrote no report"
    echo "$p"
}

private_heap() { awk '$1 == "heap" {a = $2} END {print a}' "$work/normal.txt"; } # reported last
probe() { awk -v k="$1" '$1 == "probe" && $2 == k {print $3}' "$work/normal.txt"; }

check_views() { # TARGET-ARGS...: run every view as JSON and compare with the report
    for view in list s s_one h hl stat flt_s flt_r l address x_backend x_big i_lfh i_backend; do
        case $view in
            list) args="" ;; s) args="-s" ;; s_one) args="-s $(private_heap)" ;;
            h) args="-h" ;; hl) args="-hl" ;; stat) args="-stat" ;;
            flt_s) args="-flt s 100" ;; flt_r) args="-flt r 77 9a" ;; l) args="-l" ;;
            x_backend) args="-x $(printf '%x' $((0x$(probe backend) + 8)))" ;;
            x_big) args="-x $(printf '%x' $((0x$(probe big) + 4096)))" ;;
            i_lfh) args="-i $(probe lfh)" ;;
            i_backend) args="-i $(probe backend)" ;;
            address) args="" ;;
        esac
        if [ $view = address ]; then cmd=address; else cmd=heap; fi
        # shellcheck disable=SC2086
        "$tool" $cmd "$@" --json $args >"$work/$view.json" 2>"$work/$view.err"
        status=$?
        want=0
        [ $view = l ] && want=1
        [ $status -eq $want ] || { cat "$work/$view.err"; fail "ntheap $cmd $* $args: exit $status, expected $want"; }
    done
    python3 - "$work" <<'PY' || fail "views differ from the child's own walk ($*)"
import json, os, sys
w = sys.argv[1]
rep = {"heap": {}, "stat": {}, "kept": set(), "dropped": set(), "framed": set(), "stale": set(), "probe": {},
       "threads": 0}
for line in open(w + "/normal.txt"):
    f = line.split()
    if not f: continue
    if f[0] == "heap":
        rep["heap"][int(f[1], 16)] = {f[i]: int(f[i + 1], 16 if f[i] == "hash" else 10) for i in range(2, len(f), 2)}
    elif f[0] == "stat":
        rep["stat"].setdefault(int(f[1], 16), {})[int(f[2], 16)] = int(f[3])
    elif f[0] in ("kept", "dropped", "framed", "stale"):
        rep[f[0]].add(int(f[1], 16))
    elif f[0] == "probe":
        rep["probe"][f[1]] = int(f[2], 16)
    elif f[0] == "threads":
        rep["threads"] = int(f[1])
def load(v): return json.load(open("%s/%s.json" % (w, v)))  # every view's output must parse
for v in "list s s_one h hl stat flt_s flt_r l address x_backend x_big i_lfh i_backend".split(): load(v)
h = lambda s: int(s, 16)
errors = []
def expect(cond, what):
    if not cond: errors.append(what)
listed = {h(x["address"]) for x in load("list")["heaps"]}
expect(set(rep["heap"]) <= listed, "list: heaps %s not all in %s" % (rep["heap"].keys(), listed))
s = {h(x["heap"]): x for x in load("s")["heaps"]}
for a, r in rep["heap"].items():
    expect(s[a]["free_list_length"] == r["free"], "-s free list length of %x" % a)
    expect(s[a]["virtual_blocks"] == r["big"], "-s virtual blocks of %x" % a)
one = load("s_one")["heaps"]
expect(len(one) == 1, "-s HEAP lists %d heaps" % len(one))
one = one[0]; a = h(one["heap"]); r = rep["heap"][a]
for k in "flags reserved_kib committed_kib virtual_kib free_kib free_list_length ucrs virtual_blocks".split():
    expect(one[k] == s[a][k], "-s HEAP %s: %s != the table's %s" % (k, one[k], s[a][k]))
expect(one["free_list_length"] == r["free"] and one["virtual_blocks"] == r["big"] and one["segments"] == 1,
       "-s HEAP counts: %s" % one)
expect(0 < one["largest_free"] <= r["free_bytes"], "-s HEAP largest free block %d" % one["largest_free"])
expect(one["external_fragmentation_percent"] == (r["free_bytes"] - one["largest_free"]) * 100 // r["free_bytes"],
       "-s HEAP external fragmentation")
expect(one["flag_names"] == "HEAP_GROWABLE", "-s HEAP flag names %s" % one["flag_names"])
for view, lfh in (("h", False), ("hl", True)):
    for heap in load(view)["heaps"]:
        a = h(heap["heap"]); r = rep["heap"][a]
        all_ents = heap["entries"]
        # the walk's entries: free LFH slots are listed by -hl only, beside them
        ents = [e for e in all_ents if not (e["kind"].startswith("lfh") and e["state"] == "free")]
        n = len(ents) + len(heap["segments"])
        busy = sum(1 for e in ents if e.get("state") == "busy")
        free = sum(1 for e in ents if e.get("state") == "free")
        if lfh:
            lfh_busy = sum(1 for e in all_ents if e["kind"] == "lfh" and e["state"] == "busy")
            lfh_free = sum(1 for e in all_ents if e["kind"] == "lfh" and e["state"] == "free")
            untouched = sum(e["blocks"] for e in all_ents if e["kind"] == "lfh-untouched")
            # private heap: 100 x 0x100, slots 0..81 from the 19th on, every 10th block freed
            # (blocks 20, 30, ..., 90: 8 slots); the process heap frees nothing
            want_free = 8 if r["big"] else 0
            expect(lfh_free == want_free, "-hl free LFH slots of %x: %d != %d" % (a, lfh_free, want_free))
            expect(lfh_busy == r["lfh"], "-hl busy LFH slots of %x" % a)
            if r["big"]:
                # a 0x100 bucket's subsegment is one 64 KiB chunk less its 16-byte header: 255 slots
                expect(lfh_busy + lfh_free == 82 and untouched == 255 - 82,
                       "-hl slots of %x: %d handed out, %d never" % (a, lfh_busy + lfh_free, untouched))
        expect(free == r["free"], "-%s free blocks of %x: %d != %d" % (view, a, free, r["free"]))
        if lfh:
            expect(n == r["entries"], "-hl entries of %x: %d != %d" % (a, n, r["entries"]))
            expect(busy == r["busy"], "-hl busy of %x: %d != %d" % (a, busy, r["busy"]))
        else:
            expect(n == r["entries"] - r["lfh"], "-h entries of %x" % a)
for heap in load("stat")["heaps"]:
    a = h(heap["heap"])
    got = {h(g["size"]): g["blocks"] for g in heap["groups"]}
    expect(got == rep["stat"][a], "-stat of %x: %s != %s" % (a, got, rep["stat"][a]))
expect(load("flt_s")["matches"] == 90, "-flt s 100 matches %d" % load("flt_s")["matches"])
expect(load("flt_r")["matches"] == 10, "-flt r 77 9a matches %d" % load("flt_r")["matches"])
leaks = {h(x["user"]) for x in load("l")["leaks"]}
if os.environ.get("SAN"):  # a sanitizer keeps stale copies (fake stacks, quarantine) that may hide some
    expect(rep["dropped"] & leaks, "-l finds none of the dropped blocks")
else:
    expect(rep["dropped"] <= leaks, "-l misses dropped blocks %s" % (rep["dropped"] - leaks))
expect(not (rep["kept"] & leaks), "-l lists kept blocks %s" % (rep["kept"] & leaks))
# a copy of the stale block's address lies in dead stack, below the stack pointer: not a root
expect(rep["stale"] <= leaks, "-l misses the block whose address is only in dead stack")
expect(not (rep["framed"] & leaks), "-l lists the block referenced from a live frame")
expect(load("l")["threads"] == rep["threads"] and load("l")["dead_stack_bytes"] > 16384,
       "-l: every thread, and the dead stack below the main thread's stack pointer")
x = load("x_backend")["entries"][0]
expect(h(x["user"]) == rep["probe"]["backend"] and "busy" in x["flags"], "-x inside a back-end block")
x = load("x_big")["entries"][0]
expect(h(x["user"]) == rep["probe"]["big"] and "virtual" in x["flags"], "-x inside a big block")
i = load("i_lfh")
expect("LFH" in i["flags"] and i["requested"] == 0x100 and "bucket" in i, "-i of an LFH block: %s" % i)
i = load("i_backend")
expect(i["requested"] == 0x2000 and i["block_size"] == 0x2010, "-i of a back-end block: %s" % i)
regions = load("address")["regions"]
for a in rep["heap"]:
    expect(any(h(r["base"]) == a and r["state"] == "MEM_COMMIT" for r in regions), "address: no committed row at %x" % a)
expect(sum(1 for r in regions if r["kind"] == "Big block") == 2, "address: big block rows")
for e in errors: print("  " + e)
sys.exit(1 if errors else 0)
PY
}

pid=$(start_child normal); pids="$pids $pid"
if ! "$tool" heap -p "$pid" >/dev/null 2>"$work/open.err" && grep -q "ptrace refused" "$work/open.err"; then
    cat "$work/open.err"
    echo "ptrace is refused here: live and core views not checked"
    exit 77
fi
check_views -p "$pid"
"$tool" heap -p "$pid" -s >"$work/s.txt" || fail "text -s"
grep -q "Termination on corruption" "$work/s.txt" || fail "-s without its header lines"
"$tool" heap -p "$pid" -s "$(private_heap)" >"$work/s1.txt" || fail "text -s HEAP"
for label in "0: Heap $(printf '%016x' 0x$(private_heap))" "Flags          00000002 - HEAP_GROWABLE" \
    "Reserved memory in segments" "Commited memory in segments" "Virtual bytes (correction for large UCR)" \
    "Free space" "External fragmentation" "Virtual address fragmentation" "Virtual blocks  2 - total" \
    "Lock contention" "Segments        1"; do
    grep -qF "$label" "$work/s1.txt" || { cat "$work/s1.txt"; fail "-s HEAP without \"$label\""; }
done
! grep -q "Reserv  Commit" "$work/s1.txt" || fail "-s HEAP printed the table, not the single-heap form"
"$tool" heap -p "$pid" -x 10 >/dev/null; [ $? -eq 1 ] || fail "-x of an address in no heap must exit 1"
"$tool" heap -p "$pid" -i 0 >/dev/null; [ $? -eq 1 ] || fail "-i 0 must be no block (an LFH slot has no header at 0)"
for bad in 0x10000000000000000 -5 123456789012345678901234 12z; do
    "$tool" heap -p "$pid" -i "$bad" >/dev/null 2>&1; [ $? -eq 2 ] || fail "-i $bad must be bad usage"
done
"$tool" heap -p "$pid" -flt s -1 >/dev/null 2>&1; [ $? -eq 2 ] || fail "-flt s -1 must be bad usage"
mkfifo "$work/fifo"
timeout 10 "$tool" heap -c "$work/fifo" -s >/dev/null 2>"$work/fifo.err"
status=$?
[ $status -eq 2 ] && grep -q "not a regular file" "$work/fifo.err" || fail "a FIFO as the core: exit $status"
timeout 10 "$tool" umdh "$work/fifo" "$work/fifo" >/dev/null 2>&1; [ $? -eq 2 ] || fail "a FIFO as a snapshot must exit 2"
"$tool" heap -p "$pid" -bogus >/dev/null 2>&1; [ $? -eq 2 ] || fail "bad usage must exit 2"
"$tool" heap -p 1073741823 -s >/dev/null 2>"$work/err"; [ $? -eq 2 ] || fail "no such process must exit 2"

if [ -n "${SAN:-}" ]; then
    echo "note: a sanitizer build's child has terabytes of shadow mappings: no core is made of it"
elif command -v gcore >/dev/null 2>&1 && gcore -o "$work/core" "$pid" >/dev/null 2>&1; then
    core=$work/core.$pid
    check_views -c "$core"
    size=$(wc -c <"$core")
    head -c $((size / 2)) "$core" >"$work/trunc"
    "$tool" heap -c "$work/trunc" -hl >/dev/null 2>&1
    status=$?
    [ $status -le 2 ] || fail "a truncated core made ntheap exit $status"
    # The core as the output file would be cut under the reader: refused, the core intact.
    for cmd in map umdh; do
        "$tool" $cmd -c "$core" -o "$core" >/dev/null 2>"$work/same.err"
        status=$?
        [ $status -eq 2 ] && [ "$(wc -c <"$core")" -eq "$size" ] || fail "$cmd -o CORE: exit $status, core now $(wc -c <"$core") bytes"
        grep -q "is the core file being read" "$work/same.err" || fail "$cmd -o CORE without its reason"
    done
else
    echo "note: gcore unavailable or refused: core views not checked"
fi
kill -9 "$pid"

pid=$(start_child smash); pids="$pids $pid"
"$tool" heap -p "$pid" -hl >"$work/smash.txt" 2>&1
status=$?
[ $status -eq 1 ] || fail "a damaged heap must exit 1 (got $status)"
grep -q "problem" "$work/smash.txt" || fail "a damaged heap must report its problems"
for v in -s -stat -l "-flt s 100"; do
    # shellcheck disable=SC2086
    timeout 10 "$tool" heap -p "$pid" $v >/dev/null 2>&1
    status=$?
    [ $status -eq 1 ] || fail "damaged heap, view $v: exit $status, expected 1"
done
kill -9 "$pid"

pid=$(start_child version); pids="$pids $pid"
"$tool" heap -p "$pid" >/dev/null 2>"$work/version.err"
[ $? -eq 2 ] || fail "another layout version must exit 2"
grep -q "layout version 1" "$work/version.err" || fail "the version error must name the version"
exit 0
