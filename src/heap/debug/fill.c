/*
 * fill.c — the debug heap's fill patterns, written and checked in one place.
 *
 *   busy block (TAIL_CHECKING):  | header | data ........ | 0xAB 0xAB ... | [user value] |
 *                                                          ^ tail_fill_start  ^ fill_end
 *   free block (FREE_CHECKING):  | header | next | prev | 0xFEEEFEEE ... | tombstone | 0xFEEEFEEE ... |
 *   new block  (FREE_CHECKING):  | header | 0xBAADF00D 0xBAADF00D ... (unless ZERO_MEMORY)
 *   page-heap block:             | ... | data ......... | 0xAB up to 16 B | guard page
 *
 * A heap gets the back-end patterns from its creation flags (HEAP_TAIL_CHECKING_ENABLED,
 * HEAP_FREE_CHECKING_ENABLED), which debug_fill=1 adds to every new heap as gflags' htc/hfc do.
 * The back-end calls the nth_block_* writers where it formats blocks (their place in a block is
 * block geometry); the checks run on free and realloc (nth_debug_check_tail, from api.c), when a
 * free block is reused, and in validate. Patterns are written whole words from the start of the
 * range, so a check compares each byte with the byte the pattern has at that offset. A free
 * block that absorbed a neighbour keeps, where that neighbour started, a tombstone: an encoded
 * header of size 0, bound to its address, that no stale write can forge; the check passes over
 * it, and a stale free of the absorbed block still finds it and is told a double free.
 */
#include "heap/debug/debug.h"

void nth_block_fill_tail(char *block, const nth_block_header *hdr)
{
    memset(block + nth_block_tail_fill_start(hdr), NTH_FILL_TAIL,
           nth_block_fill_end(hdr) - nth_block_tail_fill_start(hdr));
}

char *nth_block_check_tail(char *block, const nth_block_header *hdr)
{
    for (size_t i = nth_block_tail_fill_start(hdr); i < nth_block_fill_end(hdr); i++)
        if ((unsigned char)block[i] != NTH_FILL_TAIL) return block + i;
    return NULL;
}

void nth_block_fill_new(char *data, size_t size)
{
    for (size_t i = 0; i + 4 <= size; i += 4) {
        uint32_t v = NTH_FILL_NEW;
        memcpy(data + i, &v, 4);
    }
}

void nth_block_fill_free(char *block, char *from, char *to)
{
    char *body = block + NTH_MIN_FREE_GR * NTH_GRANULE;
    if (from < body) from = body;
    for (char *p = from; p + 4 <= to; p += 4) {
        uint32_t v = NTH_FILL_FREE;
        memcpy(p, &v, 4);
    }
}

/* True when the granule at `at` holds a tombstone: the encoded header, size 0, that a block
 * start leaves when the block merges into a neighbour (backend.c), so that a stale free of it is
 * still told a double free. */
static bool is_tombstone(const nth_heap *heap, const char *at)
{
    nth_block_header hdr;
    return nth_header_load(heap, at, &hdr) && hdr.size_gr == 0 && !(hdr.flags & BLOCK_BUSY);
}

char *nth_block_check_free_fill(const nth_heap *heap, char *block, char *from, char *to)
{
    char *body = block + NTH_MIN_FREE_GR * NTH_GRANULE;
    if (from < body) from = body;
    for (char *p = from; p + 4 <= to; p += 4) {
        uint32_t v;
        memcpy(&v, p, 4);
        if (v == NTH_FILL_FREE) continue;
        char *granule = (char *)nth_round_down((uintptr_t)p, NTH_GRANULE);
        if (granule >= from && granule + NTH_GRANULE <= to && is_tombstone(heap, granule)) {
            p = granule + NTH_GRANULE - 4; /* the loop steps to the next granule */
            continue;
        }
        return p;
    }
    return NULL;
}

void nth_debug_check_tail_fill(nth_heap *heap, const nth_located *where)
{
    const char *bad = nth_block_check_tail(where->header, &where->hdr);
    if (bad)
        nth_report_problem(heap, NTH_ERR_CORRUPT, bad, "the tail fill 0xAB after the block",
                           "a modified byte (buffer overrun)");
}

void nth_debug_fill32(void *p, size_t n, uint32_t pattern)
{
    unsigned char *b = p;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) memcpy(b + i, &pattern, 4);
    if (i < n) memcpy(b + i, &pattern, n - i);
}

const unsigned char *nth_debug_check32(const void *p, size_t n, uint32_t pattern)
{
    const unsigned char *b = p, *pat = (const unsigned char *)&pattern;
    for (size_t i = 0; i < n; i++)
        if (b[i] != pat[i % 4]) return b + i;
    return NULL;
}
