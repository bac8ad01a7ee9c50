# itemvalues.awk — pffexport's ItemValues.txt -> one "0xIIIITTTT 0xTTTT hexbytes" line per
# property of the first set (set 0), the shape of `ntheap pst FILE props NID --raw`. Used by
# pst_pff_crosscheck.sh and pst_write_grow.sh; pipe the output through sort.
function flush() { if (tag != "") print tag " " typ " " hex; tag = ""; hex = "" }
/^Set:/ { flush(); set = $2 }
/^Entry type:/ { if (set != 0) next; t = substr($3, 7, 4) }
/^Value type:/ { if (set != 0) next; y = substr($3, 7, 4); tag = "0x" t y; typ = "0x" y; hex = "" }
/^0x[0-9a-f]+: / { if (tag == "") next; h = substr($0, 13, 48); gsub(/ /, "", h); hex = hex h }
END { flush() }
