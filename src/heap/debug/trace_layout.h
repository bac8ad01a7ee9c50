/*
 * trace_layout.h — the byte layout of the stack-trace database (traces.c), for this process and
 * for outside readers (the inspector, reading another process or a core): the registry's
 * `traces` field points at the header; the four arrays lie at the header's offsets from it.
 *
 *   nth_trace_db   128 B   magic "NTTR", version 1, capacities, counts, array offsets
 *   stacks[]       16 B    { hash, first frame index, depth } -- index 0 means "no stack"
 *   frames[]       8 B     return addresses, innermost first
 *   buckets[]      4 B     stack indexes by hash (0 empty)
 *   blocks[]       24 B    { data address, size, allocation stack } -- data 0: empty slot
 *
 * A reader checks magic and version, then bounds every index and offset by the capacities.
 * blocks[] is an open-addressing table: a block's probe starts at nth_trace_home_slot(data) and
 * runs forward (wrapping) to the first empty slot.
 */
#ifndef NTH_TRACE_LAYOUT_H
#define NTH_TRACE_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#define NTH_TRACE_MAGIC 0x5254544Eu /* "NTTR" */

typedef struct nth_trace_stack {
    uint64_t hash;
    uint32_t first;
    uint16_t depth;
    uint16_t pad;
} nth_trace_stack;

typedef struct nth_trace_block {
    uintptr_t data;
    size_t size;
    uint32_t alloc_stack;
    uint32_t pad;
} nth_trace_block;

typedef struct nth_trace_db {
    uint32_t magic, version, depth_max, n_stacks;
    uint32_t stack_capacity, frames_used, frame_capacity, n_buckets;
    uint64_t n_block_slots, n_blocks, dropped;
    uint64_t stacks_offset, frames_offset, buckets_offset, blocks_offset;
    uint8_t reserved[128 - 4 * 8 - 3 * 8 - 4 * 8];
} nth_trace_db;
_Static_assert(sizeof(nth_trace_db) == 128, "header layout");

#define NTH_TRACE_BLOCK_SLOTS_LG 21 /* n_block_slots = 1 << this */

static inline size_t nth_trace_home_slot(uintptr_t data)
{
    uint64_t h = (uint64_t)data * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> (64 - NTH_TRACE_BLOCK_SLOTS_LG));
}

#endif
