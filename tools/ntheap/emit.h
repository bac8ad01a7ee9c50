/*
 * emit.h — the one output path of every ntheap view (inspector and PST): a view hands each
 * value to the emitter once, with its JSON key and its text form, and the emitter renders either
 * aligned text (the WinDbg-like layout, the PST listings) or JSON (--json). No view prints by
 * itself.
 *
 *   emit_begin(&e, stdout, json)                 {                      (text: nothing)
 *     emit_kv_hex(&e, "heap", "Heap: ", a, 8)      "heap": "0x...",     Heap: 00a40000
 *     emit_object_begin(&e, "summary", "Hdr")      "summary": {         Hdr        (indent +2)
 *     emit_object_end(&e)                          }
 *     emit_table_begin(&e, "entries", cols, n)     "entries": [         column titles line
 *       emit_row(&e, v1, v2, ...)                    {"a": v1, ...},    one line: cells by fmt
 *     emit_table_end(&e)                           ]
 *     emit_fields(&e, cols, n, v1, v2, ...)        "a": v1, "b": v2,    cells by fmt, no newline
 *     emit_strings(&e, "problems", fmt, s, n)      "problems": [..],    one line per string
 *     emit_text(&e, fmt, ...)                                           text only (decoration)
 *   emit_end(&e)                                 }
 *
 * Cells (emit_row, emit_record, emit_fields): a column's type says what the arguments are and
 * how JSON shows them; `fmt` is the text form (NULL: a JSON-only column), `key` the JSON member
 * (NULL: a text-only column). A line of text ends where a format says "\n" (emit_fields) or
 * after the last cell (emit_row, emit_record).
 *
 *     type        arguments                         JSON              text
 *     EMIT_U64    uint64_t                          1234              printf(fmt, v), e.g. "%8" PRIu64
 *     EMIT_I64    int64_t                           -1                printf(fmt, v), e.g. "%" PRId64
 *     EMIT_HEX    uint64_t                          "0xAB"            printf(fmt, v), e.g. "%08" PRIx64
 *     EMIT_STR    const char * (NULL: absent)       "text" or null    printf(fmt, s), or `none`
 *     EMIT_BOOL   int (a bool)                      true / false      fmt when true, `none` when false
 *     EMIT_BYTES  const uint8_t *, size_t           "00ab.." (hex)    printf(fmt, hex digits)
 *     EMIT_DUMP   const uint8_t *, size_t, size_t   "00ab.." (hex)    a hex dump from offset `base`
 *                 (data, size, base)                                  (the 3rd argument), 16 bytes a
 *                                                                     line, each line after `fmt`
 * JSON hex numbers are "0x" and upper-case digits; EMIT_HEX_PAD(n) pads them to n digits.
 */
#ifndef NTH_CLI_EMIT_H
#define NTH_CLI_EMIT_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef enum emit_type { EMIT_U64, EMIT_I64, EMIT_HEX, EMIT_STR, EMIT_BOOL, EMIT_BYTES, EMIT_DUMP } emit_type;

typedef struct emit_column {
    const char *key;   /* JSON member name; NULL: a text-only column */
    emit_type type;
    const char *fmt;   /* text form of a present value; NULL: a JSON-only column */
    const char *none;  /* text form of an absent value (STR NULL, BOOL false); NULL: "" */
} emit_column;

/* EMIT_HEX whose JSON digits are zero-padded to `digits` ("0x0037001F" for a property tag). */
#define EMIT_HEX_PAD(digits) ((emit_type)(EMIT_HEX | (digits) << 8))

/* Nesting levels: `pst tree` nests up to 64 folders, each an object and its "children" array. */
#define EMIT_MAX_DEPTH 160
#define EMIT_MAX_COLUMNS 16

typedef struct emit {
    FILE *out;
    bool json;
    int depth;
    bool first[EMIT_MAX_DEPTH]; /* no member written yet at this depth */
    int indent;                 /* text indentation */
    int label_width;            /* text: labels of kv lines are padded to this */
    const emit_column *columns;
    int n_columns;
    const char *row_prefix;     /* text: written before each row */
} emit;

void emit_begin(emit *e, FILE *out, bool json);
void emit_end(emit *e);

/* A nested object; text: `heading` (if any) on its own line, then members indented by 2. */
void emit_object_begin(emit *e, const char *key, const char *heading);
void emit_object_end(emit *e);
/* An array of objects (emit_object_begin(e, NULL, ...) for each element). */
void emit_array_begin(emit *e, const char *key);
void emit_array_end(emit *e);

/* One value; text: "<indent><label padded to label_width><value>". A NULL label prints nothing
 * in text (a JSON-only member); a NULL key prints nothing in JSON (a text-only line). */
void emit_kv_u64(emit *e, const char *key, const char *label, uint64_t value);
void emit_kv_hex(emit *e, const char *key, const char *label, uint64_t value, int digits);
void emit_kv_str(emit *e, const char *key, const char *label, const char *value);
void emit_kv_bool(emit *e, const char *key, const char *label, bool value);

/* A table: text prints `title` (if any) and then one line per row; JSON an array of objects. */
void emit_table_begin(emit *e, const char *key, const char *title, const emit_column *columns, int n_columns,
                      const char *row_prefix);
void emit_row(emit *e, ...);
void emit_table_end(emit *e);
/* One row with its own columns, as an element of the current array (emit_array_begin): for
 * lists whose rows are of several shapes (blocks, uncommitted ranges, LFH blocks). */
void emit_record(emit *e, const emit_column *columns, int n_columns, const char *prefix, ...);

/* A column list and its length, for the column arguments of the functions below:
 * emit_fields(e, EMIT_COLUMNS({"a", EMIT_U64, "a %" PRIu64 "\n", NULL}), (uint64_t)a). */
#define EMIT_COLUMNS(...) \
    (const emit_column[]){__VA_ARGS__}, (int)(sizeof((const emit_column[]){__VA_ARGS__}) / sizeof(emit_column))

/* Members of the current object, one per column (text: the cells' formats, no implied newline). */
void emit_fields(emit *e, const emit_column *columns, int n_columns, ...);
/* An array of strings; text: each one through `fmt` (a "%s" form; NULL: JSON only). */
void emit_strings(emit *e, const char *key, const char *fmt, char *const *items, size_t count);

/* Text-only lines (WinDbg's decorations, blank lines); nothing in JSON. */
void emit_text(emit *e, const char *format, ...) __attribute__((format(printf, 2, 3)));

#endif
