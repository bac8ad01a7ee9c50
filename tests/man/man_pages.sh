#!/bin/sh
# man_pages.sh — every page in man/ formats without a groff warning (`man --warnings`), carries
# the package version in its title line, and ntheap(1) names every command that
# `ntheap --help` lists. Exit 77 (skip) when man(1) or groff is not installed.
command -v man >/dev/null 2>&1 || { echo "man is not installed"; exit 77; }
command -v groff >/dev/null 2>&1 || { echo "groff is not installed"; exit 77; }
build=${BUILD:-build}
version=$(cat VERSION)
status=0
pages=$(ls man/*.[137] 2>/dev/null)
[ -n "$pages" ] || { echo "FAIL: no pages in man/"; exit 1; }
for page in $pages; do
    warnings=$(MANWIDTH=80 man --warnings -E UTF-8 -l "$page" 2>&1 >/dev/null)
    if [ -n "$warnings" ]; then
        echo "FAIL: $page:"
        echo "$warnings"
        status=1
    fi
    if ! grep -q "^\.TH .*\"ntheap $version\"" "$page"; then
        echo "FAIL: $page: the .TH line does not say \"ntheap $version\""
        status=1
    fi
done
for page in ntheap.1 ntheap.3 ntheap-options.7; do
    [ -f "man/$page" ] || { echo "FAIL: man/$page is missing"; status=1; }
done
if [ -x "$build/ntheap" ]; then
    for cmd in $("$build/ntheap" --help | awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 }'); do
        # a COMMANDS entry: a .TP paragraph whose tag starts with the command's name
        grep -A1 '^\.TP' man/ntheap.1 | grep -Eq "^\.BI? \"?$cmd( |\"|$)" ||
            { echo "FAIL: man/ntheap.1 does not describe the command \"$cmd\""; status=1; }
    done
fi
exit $status
