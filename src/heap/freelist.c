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
 * Invariants: every free block of the heap is on exactly the list of its size; the bitmap bit of
 * a list is set iff the list is non-empty; links are checked before every unlink (safe unlink),
 * so a corrupted link is reported instead of being written through.
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
static bool link_target_ok(const nth_heap *heap, const nth_free_links *target)
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
    nth_free_links *links = links_of(block);
    nth_free_links *next = links->next, *prev = links->prev;
    if (!link_target_ok(heap, next) || !link_target_ok(heap, prev) || next->prev != links || prev->next != links) {
        nth_report_problem(heap, NTH_ERR_CORRUPT, block, "free-list links pointing back at the block",
                           "broken free-list links");
        return false;
    }
    prev->next = next;
    next->prev = prev;
    unsigned index = nth_freelist_index(size_gr);
    if (heap->freelists[index].next == &heap->freelists[index])
        heap->freelist_bitmap[index / 64] &= ~(1ull << (index % 64));
    heap->free_blocks--;
    heap->free_bytes -= (size_t)size_gr * NTH_GRANULE;
    return true;
}

/* Size of a listed free block, from its header; 0 when the header does not decode. */
static uint32_t listed_size(nth_heap *heap, nth_free_links *links)
{
    nth_block_header hdr;
    char *block = block_of(links);
    if (is_list_head(heap, links) || !link_target_ok(heap, links) || !nth_header_load(heap, block, &hdr) ||
        (hdr.flags & BLOCK_BUSY)) {
        nth_report_problem(heap, NTH_ERR_CORRUPT, block, "a free block header on the free list",
                           "a damaged or busy header");
        return 0;
    }
    return hdr.size_gr;
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

char *nth_freelist_find_locked(nth_heap *heap, uint32_t size_gr, uint32_t *found_size_gr)
{
    unsigned index = nth_freelist_index(size_gr);
    if (index >= NTH_EXACT_LISTS) {
        /* Blocks of the request's own class may be smaller: probe a few of them. */
        nth_free_links *head = &heap->freelists[index];
        unsigned probes = 0;
        for (nth_free_links *l = head->next; l != head && probes < CLASS_PROBE_LIMIT; l = l->next, probes++) {
            uint32_t s = listed_size(heap, l);
            if (s == 0) return NULL;
            if (s >= size_gr) {
                *found_size_gr = s;
                return block_of(l);
            }
        }
        index++;
    }
    int found = next_nonempty(heap, index);
    if (found < 0) return NULL;
    nth_free_links *l = heap->freelists[found].next;
    uint32_t s = listed_size(heap, l);
    if (s == 0) return NULL;
    *found_size_gr = s;
    return block_of(l);
}

bool nth_freelist_check_locked(nth_heap *heap)
{
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
                nth_report_problem(heap, NTH_ERR_CORRUPT, block_of(l), "consistent free-list links",
                                   "a broken or cyclic free list");
                return false;
            }
            uint32_t s = listed_size(heap, l);
            if (s == 0) return false;
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
