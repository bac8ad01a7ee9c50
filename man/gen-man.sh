#!/bin/sh
# gen-man.sh — builds a manual page from its template (man/PAGE.in) and the sources it
# describes, so that a page cannot drift from the code:
#
#   @VERSION@          the package version (VERSION)
#   @DATE@             the template's modification date, or SOURCE_DATE_EPOCH when set
#   @API_SYNOPSIS@     every NTH_API function of include/ntheap.h, one prototype per line
#   @API_FUNCTIONS@    the same functions grouped by the header's sections, each with the
#                      comment the header puts above it
#   @API_ERRORS@       the nth_error constants with their comments
#   @OPTIONS@          every row of src/heap/options.def (name, default, range, scope, the
#                      one-line meaning and the optional NTH_OPTION_MORE paragraph)
#   @COMMANDS@         every command `ntheap --help` lists (but help itself), with its summary
#                      and the text of `ntheap help COMMAND`
#
# usage: CC=cc TOOL=build/ntheap sh man/gen-man.sh man/PAGE.in OUT
# Text taken from the sources is escaped for roff: backslashes, leading dots and quotes, and
# hyphens in option-like words.
set -eu
in=$1
out=$2
cc=${CC:-cc}
tool=${TOOL:-build/ntheap}
version=$(cat VERSION)
epoch=${SOURCE_DATE_EPOCH:-$(stat -c %Y "$in")}
date=$(date -u -d "@$epoch" +%Y-%m-%d)

# roff-escapes stdin: a backslash becomes \e, a line starting with . or ' gets \& in front, and
# a hyphen that starts a word (an option such as --json) becomes a minus sign.
escape() {
    sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/" \
        -e 's/\(^\|[[:space:]([|-]\)-/\1\\-/g' -e 's/\(^\|[[:space:]([|-]\)-/\1\\-/g'
}

# The declarations of include/ntheap.h as records: "S<TAB>section", "C<TAB>comment line",
# "P<TAB>prototype" (one per declaration, joined to one line, attributes removed).
api_records() {
    awk '
        function flush_proto() {
            gsub(/[ \t]+/, " ", proto)
            gsub(/NTH_API |NTH_NODISCARD |NTH_MALLOC_LIKE |NTH_ALLOC_SIZE\([0-9]+\) /, "", proto)
            sub(/^ /, "", proto); gsub(/ \* /, " *", proto)
            print "P\t" proto
            proto = ""; in_proto = 0
        }
        /^\/\* -+ .* \*\/$/ {
            s = $0; sub(/^\/\* -+ /, "", s); sub(/ \*\/$/, "", s)
            print "S\t" s; next
        }
        in_proto { proto = proto " " $0; if ($0 ~ /;[ \t]*$/) flush_proto(); next }
        /^NTH_API / {
            proto = $0; in_proto = 1
            if ($0 ~ /;[ \t]*$/) flush_proto()
            next
        }
        /^\/\*/ && !/\*\/$/ { in_comment = 1; c = $0; sub(/^\/\* ?/, "", c); print "C\t" c; next }
        in_comment {
            c = $0; sub(/^ *\*\/ *$/, "", c); sub(/^ *\* ?/, "", c); sub(/ *\*\/$/, "", c)
            if (c != "") print "C\t" c
            if ($0 ~ /\*\//) in_comment = 0
            next
        }
        /^\/\* .* \*\/$/ { c = $0; sub(/^\/\* /, "", c); sub(/ \*\/$/, "", c); print "C\t" c; next }
        /^$/ { print "B" }
    ' include/ntheap.h
}

api_synopsis() {
    printf '.nf\n.B #include <ntheap.h>\n'
    api_records | awk -F '\t' '
        $1 == "S" { if (n) print ".PP"; n = 0; next }
        $1 == "P" { gsub(/"/, "\\(dq", $2); print ".B \"" $2 "\""; n++ }
    '
    printf '.fi\n'
}

# One .SS per header section; under it, each comment with the declarations that follow it.
api_functions() {
    api_records | awk -F '\t' '
        function out_group() {
            if (nprotos == 0) { ncomment = 0; return }
            printf ".TP\n"
            for (i = 1; i <= nprotos; i++) {
                p = protos[i]; gsub(/"/, "\\(dq", p)
                printf "%s\"%s\"\n", (i == 1 ? ".B " : ".TQ\n.B "), p
            }
            for (i = 1; i <= ncomment; i++) print "X\t" comment[i]
            nprotos = 0; ncomment = 0
        }
        $1 == "S" { out_group(); section = $2; shown = 0; next }
        $1 == "B" { out_group(); next }
        $1 == "C" { if (nprotos) out_group(); comment[++ncomment] = $2; next }
        $1 == "P" {
            if (!shown && section != "") { print ".SS \"" toupper(substr(section, 1, 1)) substr(section, 2) "\""; shown = 1 }
            protos[++nprotos] = $2; next
        }
        END { out_group() }
    ' | while IFS= read -r line; do
        case $line in
            X"	"*) printf '%s\n' "${line#X	}" | escape ;;
            *) printf '%s\n' "$line" ;;
        esac
    done
}

api_errors() {
    awk '/^typedef enum nth_error/ { on = 1; next } on && /^}/ { on = 0 }
         on && /NTH_ERR_[A-Z_]+,.*\/\*/ {
             name = $1; sub(/,$/, "", name)
             text = $0; sub(/.*\/\* */, "", text); sub(/ *\*\/.*/, "", text)
             print name "\t" text
         }' include/ntheap.h |
    while IFS='	' read -r name text; do
        printf '.TP\n.B %s\n' "$name"
        printf '%s\n' "$text" | escape
    done
}

# The rows of options.def, expanded by the C preprocessor: name|default|min|max|scope|doc|more
options() {
    printf '#define NTH_OPTION_ROW(n, id, t, d, lo, hi, scope, f, doc) @ROW n|t|d|lo|hi|scope|doc\n#define NTH_OPTION_MORE(n, text) @MORE n|text\n#include "heap/options.def"\n' |
        "$cc" -E -P -x c -Isrc - | tr '\n' ' ' | sed 's/@\(ROW\|MORE\) /\n\1 /g' | sed -n 's/^\(ROW\|MORE\) //p' >"$tmp.opts"
    grep -v '^[a-z_0-9]*|"' "$tmp.opts" | while IFS='|' read -r name type def lo hi scope doc; do
        doc=$(printf '%s' "$doc" | sed -e 's/^ *"//' -e 's/" *$//' -e 's/" *"//g')
        case $scope in
            PROCESS) where="process-wide" ;;
            *) where="per heap" ;;
        esac
        if [ "$type" = bool ]; then range="0 or 1"; else range="$lo to $hi"; fi
        printf '.TP\n.BR %s " (default %s; %s; %s)"\n' "$name" "$def" "$range" "$where"
        # the one-line meaning as a sentence: capital first letter, a full stop unless it trails off
        printf '%s\n' "$doc" | sed -e 's/^[a-z]/\U&/' -e '/\.$/!s/$/./' | escape
        more=$(grep "^$name|\"" "$tmp.opts" | sed -e 's/^[^|]*| *"//' -e 's/" *$//' -e 's/" *"//g' || true)
        [ -z "$more" ] || printf '%s\n' "$more" | fold -s -w 96 | sed 's/ *$//' | escape
    done
}

commands() {
    "$tool" --help | awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print }' |
    while read -r name summary; do
        [ "$name" != help ] || continue
        printf '.SS "%s"\n' "$name"
        printf '%s\n' "$summary" | sed -e 's/^[a-z]/\U&/' -e '/\.$/!s/$/./' | escape
        printf '.PP\n.RS 4\n.EX\n'
        "$tool" help "$name" 2>&1 | escape
        printf '.EE\n.RE\n'
    done
}

tmp=$(mktemp)
trap 'rm -f "$tmp" "$tmp".*' EXIT
: >"$tmp"
while IFS= read -r line; do
    case $line in
        @API_SYNOPSIS@) api_synopsis ;;
        @API_FUNCTIONS@) api_functions ;;
        @API_ERRORS@) api_errors ;;
        @OPTIONS@) options ;;
        @COMMANDS@) commands ;;
        *) printf '%s\n' "$line" | sed -e "s/@VERSION@/$version/g" -e "s/@DATE@/$date/g" ;;
    esac
done <"$in" >"$tmp"
mv "$tmp" "$out"
