#!/bin/sh
# test_map_xml.sh — the heap map is a well-formed standalone SVG document: the picture that
# test_map draws of a heap with every kind of entry parses with xmllint, its root is an <svg>
# element in the SVG namespace, and its busy elements are where XPath finds them.
# Skips (77) when xmllint (Debian package libxml2-utils) is not installed or test_map not built.
build=${BUILD:-build}
command -v xmllint >/dev/null 2>&1 || { echo "xmllint is not installed (package libxml2-utils)"; exit 77; }
[ -x "$build/tests/inspect/test_map" ] || { echo "no $build/tests/inspect/test_map"; exit 77; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
NTH_MAP_SVG_OUT=$out/map.svg "$build/tests/inspect/test_map" >"$out/log" 2>&1 ||
    { echo "FAIL: test_map failed:"; cat "$out/log"; exit 1; }
[ -s "$out/map.svg" ] || { echo "FAIL: no picture written"; exit 1; }
xmllint --noout "$out/map.svg" || { echo "FAIL: the picture is not well-formed XML"; exit 1; }
root=$(xmllint --xpath 'name(/*)' "$out/map.svg" 2>/dev/null)
ns=$(xmllint --xpath 'namespace-uri(/*)' "$out/map.svg" 2>/dev/null)
[ "$root" = svg ] && [ "$ns" = http://www.w3.org/2000/svg ] ||
    { echo "FAIL: the root element is \"$root\" in \"$ns\""; exit 1; }
busy=$(xmllint --xpath "count(//*[local-name()='path'][@class='busy'])" "$out/map.svg")
lfh=$(xmllint --xpath "count(//*[local-name()='rect'][@class='lfh-busy'])" "$out/map.svg")
[ "$busy" -gt 0 ] && [ "$lfh" -gt 0 ] || { echo "FAIL: XPath finds $busy busy blocks, $lfh LFH blocks"; exit 1; }
exit 0
