/*
 * dt.h — field tables of ntheap's own structures, for a `dt`-style display (WinDbg's `dt _HEAP
 * ADDR` shows Windows' structures the same way): each field's name, offset, size and type, and
 * its value read through a read seam (heap/iter.h), so a structure of this process, of a live
 * process or of a core file is shown alike.
 *
 *   type        C structure            what Windows calls its counterpart
 *   heap        nth_heap               _HEAP
 *   segment     nth_segment            _HEAP_SEGMENT
 *   lfh         nth_lfh                _LFH_HEAP
 *   subsegment  nth_lfh_subsegment     _HEAP_SUBSEGMENT (+ _HEAP_USERDATA_HEADER: ntheap keeps
 *                                      the descriptor out of band, not in front of the blocks)
 *   tcache      nth_lfh_tcache         _HEAP_LOCAL_DATA (one per thread and heap in ntheap)
 *   big         nth_big                _HEAP_VIRTUAL_ALLOC_ENTRY (kept in a record page)
 *
 * The offsets come from offsetof on the engine's own definitions (heap/layout.h, heap/lfh.h),
 * so a table cannot drift from the structure it describes. Embedded structures and arrays are
 * shown by type; the common owner prefix of segments, subsegments and big-block records is
 * shown field by field (owner.magic, owner.kind, ...), as it is what identifies them.
 */
#ifndef NTH_INSPECT_DT_H
#define NTH_INSPECT_DT_H

#include "heap/iter.h"

typedef enum nth_dt_kind {
    NTH_DT_UINT,   /* unsigned integer of 1, 2, 4 or 8 bytes */
    NTH_DT_BOOL,
    NTH_DT_PTR,    /* an address; `type` names what it points to */
    NTH_DT_STRUCT, /* an embedded structure: shown by type */
    NTH_DT_ARRAY,  /* an array: shown by type, e.g. "uint16_t[128]" */
} nth_dt_kind;

typedef struct nth_dt_field {
    const char *name;
    const char *type;
    uint32_t offset;
    uint32_t size;
    nth_dt_kind kind;
} nth_dt_field;

typedef struct nth_dt_type {
    const char *name;      /* heap, segment, lfh, subsegment, tcache, big */
    const char *c_name;    /* nth_heap, ... */
    const char *windows;   /* the Windows structure it corresponds to */
    uint32_t size;         /* sizeof the structure */
    uint32_t magic_offset; /* where its magic number lies, UINT32_MAX if it has none */
    uint32_t magic;
    const nth_dt_field *fields;
    size_t n_fields;
} nth_dt_type;

/* Every type, in the order of the table above. */
const nth_dt_type *nth_dt_types(size_t *count);
/* The type called `name`: its short name, C name or Windows name (case ignored); NULL if none. */
const nth_dt_type *nth_dt_find(const char *name);
/* The value of a scalar field (UINT, BOOL, PTR) of the structure at `address`; false when it is
 * not scalar or cannot be read. */
bool nth_dt_value(const nth_dt_field *field, const nth_mem *mem, uintptr_t address, uint64_t *value);
/* Whether the structure at `address` carries its type's magic number (true for a type without
 * one when its first bytes can be read); `found` receives what was there. */
bool nth_dt_check(const nth_dt_type *type, const nth_mem *mem, uintptr_t address, uint32_t *found);

#endif
