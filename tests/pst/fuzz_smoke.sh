#!/bin/sh
# Builds the PST fuzz target with clang's libFuzzer (plus AddressSanitizer and UBSan) and runs
# it for a bounded time from a seed corpus made of the sample files, the crafted hostile files
# of test_pst_hostile (cyclic subnode tree, amplifying data tree, truncation, damaged heaps)
# and the MS-PST sample heap. Skips (77) when clang/libFuzzer is missing, and in sanitizer builds (SAN set) so that
# CI runs it once, in the plain build.
set -u
BUILD=${BUILD:-build}
SECONDS_TOTAL=${PST_FUZZ_SECONDS:-30}
if [ -n "${SAN:-}" ]; then
    echo "fuzz smoke runs only in the plain build (SAN=$SAN)"
    exit 77
fi
command -v clang >/dev/null 2>&1 || { echo "clang not installed"; exit 77; }
out=$BUILD/fuzz
mkdir -p "$out"
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' >"$probe/p.c"
if ! clang -fsanitize=fuzzer "$probe/p.c" -o "$probe/p" >/dev/null 2>&1; then
    echo "clang has no libFuzzer runtime"
    exit 77
fi
# shellcheck disable=SC2046
clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=undefined -Iinclude -Isrc -o "$out/pst_fuzz" fuzz/pst_fuzz.c \
    $(ls src/pst/*.c) || exit 1

corpus=$out/corpus
rm -rf "$corpus"
mkdir -p "$corpus"
n=0
for f in tests/data/pst/*.pst; do
    n=$((n + 1))
    { printf '\000'; cat "$f"; } >"$corpus/file$n"
done
if [ -x "$BUILD/tests/pst/test_pst_hostile" ] && "$BUILD/tests/pst/test_pst_hostile" --write "$probe"; then
    for f in "$probe"/*.pst; do
        n=$((n + 1))
        { printf '\000'; cat "$f"; } >"$corpus/file$n"
    done
else
    echo "no crafted seeds: $BUILD/tests/pst/test_pst_hostile not built"
fi
# The MS-PST 3.8 sample heap as one Unicode page: mode byte 1, one page, length 258.
seed='ec00ecbc2000000000000000b502060040000000340e0201a0000000380e030000000000f90f02016000000001301f0080000000df35030089000000e0350201c0000000e335020100010000e7350201e000000033660b0001000000fa6603000d000e00ff67030000000000229db50adcd9944385de90aeb07d127055004e00490043004f0044004500310001000000f55ef6669569cc4c83d1d873989902850100000000000000229db50adcd9944385de90aeb07d12702280000000000000229db50adcd9944385de90aeb07d12704280000000000000229db50adcd9944385de90aeb07d127062800000080000000c0014006c007c008c00a400bc00d400ec00'
# hex to POSIX printf octal escapes (dash's printf has no \x)
octal=$(printf '%s' "$seed" | awk '{
    h = "0123456789abcdef"
    for (i = 1; i < length($0); i += 2)
        printf "\\%03o", (index(h, substr($0, i, 1)) - 1) * 16 + index(h, substr($0, i + 1, 1)) - 1
}')
{ printf '\001\000\002\001'; printf "$octal"; printf '\000\001\002\003\004\005\006\007\010'; } >"$corpus/seedheap"

echo "fuzzing for ${SECONDS_TOTAL}s"
"$out/pst_fuzz" -max_total_time="$SECONDS_TOTAL" -timeout=10 -rss_limit_mb=2048 \
    -max_len=300000 -print_final_stats=1 -artifact_prefix="$out/" "$corpus" >"$out/fuzz.log" 2>&1
status=$?
tail -n 15 "$out/fuzz.log"
if [ $status -ne 0 ]; then
    echo "fuzzer found a failure (exit $status); see $out/fuzz.log and crash-* files"
    exit 1
fi
echo "fuzz smoke clean"
