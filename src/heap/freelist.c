/*
 * freelist.c — the back-end free lists: one circular doubly linked list per size index, and a
 * bitmap of the non-empty ones, so finding a fit is a bitmap scan (a few 64-bit words).
 *
 *   index    0 .. 127    exactly index granules (2 .. 127 are used: 32 B .. 2 KiB - 16)
 *   index  128 .. 327    classes: for size_gr in [2^k, 2^(k+1)), k >= 7, eight classes of
 *                        2^(k-3) granules each: 128 + (k - 7) * 8 + ((size_gr >> (k - 3)) & 7)
 *
 * A request of r granules takes the first non-empty list at or above its own index; in a class
 * list it first looks at a few blocks of its own class (which may be smaller than r), then takes
 * any block from the next non-empty class, whose blocks all fit.
 *
 * Invariants: every listed free block of the heap (free, not BLOCK_DAMAGED) is on exactly the
 * list of its size; the bitmap bit of a list is set iff the list is non-empty.
 *
 * Trust: the links live in the first data granule of a free block, memory a stale pointer can
 * still write. So no link is followed before it is checked: it must point at a list head of
 * this heap or at a block in committed memory of one of its segments whose header decodes as a
 * listed block (safe unlink also wants next->prev and prev->next to point back), and every walk
 * is bounded by the free-block count, so a cycle ends it. A failed check is not reported here:
 * the caller asks sweep.c to contain the damage, which uses nth_freelist_verify_locked to find
 * the block whose links were overwritten.
 */
#include "heap/internal.h"

#define CLASS_PROBE_LIMIT 8

unsigned nth_freelist_index(uint32_t size_gr)
{
    if (size_gr < NTH_EXACT_LISTS) return size_gr;
    unsigned k = 31u - (unsigned)__builtin_clz(size_gr);
    return NTH_EXACT_LISTS + (k - 7u) * 8u + ((size_gr >> (k - NTH_CLASS_SUBDIV_LG)) & 7u);
}

void nth_freelist_init(nth_heap *heap)
{
    for (unsigned i = 0; i < NTH_FREE_LISTS; i++) {
        heap->freelists[i].next = &heap->freelists[i];
        heap->freelists[i].prev = &heap->freelists[i];
    }
    memset(heap->freelist_bitmap, 0, sizeof heap->freelist_bitmap);
}

static inline nth_free_links *links_of(char *block)
{
    return (nth_free_links *)(block + sizeof(nth_block_header));
}

static inline char *block_of(nth_free_links *links)
{
    return (char *)links - sizeof(nth_block_header);
}

void nth_freelist_insert_locked(nth_heap *heap, char *block, uint32_t size_gr)
{
    nth_assert_held(heap);
    unsigned index = nth_freelist_index(size_gr);
    nth_free_links *head = &heap->freelists[index];
    nth_free_links *links = links_of(block);
    links->next = head->next;
    links->prev = head;
    head->next->prev = links;
    head->next = links;
    heap->freelist_bitmap[index / 64] |= 1ull << (index % 64);
    heap->free_blocks++;
    heap->free_bytes += (size_t)size_gr * NTH_GRANULE;
}

/* True when a link points at a list head of this heap or into its committed segment memory:
 * only then may it be followed. */
static bool is_list_head(const nth_heap *heap, const nth_free_links *target)
{
    return target >= &heap->freelists[0] && target < &heap->freelists[NTH_FREE_LISTS];
}

/* True when `target` may be followed: a list head of this heap, or the links of a block whose
 * header and links lie in committed segment memory of this heap. */
NTH_INLINE_STEP bool link_target_ok(const nth_heap *heap, const nth_free_links *target)
{
    if (is_list_head(heap, target)) return true;
    if ((uintptr_t)target % NTH_GRANULE != 0) return false;
    const char *block = (const char *)target - sizeof(nth_block_header);
    const nth_owner *owner = nth_addrmap_lookup(block);
    return owner && owner->heap == heap && owner->kind == OWNER_SEGMENT &&
           nth_segment_is_committed((const nth_segment *)owner, block, NTH_MIN_FREE_GR * NTH_GRANULE);
}

bool nth_freelist_remove_locked(nth_heap *heap, char *block, uint32_t size_gr)
{
    nth_assert_held(heap);
    nth_free_links *links = links_of(block);
    nth_free_links *next = links->next, *prev = links->prev;
    /* A block linked to itself would pass the back-link test while staying on its list. */
    if (NTH_UNLIKELY(next == links || !link_target_ok(heap, next) || !link_target_ok(heap, prev) ||
                     next->prev != links || prev->next != links))
        return false;
    prev->next = next;
    next->prev = prev;
    unsigned index = nth_freelist_index(size_gr);
    if (heap->freelists[index].next == &heap->freelists[index])
        heap->freelist_bitmap[index / 64] &= ~(1ull << (index % 64));
    heap->free_blocks--;
    heap->free_bytes -= (size_t)size_gr * NTH_GRANULE;
    return true;
}

/* Decodes the header of a listed free block into *hdr and returns its size; 0 when it is not a
 * listed free block of this heap (the link that led here is not to be trusted). */
NTH_INLINE_STEP uint32_t listed_header(nth_heap *heap, nth_free_links *links, nth_block_header *hdr)
{
    if (is_list_head(heap, links) || !link_target_ok(heap, links) || !nth_header_load(heap, block_of(links), hdr) ||
        !nth_block_is_listed(hdr))
        return 0;
    return hdr->size_gr;
}

static uint32_t listed_size(nth_heap *heap, nth_free_links *links)
{
    nth_block_header hdr;
    return listed_header(heap, links, &hdr);
}

/* True when `target` may be stepped to from list `index`: its head, or a listed block of that
 * list's size. */
static bool entry_ok(nth_heap *heap, unsigned index, nth_free_links *target)
{
    if (target == &heap->freelists[index]) return true;
    uint32_t s = listed_size(heap, target);
    return s != 0 && nth_freelist_index(s) == index;
}

static int next_nonempty(const nth_heap *heap, unsigned from)
{
    for (unsigned word = from / 64; word < NTH_BITMAP_WORDS; word++) {
        uint64_t bits = heap->freelist_bitmap[word];
        if (word == from / 64) bits &= ~0ull << (from % 64);
        if (bits) return (int)(word * 64 + (unsigned)__builtin_ctzll(bits));
    }
    return -1;
}

char *nth_freelist_find_locked(nth_heap *heap, uint32_t size_gr, nth_block_header *hdr, bool *damaged)
{
    nth_assert_held(heap);
    unsigned index = nth_freelist_index(size_gr);
    if (index >= NTH_EXACT_LISTS) {
        /* Blocks of the request's own class may be smaller: probe a few of them. */
        nth_free_links *head = &heap->freelists[index];
        unsigned probes = 0;
        for (nth_free_links *l = head->next; l != head && probes < CLASS_PROBE_LIMIT; l = l->next, probes++) {
            uint32_t s = listed_header(heap, l, hdr);
            if (NTH_UNLIKELY(s == 0)) {
                *damaged = true;
                return NULL;
            }
            if (s >= size_gr) return block_of(l);
        }
        index++;
    }
    int found = next_nonempty(heap, index);
    if (found < 0) return NULL;
    nth_free_links *l = heap->freelists[found].next;
    if (NTH_UNLIKELY(listed_header(heap, l, hdr) == 0)) {
        *damaged = true;
        return NULL;
    }
    return block_of(l);
}

char *nth_freelist_find_fit_locked(nth_heap *heap, uint32_t size_gr, unsigned probes,
                                   bool (*fits)(const char *block, uint32_t block_gr, const void *context),
                                   const void *context, uint32_t *found_size_gr, bool *damaged)
{
    nth_assert_held(heap);
    for (int index = next_nonempty(heap, nth_freelist_index(size_gr)); index >= 0 && probes > 0;
         index = next_nonempty(heap, (unsigned)index + 1)) {
        nth_free_links *head = &heap->freelists[index];
        for (nth_free_links *l = head->next; l != head && probes > 0; l = l->next, probes--) {
            uint32_t s = listed_size(heap, l);
            if (NTH_UNLIKELY(s == 0 || nth_freelist_index(s) != (unsigned)index)) {
                *damaged = true;
                return NULL;
            }
            if (s >= size_gr && fits(block_of(l), s, context)) {
                *found_size_gr = s;
                return block_of(l);
            }
        }
        if (index + 1 >= (int)NTH_FREE_LISTS) break;
    }
    return NULL;
}

/* Follows list `index` from its head in one direction (forward: next links) while each step is
 * a valid entry that links back; stops at the head, at a bad step, or after `bound` steps.
 * *last receives the last good entry, *bad the entry it could not step to (NULL when the walk
 * came round to the head). */
static void checked_walk(nth_heap *heap, unsigned index, bool forward, size_t bound, nth_free_links **last,
                         nth_free_links **bad)
{
    nth_free_links *head = &heap->freelists[index], *cur = head;
    for (size_t steps = 0;; steps++) {
        nth_free_links *to = forward ? cur->next : cur->prev;
        if (to == head && (forward ? head->prev : head->next) == cur) {
            *last = cur;
            *bad = NULL;
            return;
        }
        if (steps > bound || to == head || !entry_ok(heap, index, to) || (forward ? to->prev : to->next) != cur) {
            *last = cur;
            *bad = to;
            return;
        }
        cur = to;
    }
}

static bool is_entry(const nth_heap *heap, unsigned index, const nth_free_links *l)
{
    return l && l != &heap->freelists[index];
}

bool nth_freelist_verify_locked(nth_heap *heap, unsigned index, char **suspect)
{
    nth_assert_held(heap);
    nth_free_links *f_last, *f_bad, *b_last, *b_bad;
    size_t bound = heap->free_blocks + 1;
    *suspect = NULL;
    checked_walk(heap, index, true, bound, &f_last, &f_bad);
    if (!f_bad) return true;
    checked_walk(heap, index, false, bound, &b_last, &b_bad);
    /* A block whose own links were overwritten is where both walks stop: one walk reaches it and
     * cannot leave it, the other cannot step onto it. */
    nth_free_links *candidates[2] = {f_bad, f_last};
    for (int i = 0; i < 2; i++)
        if (is_entry(heap, index, candidates[i]) && (candidates[i] == b_bad || candidates[i] == b_last) &&
            link_target_ok(heap, candidates[i])) {
            *suspect = block_of(candidates[i]);
            return false;
        }
    if (is_entry(heap, index, f_bad) && link_target_ok(heap, f_bad))
        *suspect = block_of(f_bad);
    else if (is_entry(heap, index, f_last))
        *suspect = block_of(f_last);
    return false;
}

size_t nth_freelist_largest_locked(nth_heap *heap, bool *damaged)
{
    nth_assert_held(heap);
    for (int index = (int)NTH_FREE_LISTS - 1; index >= 0; index--) {
        nth_free_links *head = &heap->freelists[index];
        if (head->next == head) continue;
        size_t largest = 0, steps = 0;
        for (nth_free_links *l = head->next; l != head; l = l->next) {
            uint32_t s = listed_size(heap, l);
            if (s == 0 || nth_freelist_index(s) != (unsigned)index || steps++ > heap->free_blocks) {
                *damaged = true;
                return 0;
            }
            if ((size_t)s * NTH_GRANULE > largest) largest = (size_t)s * NTH_GRANULE;
        }
        return largest; /* every block of a higher list is larger than any of a lower one */
    }
    return 0;
}

bool nth_freelist_check_locked(nth_heap *heap)
{
    nth_assert_held(heap);
    size_t blocks = 0, bytes = 0;
    for (unsigned i = 0; i < NTH_FREE_LISTS; i++) {
        nth_free_links *head = &heap->freelists[i];
        bool bit = (heap->freelist_bitmap[i / 64] >> (i % 64)) & 1;
        if (bit != (head->next != head)) {
            nth_report_problem(heap, NTH_ERR_CORRUPT, head, "free-list bitmap bit matching the list",
                               bit ? "bit set for an empty list" : "bit clear for a non-empty list");
            return false;
        }
        nth_free_links *prev = head;
        for (nth_free_links *l = head->next; l != head; prev = l, l = l->next) {
            if (!link_target_ok(heap, l) || l->prev != prev || blocks > heap->free_blocks) {
                char *suspect;
                if (nth_freelist_verify_locked(heap, i, &suspect) || !suspect) suspect = block_of(l);
                nth_report_problem(heap, NTH_ERR_CORRUPT, suspect + sizeof(nth_block_header), "consistent free-list links",
                                   "a broken or cyclic free list");
                return false;
            }
            uint32_t s = listed_size(heap, l);
            if (s == 0) {
                nth_report_problem(heap, NTH_ERR_CORRUPT, block_of(l) + sizeof(nth_block_header),
                                   "a free block header on the free list", "a damaged, busy or damaged-marked header");
                return false;
            }
            if (nth_freelist_index(s) != i) {
                nth_report_problem(heap, NTH_ERR_CORRUPT, block_of(l), "a block of this list's size",
                                   "a block listed under the wrong size");
                return false;
            }
            blocks++;
            bytes += (size_t)s * NTH_GRANULE;
        }
    }
    if (blocks != heap->free_blocks || bytes != heap->free_bytes) {
        nth_report_problem(heap, NTH_ERR_CORRUPT, heap, "free-list totals matching the counters",
                           "different totals");
        return false;
    }
    return true;
}
