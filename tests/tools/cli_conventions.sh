#!/bin/sh
# cli_conventions.sh — what every ntheap command line promises (see ntheap(1)): --version prints
# "ntheap MAJOR.MINOR.PATCH"; --help and `help COMMAND` print on stdout and exit 0, and
# `help COMMAND` is the same text as `COMMAND --help`; bad usage exits 2 with the message on
# stderr and nothing on stdout. Exit 77 (skip) when the CLI is not built.
build=${BUILD:-build}
ntheap="$build/ntheap"
[ -x "$ntheap" ] || { echo "no $ntheap"; exit 77; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
status=0
fail() { echo "FAIL: $*"; status=1; }

# expect STATUS STREAM ARGS...: run ntheap ARGS; STREAM (stdout|stderr) must be the only
# non-empty one and the exit status must be STATUS.
expect() {
    want=$1 stream=$2
    shift 2
    "$ntheap" "$@" >"$out/stdout" 2>"$out/stderr"
    got=$?
    [ "$got" -eq "$want" ] || fail "ntheap $*: exit $got, expected $want"
    other=stderr
    [ "$stream" = stderr ] && other=stdout
    [ -s "$out/$stream" ] || fail "ntheap $*: nothing on $stream"
    [ -s "$out/$other" ] && fail "ntheap $*: unexpected output on $other: $(head -n 1 "$out/$other")"
}

expect 0 stdout --version
grep -Eqx 'ntheap [0-9]+\.[0-9]+\.[0-9]+' "$out/stdout" || fail "--version printed: $(cat "$out/stdout")"
expect 0 stdout --help
commands=$(awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 }' "$out/stdout")
[ -n "$commands" ] || fail "--help lists no commands"
expect 0 stdout help
for cmd in $commands; do
    [ "$cmd" = help ] && continue
    expect 0 stdout help "$cmd"
    cp "$out/stdout" "$out/help.txt"
    expect 0 stdout "$cmd" --help
    cmp -s "$out/help.txt" "$out/stdout" || fail "ntheap help $cmd differs from ntheap $cmd --help"
    grep -q "^usage: ntheap $cmd" "$out/stdout" || fail "ntheap $cmd --help does not start with its usage"
done
expect 2 stderr
expect 2 stderr no-such-command
expect 2 stderr --no-such-option
expect 2 stderr help no-such-command
expect 2 stderr demo unexpected-argument
expect 2 stderr pst
exit $status
