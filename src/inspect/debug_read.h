/*
 * debug_read.h — the debug heap of a target, read from outside: its stack-trace database
 * (trace_layout.h), its delayed-free queue and its tag tables (outside_layout.h), found through
 * the target's registries; and the naming of the target's code addresses (symbolize.c), done in
 * the reading process over the ELF files the target has mapped, never in the target.
 *
 *   registry ─► traces ─► header (checked) ─► stacks[] frames[] blocks[]   debug_tables.c
 *            ├► delayed ─► { ring, capacity, head, count }                 debug_tables.c
 *            └► tag_tables ─► table ─► table ─► ... (bounded)              debug_tables.c
 *   address ─► mapping (maps / NT_FILE) ─► file on disk ─► .symtab/.dynsym   symbolize.c
 *
 * Every read goes through the target's read seam and every index read from the target is
 * bounded by the header's capacities before use: damaged or changing memory gives "not found"
 * or a short answer, never a fault or an unbounded loop.
 */
#ifndef NTH_INSPECT_DEBUG_READ_H
#define NTH_INSPECT_DEBUG_READ_H

#include <stdbool.h>

#include "heap/debug/outside_layout.h"
#include "heap/debug/trace_layout.h"
#include "inspect/target.h"

/* ----------------------------------------------------------------------- debug_tables.c */

typedef struct nth_trace_reader {
    const nth_target *target;
    uintptr_t base;          /* the database's address in the target */
    nth_trace_db db;         /* its header, as read and checked */
    uintptr_t engine_lo, engine_hi; /* the mapped file of the engine that owns it (for frames) */
    const char *engine_path;
} nth_trace_reader;

/* False when the target has no stack-trace database (stack_traces off) or its header fails the
 * checks (magic, version, offsets and capacities inside what was mapped). */
bool nth_traces_open(const nth_target *target, nth_trace_reader *r);
/* The traced live block whose data address is `data`; false when it has none. */
bool nth_traces_block(const nth_trace_reader *r, uintptr_t data, nth_trace_block *out);
/* The return addresses of `stack` (up to max, innermost first, the engine's frames included). */
size_t nth_traces_frames(const nth_trace_reader *r, uint32_t stack, uintptr_t *out, size_t max);
/* Calls fn for every traced live block (data != 0, stack index bounded); the count of calls. */
size_t nth_traces_for_each(const nth_trace_reader *r, void (*fn)(const nth_trace_block *b, void *ctx), void *ctx);
struct nth_symbolizer;
/* The stack's frames as the program's own reports show them: the engine's leading frames (in
 * the engine's file, and either file-local, unnamed, nth_* or a malloc-family entry) skipped,
 * at most the depth the program asked for. */
size_t nth_traces_user_frames(const nth_trace_reader *r, struct nth_symbolizer *s, uint32_t stack, uintptr_t *out,
                              size_t max);

/* The delayed-free block (page heap) whose data starts at `address` or, with `containing`, whose
 * mapping (full page heap) or data (light) holds it, newest first; false when none. */
bool nth_delayed_find(const nth_target *target, uintptr_t address, bool containing, nth_delayed *out);

/* Calls fn with each tag table of the target (at most NTH_MAX_TAG + 1 rows, n_tags bounded);
 * returns how many were read. */
size_t nth_tag_tables_read(const nth_target *target, void (*fn)(uintptr_t heap, const nth_tag_stats *rows,
                                                                 size_t n_rows, void *ctx),
                           void *ctx);

/* -------------------------------------------------------------------------- symbolize.c */

typedef struct nth_symbolizer nth_symbolizer;

typedef struct nth_frame_name {
    const char *path;        /* the mapped file as the target names it */
    const char *module;      /* its base name */
    uintptr_t module_base;   /* where the file's first loaded page is mapped (dladdr's dli_fbase) */
    const char *symbol;      /* the function holding the address, or NULL */
    uintptr_t symbol_address;
    bool local;              /* a file-local (static) symbol */
} nth_frame_name;

nth_symbolizer *nth_symbolizer_new(const nth_target *target);
/* Names `address`; false when no file is mapped there (the name is then all NULL/0). Strings
 * live as long as the symbolizer. */
bool nth_symbolize(nth_symbolizer *s, uintptr_t address, nth_frame_name *out);
void nth_symbolizer_free(nth_symbolizer *s);

#endif
