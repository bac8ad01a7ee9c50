# no_preload_under_sanitizers.sh — sourced by the malloc scripts: a sanitizer runtime owns
# malloc itself, so ntheap's malloc can be neither preloaded nor linked in; such builds skip (77).
# Sets `build` to the absolute build directory.
build=${BUILD:-build}
case "$build" in /*) ;; *) build=$PWD/$build ;; esac
case "${SAN:-}$(basename "$build")" in
*asan* | *tsan* | *msan*)
    echo "sanitizer build: its runtime replaces malloc itself, so ours cannot take its place"
    exit 77
    ;;
esac
