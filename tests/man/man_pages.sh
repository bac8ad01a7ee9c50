#!/bin/sh
# man_pages.sh — the generated manual pages ($BUILD/man, from man/*.in by man/gen-man.sh) format
# without a groff warning (`man --warnings`), carry the package version in their title line, keep
# no template placeholder, and cover what they are generated from: ntheap(1) every command that
# `ntheap --help` lists, ntheap(3) every NTH_API function of include/ntheap.h, ntheap-options(7)
# every row of src/heap/options.def. Exit 77 (skip) when man(1) or groff is not installed.
command -v man >/dev/null 2>&1 || { echo "man is not installed"; exit 77; }
command -v groff >/dev/null 2>&1 || { echo "groff is not installed"; exit 77; }
build=${BUILD:-build}
version=$(cat VERSION)
status=0
fail() { echo "FAIL: $*"; status=1; }

for template in man/*.in; do
    page=$build/man/$(basename "$template" .in)
    [ -f "$page" ] || { fail "$page was not generated from $template"; continue; }
    warnings=$(MANWIDTH=80 man --warnings -E UTF-8 -l "$page" 2>&1 >/dev/null)
    [ -z "$warnings" ] || fail "$page: $warnings"
    grep -q "^\.TH .*\"ntheap $version\"" "$page" || fail "$page: the .TH line does not say \"ntheap $version\""
    grep -n '@[A-Z_]*@' "$page" && fail "$page: a template placeholder is left"
done
for page in ntheap.1 ntheap.3 ntheap-options.7; do
    [ -f "$build/man/$page" ] || fail "$build/man/$page is missing"
done

if [ -x "$build/ntheap" ]; then
    for cmd in $("$build/ntheap" --help | awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 }'); do
        [ "$cmd" = help ] && continue
        grep -q "^\.SS \"$cmd\"" "$build/man/ntheap.1" || fail "ntheap.1 does not describe the command \"$cmd\""
        # the command's own help text is in the page, verbatim up to roff escapes
        first=$("$build/ntheap" help "$cmd" | head -1)
        sed 's/\\-/-/g' "$build/man/ntheap.1" | grep -Fqx -- "$first" || fail "ntheap.1 lacks the help text of \"$cmd\""
    done
fi
for fn in $(grep -o '^NTH_API.*\bnth_[a-z_]*(' include/ntheap.h | grep -o 'nth_[a-z_]*($' | tr -d '(') \
          $(grep -A1 '^NTH_API.*[^;]$' include/ntheap.h | grep -o '^nth_[a-z_]*('  | tr -d '('); do
    grep -q "^\.B \".*[ *]$fn(" "$build/man/ntheap.3" || fail "ntheap.3 does not show $fn"
done
for opt in $(sed -n 's/^NTH_OPTION_ROW(\([a-z_0-9]*\),.*/\1/p' src/heap/options.def); do
    grep -q "^\.BR $opt \"" "$build/man/ntheap-options.7" || fail "ntheap-options.7 does not describe $opt"
done
[ $status -eq 0 ] && echo "manual pages: generated, clean, complete"
exit $status
