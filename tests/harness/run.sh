#!/bin/sh
# run.sh BUILD — runs every test program under BUILD/tests and every tests/*/*.sh script, then
# prints the total as "N passed, N failed". A program counts its own cases on a RESULT line; a
# program that crashes or prints no RESULT line counts as one failure. A script is one case:
# exit 0 passes, 77 is skipped, anything else fails. A program that cannot apply to this build
# (e.g. a DEBUG=1-only check) prints "SKIP <reason>" and is listed as skipped.
build=${1:-build}
passed=0
failed=0
skipped=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

for prog in $(find "$build/tests" -type f -perm -u+x -name 'test_*' | sort); do
    name=${prog#"$build"/tests/}
    start=$(date +%s)
    "$prog" >"$log" 2>&1
    status=$?
    end=$(date +%s)
    line=$(grep '^RESULT ' "$log" | tail -n 1)
    if [ -z "$line" ]; then
        echo "CRASH $name (exit status $status, no RESULT line); its output:"
        tail -n 30 "$log"
        failed=$((failed + 1))
        continue
    fi
    p=$(echo "$line" | sed -n 's/.*passed=\([0-9]*\).*/\1/p')
    f=$(echo "$line" | sed -n 's/.*failed=\([0-9]*\).*/\1/p')
    passed=$((passed + p))
    failed=$((failed + f))
    skip=$(grep '^SKIP ' "$log" | head -n 1)
    if [ -n "$skip" ] && [ "$p" -eq 0 ] && [ "$f" -eq 0 ] && [ "$status" -eq 0 ]; then
        echo "skip  $name: ${skip#SKIP }"
        skipped=$((skipped + 1))
    elif [ "$f" -ne 0 ] || [ "$status" -ne 0 ]; then
        echo "FAIL  $name: $p passed, $f failed (exit $status); its output:"
        grep -E 'FAIL|not ok|ntheap' "$log" | head -n 40
        if [ "$f" -eq 0 ]; then failed=$((failed + 1)); fi
    else
        echo "ok    $name: $p passed ($((end - start))s)"
    fi
done

for script in $(find tests -name '*.sh' -path 'tests/*/*' ! -path 'tests/harness/*' | sort); do
    BUILD="$build" sh "$script" >"$log" 2>&1
    status=$?
    if [ $status -eq 0 ]; then
        echo "ok    $script"
        passed=$((passed + 1))
    elif [ $status -eq 77 ]; then
        echo "skip  $script: $(tail -n 1 "$log")"
        skipped=$((skipped + 1))
    else
        echo "FAIL  $script (exit $status); its output:"
        tail -n 30 "$log"
        failed=$((failed + 1))
    fi
done

if [ $skipped -gt 0 ]; then
    echo "$passed passed, $failed failed, $skipped skipped"
else
    echo "$passed passed, $failed failed"
fi
[ $failed -eq 0 ]
