#!/bin/sh
# `ntheap pst FILE set` of values too big for a heap allocation (ANSI and Unicode samples):
# they go to a subnode of the node (a data block, or an XBLOCK over blocks, listed in a new
# SLBLOCK). Checked:
#   - a 20 KB and a 100 KB PtypBinary and a long string on a folder read back byte for byte
#     through `props --json` (where "subnode"), and `validate` is sound after every edit;
#   - pffexport (pff-tools): the folder's properties, all of them, equal ours; every other
#     exported ItemValues.txt is byte for byte what the original gives;
#   - readpst (pst-utils), when installed: a 24 KB PidTagBody (12,000 characters) set on the
#     sample's message is the text/plain part of the mail it writes, and the folder edits change nothing it writes;
#   - more subnodes than an SLBLOCK holds (lowered to 2 by a test hook) go under an SIBLOCK,
#     which pffexport reads (readpst 0.6.76 reads no SIBLOCK at all, so it is not asked);
#   - replacing a subnode value with a small one moves it into the heap and releases the
#     subnode: subnode and block counts return to those of setting the small value directly;
#   - a crash at each write step (9-12: value tree written, SLBLOCK written, NBT bidSub
#     repointed, old subnode tree released; 6-8: the heap moved; 1-5: the file replaced)
#     leaves the file it started from byte for byte, or after the rename the complete new one.
# Skips (77) when pff-tools or python3 is not installed.
set -u
BUILD=${BUILD:-build}
CLI=$BUILD/ntheap
DATA=tests/data/pst
[ -x "$CLI" ] || { echo "$CLI not built"; exit 1; }
command -v pffexport >/dev/null 2>&1 || { echo "pffexport not installed (apt-get install pff-tools)"; exit 77; }
command -v python3 >/dev/null 2>&1 || { echo "python3 not installed (it reads the --json views)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
fail() { echo "FAIL $*"; failed=$((failed + 1)); }

# hex of N pseudo-random bytes (seeded: the same on every run)
hexbytes() { awk -v n="$1" -v s="$2" 'BEGIN { srand(s); for (i = 0; i < n; i++) printf "%02x", int(rand() * 256) }'; }
# the raw hex of property TAG (0xIIIITTTT) of NID as `props --json` gives it, and where it is
prop_raw() { # FILE NID ID TYPE
    "$CLI" pst --json "$1" props "$2" | python3 -c '
import json, sys
want_id, want_type = int(sys.argv[1], 16), int(sys.argv[2], 16)
for p in json.load(sys.stdin)["properties"]:
    if int(p["id"], 16) == want_id and int(p["type"], 16) == want_type:
        print(p["where"], p["raw"])' "$3" "$4"
}
info_field() { "$CLI" pst --json "$1" info | python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$2"; }
export_items() { pffexport -m debug -f all -d -q -t "$2" "$1" >"$2.log" 2>&1; }

hexbytes 20000 1 >"$tmp/v20k.hex"
hexbytes 100000 2 >"$tmp/v100k.hex"
awk 'BEGIN { srand(3); for (i = 0; i < 2500; i++) printf "w%d ", int(rand() * 1000); printf "Ünï end" }' >"$tmp/text.txt"
awk 'BEGIN { srand(4); for (i = 0; i < 2500; i++) printf "a%d ", int(rand() * 1000) }' >"$tmp/ascii.txt"

for k in 1 2; do
    src=$DATA/pstsdk-sample$k.pst
    f=$tmp/s$k.pst
    cp "$src" "$f"
    export_items "$src" "$tmp/orig$k"
    for edit in "0x6666 0x0102 v20k.hex" "0x6667 0x0102 v100k.hex" "0x1000 0x001F text.txt" \
        "0x6668 0x001E ascii.txt"; do
        set -- $edit
        "$CLI" pst "$f" set 0x8082 "$1${2#0x}" "@$tmp/$3" >/dev/null || fail "sample$k: set $1 exit $?"
        "$CLI" pst "$f" validate >"$tmp/v.txt" || fail "sample$k: validate after set $1: $(tail -n 2 "$tmp/v.txt")"
    done
    # byte for byte, through the JSON
    [ "$(prop_raw "$f" 0x8082 0x6666 0x0102)" = "subnode $(cat "$tmp/v20k.hex")" ] || fail "sample$k: 20 KB value reads back wrong"
    [ "$(prop_raw "$f" 0x8082 0x6667 0x0102)" = "subnode $(cat "$tmp/v100k.hex")" ] || fail "sample$k: 100 KB value reads back wrong"
    utf16=$(iconv -f UTF-8 -t UTF-16LE "$tmp/text.txt" | od -An -tx1 -v | tr -d ' \n')
    ascii=$(od -An -tx1 -v "$tmp/ascii.txt" | tr -d ' \n')
    [ "$(prop_raw "$f" 0x8082 0x1000 0x001F)" = "subnode $utf16" ] || fail "sample$k: PtypString value reads back wrong"
    [ "$(prop_raw "$f" 0x8082 0x6668 0x001E)" = "subnode $ascii" ] || fail "sample$k: PtypString8 value reads back wrong"
    echo "ok   sample$k: 20 KB and 100 KB PtypBinary, PtypString and PtypString8 in subnodes read back exactly; sound"
    export_items "$f" "$tmp/new$k"
    folder="Top of Outlook data file/Sample$k"
    values=$(find "$tmp/new$k.export" -path "*/$folder/ItemValues.txt" | head -n 1)
    if [ -z "$values" ]; then
        fail "sample$k: pffexport wrote no $folder/ItemValues.txt for the edited file"
    else
        awk -f tests/pst/itemvalues.awk "$values" | sort >"$tmp/pff.txt"
        "$CLI" pst "$f" props 0x8082 --raw | sort >"$tmp/ours.txt"
        cmp -s "$tmp/pff.txt" "$tmp/ours.txt" ||
            fail "sample$k: pffexport and ours differ on the edited folder: $(diff "$tmp/pff.txt" "$tmp/ours.txt" | cut -c1-100 | head -n 4)"
        echo "0x66670102 0x0102 $(cat "$tmp/v100k.hex")" >"$tmp/want"
        grep -qxFf "$tmp/want" "$tmp/pff.txt" || fail "sample$k: pffexport does not show the 100 KB value"
        echo "0x1000001f 0x001f $utf16" >"$tmp/want"
        grep -qxFf "$tmp/want" "$tmp/pff.txt" || fail "sample$k: pffexport does not show the long string"
    fi
    (cd "$tmp/orig$k.export" && find . -name '*.txt' ! -path "*/$folder/ItemValues.txt" | sort) >"$tmp/list"
    [ -s "$tmp/list" ] || fail "sample$k: the original exported nothing"
    while read -r item; do
        cmp -s "$tmp/orig$k.export/$item" "$tmp/new$k.export/$item" || fail "sample$k: $item changed"
    done <"$tmp/list"
    echo "ok   sample$k: pffexport reads the folder's values, $(wc -l <"$tmp/list") other exported files unchanged"
    if command -v readpst >/dev/null 2>&1; then
        mkdir -p "$tmp/rp-orig$k" "$tmp/rp-new$k" "$tmp/rp-body$k"
        readpst -r -D -8 -o "$tmp/rp-orig$k" "$src" >/dev/null 2>&1
        readpst -r -D -8 -o "$tmp/rp-new$k" "$f" >/dev/null 2>&1 || fail "sample$k: readpst exit $?"
        # readpst seeds its MIME boundaries from the clock: take them out before comparing
        find "$tmp/rp-orig$k" "$tmp/rp-new$k" -type f -exec sed -i 's/iamunique-[0-9]*_/iamunique-N_/g' {} +
        diff -r "$tmp/rp-orig$k" "$tmp/rp-new$k" >/dev/null || fail "sample$k: readpst output differs after the folder edits"
        cp "$src" "$tmp/m$k.pst"
        "$CLI" pst "$tmp/m$k.pst" set 0x200024 0x1000001F "@$tmp/text.txt" >/dev/null || fail "sample$k: set body exit $?"
        "$CLI" pst "$tmp/m$k.pst" validate >/dev/null || fail "sample$k: not sound after setting the body"
        readpst -r -D -8 -o "$tmp/rp-body$k" "$tmp/m$k.pst" >/dev/null 2>&1 || fail "sample$k: readpst exit $? on the new body"
        mbox=$(find "$tmp/rp-body$k" -type f -name mbox | head -n 1)
        # the mail's text/plain part: the lines after its headers, up to the next boundary
        awk '/^Content-Type: text\/plain/ { on = 1; next } on && /^--/ { exit } on' "${mbox:-/dev/null}" |
            tr -d '\r\n' >"$tmp/body.got"
        tr -d '\n' <"$tmp/text.txt" >"$tmp/body.want"
        grep -qFf "$tmp/body.want" "$tmp/body.got" || fail "sample$k: readpst does not show the new body"
        echo "ok   sample$k: readpst writes the same mail after the folder edits, and the new 24 KB body"
    else
        echo "skip sample$k: readpst not installed (apt-get install pst-utils)"
    fi
done

# an SIBLOCK: the hook NTH_PST_SLBLOCK_MAX=2 makes the message's 5 subnodes plus 3 values go
# under one; pffexport reads the message, its recipients and its attachment through it
cp "$DATA/pstsdk-sample1.pst" "$tmp/si.pst"
for id in 6701 6702 6703; do
    NTH_PST_SLBLOCK_MAX=2 "$CLI" pst "$tmp/si.pst" set 0x200024 0x${id}0102 "@$tmp/v20k.hex" >/dev/null ||
        fail "SIBLOCK: set 0x$id exit $?"
done
"$CLI" pst "$tmp/si.pst" validate >/dev/null || fail "SIBLOCK: not sound"
export_items "$tmp/si.pst" "$tmp/si"
msg="Top of Outlook data file/Sample1/Message00001/ItemValues.txt"
values=$(find "$tmp/si.export" -path "*/$msg" | head -n 1)
awk -f tests/pst/itemvalues.awk "${values:-/dev/null}" | sort >"$tmp/pff.txt"
"$CLI" pst "$tmp/si.pst" props 0x200024 --raw | sort >"$tmp/ours.txt"
cmp -s "$tmp/pff.txt" "$tmp/ours.txt" || fail "SIBLOCK: pffexport and ours differ on the message"
echo "0x67030102 0x0102 $(cat "$tmp/v20k.hex")" >"$tmp/want"
grep -qxFf "$tmp/want" "$tmp/pff.txt" || fail "SIBLOCK: pffexport does not show the new value"
(cd "$tmp/orig1.export" && find . -type f ! -path "*/$msg" | sort) >"$tmp/list"
while read -r item; do
    cmp -s "$tmp/orig1.export/$item" "$tmp/si.export/$item" || fail "SIBLOCK: $item changed"
done <"$tmp/list"
echo "ok   subnodes under an SIBLOCK: pffexport reads the message's values, $(wc -l <"$tmp/list") other exported files (attachment, recipients) unchanged"

# shrinking back: the value returns to the heap and the subnode goes
cp "$DATA/pstsdk-sample1.pst" "$tmp/small.pst"
"$CLI" pst "$tmp/small.pst" set 0x8082 0x66660102 abcdef >/dev/null || fail "direct small set"
cp "$DATA/pstsdk-sample1.pst" "$tmp/shrink.pst"
"$CLI" pst "$tmp/shrink.pst" set 0x8082 0x66660102 "@$tmp/v20k.hex" >/dev/null || fail "shrink: big set"
cp "$tmp/shrink.pst" "$tmp/big.pst"
[ "$(info_field "$tmp/shrink.pst" subnodes)" -gt "$(info_field "$tmp/small.pst" subnodes)" ] ||
    fail "shrink: the big value made no subnode"
"$CLI" pst "$tmp/shrink.pst" set 0x8082 0x66660102 abcdef >/dev/null || fail "shrink: small set"
"$CLI" pst "$tmp/shrink.pst" validate >/dev/null || fail "shrink: not sound"
[ "$(prop_raw "$tmp/shrink.pst" 0x8082 0x6666 0x0102)" = "hid abcdef" ] || fail "shrink: the value is not in the heap"
for field in subnodes bbt_entries nodes; do
    [ "$(info_field "$tmp/shrink.pst" $field)" = "$(info_field "$tmp/small.pst" $field)" ] ||
        fail "shrink: $field $(info_field "$tmp/shrink.pst" $field), a direct small set gives $(info_field "$tmp/small.pst" $field)"
done
[ "$("$CLI" pst "$tmp/shrink.pst" props 0x8082 --raw | md5sum)" = "$("$CLI" pst "$tmp/small.pst" props 0x8082 --raw | md5sum)" ] ||
    fail "shrink: properties differ from a direct small set"
echo "ok   a value shrunk below the heap limit moves into the heap; its subnode and blocks are released"

# a crash at each step leaves the file it started from, or after the rename the new one
crash() { # START STEP VALUE-FILE EXPECTED-WHERE
    cp "$1" "$tmp/c.pst"
    NTH_PST_CRASH_AT=$2 "$CLI" pst "$tmp/c.pst" set 0x8082 0x66660102 "@$3" >/dev/null 2>&1
    status=$?
    [ $status -eq 70 ] || fail "crash at step $2: exit $status, expected 70"
    if [ "$2" -ne 5 ]; then
        cmp -s "$1" "$tmp/c.pst" || fail "crash at step $2: the file changed"
    else
        [ "$(prop_raw "$tmp/c.pst" 0x8082 0x6666 0x0102)" = "$4 $(cat "$3")" ] ||
            fail "crash at step 5 (after the rename): the new value is missing"
    fi
    "$CLI" pst "$tmp/c.pst" validate >/dev/null || fail "crash at step $2: file not sound"
    rm -f "$tmp"/c.pst.*
}
for step in 9 10 11 12 1 2 3 4 5; do crash "$DATA/pstsdk-sample1.pst" $step "$tmp/v20k.hex" subnode; done
hexbytes 3000 4 >"$tmp/v3k.hex"
for step in 10 11 12 6 7 8 1 2 3 4 5; do crash "$tmp/big.pst" $step "$tmp/v3k.hex" hid; done
echo "ok   a crash at any of the 12 steps (into a subnode, and back into a moving heap) leaves a sound file"

# refused: a value that would need an XXBLOCK; nothing written
cp "$DATA/pstsdk-sample1.pst" "$tmp/r.pst"
head -c 16800000 /dev/zero | tr '\0' a >"$tmp/huge.hex"
"$CLI" pst --json "$tmp/r.pst" set 0x8082 0x66660102 "@$tmp/huge.hex" >"$tmp/out" 2>/dev/null
[ $? -eq 1 ] || fail "an 8.4 MB value: exit status, expected 1"
grep -q '"error":.*XXBLOCK' "$tmp/out" || fail "an 8.4 MB value: no JSON error naming the XXBLOCK"
cmp -s "$DATA/pstsdk-sample1.pst" "$tmp/r.pst" || fail "a refused 8.4 MB value changed the file"
ls "$tmp"/r.pst.* >/dev/null 2>&1 && fail "a refused set left a temporary file"
echo "ok   a value past one XBLOCK (an XXBLOCK) is refused; nothing written"

[ $failed -eq 0 ] && echo "all big-value write checks passed"
[ $failed -eq 0 ]
