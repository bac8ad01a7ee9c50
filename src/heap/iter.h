/*
 * iter.h — the one traversal: a cursor over a heap that reads the heap's memory only through a
 * small read seam, so the same code serves a heap in this process (nth_mem_self), and — through
 * a seam that reads another process or a core file — an outside inspector.
 *
 *   segment 0: REGION ─► block ─► ... ─► [LFH subsegment ─► its busy blocks] ─► ... ─► UCR ─► ...
 *   segment 1: REGION ─► ...                  (segments through their list, at most n_segments)
 *   then:      big block ─► ...               (records through their list, at most big_blocks)
 *
 * Nothing read is believed before it is checked against what the heap says it owns: a block
 * header must decode with the heap's key (its check word binds it to its address), lie inside
 * its segment's committed memory, chain with its neighbour's size and advance the cursor; a
 * segment, LFH descriptor or big-block record must carry its magic and name this heap. A check
 * that fails records a problem (address, expected, found) and the cursor skips to the next
 * place it can trust again (past a damaged header, the first block whose previous block starts there or after it;
 * else the next uncommitted range, the next segment, the end), so a
 * damaged heap is traversed to the end, every step bounded, never a loop and never a read the
 * seam refuses. Entries are nth_walk_entry values, as nth_heap_walk returns them.
 */
#ifndef NTH_ITER_H
#define NTH_ITER_H

#include "heap/lfh.h"

/* The read seam: copies `length` bytes at `address` of the target into `buffer`; false when
 * they cannot be read (unmapped, outside a core file's segments, ...). */
typedef struct nth_mem {
    bool (*read)(const struct nth_mem *mem, uintptr_t address, void *buffer, size_t length);
    /* Optional: the owner record (nth_owner) of the 64 KiB chunk holding `address`, or 0 — the
     * address map's answer, which lets nth_iter_seek find a position in O(1). Without it, seek
     * searches the heap's lists. */
    uintptr_t (*owner_of)(const struct nth_mem *mem, uintptr_t address);
    void *context;
} nth_mem;

/* This process. Callers pass only addresses the cursor has checked to be the heap's committed
 * memory or engine metadata it names. */
extern const nth_mem nth_mem_self;

typedef struct nth_iter_problem {
    uintptr_t address;
    const char *expected;
    const char *found;
} nth_iter_problem;

enum nth_iter_phase { NTH_ITER_REGION, NTH_ITER_BLOCKS, NTH_ITER_LFH, NTH_ITER_BIG, NTH_ITER_END };

/* What a traversal leaves out (nth_iter.options, set after nth_iter_open): the engine's own
 * passes over the back-end (validate, compact, the free-list rebuild) need neither the LFH's
 * slots nor the big blocks. */
enum nth_iter_option {
    NTH_ITER_NO_LFH_SLOTS = 1u << 0, /* a subsegment's block is returned; its slots are not */
    NTH_ITER_NO_BIG = 1u << 1,       /* the traversal ends after the last segment */
};

/* What the traversal reads of the heap object (a few fields, not the whole object). */
typedef struct nth_heap_view {
    uint64_t key[2];
    nth_segment *first_segment;
    uint32_t n_segments;
    nth_big *big_list;
    size_t big_blocks;
    struct nth_lfh *lfh;
} nth_heap_view;

/* No segment or big block of a heap spans more address space than this (a user address space
 * is 2^47 bytes): a descriptor that claims more is damaged. */
#define NTH_ITER_MAX_SPAN ((size_t)1 << 47)

/* A guard against cyclic lists read from a target (Brent's cycle finding): the counts a heap
 * keeps (n_segments, big_blocks, n_subsegments) bound a list walk only while they are sound, and
 * a damaged count with a list that loops back would walk the same nodes for ever. Step it at
 * each node; it answers false once the walk has come back to a node it visited, at most about
 * three times the number of distinct nodes after the walk began.
 *
 *   nth_list_guard g = {0};
 *   for (at = first; at && nth_list_guard_step(&g, at); at = next(at)) ...
 */
typedef struct nth_list_guard {
    uintptr_t mark;   /* a node of the walk, compared with each later one */
    uint64_t steps;   /* since mark was taken */
    uint64_t power;   /* steps until the next mark (doubles) */
} nth_list_guard;

static inline bool nth_list_guard_step(nth_list_guard *g, uintptr_t node)
{
    if (g->power == 0) g->power = 1;
    if (node == g->mark) return false;
    if (++g->steps == g->power) {
        g->mark = node;
        g->power *= 2;
        g->steps = 0;
    }
    return true;
}

/* What it reads of a segment descriptor: everything before the inline UCR table. */
#define NTH_SEGMENT_VIEW_BYTES offsetof(nth_segment, ucr_inline)

typedef struct nth_iter {
    const nth_mem *mem;
    uintptr_t heap_address;
    nth_heap_view heap;          /* the heap object's fields, as read */
    enum nth_iter_phase phase;
    unsigned options;            /* nth_iter_option bits */
    uintptr_t segment_address;   /* the current segment's descriptor */
    nth_segment segment;         /* as read */
    uint32_t segments_seen;
    bool sought;                 /* positioned by nth_iter_seek: segments counted from there */
    nth_list_guard segment_guard; /* the segment list loops back: it ends there */
    nth_list_guard big_guard;     /* the big-block list, the same */
    uintptr_t pos;               /* the next block header in the segment */
    uint32_t prev_size_gr;       /* the size of the block before pos (0 after a UCR) */
    uint32_t ucr_next;           /* the next uncommitted range of the segment, by index */
    size_t uncommitted_seen;     /* bytes of the ranges listed since the segment's region entry */
    bool whole_segment;          /* listed from its region entry on, no range out of place */
    uint32_t ucr_cached;         /* ucr_next + 1 when `ucr` holds that range, else 0 */
    nth_ucr ucr;
    nth_lfh_subsegment sub;      /* the subsegment being listed (phase LFH) */
    uint32_t lfh_next;           /* its next block index */
    uint32_t lfh_word_at;        /* 1 + the index of the bitmap word held in lfh_live, or 0 */
    uint64_t lfh_live;           /* that word's live blocks (busy, not freed by another thread) */
    uintptr_t lfh_resume;        /* the back-end block after the subsegment's */
    uintptr_t big_address;       /* the next big-block record */
    size_t bigs_seen;
    nth_block_header hdr;        /* the decoded header of the last back-end block returned */
    uint32_t problems;           /* problems found so far */
    nth_iter_problem problem;    /* the first of them */
} nth_iter;

/* Reads the heap object at heap_address; false (a problem recorded) when it is not a heap of
 * this layout. */
bool nth_iter_open(nth_iter *it, const nth_mem *mem, uintptr_t heap_address);
/* The next entry; false at the end. Problems met on the way are counted in it->problems. */
bool nth_iter_next(nth_iter *it, nth_walk_entry *entry);
/* Positions an opened cursor just after `entry` (an entry this traversal or nth_heap_walk
 * returned), so that nth_iter_next returns the entry after it; false when `entry` is not a
 * position of this heap (nothing is believed of it but its data pointer and flags). */
bool nth_iter_seek(nth_iter *it, const nth_walk_entry *entry);
/* For a client that changed the current segment (decommitted part of it): reads the segment's
 * descriptor again and goes on at the block header `pos`, whose neighbour before it is not
 * checked. A `pos` that now lies inside an uncommitted range goes on after that range. */
void nth_iter_continue_at(nth_iter *it, uintptr_t pos);

/* Fills `e` with slot `index` of the subsegment being listed, `unused` bytes of it unused. */
static inline void nth_iter_lfh_entry(const nth_iter *it, uint32_t index, uint32_t unused, nth_walk_entry *e)
{
    const nth_lfh_subsegment *sub = &it->sub;
    memset(e, 0, sizeof *e);
    e->data = (char *)((uintptr_t)sub->first_block + (uintptr_t)index * sub->block_size);
    e->size = sub->block_size - unused;
    e->overhead = unused;
    e->region_index = it->segment.owner.index;
    e->flags = NTH_ENTRY_BUSY | NTH_ENTRY_LFH;
    e->u.block.block_size = sub->block_size;
}

#endif
