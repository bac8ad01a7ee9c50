#!/bin/sh
# json_schemas.sh — every `--json` view keeps the shape its schema in docs/schemas/ documents:
# each schema is a valid JSON Schema (draft 2020-12), each view's output validates against its
# schema — the PST views on every sample file (and on crafted damaged files, and their
# failures), the heap, address and dt views on a live child with known heaps
# (tests/inspect/test_target --child) and on a child whose heap is damaged, the debug heap's
# outside views (heap -a, heap -t, umdh) on children with stack traces and tags — and no schema is
# left without a view that exercises it. Exit 77 (skip) without python3's jsonschema module
# (Debian package python3-jsonschema).
build=${BUILD:-build}
CLI=$build/ntheap
HOSTILE=$build/tests/pst/test_pst_hostile
CHILD=$build/tests/inspect/test_target
command -v python3 >/dev/null 2>&1 || { echo "python3 is not installed"; exit 77; }
python3 -c 'import jsonschema' 2>/dev/null || { echo "python3-jsonschema is not installed"; exit 77; }
[ -x "$CLI" ] || { echo "$CLI not built"; exit 1; }
tmp=$(mktemp -d)
pids=""
trap 'for p in $pids; do kill -9 "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT

# Each case: a schema name and the output of one command, collected as FILES in $tmp/cases.
n=0
case_of() { # case_of SCHEMA ARGS... — runs `ntheap ARGS`, keeps its stdout for SCHEMA
    n=$((n + 1))
    schema=$1
    shift
    timeout 60 "$CLI" "$@" >"$tmp/out.$n" 2>/dev/null
    echo "$schema $tmp/out.$n $*" >>"$tmp/cases"
}
: >"$tmp/cases"
: >"$tmp/skipped"
for pst in tests/data/pst/*.pst; do
    for view in info heaps validate tree; do
        n=$((n + 1)); "$CLI" pst --json "$pst" $view >"$tmp/out.$n" 2>/dev/null
        echo "pst-$view $tmp/out.$n pst $pst $view" >>"$tmp/cases"
    done
    for view in "hn 0x21" "props 0x21" "table 0x12D"; do
        n=$((n + 1)); "$CLI" pst --json "$pst" $view >"$tmp/out.$n" 2>/dev/null
        echo "pst-${view%% *} $tmp/out.$n pst $pst $view" >>"$tmp/cases"
    done
done
sample=tests/data/pst/pstsdk-sample1.pst
n=$((n + 1)); "$CLI" pst --json "$sample" ls 0x8082 >"$tmp/out.$n"; echo "pst-ls $tmp/out.$n ls" >>"$tmp/cases"
cp "$sample" "$tmp/edit.pst"
n=$((n + 1)); "$CLI" pst --json "$tmp/edit.pst" set 0x8082 0x3001001F renamed >"$tmp/out.$n"
echo "pst-set $tmp/out.$n set" >>"$tmp/cases"
for bad in "$tmp/missing.pst info" "$sample frobnicate" "$sample props" "$sample table 0x21"; do
    n=$((n + 1)); "$CLI" pst --json $bad >"$tmp/out.$n" 2>/dev/null
    echo "pst-error $tmp/out.$n $bad" >>"$tmp/cases"
done
if [ -x "$HOSTILE" ] && "$HOSTILE" --write "$tmp" >/dev/null 2>&1; then
    for crafted in "$tmp"/*.pst; do
        [ "$crafted" = "$tmp/edit.pst" ] && continue
        for view in info heaps validate; do
            n=$((n + 1)); timeout 20 "$CLI" pst --json "$crafted" $view >"$tmp/out.$n" 2>/dev/null
            echo "pst-$view $tmp/out.$n $(basename "$crafted") $view" >>"$tmp/cases"
        done
    done
fi

# The inspector views on live children: known heaps, then a damaged heap (problem fields).
inspector_schemas="heap-list heap-s heap-h heap-hl heap-x heap-i heap-stat heap-flt heap-l address dt"
if [ -x "$CHILD" ] && pid=$("$CHILD" --child "$tmp/normal.txt" normal) && pids="$pids $pid" &&
    "$CLI" heap -p "$pid" >/dev/null 2>&1; then
    probe() { awk -v k="$1" '$1 == "probe" && $2 == k {print $3}' "$tmp/normal.txt"; }
    case_of heap-list heap -p "$pid" --json
    case_of heap-s heap -p "$pid" --json -s
    case_of heap-s heap -p "$pid" --json -s 1
    case_of heap-h heap -p "$pid" --json -h
    case_of heap-hl heap -p "$pid" --json -hl
    case_of heap-x heap -p "$pid" --json -x "$(probe backend)"
    case_of heap-x heap -p "$pid" --json -x "$(probe lfh)"
    case_of heap-x heap -p "$pid" --json -x 10
    case_of heap-i heap -p "$pid" --json -i "$(probe backend)"
    case_of heap-i heap -p "$pid" --json -i "$(probe lfh)"
    case_of heap-i heap -p "$pid" --json -i "$(probe big)"
    case_of heap-i heap -p "$pid" --json -i 10
    case_of heap-stat heap -p "$pid" --json -stat
    case_of heap-flt heap -p "$pid" --json -flt s 100
    case_of heap-flt heap -p "$pid" --json -flt r 77 9a
    case_of heap-l heap -p "$pid" --json -l
    case_of address address -p "$pid" --json
    heap=$(awk '$1 == "heap" {print $2; exit}' "$tmp/normal.txt")
    case_of dt dt heap "$heap" -p "$pid" --json
    case_of dt dt heap "$(probe backend)" -p "$pid" --json
    kill -9 "$pid"
    if pid=$("$CHILD" --child "$tmp/smash.txt" smash); then
        pids="$pids $pid"
        for view in -s -h -hl -stat -l; do case_of heap-${view#-} heap -p "$pid" --json $view; done
        case_of heap-flt heap -p "$pid" --json -flt s 100
        kill -9 "$pid"
    fi
else
    echo "note: no child to inspect (not built, or ptrace refused): $inspector_schemas not checked"
    echo "$inspector_schemas" >"$tmp/skipped"
fi

# The debug heap's outside views on children with stack traces and with tags.
VIEWS_CHILD=$build/tests/debug/test_outside_views
debug_schemas="heap-a heap-t umdh"
ready() { for _ in $(seq 200); do grep -q '^ready' "$1" 2>/dev/null && return 0; sleep 0.05; done; return 1; }
if [ -x "$VIEWS_CHILD" ] && pid=$(NTHEAP_OPTIONS=stack_traces=1 "$VIEWS_CHILD" --child "$tmp/trace.txt" trace) &&
    pids="$pids $pid" && ready "$tmp/trace.txt" && "$CLI" heap -p "$pid" >/dev/null 2>&1; then
    case_of heap-a heap -p "$pid" --json -a "$(awk '$1 == "block" {print $2}' "$tmp/trace.txt")"
    case_of heap-a heap -p "$pid" --json -a "$(awk '$1 == "big" {print $2}' "$tmp/trace.txt")"
    case_of heap-a heap -p "$pid" --json -a 10
    case_of umdh umdh -p "$pid" --json
    kill -9 "$pid"
    if pid=$("$VIEWS_CHILD" --child "$tmp/tags.txt" tags); then
        pids="$pids $pid"
        ready "$tmp/tags.txt"
        case_of heap-t heap -p "$pid" --json -t
        kill -9 "$pid"
    fi
else
    echo "note: no child to inspect (not built, or ptrace refused): $debug_schemas not checked"
    echo "$debug_schemas" >>"$tmp/skipped"
fi

python3 - "$tmp/cases" docs/schemas "$tmp/skipped" <<'PY'
import json, os, sys
from jsonschema import Draft202012Validator

cases_file, schema_dir = sys.argv[1], sys.argv[2]
skipped = set(open(sys.argv[3]).read().split())
schemas = {}
for name in sorted(os.listdir(schema_dir)):
    if name.endswith(".json"):
        with open(os.path.join(schema_dir, name)) as f:
            schema = json.load(f)
        Draft202012Validator.check_schema(schema)
        schemas[name[:-5]] = Draft202012Validator(schema)
failed, used, checked = 0, set(), 0
for line in open(cases_file):
    schema, path, *what = line.split()
    used.add(schema)
    try:
        document = json.load(open(path))
    except ValueError as e:
        print(f"FAIL: {' '.join(what)}: not JSON ({e})"); failed += 1; continue
    if schema != "pst-error" and isinstance(document, dict) and "error" in document:
        schema = "pst-error"  # a view that failed on a damaged file answers with an error object
    errors = list(schemas[schema].iter_errors(document))
    for e in errors[:3]:
        where = "/".join(str(p) for p in e.absolute_path)
        print(f"FAIL: {' '.join(what)}: {schema}: at /{where}: {e.message[:200]}")
    failed += bool(errors)
    checked += 1
for name in sorted(set(schemas) - used - skipped):
    print(f"FAIL: docs/schemas/{name}.json: no view is checked against it"); failed += 1
print(f"{checked} outputs checked against {len(schemas)} schemas, {failed} failed")
sys.exit(1 if failed else 0)
PY
