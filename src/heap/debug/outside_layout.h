/*
 * outside_layout.h — the byte layout of the debug heap's tables that an outside reader (the
 * inspector, reading another process or a core file) follows from the registry, besides the
 * stack-trace database (trace_layout.h):
 *
 *   nth_heap_registry.tag_tables ─► nth_tag_table ─► nth_tag_table ─► ... (next; one per tagged heap)
 *       | magic "NTTG" | heap | next | n_tags | ... | rows[0 .. NTH_MAX_TAG] (nth_tag_stats) |
 *       rows[0 .. n_tags-1] are in use; row 0 counts the untagged blocks of the tagged heap
 *
 *   nth_heap_registry.delayed ─► nth_delay_queue { magic "NTDQ", ring, capacity, head, count }
 *       ring[capacity] of nth_delayed; the queued blocks are ring[(head + k) % capacity] for
 *       k < count, oldest first
 *
 * A reader checks the magics, bounds n_tags by NTH_MAX_TAG + 1 and count by capacity, and
 * follows `next` a bounded number of times: the target's memory may be damaged or changing.
 */
#ifndef NTH_DEBUG_OUTSIDE_LAYOUT_H
#define NTH_DEBUG_OUTSIDE_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "ntheap.h"

#define NTH_TAG_TABLE_MAGIC 0x4754544Eu /* "NTTG" */
#define NTH_DELAY_QUEUE_MAGIC 0x5144544Eu /* "NTDQ" */

typedef struct nth_tag_record {
    uintptr_t ptr; /* 0: empty slot */
    size_t size;
    uint32_t tag;
} nth_tag_record;

typedef struct nth_tag_range {
    uintptr_t lo, hi;
    uint32_t tag;
} nth_tag_range;

#define NTH_TAG_MODULE_RANGES 64u

typedef struct nth_tag_table {
    uint32_t magic; /* NTH_TAG_TABLE_MAGIC */
    uint32_t n_tags; /* rows in use, row 0 included */
    nth_heap *heap;
    struct nth_tag_table *next;
    uint32_t n_ranges;
    uint32_t next_range; /* the range replaced when all are in use */
    nth_tag_record *records;
    size_t capacity, count; /* capacity: a power of two */
    nth_tag_range ranges[NTH_TAG_MODULE_RANGES];
    nth_tag_stats rows[NTH_MAX_TAG + 1];
} nth_tag_table;

/* One freed block held back from reuse. Full page heap: base/bytes is its mapping, now
 * inaccessible; light: base is 0 and the block is still busy in the engine, filled 0xFEEEFEEE. */
typedef struct nth_delayed {
    nth_heap *heap;
    char *data;
    size_t size;
    char *base;
    size_t bytes;
    uint32_t alloc_stack, free_stack; /* traces.c indexes, 0: none */
} nth_delayed;

typedef struct nth_delay_queue {
    uint32_t magic; /* NTH_DELAY_QUEUE_MAGIC */
    nth_delayed *ring;
    size_t capacity, head, count;
} nth_delay_queue;

#endif
