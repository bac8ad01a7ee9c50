#!/bin/sh
# run.sh BUILD — runs every test program under BUILD/tests and every tests/*/*.sh script, then
# prints the total as "N passed, N failed". A program counts its own cases on a RESULT line; a
# program that crashes or prints no RESULT line counts as one failure. A script is one case:
# exit 0 passes, 77 is skipped, anything else fails. A program that cannot apply to this build
# (e.g. a DEBUG=1-only check) prints "SKIP <reason>" and is listed as skipped.
#
# Everything runs side by side, as many at once as there are processors (TEST_JOBS=n to
# choose): each test is a process of its own, with its own heaps and temporary files, and none
# depends on another. The verdicts are printed in name order once all have ended, programs
# first.
build=${1:-build}
jobs=${TEST_JOBS:-$(nproc 2>/dev/null || echo 1)}
passed=0
failed=0
skipped=0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# One test: its output to $work/<name>.log, then "<exit status> <seconds>" to $work/<name>.end.
run_one='n=$(echo "$1" | tr / _); start=$(date +%s)
         case "$1" in *.sh) BUILD="$3" sh "$1" ;; *) "$1" ;; esac >"$2/$n.log" 2>&1
         status=$?; echo "$status $(($(date +%s) - start))" >"$2/$n.end"'
programs=$(find "$build/tests" -type f -perm -u+x -name 'test_*' | sort)
scripts=$(find tests -name '*.sh' -path 'tests/*/*' ! -path 'tests/harness/*' | sort)
# The scripts go first: the longest of all (the fuzz smoke, the preloaded programs) are there.
printf '%s\n' $scripts $programs | xargs -P "$jobs" -I{} sh -c "$run_one" run_one {} "$work" "$build"

# verdict TEST: sets status, seconds and log for one test that has ended (status 255 when its
# runner left no record)
verdict() {
    n=$(echo "$1" | tr / _)
    log=$work/$n.log
    status=255 seconds=0
    [ -e "$work/$n.end" ] && read -r status seconds <"$work/$n.end"
    [ -e "$log" ] || : >"$log"
}

for prog in $programs; do
    name=${prog#"$build"/tests/}
    verdict "$prog"
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
        echo "ok    $name: $p passed (${seconds}s)"
    fi
done

for script in $scripts; do
    verdict "$script"
    if [ "$status" -eq 0 ]; then
        echo "ok    $script (${seconds}s)"
        passed=$((passed + 1))
    elif [ "$status" -eq 77 ]; then
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
