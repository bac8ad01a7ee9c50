/*
 * emit.h — the one output path of the inspector views: a view hands each value to the emitter
 * once, with its JSON key and its text form, and the emitter renders either aligned text (the
 * WinDbg-like layout) or JSON (--json). No view prints by itself.
 *
 *   emit_begin(&e, stdout, json)                 {                      (text: nothing)
 *     emit_kv_hex(&e, "heap", "Heap: ", a, 8)      "heap": "0x...",     Heap: 00a40000
 *     emit_object_begin(&e, "summary", "Hdr")      "summary": {         Hdr        (indent +2)
 *     emit_object_end(&e)                          }
 *     emit_table_begin(&e, "entries", cols, n)     "entries": [         column titles line
 *       emit_row(&e, v1, v2, ...)                    {"a": v1, ...},    one line: cells by fmt
 *     emit_table_end(&e)                           ]
 *     emit_text(&e, fmt, ...)                                           text only (decoration)
 *   emit_end(&e)                                 }
 *
 * Table cells: a column's type says what emit_row's argument is (EMIT_U64 and EMIT_HEX take a
 * uint64_t, EMIT_STR a const char *, NULL meaning absent); its `fmt` is the printf form of the
 * text cell (a uint64_t conversion such as "%08" PRIx64 or a "%s" one); `none` the text when the
 * value is absent. JSON: U64 a number, HEX a "0x..." string, STR a string or null.
 */
#ifndef NTH_CLI_EMIT_H
#define NTH_CLI_EMIT_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef enum emit_type { EMIT_U64, EMIT_HEX, EMIT_STR } emit_type;

typedef struct emit_column {
    const char *key;   /* JSON member name */
    emit_type type;
    const char *fmt;   /* text form of a present value; NULL: a JSON-only column */
    const char *none;  /* text form of an absent value (STR NULL); NULL: "" */
} emit_column;

#define EMIT_MAX_DEPTH 16
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

/* Text-only lines (WinDbg's decorations, blank lines); nothing in JSON. */
void emit_text(emit *e, const char *format, ...) __attribute__((format(printf, 2, 3)));

#endif
