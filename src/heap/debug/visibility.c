/*
 * visibility.c — announcing ntheap blocks to Valgrind's memcheck (see visibility.h for the map
 * of what becomes NOACCESS and when).
 *
 * Every function here runs inside an engine entry point, with the heap lock held and memcheck's
 * reporting off for the thread, so it may read headers that are NOACCESS. A block is announced
 * only after the engine has finished with it, and a freed block is retired (FREELIKE) before the
 * engine reuses its memory, so memcheck's idea of which blocks are live never lags the heap's.
 * Without <valgrind/memcheck.h> the file holds only nth_vis_init, which does nothing.
 */
#include "heap/debug/visibility.h"
#include "heap/internal.h"

#if NTH_VIS_VALGRIND
#include <valgrind/memcheck.h>

bool nth_vis_valgrind;

void nth_vis_quiet(bool quiet)
{
    if (quiet)
        VALGRIND_DISABLE_ERROR_REPORTING;
    else
        VALGRIND_ENABLE_ERROR_REPORTING;
}

/* Makes everything of the block at ptr that is not the caller's bytes NOACCESS: the header, the
 * slack up to the block's end, the next block's header, and the whole next block when it is
 * free (so a long overrun into free space is seen too). Big blocks: canary, header and the tail
 * of the last page. */
static void fence(nth_heap *heap, char *ptr, size_t size)
{
    nth_located where;
    const char *expected, *found;
    if (nth_locate_block(heap, ptr, &where, &expected, &found) != NTH_OK || where.lfh) return;
    if (where.big) {
        char *start = ptr - NTH_BIG_HEADER_BYTES;
        (void)VALGRIND_MAKE_MEM_NOACCESS(start, ptr - start);
        char *end = (char *)nth_round_up((uintptr_t)ptr + size, NTH_PAGE);
        (void)VALGRIND_MAKE_MEM_NOACCESS(ptr + size, end - (ptr + size));
        return;
    }
    char *end = where.header + (size_t)where.hdr.size_gr * NTH_GRANULE;
    (void)VALGRIND_MAKE_MEM_NOACCESS(where.header, ptr - where.header);
    (void)VALGRIND_MAKE_MEM_NOACCESS(ptr + size, end - (ptr + size));
    if (where.hdr.flags & BLOCK_LAST) return; /* what follows may not even be committed */
    nth_block_header next;
    size_t after = sizeof(nth_block_header);
    if (nth_header_load(heap, end, &next) && !(next.flags & BLOCK_BUSY)) after = (size_t)next.size_gr * NTH_GRANULE;
    (void)VALGRIND_MAKE_MEM_NOACCESS(end, after);
}

void nth_vis_alloc_locked(nth_heap *heap, uint32_t flags, void *ptr, size_t size)
{
    fence(heap, ptr, size);
    VALGRIND_MALLOCLIKE_BLOCK(ptr, size, 0, (flags & NTH_ZERO_MEMORY) != 0);
}

void nth_vis_free_locked(nth_heap *heap, void *ptr)
{
    (void)heap;
    VALGRIND_FREELIKE_BLOCK(ptr, 0);
}

/* Before the heap's memory is released: every block still live stops being one for memcheck
 * (destroying a heap frees its blocks, as on Windows). LFH blocks are left out: they were never
 * announced (the LFH is off under memcheck unless a caller turns it on, and its fast paths carry
 * no hooks), so memcheck would call their release an invalid free. */
void nth_vis_heap_destroying(nth_heap *heap)
{
    if (!nth_vis_valgrind) return;
    nth_walk_entry entry;
    memset(&entry, 0, sizeof entry);
    while (nth_heap_walk(heap, &entry))
        if ((entry.flags & NTH_ENTRY_BUSY) && !(entry.flags & (NTH_ENTRY_INTERNAL | NTH_ENTRY_LFH)))
            VALGRIND_FREELIKE_BLOCK(entry.data, 0);
}

void nth_vis_realloc_locked(nth_heap *heap, uint32_t flags, void *old, size_t old_size, void *ptr, size_t size)
{
    size_t kept = old_size < size ? old_size : size;
    if (ptr == old) {
        VALGRIND_RESIZEINPLACE_BLOCK(ptr, old_size, size, 0);
        fence(heap, ptr, size);
    } else {
        nth_vis_alloc_locked(heap, 0, ptr, size);
        (void)VALGRIND_MAKE_MEM_DEFINED(ptr, kept); /* copied from the old block */
        VALGRIND_FREELIKE_BLOCK(old, 0);
    }
    if ((flags & NTH_ZERO_MEMORY) && size > kept) (void)VALGRIND_MAKE_MEM_DEFINED((char *)ptr + kept, size - kept);
}

void nth_vis_init(void)
{
    /* Memcheck, not any Valgrind tool: only memcheck answers its own requests (with -1), and
     * callgrind must measure the heap as it runs natively, LFH included. */
    int probe = 0;
    nth_vis_valgrind = RUNNING_ON_VALGRIND != 0 && VALGRIND_MAKE_MEM_DEFINED(&probe, sizeof probe) != 0;
    if (nth_vis_valgrind) nth_process_defaults.lfh = false; /* every heap: no fast path to annotate */
}

#else

void nth_vis_init(void)
{
}

void nth_vis_heap_destroying(nth_heap *heap)
{
    (void)heap;
}

#endif

/* ------------------------------------------------------------------------ AddressSanitizer */

#if NTH_ASAN

typedef uint64_t __attribute__((may_alias, aligned(1))) raw_word;

/* Word by word through volatile pointers: no memcpy call for ASan's interceptor to check. */
NTH_NO_ASAN void nth_raw_load16(void *out, const void *from)
{
    const volatile raw_word *src = from;
    raw_word *dst = out;
    dst[0] = src[0];
    dst[1] = src[1];
}

NTH_NO_ASAN void nth_raw_store16(void *to, const void *in)
{
    volatile raw_word *dst = to;
    const raw_word *src = in;
    dst[0] = src[0];
    dst[1] = src[1];
}

NTH_NO_ASAN void nth_raw_copy(void *out, const void *from, size_t length)
{
    const volatile unsigned char *src = from;
    unsigned char *dst = out;
    for (size_t i = 0; i < length; i++) dst[i] = src[i];
}

/* A new or resized back-end block: the bytes past the caller's up to the block's end. */
void nth_asan_fence_locked(nth_heap *heap, void *ptr, size_t size)
{
    nth_located where;
    const char *expected, *found;
    if (!nth_process_defaults.asan_poison) return;
    if (heap->flags & (NTH_TAIL_CHECKING_ENABLED | NTH_FREE_CHECKING_ENABLED)) return;
    if (nth_locate_block(heap, ptr, &where, &expected, &found) != NTH_OK || where.lfh || where.big) return;
    if (where.hdr.flags & (BLOCK_FILL | BLOCK_EXTRA)) return; /* the engine keeps bytes there */
    char *end = where.header + (size_t)where.hdr.size_gr * NTH_GRANULE;
    NTH_ASAN_POISON((char *)ptr + size, (size_t)(end - ((char *)ptr + size)));
}

#endif
