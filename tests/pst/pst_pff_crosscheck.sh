#!/bin/sh
# Cross-checks property values read by `ntheap pst props` with what libpff's pffexport and
# pffinfo (Debian package pff-tools) decode from the same sample files: the message store,
# every folder and one message in each file, compared property by property (tag, type and
# value bytes), and the rows of the recipient and attachment Table Contexts of each message
# (`ntheap pst table --raw`) against pffexport's RecipientsItemValues.txt and
# Attachments/ItemValues.txt, cell by cell. Skips (77) when pff-tools is not installed.
set -u
BUILD=${BUILD:-build}
CLI=$BUILD/ntheap
DATA=tests/data/pst
command -v pffexport >/dev/null 2>&1 && command -v pffinfo >/dev/null 2>&1 || {
    echo "pffexport/pffinfo not installed (apt-get install pff-tools)"
    exit 77
}
[ -x "$CLI" ] || { echo "$CLI not built"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
checked=0

# ItemValues.txt -> one "0xIIIITTTT 0xTTTT hexbytes" line per property of the first set.
to_lines() { awk -f tests/pst/itemvalues.awk "$1" | sort; }

# compare FILE NID PATH-SUFFIX: PATH-SUFFIX locates the item's ItemValues.txt in the export.
compare() {
    pst=$1 nid=$2 suffix=$3
    values=$(find "$tmp/$(basename "$pst" .pst).export" -path "*/$suffix/ItemValues.txt" | sort | head -n 1)
    if [ -z "$values" ]; then
        echo "FAIL $pst $nid: pffexport wrote no $suffix/ItemValues.txt"
        failed=$((failed + 1))
        return
    fi
    to_lines "$values" >"$tmp/pff.txt"
    "$CLI" pst "$pst" props "$nid" --raw | sort >"$tmp/ours.txt"
    count=$(wc -l <"$tmp/pff.txt")
    if [ "$count" -eq 0 ] || ! cmp -s "$tmp/pff.txt" "$tmp/ours.txt"; then
        echo "FAIL $pst $nid ($suffix): $count properties from pffexport differ from ours:"
        diff "$tmp/pff.txt" "$tmp/ours.txt" | cut -c1-160 | head -n 10
        failed=$((failed + 1))
    else
        echo "ok   $pst $nid ($suffix): $count properties identical"
        checked=$((checked + 1))
    fi
}

# ItemValues.txt of a table -> one "SET 0xIIIITTTT 0xTTTT hexbytes" line per cell of every set.
# pffexport lists every column of every row, including the cells a row lacks (bit clear in
# the cell existence bitmap), which it shows without bytes or with the row's zero bytes;
# `table --raw` marks those "-". They must be empty or zero on pffexport's side and are then
# left out on both; every other cell must agree byte for byte.
to_rows() {
    awk '
    function flush() { if (tag != "") print set " " tag " " typ " " hex; tag = ""; hex = "" }
    /^Set:/ { flush(); set = $2 }
    /^Entry type:/ { t = substr($3, 7, 4) }
    /^Value type:/ { y = substr($3, 7, 4); tag = "0x" t y; typ = "0x" y; hex = "" }
    /^0x[0-9a-f]+: / { if (tag == "") next; h = substr($0, 13, 48); gsub(/ /, "", h); hex = hex h }
    END { flush() }' "$1" | sort
}

# compare_table FILE PATH PFF-FILE-SUFFIX: the TC at PATH against a table dump of pffexport.
compare_table() {
    pst=$1 path=$2 suffix=$3
    values=$(find "$tmp/$(basename "$pst" .pst).export" -path "*/$suffix" | sort | head -n 1)
    if [ -z "$values" ]; then
        echo "FAIL $pst $path: pffexport wrote no $suffix"
        failed=$((failed + 1))
        return
    fi
    "$CLI" pst "$pst" table "$path" --raw | sort >"$tmp/all.txt"
    grep -v ' -$' "$tmp/all.txt" >"$tmp/ours.txt"
    sed -n 's/ -$//p' "$tmp/all.txt" | awk '{ print $1 " " $2 }' >"$tmp/absent.txt"
    to_rows "$values" | awk -v absent="$tmp/absent.txt" -v bad="$tmp/bad.txt" '
        BEGIN { while ((getline l < absent) > 0) skip[l] = 1 }
        { k = $1 " " $2; if (k in skip) { if ($4 !~ /^0*$/) print > bad; next } print }' >"$tmp/pff.txt"
    if [ -s "$tmp/bad.txt" ]; then
        echo "FAIL $pst table $path: pffexport has values for cells we find absent: $(head -n 2 "$tmp/bad.txt")"
        failed=$((failed + 1))
        rm -f "$tmp/bad.txt"
        return
    fi
    count=$(wc -l <"$tmp/pff.txt")
    if [ "$count" -eq 0 ] || ! cmp -s "$tmp/pff.txt" "$tmp/ours.txt"; then
        echo "FAIL $pst table $path ($suffix): $count cells from pffexport differ from ours:"
        diff "$tmp/pff.txt" "$tmp/ours.txt" | cut -c1-160 | head -n 10
        failed=$((failed + 1))
    else
        echo "ok   $pst table $path ($suffix): $count cells identical"
        checked=$((checked + 1))
    fi
}

# folder_tables FILE FOLDER-NID DIR: the names in the folder's hierarchy table are the
# subfolders pffexport wrote under DIR, and its contents table has one row per message there.
folder_tables() {
    pst=$1 nid=$2 dir=$3
    base=$(find "$tmp/$(basename "$pst" .pst).export" -type d -path "*/$dir" | sort | head -n 1)
    index=$((nid >> 5))
    hier=$(printf '0x%X' $(((index << 5) | 0x0D)))
    contents=$(printf '0x%X' $(((index << 5) | 0x0E)))
    want=$(find "$base" -mindepth 1 -maxdepth 1 -type d ! -name 'Message*' ! -name 'Item*' -printf '%f\n' | sort | tr '\n' '|')
    got=$("$CLI" pst "$pst" table "$hier" | sed -n 's/.* PidTagDisplayName  *hid  *[0-9]*  "\(.*\)"$/\1/p' | sort | tr '\n' '|')
    want_rows=$(find "$base" -mindepth 1 -maxdepth 1 -type d \( -name 'Message*' -o -name 'Item*' \) | wc -l)
    got_rows=$("$CLI" pst "$pst" table "$contents" | sed -n 's/^Table Context .*, \([0-9]*\) rows of .*/\1/p')
    if [ -n "$base" ] && [ "$want" = "$got" ] && [ "$want_rows" -eq "$got_rows" ]; then
        echo "ok   $pst folder $nid: hierarchy table $hier names \"$got\", contents table $contents has $got_rows rows (pffexport agrees)"
        checked=$((checked + 1))
    else
        echo "FAIL $pst folder $nid ($dir): subfolders ours \"$got\" pffexport \"$want\"; messages ours $got_rows pffexport $want_rows"
        failed=$((failed + 1))
    fi
}

# compare_named FILE NID PATH-SUFFIX: the named properties of an item resolved through the
# name-to-id map, against pffexport's "Maps to entry" lines (numeric LIDs and string names).
compare_named() {
    pst=$1 nid=$2 suffix=$3
    values=$(find "$tmp/$(basename "$pst" .pst).export" -path "*/$suffix/ItemValues.txt" | sort | head -n 1)
    [ -n "$values" ] || { echo "FAIL $pst $nid: no $suffix/ItemValues.txt"; failed=$((failed + 1)); return; }
    awk '
    /^Set:/ { set = $2 }
    /^Entry type:/ { id = tolower(substr($3, 7, 4)) }
    /^Maps to entry type:/ { if (set == 0) print "0x" id " 0x" tolower(substr($5, 7, 4)) }
    /^Maps to entry:/ { if (set == 0) { sub(/^Maps to entry:[ \t]*/, ""); print "0x" id " " $0 } }' "$values" |
        sort >"$tmp/pff.txt"
    "$CLI" pst "$pst" props "$nid" | awk '$1 ~ /^0x8/ {
        split($3, a, ":"); name = a[2]; if (name ~ /^0x/) name = tolower(name)
        print tolower($1) " " name }' | sort >"$tmp/ours.txt"
    count=$(wc -l <"$tmp/pff.txt")
    if [ "$count" -gt 0 ] && cmp -s "$tmp/pff.txt" "$tmp/ours.txt"; then
        echo "ok   $pst $nid: $count named properties resolve as in pffexport"
        checked=$((checked + 1))
    else
        echo "FAIL $pst $nid named properties differ from pffexport:"
        diff "$tmp/pff.txt" "$tmp/ours.txt" | head -n 10
        failed=$((failed + 1))
    fi
}

# Message store summary of pffinfo against our PidTagValidFolderMask and PidTagPstPassword.
store_summary() {
    pst=$1
    pffinfo "$pst" >"$tmp/info.txt" 2>&1
    want_folders=$(sed -n 's/^[[:space:]]*Folders:[[:space:]]*//p' "$tmp/info.txt")
    want_password=$(sed -n 's/^[[:space:]]*Password checksum:[[:space:]]*//p' "$tmp/info.txt")
    mask=$("$CLI" pst "$pst" props 0x21 --raw | awk '$1 == "0x35df0003" { print $3 }')
    password=$("$CLI" pst "$pst" props 0x21 --raw | awk '$1 == "0x67ff0003" { print $3 }')
    # little-endian hex to numbers
    m=$((0x$(echo "$mask" | sed 's/\(..\)\(..\)\(..\)\(..\)/\4\3\2\1/')))
    p=$(echo "$password" | sed 's/\(..\)\(..\)\(..\)\(..\)/\4\3\2\1/')
    names=""
    for bit in "1 Subtree" "2 Inbox" "4 Outbox" "8 Wastbox" "16 Sentmail" "32 Views" "64 Common views" "128 Finder"; do
        v=${bit%% *} name=${bit#* }
        if [ $((m & v)) -ne 0 ]; then names="${names:+$names, }$name"; fi
    done
    if [ "$p" = "00000000" ]; then got_password="N/A"; else got_password="0x$p"; fi
    if [ "$names" = "$want_folders" ] && [ "$got_password" = "$want_password" ]; then
        echo "ok   $pst store: folders \"$names\", password checksum $got_password (pffinfo agrees)"
        checked=$((checked + 1))
    else
        echo "FAIL $pst store: ours \"$names\" / $got_password, pffinfo \"$want_folders\" / $want_password"
        failed=$((failed + 1))
    fi
}

for name in pstsdk-test_ansi pstsdk-sample1 pstsdk-sample2; do
    pst=$DATA/$name.pst
    # debug mode also exports the message store (as a folder named after the store) and the
    # IPM.Post of test_ansi, which the items mode skips
    pffexport -m debug -f all -d -q -t "$tmp/$name" "$pst" >"$tmp/$name.log" 2>&1
    store_summary "$pst"
done

a=$DATA/pstsdk-test_ansi.pst
compare "$a" 0x21 "Personal Folders"
compare "$a" 0x8022 "Top of Personal Folders"
compare "$a" 0x8062 "Top of Personal Folders/Deleted Items"
compare "$a" 0x8082 "Top of Personal Folders/Folder"
compare "$a" 0x200024 "Top of Personal Folders/Folder/Item00001"
compare "$a" 0x8042 "Search Root"
compare "$a" 0x2223 "SPAM Search Folder 2"
compare_named "$a" 0x200024 "Top of Personal Folders/Folder/Item00001"
folder_tables "$a" 0x8022 "Top of Personal Folders"
folder_tables "$a" 0x8082 "Top of Personal Folders/Folder"

for k in 1 2; do
    s=$DATA/pstsdk-sample$k.pst
    compare "$s" 0x21 "sample$k"
    compare "$s" 0x8022 "Top of Outlook data file"
    compare "$s" 0x8062 "Top of Outlook data file/Deleted Items"
    compare "$s" 0x8082 "Top of Outlook data file/Sample$k"
    compare "$s" 0x200024 "Top of Outlook data file/Sample$k/Message00001"
    compare "$s" 0x8042 "Search Root"
    compare "$s" 0x2223 "SPAM Search Folder 2"
    compare "$s" 0x80023 "ItemProcSearch"
    compare_named "$s" 0x200024 "Top of Outlook data file/Sample$k/Message00001"
    folder_tables "$s" 0x8022 "Top of Outlook data file"
    folder_tables "$s" 0x8082 "Top of Outlook data file/Sample$k"
    compare_table "$s" 0x200024/0x692 "Sample$k/Message00001/RecipientsItemValues.txt"
    compare_table "$s" 0x200024/0x671 "Sample$k/Message00001/Attachments/ItemValues.txt"
done

echo "$checked checks passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$checked" -eq 39 ]
