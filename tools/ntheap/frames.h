/*
 * frames.h — a return address of the target named for the views (`heap -a`, `umdh -p`), as the
 * program's own reports name it with dladdr: the symbol lookup is made at address - 1 (inside
 * the call), the offsets from the address itself.
 *
 *   0x55d0c0a01234  module+0x1234  symbol+0x1f      (symbol "?" and offset 0 when unnamed)
 *
 * and, for `heap -a`, the source position of the call when the file carries line tables.
 */
#ifndef NTH_CLI_FRAMES_H
#define NTH_CLI_FRAMES_H

#include <stddef.h>
#include <stdint.h>

#include "inspect/debug_read.h"

typedef struct frame_text {
    uintptr_t address;
    const char *module;     /* base name, "?" when no file is mapped there */
    uint64_t module_offset;
    const char *symbol;     /* "?" when no function symbol holds it */
    uint64_t symbol_offset;
} frame_text;

void frame_describe(nth_symbolizer *s, uintptr_t address, frame_text *out);

/* The call's source position, "file.c:123", from the mapped file's DWARF line table through
 * binutils' addr2line when it is installed; "" when it is not, or the file has no line table
 * for the address. A process per frame: for the few frames of one block's stacks. */
void frame_source(nth_symbolizer *s, uintptr_t address, char *out, size_t size);

#endif
