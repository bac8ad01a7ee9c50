/*
 * backend.c — the back-end: blocks inside segments. Allocation takes a fitting free block
 * (committing more or adding a segment when none fits) and splits off the remainder; free
 * coalesces with both neighbours and either lists the result or decommits its inner pages;
 * resize grows into a free neighbour or gives the tail back. Raw ranges from segment.c (a new
 * segment, pages just committed) are formatted into blocks here.
 *
 *   alloc:   [ free ................................ ]   ->  [ busy | data ][ free remainder ]
 *   free:    [ free ][ busy ][ free ]                    ->  [ free ........................ ]
 *   decommit:[ free ......................... ]          ->  [ head LAST ][ UCR ][ tail ]
 *   aligned: [ free .......|......................... ]   ->  [ free ][ busy, aligned ][ free ]
 *                          ^ alignment boundary
 *
 * An aligned block (nth_heap_alloc_aligned; an LFH subsegment's whole chunks) goes where it
 * fits first: a listed free block with room after its lead, else the pages committed at an
 * uncommitted range that make the free block before it fit, else a new segment; so LFH
 * subsegments follow each other with no gap and no commit beyond what they use. Only when a
 * free list is damaged (or the alignment exceeds a chunk) is a block taken with a whole
 * alignment of slack.
 *
 * Invariants kept here (checked by validate.c):
 *   - every block's prev_size_gr equals the size of the block before it (0 after a UCR);
 *   - every listed free block (free, not BLOCK_DAMAGED) is on exactly one free list, and
 *     (unless coalescing is disabled) its neighbours are busy or damaged;
 *   - a header that stops being a block start (merged, absorbed) is overwritten with a tombstone,
 *     a free header of size 0 (unless free-checking fills it): a stale pointer to it is seen as a
 *     double free, never as a live block, and neither a free list nor a walk position naming it
 *     is believed (a chain of stale "free" headers could otherwise pass for blocks);
 *   - when a free list fails its link checks the damage is contained (sweep.c) and the
 *     operation retried: the heap goes on serving from its other blocks;
 *   - heap->busy_blocks / busy_bytes count live back-end blocks and their requested bytes
 *     (busy_bytes with the big blocks' too); heap->backend_live the back-end's alone.
 * Everything here runs with the heap lock held. Whether a large free block is decommitted is
 * decommit_policy.c's to say.
 */
#include "heap/iter.h"

/* Attempts at an operation whose free list turned out damaged (each contains the damage). */
#define DAMAGE_RETRIES 4

static inline char *block_data(char *block)
{
    return block + sizeof(nth_block_header);
}

static inline char *block_end(char *block, uint32_t size_gr)
{
    return block + (size_t)size_gr * NTH_GRANULE;
}

static void set_prev_size_locked(nth_heap *heap, char *block, uint32_t prev_size_gr)
{
    nth_assert_held(heap);
    nth_block_header next;
    if (!nth_header_load(heap, block, &next)) {
        nth_report_problem(heap, NTH_ERR_CORRUPT, block, "a block header after the block being changed",
                           "a damaged header (overflow from the block before?)");
        return;
    }
    next.prev_size_gr = prev_size_gr;
    nth_block_store_locked(heap, block, next);
}

static void fix_next_prev_locked(nth_heap *heap, char *block, const nth_block_header *hdr)
{
    nth_assert_held(heap);
    if (hdr->flags & BLOCK_LAST) return;
    set_prev_size_locked(heap, block_end(block, hdr->size_gr), hdr->size_gr);
}

/* Unlinks a listed block; when its list is damaged, contains the damage (keeping
 * [keep_out, keep_out_end) off the rebuilt lists) and tries once more. False when the block is
 * no longer a listed block of that size (it was the damaged one) or the unlink still fails. */
static bool unlink_checked(nth_heap *heap, char *block, uint32_t size_gr, const char *keep_out,
                           const char *keep_out_end)
{
    if (NTH_LIKELY(nth_freelist_remove_locked(heap, block, size_gr))) return true;
    nth_sweep_contain_locked(heap, keep_out, keep_out_end);
    nth_block_header hdr;
    if (!nth_header_load(heap, block, &hdr) || !nth_block_is_listed(&hdr) || hdr.size_gr != size_gr) return false;
    return nth_freelist_remove_locked(heap, block, size_gr);
}

/* True when the block fills a whole committed run that starts at the end of an uncommitted
 * range (and ends at another one, or at the limit). */
static bool fills_run(const nth_segment *segment, const char *block, const nth_block_header *hdr)
{
    const char *end = block + (size_t)hdr->size_gr * NTH_GRANULE;
    return hdr->prev_size_gr == 0 && (hdr->flags & BLOCK_LAST) && block != segment->first_block &&
           (uintptr_t)block % NTH_PAGE == 0 && (uintptr_t)end % NTH_PAGE == 0;
}

/* Splits the free block (not on a list) around its whole inner pages and decommits them:
 * head (LAST) | UCR | tail. False when there is nothing to decommit or the segment declined. */
static bool decommit_block_locked(nth_heap *heap, char *block, const nth_block_header *hdr, bool grow_table)
{
    nth_assert_held(heap);
    nth_segment *segment = nth_segment_of(heap, block);
    char *end = block_end(block, hdr->size_gr);
    if (!segment) return false;
    if (fills_run(segment, block, hdr)) {
        /* The block fills a whole run between two uncommitted ranges (or a range and the limit):
         * decommit all of it, and the ranges merge into one. */
        const nth_ucr *before = NULL;
        for (uint32_t i = 0; i < segment->n_ucr; i++)
            if (nth_segment_base(segment) + (size_t)(segment->ucr[i].offset_pg + segment->ucr[i].size_pg) * NTH_PAGE ==
                block)
                before = &segment->ucr[i];
        if (before) {
            char *last_block = nth_segment_base(segment) + (size_t)before->last_block_gr * NTH_GRANULE;
            return nth_segment_decommit_locked(heap, segment, block, (size_t)(end - block), last_block, grow_table);
        }
    }
    char *dstart = (char *)nth_round_up((uintptr_t)block + NTH_MIN_FREE_GR * NTH_GRANULE, NTH_PAGE);
    char *dend = (char *)nth_round_down((uintptr_t)end, NTH_PAGE);
    size_t tail = (size_t)(end - dend);
    if (tail != 0 && tail < NTH_MIN_FREE_GR * NTH_GRANULE) dend -= NTH_PAGE;
    if (dend <= dstart) return false;
    if (!nth_segment_decommit_locked(heap, segment, dstart, (size_t)(dend - dstart), block, grow_table))
        return false;
    tail = (size_t)(end - dend);

    bool was_last = hdr->flags & BLOCK_LAST;
    nth_block_header head = *hdr;
    head.size_gr = (uint32_t)((size_t)(dstart - block) / NTH_GRANULE);
    head.flags = (uint16_t)((head.flags & BLOCK_FILL) | BLOCK_LAST);
    nth_block_store_locked(heap, block, head);
    nth_freelist_insert_locked(heap, block, head.size_gr);
    if (tail) {
        nth_block_header t = {.size_gr = (uint32_t)(tail / NTH_GRANULE), .prev_size_gr = 0,
                              .flags = (uint16_t)((hdr->flags & BLOCK_FILL) | (was_last ? BLOCK_LAST : 0)),
                              .segment_index = hdr->segment_index, .unused = 0};
        nth_block_store_locked(heap, dend, t);
        nth_freelist_insert_locked(heap, dend, t.size_gr);
        fix_next_prev_locked(heap, dend, &t);
    } else if (!was_last) {
        set_prev_size_locked(heap, dend, 0); /* first block after the new range */
    }
    return true;
}

/* How release_range_locked treats its range. */
enum release_how {
    RELEASE_KEEP_COMMITTED = 0, /* memory just committed, or hot pages: never decommitted */
    RELEASE_MAY_DECOMMIT = 1,   /* a large result may be decommitted (decommit_policy.c) */
    RELEASE_WAS_BLOCK = 2,      /* the range was one block: the block after it names its size */
    RELEASE_APART = 4,          /* the block before has a damaged header: never merged with */
};

/* Overwrites the header at `header`, which stops being a block start, with a tombstone. */
static void bury_header_locked(nth_heap *heap, char *header, uint8_t segment_index)
{
    nth_header_store(heap, header, (nth_block_header){.size_gr = 0, .segment_index = segment_index});
}

/* Writes a free block header over [block, +size_gr) and lists it, coalescing with listed
 * neighbours; a large result is decommitted instead when `how` allows it. */
static void release_range_locked(nth_heap *heap, char *block, uint32_t size_gr, uint8_t segment_index,
                                 uint32_t prev_size_gr, bool last, unsigned how)
{
    nth_assert_held(heap);
    bool coalesce = !(heap->flags & NTH_DISABLE_COALESCE_ON_FREE);
    bool fill = heap->flags & NTH_FREE_CHECKING_ENABLED;
    char *freed = block, *freed_end = block_end(block, size_gr);
    if (coalesce && prev_size_gr && !(how & RELEASE_APART)) {
        char *prev = block - (size_t)prev_size_gr * NTH_GRANULE;
        nth_block_header ph;
        if (!nth_header_load(heap, prev, &ph) || ph.size_gr != prev_size_gr) {
            nth_report_problem(heap, NTH_ERR_CORRUPT, prev, "the previous block's header",
                               "a damaged header or a size that does not match prev_size");
        } else if (nth_block_is_listed(&ph) && unlink_checked(heap, prev, ph.size_gr, freed, freed_end)) {
            bury_header_locked(heap, freed, segment_index); /* no longer a block start */
            block = prev;
            size_gr += ph.size_gr;
            prev_size_gr = ph.prev_size_gr;
        }
    }
    if (coalesce && !last) {
        char *next = freed_end;
        nth_block_header nh;
        if (!nth_header_load(heap, next, &nh)) {
            nth_report_problem(heap, NTH_ERR_CORRUPT, next, "the next block's header",
                               "a damaged header (overflow from the block before?)");
            /* Do not merge with or through a damaged block; keep the chain as it was. */
        } else if (nth_block_is_listed(&nh) && unlink_checked(heap, next, nh.size_gr, block, freed_end)) {
            size_gr += nh.size_gr;
            last = nh.flags & BLOCK_LAST;
            bury_header_locked(heap, next, segment_index);
            if (fill) /* its links */
                nth_block_fill_free(block, next + sizeof(nth_block_header), next + NTH_MIN_FREE_GR * NTH_GRANULE);
        }
    }
    nth_block_header hdr = {.size_gr = size_gr, .prev_size_gr = prev_size_gr,
                            .flags = (uint16_t)((last ? BLOCK_LAST : 0) | (fill ? BLOCK_FILL : 0)),
                            .segment_index = segment_index, .unused = 0};
    if (fill) /* past the tombstone of a range merged into the block before it */
        nth_block_fill_free(block, block == freed ? freed : freed + sizeof(nth_block_header), freed_end);
    nth_block_store_locked(heap, block, hdr);
    if (!(how & RELEASE_WAS_BLOCK) || block != freed || block_end(block, size_gr) != freed_end)
        fix_next_prev_locked(heap, block, &hdr);

    size_t bytes = (size_t)size_gr * NTH_GRANULE;
    if ((how & RELEASE_MAY_DECOMMIT) && nth_backend_should_decommit_locked(heap, bytes) && decommit_block_locked(heap, block, &hdr, false))
        return;
    nth_freelist_insert_locked(heap, block, size_gr);
}

/* Formats a fresh segment: its busy internal header block, and one free LAST block over the
 * rest of its committed memory. */
static void format_segment_locked(nth_heap *heap, nth_segment *segment)
{
    nth_assert_held(heap);
    char *base = nth_segment_base(segment);
    size_t header_bytes = (size_t)(segment->first_block - base);
    size_t struct_bytes = segment == &heap->segment0 ? sizeof(nth_heap) : sizeof(nth_block_header) + sizeof(nth_segment);
    nth_block_header hdr = {
        .size_gr = (uint32_t)(header_bytes / NTH_GRANULE),
        .prev_size_gr = 0,
        .flags = BLOCK_BUSY | BLOCK_INTERNAL,
        .segment_index = nth_segment_tag(segment),
        .unused = (uint8_t)(header_bytes - struct_bytes + sizeof(nth_block_header)),
    };
    nth_block_store_locked(heap, base, hdr);
    size_t rest_gr = (segment->committed - header_bytes) / NTH_GRANULE;
    /* The rest ends at an uncommitted range or at the limit: either way it is the LAST block. */
    release_range_locked(heap, segment->first_block, (uint32_t)rest_gr, hdr.segment_index, hdr.size_gr, true,
                         RELEASE_KEEP_COMMITTED);
}

nth_heap *nth_backend_create_heap(uint32_t flags, size_t initial_size, size_t maximum_size)
{
    nth_heap *heap = nth_segment_create_heap(flags, initial_size, maximum_size);
    if (!heap) return NULL;
    nth_freelist_init(heap);
    nth_lock_acquire(&heap->lock); /* no one else can see the heap yet: for the precondition */
    format_segment_locked(heap, &heap->segment0);
    nth_lock_release(&heap->lock);
    return heap;
}

/* Commits pages at the start of segment->ucr[i] so that, with a listed free block before it, a
 * free block of size_gr granules exists. A heap that does not coalesce keeps the new pages a block
 * of their own, so they alone must hold the request. */
static bool commit_at_ucr_locked(nth_heap *heap, nth_segment *segment, uint32_t i, uint32_t size_gr)
{
    nth_assert_held(heap);
    char *base = nth_segment_base(segment);
    nth_ucr ucr = segment->ucr[i];
    char *start = base + (size_t)ucr.offset_pg * NTH_PAGE;
    size_t ucr_bytes = (size_t)ucr.size_pg * NTH_PAGE;
    char *prev = base + (size_t)ucr.last_block_gr * NTH_GRANULE; /* the range's record: engine memory */
    nth_block_header prev_hdr;
    if (prev >= start || !nth_segment_is_committed(segment, prev, sizeof prev_hdr)) {
        nth_report_problem(heap, NTH_ERR_CORRUPT, prev, "the block before an uncommitted range", "none");
        return false;
    }
    /* A damaged block before the range (an overrun into its header) keeps its place; the new pages
     * become a block of their own after it, which names its size as their previous block's. */
    bool prev_sound = nth_header_load(heap, prev, &prev_hdr) && block_end(prev, prev_hdr.size_gr) == start;
    if (!prev_sound)
        nth_report_problem(heap, NTH_ERR_CORRUPT, prev, "the block before an uncommitted range",
                           "a damaged header; the pages after it are committed as a block apart");
    bool merges = prev_sound && nth_block_is_listed(&prev_hdr) && !(heap->flags & NTH_DISABLE_COALESCE_ON_FREE);
    size_t have = merges ? (size_t)prev_hdr.size_gr * NTH_GRANULE : 0;
    size_t needed = (size_t)size_gr * NTH_GRANULE;
    if (have + ucr_bytes < needed) return false;
    size_t commit = needed > have ? nth_round_up(needed - have, NTH_PAGE) : NTH_PAGE;
    if (commit < nth_commit_step(heap)) commit = nth_commit_step(heap);
    if (commit > ucr_bytes) commit = ucr_bytes;
    if (!nth_segment_commit_locked(heap, segment, i, commit)) return false;

    bool consumed = commit == ucr_bytes;
    bool at_limit = start + commit == segment->limit;
    if (prev_sound) {
        prev_hdr.flags &= (uint16_t)~BLOCK_LAST;
        nth_block_store_locked(heap, prev, prev_hdr);
    }
    release_range_locked(heap, start, (uint32_t)(commit / NTH_GRANULE), nth_segment_tag(segment),
                         (uint32_t)((size_t)(start - prev) / NTH_GRANULE), !consumed || at_limit,
                         RELEASE_KEEP_COMMITTED | (prev_sound ? 0 : RELEASE_APART));
    return true;
}

/* Commits pages of the uncommitted range that starts where `block` (a LAST block) ends, so
 * that a free block of at least size_gr granules follows it. False when the block ends at the
 * segment's limit, the range is too small or the commit fails. */
static bool commit_after_block_locked(nth_heap *heap, char *block, uint32_t size_gr)
{
    nth_assert_held(heap);
    nth_segment *segment = nth_segment_of(heap, block);
    nth_block_header hdr;
    if (!segment || !nth_header_load(heap, block, &hdr)) return false;
    const nth_ucr *ucr = nth_segment_ucr_at(segment, block_end(block, hdr.size_gr));
    return ucr && commit_at_ucr_locked(heap, segment, (uint32_t)(ucr - segment->ucr), size_gr);
}

/* Makes room for a free block of at least size_gr granules: commits uncommitted pages or, in a
 * growable heap, adds a segment. False when neither is possible. */
static bool grow_locked(nth_heap *heap, uint32_t size_gr)
{
    nth_assert_held(heap);
    for (nth_segment *segment = heap->first_segment; segment; segment = segment->next)
        for (uint32_t i = 0; i < segment->n_ucr; i++)
            if (commit_at_ucr_locked(heap, segment, i, size_gr)) return true;
    nth_segment *segment = nth_segment_add_locked(heap, (size_t)size_gr * NTH_GRANULE);
    if (!segment) return false;
    format_segment_locked(heap, segment);
    return true;
}

/* The slow part of take_block_locked: nothing fitted, or a list was damaged. Grows the heap at
 * most twice and contains damage as often as it is met (a few times at most). One growth is
 * enough for a sound heap; the second is a safety net for a growth whose new pages were to merge
 * with a free block before them that damage left off the lists (a traversal that could not step
 * past a damaged header): the first growth leaves a listed block there for the second. */
static char *take_block_slow_locked(nth_heap *heap, uint32_t size_gr, nth_block_header *hdr)
{
    nth_assert_held(heap);
    int growths = 0;
    for (int attempt = 0; attempt < DAMAGE_RETRIES;) {
        bool damaged = false;
        char *block = nth_freelist_find_locked(heap, size_gr, hdr, &damaged);
        if (!block && !damaged) {
            if (growths == 2 || !grow_locked(heap, size_gr)) return NULL;
            growths++;
            continue;
        }
        if (block && nth_freelist_remove_locked(heap, block, hdr->size_gr)) return block;
        nth_sweep_contain_locked(heap, NULL, NULL);
        attempt++;
    }
    return NULL;
}

/* Reports a write after free in the free block at `block`, filled with free checking, before
 * [block, end) of it is handed out or overwritten by headers: past that, nothing could find it. */
static void check_fill_before_reuse(nth_heap *heap, char *block, char *end)
{
    char *bad = nth_block_check_free_fill(heap, block, block, end);
    if (bad)
        nth_report_problem(heap, NTH_ERR_CORRUPT, bad, "the free-block fill 0xFEEEFEEE",
                           "a modified byte (written after free?)");
}

/* Splits a block just taken off its list (*hdr, its header as found) to size_gr (or a granule more,
 * when the rest could not be a block), listing the rest. */
NTH_INLINE_STEP char *split_taken_locked(nth_heap *heap, char *block, uint32_t size_gr, nth_block_header *hdr)
{
    nth_assert_held(heap);
    uint32_t found_gr = hdr->size_gr;
    if ((heap->flags & NTH_FREE_CHECKING_ENABLED) && (hdr->flags & BLOCK_FILL)) {
        /* What is handed out, and where the rest's header and links are about to be written. */
        uint32_t overwritten_gr = found_gr - size_gr >= NTH_MIN_FREE_GR ? size_gr + NTH_MIN_FREE_GR : found_gr;
        check_fill_before_reuse(heap, block, block_end(block, overwritten_gr));
    }
    if (found_gr - size_gr >= NTH_MIN_FREE_GR) {
        char *rest = block_end(block, size_gr);
        nth_block_header rh = {.size_gr = found_gr - size_gr, .prev_size_gr = size_gr,
                               .flags = (uint16_t)(hdr->flags & (BLOCK_LAST | BLOCK_FILL)),
                               .segment_index = hdr->segment_index, .unused = 0};
        nth_block_store_locked(heap, rest, rh);
        fix_next_prev_locked(heap, rest, &rh);
        nth_freelist_insert_locked(heap, rest, rh.size_gr);
        hdr->size_gr = size_gr;
        hdr->flags &= (uint16_t)~BLOCK_LAST;
    }
    hdr->flags &= (uint16_t)BLOCK_LAST;
    return block;
}

/* Takes a free block of at least size_gr granules off its list and splits it to size_gr (or
 * a granule more, when the rest could not be a block). *hdr describes the result: its size,
 * prev size, LAST flag and segment; the header in memory is not yet written. NULL when the heap
 * cannot grow. */
NTH_INLINE_STEP char *take_block_locked(nth_heap *heap, uint32_t size_gr, nth_block_header *hdr)
{
    nth_assert_held(heap);
    bool damaged = false;
    char *block = nth_freelist_find_locked(heap, size_gr, hdr, &damaged);
    if (NTH_UNLIKELY(!block || !nth_freelist_remove_locked(heap, block, hdr->size_gr))) {
        block = take_block_slow_locked(heap, size_gr, hdr);
        if (!block) return NULL;
    }
    return split_taken_locked(heap, block, size_gr, hdr);
}

/* Turns a taken block into a busy one holding `size` bytes: header, zeroing or fill, tail fill,
 * user value. */
NTH_INLINE_STEP void *finish_busy_locked(nth_heap *heap, char *block, nth_block_header hdr, uint32_t flags, size_t size)
{
    nth_assert_held(heap);
    hdr.flags = (uint16_t)((hdr.flags & BLOCK_LAST) | BLOCK_BUSY | (flags & BLOCK_USER_FLAGS));
    if (flags & NTH_SETTABLE_USER_VALUE) hdr.flags |= BLOCK_EXTRA;
    if (heap->flags & NTH_TAIL_CHECKING_ENABLED) hdr.flags |= BLOCK_FILL;
    hdr.unused = (uint8_t)((size_t)hdr.size_gr * NTH_GRANULE - size);
    nth_block_store_locked(heap, block, hdr);
    char *data = block_data(block);
    if (flags & NTH_ZERO_MEMORY)
        memset(data, 0, size);
    else if (heap->flags & NTH_FREE_CHECKING_ENABLED)
        nth_block_fill_new(data, size);
    if (hdr.flags & BLOCK_FILL) nth_block_fill_tail(block, &hdr);
    if (hdr.flags & BLOCK_EXTRA) memset(block + nth_block_fill_end(&hdr), 0, NTH_GRANULE);
    heap->busy_blocks++;
    heap->busy_bytes += size;
    nth_backend_note_live_locked(heap, (ptrdiff_t)size);
    heap->alloc_calls++;
    return data;
}

void *nth_backend_alloc_locked(nth_heap *heap, uint32_t flags, size_t size, uint32_t size_gr)
{
    nth_assert_held(heap);
    if (size_gr == 0) return NULL;
    nth_block_header hdr;
    char *block = take_block_locked(heap, size_gr, &hdr);
    if (!block) return NULL;
    return finish_busy_locked(heap, block, hdr, flags, size);
}

/* Bytes from `at` to the first address at or after it, leaving room for a free block in
 * between, whose address + skew is a multiple of `alignment`. */
static size_t aligned_lead(uintptr_t at, size_t alignment, size_t skew)
{
    size_t lead = (size_t)(nth_round_up(at + skew, alignment) - skew - at);
    return lead != 0 && lead < NTH_MIN_FREE_GR * NTH_GRANULE ? lead + alignment : lead;
}

/* An aligned request: size_gr granules at an address + skew that `alignment` divides; exact:
 * nothing may be left behind it that could not be a free block of its own. */
typedef struct aligned_request {
    uint32_t size_gr;
    bool exact;
    size_t alignment, skew;
} aligned_request;

/* Granules a block at `at` needs to hold the request, or 0 when `have_gr` granules do not. */
static uint32_t aligned_need_gr(const aligned_request *r, uintptr_t at, size_t have_gr)
{
    size_t need_gr = aligned_lead(at, r->alignment, r->skew) / NTH_GRANULE + r->size_gr;
    if (have_gr < need_gr || (r->exact && have_gr - need_gr == 1)) return 0;
    return (uint32_t)need_gr;
}

static bool aligned_fits(const char *block, uint32_t block_gr, const void *context)
{
    return aligned_need_gr(context, (uintptr_t)block, block_gr) != 0;
}

/* Commits pages at the start of the first uncommitted range where, with the free block before
 * it, the request then fits; returns that free block (listed), or NULL. */
static char *commit_aligned_locked(nth_heap *heap, const aligned_request *r)
{
    nth_assert_held(heap);
    for (nth_segment *segment = heap->first_segment; segment; segment = segment->next) {
        char *base = nth_segment_base(segment);
        for (uint32_t i = 0; i < segment->n_ucr; i++) {
            nth_ucr ucr = segment->ucr[i];
            char *start = base + (size_t)ucr.offset_pg * NTH_PAGE, *end = start + (size_t)ucr.size_pg * NTH_PAGE;
            char *prev = base + (size_t)ucr.last_block_gr * NTH_GRANULE;
            nth_block_header ph;
            if (nth_segment_is_committed(segment, prev, sizeof ph) && nth_header_load(heap, prev, &ph) &&
                nth_block_is_listed(&ph) && block_end(prev, ph.size_gr) == start)
                start = prev; /* the committed pages grow this free block */
            uint32_t need_gr = aligned_need_gr(r, (uintptr_t)start, (size_t)(end - start) / NTH_GRANULE);
            if (need_gr && commit_at_ucr_locked(heap, segment, i, need_gr)) return start;
        }
    }
    return NULL;
}

/* Adds a segment whose committed part holds the request (alignments up to 64 KiB: a segment
 * starts a chunk); returns its free block, or NULL. */
static char *add_aligned_locked(nth_heap *heap, const aligned_request *r)
{
    nth_assert_held(heap);
    if (r->alignment > NTH_CHUNK || heap->maximum != 0) return NULL;
    size_t header_bytes = nth_segment_header_bytes(false);
    size_t bytes = aligned_lead(header_bytes, r->alignment, r->skew) + (size_t)r->size_gr * NTH_GRANULE;
    nth_segment *segment = nth_segment_add_locked(heap, bytes);
    if (!segment) return NULL;
    format_segment_locked(heap, segment);
    return segment->first_block;
}

/* A listed free block in which the request fits, taken off its list whole (*hdr): one already
 * committed, else one that committing pages makes fit, else a new segment's. NULL when none. */
static char *take_fitting_locked(nth_heap *heap, const aligned_request *r, nth_block_header *hdr)
{
    nth_assert_held(heap);
    uint32_t found_gr = 0;
    bool damaged = false;
    char *block = nth_freelist_find_fit_locked(heap, r->size_gr, 32, aligned_fits, r, &found_gr, &damaged);
    if (!block && !damaged) block = commit_aligned_locked(heap, r);
    if (!block && !damaged) block = add_aligned_locked(heap, r);
    if (!block || !nth_header_load(heap, block, hdr) || !nth_block_is_listed(hdr) ||
        !aligned_fits(block, hdr->size_gr, r) || !nth_freelist_remove_locked(heap, block, hdr->size_gr))
        return NULL;
    return split_taken_locked(heap, block, hdr->size_gr, hdr);
}

/* Takes a free block and carves from it a block of size_gr granules whose address + skew is a
 * multiple of `alignment`, giving the granules in front of it and behind it back as free blocks.
 * A free block where it fits is preferred (back to back with the block before, no commit beyond
 * what it needs); else one of size_gr plus the largest lead is taken. *hdr describes the result
 * (busy, not yet finished); its size is size_gr or, when the rest behind could not be a block, a
 * granule more; with exact set it is always size_gr. NULL when the heap cannot grow. */
static char *take_aligned_locked(nth_heap *heap, uint32_t size_gr, size_t alignment, size_t skew, bool exact,
                                 nth_block_header *hdr)
{
    nth_assert_held(heap);
    size_t slack_gr = alignment / NTH_GRANULE + (exact ? 2u : 1u) * NTH_MIN_FREE_GR;
    if (size_gr == 0 || size_gr + slack_gr >= NTH_BIG_THRESHOLD_GR) return NULL;
    aligned_request request = {size_gr, exact, alignment, skew};
    char *block = take_fitting_locked(heap, &request, hdr);
    if (!block) block = take_block_locked(heap, (uint32_t)(size_gr + slack_gr), hdr); /* damage, or a large alignment */
    if (!block) return NULL;
    size_t lead = aligned_lead((uintptr_t)block, alignment, skew);
    char *aligned = block + lead;
    if (lead) {
        /* Give the leading granules back as a free block in front of the aligned one. */
        nth_block_header ah = *hdr;
        ah.size_gr = hdr->size_gr - (uint32_t)(lead / NTH_GRANULE);
        ah.prev_size_gr = (uint32_t)(lead / NTH_GRANULE);
        ah.flags = (uint16_t)((hdr->flags & BLOCK_LAST) | BLOCK_BUSY);
        ah.unused = 0;
        nth_block_store_locked(heap, aligned, ah);
        fix_next_prev_locked(heap, aligned, &ah);
        release_range_locked(heap, block, (uint32_t)(lead / NTH_GRANULE), hdr->segment_index, hdr->prev_size_gr,
                             false, RELEASE_KEEP_COMMITTED);
        if (!nth_header_load(heap, aligned, hdr)) return NULL;
        block = aligned;
    }
    if (hdr->size_gr - size_gr >= NTH_MIN_FREE_GR) {
        /* Give the trailing granules back too: listed, never decommitted, as they were free a
         * moment ago (a fresh segment's hot pages, taken from the region cache, stay hot). */
        bool last = hdr->flags & BLOCK_LAST;
        uint32_t rest_gr = hdr->size_gr - size_gr;
        hdr->size_gr = size_gr;
        hdr->flags = BLOCK_BUSY;
        hdr->unused = 0;
        nth_block_store_locked(heap, block, *hdr);
        release_range_locked(heap, block_end(block, size_gr), rest_gr, hdr->segment_index, size_gr, last,
                             RELEASE_KEEP_COMMITTED);
    }
    return block;
}

void *nth_backend_alloc_aligned_locked(nth_heap *heap, uint32_t flags, size_t alignment, size_t size)
{
    nth_assert_held(heap);
    uint32_t size_gr = nth_backend_block_gr(heap, flags, size);
    nth_block_header hdr;
    char *block = take_aligned_locked(heap, size_gr, alignment, sizeof(nth_block_header), false, &hdr);
    if (!block) return NULL;
    return finish_busy_locked(heap, block, hdr, flags, size);
}

char *nth_backend_alloc_chunks_locked(nth_heap *heap, size_t bytes, uint16_t add_flags)
{
    nth_assert_held(heap);
    if (bytes == 0 || bytes % NTH_CHUNK != 0) return NULL;
    nth_block_header hdr;
    char *block = take_aligned_locked(heap, (uint32_t)(bytes / NTH_GRANULE), NTH_CHUNK, 0, true, &hdr);
    if (!block) return NULL;
    /* Exactly `bytes`: no tail fill, no user value, whatever the heap's options. */
    hdr.flags = (uint16_t)((hdr.flags & BLOCK_LAST) | BLOCK_BUSY | BLOCK_INTERNAL | add_flags);
    hdr.unused = (uint8_t)sizeof(nth_block_header);
    nth_block_store_locked(heap, block, hdr);
    heap->busy_blocks++;
    heap->busy_bytes += bytes - sizeof(nth_block_header);
    nth_backend_note_live_locked(heap, (ptrdiff_t)(bytes - sizeof(nth_block_header)));
    heap->alloc_calls++;
    return block;
}

void nth_backend_free_locked(nth_heap *heap, char *block, nth_block_header *hdr)
{
    nth_assert_held(heap);
    heap->busy_blocks--;
    heap->busy_bytes -= nth_block_requested(hdr);
    nth_backend_note_live_locked(heap, -(ptrdiff_t)nth_block_requested(hdr));
    heap->free_calls++;
    /* Its header says "free" once release_range_locked has merged or rewritten it. */
    release_range_locked(heap, block, hdr->size_gr, hdr->segment_index, hdr->prev_size_gr, hdr->flags & BLOCK_LAST,
                         RELEASE_MAY_DECOMMIT | RELEASE_WAS_BLOCK);
}

/* The granules a block growing into its free neighbour takes beyond the new_gr it needs, when the
 * neighbour has them: room for the next small steps of a block grown by appends, which then cost
 * a header write each. As much as the header's 8-bit unused count records, with a granule to
 * spare for a remainder too small to be a block; plain blocks only (no user value, no fill). */
static uint32_t growth_room_gr(const nth_block_header *hdr, uint32_t new_gr, size_t size)
{
    size_t unused = (size_t)new_gr * NTH_GRANULE - size, budget = UINT8_MAX - NTH_GRANULE;
    if ((hdr->flags & (BLOCK_EXTRA | BLOCK_FILL)) || unused >= budget) return 0;
    return (uint32_t)((budget - unused) / NTH_GRANULE);
}

bool nth_backend_resize_locked(nth_heap *heap, char *block, nth_block_header *hdr, uint32_t flags, size_t size)
{
    nth_assert_held(heap);
    uint32_t keep_flags = (hdr->flags & BLOCK_EXTRA) ? NTH_SETTABLE_USER_VALUE : 0;
    uint32_t new_gr = nth_backend_block_gr(heap, flags | keep_flags, size);
    if (new_gr == 0 || new_gr >= NTH_BIG_THRESHOLD_GR) return false;
    size_t old_size = nth_block_requested(hdr);
    uintptr_t user_value = 0;
    if (hdr->flags & BLOCK_EXTRA) memcpy(&user_value, block + nth_block_fill_end(hdr), sizeof user_value);

    nth_block_header h = *hdr;
    if (new_gr > h.size_gr) {
        /* A block that is, or whose free neighbour is, the last before an uncommitted range
         * grows by committing that range's first pages, as on Windows: they become (part of)
         * the free neighbour taken below. */
        uint32_t want_gr = new_gr - h.size_gr; /* what the free neighbour must hold */
        char *next = block_end(block, h.size_gr);
        nth_block_header nh;
        if (h.flags & BLOCK_LAST) {
            if (!commit_after_block_locked(heap, block, want_gr) || !nth_header_load(heap, block, &h)) return false;
        } else if (nth_header_load(heap, next, &nh) && nth_block_is_listed(&nh) && nh.size_gr < want_gr &&
                   (nh.flags & BLOCK_LAST)) {
            if (!commit_after_block_locked(heap, next, want_gr)) return false;
        }
        if (!nth_header_load(heap, next, &nh) || !nth_block_is_listed(&nh) || h.size_gr + nh.size_gr < new_gr)
            return false;
        if (!unlink_checked(heap, next, nh.size_gr, NULL, NULL)) return false;
        bury_header_locked(heap, next, h.segment_index); /* inside the grown block from now on */
        uint32_t total_gr = h.size_gr + nh.size_gr;
        h.flags = (uint16_t)((h.flags & ~BLOCK_LAST) | (nh.flags & BLOCK_LAST));
        new_gr += growth_room_gr(&h, new_gr, size);
        if (new_gr > total_gr) new_gr = total_gr;
        if ((heap->flags & NTH_FREE_CHECKING_ENABLED) && (nh.flags & BLOCK_FILL))
            check_fill_before_reuse(heap, next,
                                    total_gr - new_gr >= NTH_MIN_FREE_GR ? block_end(block, new_gr + NTH_MIN_FREE_GR)
                                                                         : block_end(block, total_gr));
        if (total_gr - new_gr >= NTH_MIN_FREE_GR) {
            char *rest = block_end(block, new_gr);
            nth_block_header rh = {.size_gr = total_gr - new_gr, .prev_size_gr = new_gr,
                                   .flags = (uint16_t)(nh.flags & (BLOCK_LAST | BLOCK_FILL)),
                                   .segment_index = h.segment_index, .unused = 0};
            nth_block_store_locked(heap, rest, rh);
            fix_next_prev_locked(heap, rest, &rh);
            nth_freelist_insert_locked(heap, rest, rh.size_gr);
            h.size_gr = new_gr;
            h.flags &= (uint16_t)~BLOCK_LAST;
        } else {
            h.size_gr = total_gr;
        }
        h.unused = (uint8_t)((size_t)h.size_gr * NTH_GRANULE - size);
        nth_block_store_locked(heap, block, h);
        fix_next_prev_locked(heap, block, &h);
    } else {
        /* A block that grows within its granules keeps them all (room taken by an earlier step);
         * one that shrinks gives back what could be a block of its own. */
        uint32_t rest_gr = size > old_size ? 0 : h.size_gr - new_gr;
        bool last = h.flags & BLOCK_LAST;
        if (rest_gr >= NTH_MIN_FREE_GR) {
            h.size_gr = new_gr;
            h.flags &= (uint16_t)~BLOCK_LAST;
        }
        h.unused = (uint8_t)((size_t)h.size_gr * NTH_GRANULE - size);
        nth_block_store_locked(heap, block, h);
        if (rest_gr >= NTH_MIN_FREE_GR)
            release_range_locked(heap, block_end(block, new_gr), rest_gr, h.segment_index, new_gr, last,
                                 RELEASE_MAY_DECOMMIT);
    }
    char *data = block_data(block);
    if (size > old_size && (flags & NTH_ZERO_MEMORY)) memset(data + old_size, 0, size - old_size);
    if (h.flags & BLOCK_FILL) nth_block_fill_tail(block, &h);
    if (h.flags & BLOCK_EXTRA) memcpy(block + nth_block_fill_end(&h), &user_value, sizeof user_value);
    heap->busy_bytes += size;
    heap->busy_bytes -= old_size;
    nth_backend_note_live_locked(heap, (ptrdiff_t)size - (ptrdiff_t)old_size);
    *hdr = h;
    return true;
}

size_t nth_backend_decommit_free_locked(nth_heap *heap, size_t min_bytes)
{
    nth_assert_held(heap);
    size_t before = heap->committed_bytes;
    for (int attempt = 0; attempt < DAMAGE_RETRIES; attempt++) {
        bool damaged = false;
        nth_iter it;
        if (!nth_iter_open(&it, &nth_mem_self, (uintptr_t)heap)) break;
        it.options = NTH_ITER_NO_LFH_SLOTS | NTH_ITER_NO_BIG;
        nth_walk_entry entry;
        while (!damaged && nth_iter_next(&it, &entry)) {
            char *block = entry.u.block.header;
            nth_block_header hdr = it.hdr;
            if ((entry.flags & (NTH_ENTRY_REGION | NTH_ENTRY_UNCOMMITTED)) || !nth_block_is_listed(&hdr)) continue;
            nth_segment *segment = (nth_segment *)it.segment_address;
            if ((size_t)hdr.size_gr * NTH_GRANULE < min_bytes && !fills_run(segment, block, &hdr)) continue;
            if (!nth_freelist_remove_locked(heap, block, hdr.size_gr)) {
                nth_sweep_contain_locked(heap, NULL, NULL);
                damaged = true;
            } else if (decommit_block_locked(heap, block, &hdr, true)) {
                nth_iter_continue_at(&it, (uintptr_t)block_end(block, hdr.size_gr)); /* the UCR table changed */
            } else {
                nth_freelist_insert_locked(heap, block, hdr.size_gr);
            }
        }
        if (!damaged) break;
    }
    return before > heap->committed_bytes ? before - heap->committed_bytes : 0;
}
