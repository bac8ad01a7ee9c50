/*
 * pageheap.c — the full page heap: every block in a mapping of its own, next to an inaccessible
 * guard page, so the first byte written past the block (or before it, with align_start) faults
 * at the faulting instruction.
 *
 *   default (guard after)      base                                    base+span
 *                              | RW pages ....... | data ...... |0xAB..| guard (no access) ...|
 *                                                  ^ data = base + span - round16(size)
 *   page_heap_align_start      base        base+G
 *                              | guard ... | data ...... |0xAB..| rest of page | no access ...|
 *
 *   mapping: 64 KiB aligned, a multiple of 64 KiB, never less than one guard page past the data
 *
 * The block's data stays 16-byte aligned (as every ntheap block), so up to 15 bytes may lie
 * between its end and the guard; they hold 0xAB and are checked on free (a write there is
 * reported then, as Windows' page heap does with its fill).
 *
 * Records: a page-heap block is a big block whose record (bigblock.c, out of band) says
 * page_heap and has no in-band prefix. So HeapSize, walk, validate, the inspector and
 * nth_heap_destroy see it like any big block. On free the record goes away and the mapping,
 * decommitted and inaccessible, joins the delayed-free queue (delay.c).
 *
 * Mapping budget: each live block costs the kernel two mappings (its pages and its guard), and
 * the system caps a process's mappings (vm.max_map_count, 65530 by default). Page-heap blocks
 * stay under half of that cap less a margin for the program's own mappings; past it, new blocks
 * come from the heap's ordinary back-end (no guard page), announced once on stderr, as Windows'
 * page heap falls back to the normal heap when it runs out of room.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "heap/debug/debug.h"
#include "heap/debug/tags.h"
#include "heap/vm.h"

#define MAPPING_MARGIN 8192 /* mappings left to the program, its threads and libraries */

static atomic_size_t live_blocks;
static size_t block_budget;
static pthread_once_t budget_once = PTHREAD_ONCE_INIT;
static atomic_bool budget_announced;

static void read_budget(void)
{
    char text[32] = "65530";
    int fd = open("/proc/sys/vm/max_map_count", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, text, sizeof text - 1);
        text[n > 0 ? n : 0] = '\0';
        close(fd);
    }
    size_t cap = (size_t)strtoull(text, NULL, 10);
    block_budget = cap > 2 * MAPPING_MARGIN ? (cap - MAPPING_MARGIN) / 2 : cap / 4;
}

bool nth_page_budget_left(void)
{
    pthread_once(&budget_once, read_budget);
    if (atomic_load_explicit(&live_blocks, memory_order_relaxed) < block_budget) return true;
    if (!atomic_exchange(&budget_announced, true))
        nth_debug_write(STDERR_FILENO,
                        "ntheap: page heap: %zu blocks live, the system's mapping limit is near "
                        "(vm.max_map_count); further blocks get no guard page\n",
                        block_budget);
    return false;
}

void *nth_page_alloc(nth_heap *heap, uint32_t flags, size_t size, size_t alignment)
{
    if (size > NTH_MAX_REQUEST) return NULL;
    size_t need = size ? size : 1;
    size_t align = alignment > NTH_GRANULE ? alignment : NTH_GRANULE;
    size_t rounded = nth_round_up(need, align);
    bool start = heap->debug_modes & NTH_DEBUG_ALIGN_START;
    size_t unit = align > NTH_PAGE ? align : NTH_PAGE;
    size_t lead = start ? unit : 0;                 /* inaccessible pages in front of the data */
    size_t span = nth_round_up(rounded, unit);       /* accessible pages */
    size_t bytes = nth_round_up(lead + span + NTH_PAGE, NTH_CHUNK);
    char *base = nth_vm_reserve(bytes, align > NTH_CHUNK ? align : NTH_CHUNK);
    if (!base) return NULL;
    if (!nth_vm_commit(base + lead, span, heap->flags & NTH_CREATE_ENABLE_EXECUTE)) {
        nth_vm_release(base, bytes);
        return NULL;
    }
    char *data = start ? base + lead : base + span - rounded;
    memset(data + size, NTH_FILL_TAIL, nth_round_up(need, NTH_GRANULE) - size);
    if ((heap->force_flags & NTH_FREE_CHECKING_ENABLED) && !((flags | heap->force_flags) & NTH_ZERO_MEMORY))
        nth_debug_fill32(data, size, NTH_FILL_NEW);
    nth_call_lock(heap, flags | heap->force_flags);
    nth_big *big = nth_big_adopt_locked(heap, base, bytes, data, size, flags);
    if (big) NTH_TAGS_ALLOC(heap, flags | heap->force_flags, data, size);
    nth_call_unlock(heap, flags | heap->force_flags);
    if (!big) {
        nth_vm_release(base, bytes);
        return NULL;
    }
    atomic_fetch_add_explicit(&live_blocks, 1, memory_order_relaxed);
    return data;
}

bool nth_page_free(nth_heap *heap, uint32_t flags, void *ptr, uint32_t alloc_stack, uint32_t free_stack)
{
    uint32_t forced = flags | heap->force_flags;
    nth_call_lock(heap, forced);
    const nth_owner *owner = nth_addrmap_lookup(ptr);
    nth_big *big = owner && owner->kind == OWNER_BIG && owner->heap == heap ? (nth_big *)owner : NULL;
    if (!big || big->data != ptr || !big->page_heap) {
        nth_call_unlock(heap, forced);
        return nth_api_free(heap, flags, ptr); /* locates and reports */
    }
    nth_delayed d = {heap, big->data, big->size, big->owner.base, big->owner.reserve, alloc_stack, free_stack};
    NTH_TAGS_FREE(heap, ptr);
    nth_big_detach_locked(heap, big);
    nth_call_unlock(heap, forced);
    atomic_fetch_sub_explicit(&live_blocks, 1, memory_order_relaxed);
    size_t need = d.size ? d.size : 1;
    const unsigned char *bad =
        nth_debug_check32(d.data + d.size, nth_round_up(need, NTH_GRANULE) - d.size, 0xABABABABu);
    if (bad)
        nth_report_problem(heap, NTH_ERR_CORRUPT, bad, "the fill 0xAB after a page-heap block",
                           "a modified byte (buffer overrun short of the guard page)");
    nth_vm_decommit(d.base, d.bytes);
    nth_delay_push(&d);
    return true;
}

bool nth_page_block_at(const void *addr, const nth_big **out)
{
    const nth_owner *owner = nth_addrmap_lookup(addr);
    if (!owner || owner->kind != OWNER_BIG || owner->magic != NTH_BIG_MAGIC) return false;
    const nth_big *big = (const nth_big *)owner;
    if (!big->page_heap) return false;
    *out = big;
    return true;
}
