#!/bin/sh
# version_agrees.sh — one version everywhere. VERSION (MAJOR.MINOR.PATCH) is the source; the
# NTH_VERSION_* macros of include/ntheap.h, the top entry of debian/changelog, the man pages'
# title lines (checked by tests/man/man_pages.sh), `ntheap --version`, the names and SONAMEs of
# the shared libraries built in $BUILD, and the name of the runtime package must all agree.
build=${BUILD:-build}
status=0
fail() { echo "FAIL: $*"; status=1; }

version=$(cat VERSION)
echo "$version" | grep -Eq '^[0-9]+\.[0-9]+\.[0-9]+$' || { echo "FAIL: VERSION holds \"$version\""; exit 1; }
major=${version%%.*}
rest=${version#*.}
minor=${rest%%.*}
patch=${rest#*.}

macro() { sed -n "s/^#define $1 \([0-9]*\)$/\1/p" include/ntheap.h; }
[ "$(macro NTH_VERSION_MAJOR)" = "$major" ] || fail "NTH_VERSION_MAJOR is $(macro NTH_VERSION_MAJOR), VERSION says $major"
[ "$(macro NTH_VERSION_MINOR)" = "$minor" ] || fail "NTH_VERSION_MINOR is $(macro NTH_VERSION_MINOR), VERSION says $minor"
[ "$(macro NTH_VERSION_PATCH)" = "$patch" ] || fail "NTH_VERSION_PATCH is $(macro NTH_VERSION_PATCH), VERSION says $patch"

# The Debian version is VERSION itself (a native package) or VERSION-REVISION.
deb=$(sed -n '1s/^ntheap (\([^)]*\)).*/\1/p' debian/changelog)
[ "${deb%-*}" = "$version" ] || fail "debian/changelog's top entry is \"$deb\", VERSION says $version"

# The runtime package is named after the SONAME (libntheap.so.MAJOR -> libntheapMAJOR).
grep -q "^Package: libntheap$major\$" debian/control ||
    fail "debian/control has no package libntheap$major for the SONAME libntheap.so.$major"

for pc in ntheap.pc.in ntheap-pst.pc.in; do
    grep -q '^Version: @VERSION@$' "$pc" || fail "$pc does not take its version from VERSION (@VERSION@)"
done

if [ -x "$build/ntheap" ]; then
    out=$("$build/ntheap" --version)
    [ "$out" = "ntheap $version" ] || fail "ntheap --version prints \"$out\", expected \"ntheap $version\""
fi
for lib in libntheap libntheap-pst; do
    [ -e "$build/$lib.so" ] || continue
    [ -f "$build/$lib.so.$version" ] || fail "$build/$lib.so.$version (the real file) is missing"
    target=$(readlink "$build/$lib.so.$major")
    [ "$target" = "$lib.so.$version" ] || fail "$build/$lib.so.$major points at \"$target\""
    if command -v readelf >/dev/null 2>&1; then
        soname=$(readelf -d "$build/$lib.so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
        [ "$soname" = "$lib.so.$major" ] || fail "$lib.so has SONAME \"$soname\", expected $lib.so.$major"
    fi
done
exit $status
