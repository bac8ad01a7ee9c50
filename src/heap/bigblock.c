/*
 * bigblock.c — big blocks: requests of NTH_BIG_THRESHOLD_GR granules or more in a growable heap
 * get a mapping of their own, listed on the heap (Windows' VirtualAllocdBlocks), and grow or
 * shrink with mremap (in place when the next pages are free, else by moving the pages, never by
 * copying).
 *
 * Trust boundary. Everything the engine believes about a big block — owner, mapping, list links,
 * size, flags, user value — lives in its record (nth_big), kept in a record page: a 64 KiB
 * reservation of the engine's own, with an inaccessible guard page at each end, that no user
 * block is adjacent to. The address map sends every chunk of the block's mapping to the record,
 * so a pointer reaches the record without reading the mapping. The mapping itself holds only:
 *
 *   base (64 KiB aligned)     +lead           +lead+112      +lead+128 = data
 *   | lead (alignment > 128) | canary (14 w) | block header | data ...       | to 64 KiB |
 *
 *   canary   word i at address a holds key[0] ^ (a * golden ratio): unforgeable without the key
 *   header   the encoded block header of the record's size and flags (for walkers and readers
 *            that expect one), bound to its address by its check word
 *
 * Those 128 bytes are user-writable (an underrun of the data, an overrun from the mapping in
 * front). They are never followed: free, realloc, validate and walk compare them with what the
 * record says, and a difference is reported once (NTH_ERR_CORRUPT, naming the data address) and
 * repaired from the record. A damaged prefix damages nothing the engine uses; still, as with a
 * back-end block whose header is damaged, the free or realloc that finds it fails (the block
 * stays allocated and sound, so a later call succeeds); a validate that finds it returns false.
 *
 * Invariants: the mapping is committed in full; record.owner.base/reserve are the mapping (a
 * multiple of 64 KiB); the address map sends every chunk of it to &record.owner and nothing else
 * to it; heap->big_list runs in allocation order; a mapping change that cannot be recorded in
 * the address map is undone, so a block is always owned by exactly one record.
 *
 * Freed mappings go to the heap's cache (bigcache.c) and are handed to the next big blocks; the
 * record keeps how much of its mapping may have been written (dirty_pg), so that a zero-filled
 * block clears only that. Record pages count as reserved (64 KiB) and committed (56 KiB) and
 * live until the heap is destroyed.
 *
 * Page-heap blocks (debug/pageheap.c) are records of this file too, made by
 * nth_big_adopt_locked for a mapping the page heap laid out (data next to a guard page): their
 * record says page_heap, they have no in-band prefix, and they leave through
 * nth_big_detach_locked, which hands the mapping back instead of releasing or caching it.
 */
#include "heap/internal.h"
#include "heap/vm.h"

/* ------------------------------------------------------------------------------ records */

static nth_big_page *page_of(const nth_big *big)
{
    return (nth_big_page *)(nth_round_down((uintptr_t)big, NTH_BIG_PAGE_RESERVE) + NTH_PAGE);
}

static nth_big_page *page_new(nth_heap *heap)
{
    char *base = nth_vm_reserve(NTH_BIG_PAGE_RESERVE, NTH_BIG_PAGE_RESERVE);
    if (!base) return NULL;
    if (!nth_vm_commit(base + NTH_PAGE, NTH_BIG_PAGE_COMMIT, false)) {
        nth_vm_release(base, NTH_BIG_PAGE_RESERVE);
        return NULL;
    }
    nth_big_page *page = (nth_big_page *)(base + NTH_PAGE);
    page->magic = NTH_BIG_PAGE_MAGIC;
    page->live = 0;
    page->spare = NULL;
    for (size_t i = NTH_BIG_PAGE_RECORDS; i-- > 0;) {
        page->records[i].next = page->spare;
        page->spare = &page->records[i];
    }
    page->next = heap->big_pages;
    heap->big_pages = page;
    heap->reserved_bytes += NTH_BIG_PAGE_RESERVE;
    heap->committed_bytes += NTH_BIG_PAGE_COMMIT;
    heap->commit_ops++;
    return page;
}

/* A zeroed record, or NULL when no record page can be mapped. */
static nth_big *record_get(nth_heap *heap)
{
    nth_big_page *page = heap->big_pages;
    while (page && !page->spare) page = page->next;
    if (!page && !(page = page_new(heap))) return NULL;
    nth_big *big = page->spare;
    page->spare = big->next;
    page->live++;
    memset(big, 0, sizeof *big);
    return big;
}

static void record_put(nth_big *big)
{
    nth_big_page *page = page_of(big);
    memset(big, 0, sizeof *big);
    big->next = page->spare;
    page->spare = big;
    page->live--;
}

/* ---------------------------------------------------------------- the in-band prefix */

static uint64_t canary_word_key(const uint64_t key[2], uintptr_t where)
{
    return key[0] ^ ((uint64_t)where * 0x9E3779B97F4A7C15ull);
}

static uint64_t canary_word(const nth_heap *heap, const void *where)
{
    return canary_word_key(heap->key, (uintptr_t)where);
}

static nth_block_header record_header(const nth_big *big)
{
    size_t data_gr = nth_round_up(big->size ? big->size : 1, NTH_GRANULE) / NTH_GRANULE;
    return (nth_block_header){.size_gr = (uint32_t)data_gr, .prev_size_gr = 0, .flags = big->flags,
                              .segment_index = 0, .unused = (uint8_t)(data_gr * NTH_GRANULE - big->size)};
}

nth_block_header nth_big_decoded(const nth_big *big)
{
    nth_block_header hdr = record_header(big);
    hdr.check = 0;
    return hdr;
}

/* The prefix is written and read with the uninstrumented copy: ASan builds poison it. */
static void store_prefix(nth_heap *heap, const nth_big *big)
{
    if (big->page_heap) return; /* its guard pages and fill do the checking (debug/pageheap.c) */
    char *prefix = big->data - NTH_BIG_HEADER_BYTES;
    for (size_t i = 0; i < NTH_BIG_CANARY_WORDS; i++) {
        uint64_t w = canary_word(heap, prefix + i * sizeof w);
        nth_raw_copy(prefix + i * sizeof w, &w, sizeof w);
    }
    nth_header_store(heap, nth_big_header(big), record_header(big));
}

bool nth_big_prefix_matches(const uint64_t key[2], const nth_big *big, const unsigned char *prefix,
                            uintptr_t prefix_at)
{
    for (size_t i = 0; i < NTH_BIG_CANARY_WORDS; i++) {
        uint64_t w;
        memcpy(&w, prefix + i * sizeof w, sizeof w);
        if (w != canary_word_key(key, prefix_at + i * sizeof w)) return false;
    }
    size_t header_at = NTH_BIG_HEADER_BYTES - sizeof(nth_block_header);
    nth_block_header got, want = record_header(big);
    if (!nth_header_decode(key, prefix + header_at, (const void *)(prefix_at + header_at), &got)) return false;
    return got.size_gr == want.size_gr && got.prev_size_gr == 0 && got.flags == want.flags &&
           got.segment_index == 0 && got.unused == want.unused;
}

static bool prefix_intact(const nth_heap *heap, const nth_big *big)
{
    if (big->page_heap) return true;
    unsigned char prefix[NTH_BIG_HEADER_BYTES];
    nth_raw_copy(prefix, big->data - NTH_BIG_HEADER_BYTES, sizeof prefix);
    return nth_big_prefix_matches(heap->key, big, prefix, (uintptr_t)(big->data - NTH_BIG_HEADER_BYTES));
}

/* ASan builds with asan_poison: a live big block's data is addressable and the rest of its
 * mapping (lead, prefix, the slack after the request) is poisoned; a mapping kept in the cache
 * is poisoned whole, so a use after free is reported at the access. Page-heap blocks have
 * guard pages instead. */
static void asan_picture(const nth_big *big)
{
#if NTH_ASAN
    if (!nth_process_defaults.asan_poison || big->page_heap) return;
    char *base = big->owner.base, *end = base + big->owner.reserve;
    NTH_ASAN_POISON(base, (size_t)(big->data - base));
    NTH_ASAN_UNPOISON(big->data, big->size);
    NTH_ASAN_POISON(big->data + big->size, (size_t)(end - (big->data + big->size)));
#else
    (void)big;
#endif
}

bool nth_big_check_locked(nth_heap *heap, nth_big *big)
{
    nth_assert_held(heap);
    if (NTH_LIKELY(prefix_intact(heap, big))) return true;
    /* Repair first: the report may not return (termination policy), and a later check must not
     * report the same damage again. */
    store_prefix(heap, big);
    nth_report_problem(heap, NTH_ERR_CORRUPT, big->data, "the 128 bytes in front of a big block intact",
                       "them overwritten (an underrun of the block, or an overrun from the mapping in front)");
    return false;
}

void nth_big_set_flags_locked(nth_heap *heap, nth_big *big, uint16_t flags)
{
    nth_assert_held(heap);
    nth_big_check_locked(heap, big);
    big->flags = (uint16_t)(BLOCK_BUSY | BLOCK_BIG | (flags & BLOCK_USER_FLAGS));
    store_prefix(heap, big);
}

/* ------------------------------------------------------------------------------- list */

/* The list runs in allocation order (appended at the tail), as a walk shows it. */
static void link_big(nth_heap *heap, nth_big *big)
{
    big->next = NULL;
    big->prev = heap->big_tail;
    if (heap->big_tail)
        heap->big_tail->next = big;
    else
        heap->big_list = big;
    heap->big_tail = big;
}

/* Lists a new live big block of `bytes` mapped bytes and counts it (a fresh mapping's bytes
 * as reserved and committed too; a reused one was counted while cached). */
static void link_big_locked(nth_heap *heap, nth_big *big, size_t bytes, bool fresh)
{
    link_big(heap, big);
    heap->big_blocks++;
    heap->big_bytes += bytes;
    if (fresh) {
        heap->reserved_bytes += bytes;
        heap->committed_bytes += bytes;
        heap->commit_ops++;
    }
    heap->busy_blocks++;
    heap->busy_bytes += big->size;
    heap->alloc_calls++;
}

static void unlink_big(nth_heap *heap, nth_big *big)
{
    if (big->prev)
        big->prev->next = big->next;
    else
        heap->big_list = big->next;
    if (big->next)
        big->next->prev = big->prev;
    else
        heap->big_tail = big->prev;
}

/* ------------------------------------------------------------------------------ sizes */

/* Bytes to map for `size` data bytes placed `lead` bytes into the mapping (at least one byte of
 * data, so that the data address lies inside the mapping). */
static size_t mapping_bytes(size_t lead, size_t size)
{
    return nth_round_up(lead + NTH_BIG_HEADER_BYTES + (size ? size : 1), NTH_CHUNK);
}

/* Widens the record's dirty prefix to cover `end` bytes from the mapping's base. */
static void mark_dirty(nth_big *big, size_t end)
{
    uint32_t pg = (uint32_t)(nth_round_up(end, NTH_PAGE) / NTH_PAGE);
    if (pg > big->dirty_pg) big->dirty_pg = pg;
}

/* A fresh committed mapping, aligned to `align`. When the system refuses, the heap's cached
 * mappings are given back and it is asked once more (an address-space limit such as RLIMIT_AS
 * counts what the cache holds). */
static char *map_fresh(nth_heap *heap, size_t bytes, size_t align)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        char *base = nth_vm_reserve(bytes, align);
        if (base && nth_vm_commit(base, bytes, heap->flags & NTH_CREATE_ENABLE_EXECUTE)) return base;
        if (base) nth_vm_release(base, bytes);
        if (heap->big_cache_n == 0) break;
        nth_big_cache_release_locked(heap);
    }
    return NULL;
}

/* ------------------------------------------------------------------- alloc, free, realloc */

void *nth_big_alloc_locked(nth_heap *heap, uint32_t flags, size_t size, size_t alignment)
{
    nth_assert_held(heap);
    if (size > NTH_MAX_REQUEST) return NULL;
    /* The mapping is aligned to max(alignment, 64 KiB); `lead` puts the data on the alignment. */
    size_t lead = (alignment - NTH_BIG_HEADER_BYTES % alignment) % alignment;
    size_t bytes = mapping_bytes(lead, size);
    nth_big *big = record_get(heap);
    if (!big) return NULL;
    nth_big_cache_decay_locked(heap);
    nth_big_cached got = {0};
    bool reused = alignment <= NTH_CHUNK && nth_big_cache_take_locked(heap, bytes, &got);
    if (reused) {
        bytes = got.bytes;
    } else if (!(got.base = map_fresh(heap, bytes, alignment > NTH_CHUNK ? alignment : NTH_CHUNK))) {
        record_put(big);
        return NULL;
    } else {
        got = (nth_big_cached){got.base, bytes, 0, heap->big_region_next++};
    }
    char *base = got.base;
    size_t dirty = got.dirty;
    big->region = got.region;
    big->owner = (nth_owner){NTH_BIG_MAGIC, OWNER_BIG, 0, heap, base, bytes};
    if (!nth_addrmap_set(base, bytes, &big->owner)) {
        if (!reused || !nth_big_cache_put_locked(heap, got)) {
            if (reused) heap->reserved_bytes -= bytes, heap->committed_bytes -= bytes;
            nth_vm_release(base, bytes);
        }
        record_put(big);
        return NULL;
    }
    big->data = base + lead + NTH_BIG_HEADER_BYTES;
    big->size = size;
    big->flags = (uint16_t)(BLOCK_BUSY | BLOCK_BIG | (flags & BLOCK_USER_FLAGS));
    big->user_value = 0;
    asan_picture(big);
    store_prefix(heap, big);
    link_big_locked(heap, big, bytes, !reused);
    nth_big_cache_note_live_locked(heap, bytes);
    /* Fresh pages are zero; a reused mapping may hold old data in its dirty prefix only. */
    size_t data_at = lead + NTH_BIG_HEADER_BYTES;
    if ((flags & NTH_ZERO_MEMORY) && dirty > data_at)
        memset(big->data, 0, dirty - data_at < size ? dirty - data_at : size);
    big->dirty_pg = (uint32_t)(nth_round_up(dirty, NTH_PAGE) / NTH_PAGE);
    mark_dirty(big, data_at + size);
    return big->data;
}

bool nth_big_free_locked(nth_heap *heap, nth_big *big)
{
    nth_assert_held(heap);
    if (!nth_big_check_locked(heap, big)) return false; /* reported and repaired; still allocated */
    char *base = big->owner.base;
    size_t bytes = big->owner.reserve;
    size_t dirty = (size_t)big->dirty_pg * NTH_PAGE;
    uint16_t big_region = big->region;
    nth_big_cache_decay_locked(heap); /* before the bytes leave: an epoch that starts now counts them */
    unlink_big(heap, big);
    nth_addrmap_clear(base, bytes);
    heap->big_blocks--;
    heap->big_bytes -= bytes;
    heap->busy_blocks--;
    heap->busy_bytes -= big->size;
    heap->free_calls++;
    bool page_heap = big->page_heap;
    record_put(big);
    if (nth_big_cache_put_locked(heap, (nth_big_cached){base, bytes, dirty, big_region})) {
        if (NTH_ASAN && nth_process_defaults.asan_poison && !page_heap) NTH_ASAN_POISON(base, bytes);
    } else {
        nth_vm_release(base, bytes);
        heap->reserved_bytes -= bytes;
        heap->committed_bytes -= bytes;
        heap->decommit_ops++;
    }
    return true;
}

nth_big *nth_big_adopt_locked(nth_heap *heap, char *base, size_t bytes, char *data, size_t size, uint32_t flags)
{
    nth_assert_held(heap);
    nth_big *big = record_get(heap);
    if (!big) return NULL;
    big->owner = (nth_owner){NTH_BIG_MAGIC, OWNER_BIG, 0, heap, base, bytes};
    if (!nth_addrmap_set(base, bytes, &big->owner)) {
        record_put(big);
        return NULL;
    }
    big->data = data;
    big->size = size;
    big->flags = (uint16_t)(BLOCK_BUSY | BLOCK_BIG | (flags & BLOCK_USER_FLAGS));
    big->page_heap = (uint16_t)(NTH_PAGE_BLOCK | ((flags & NTH_SETTABLE_USER_VALUE) ? NTH_PAGE_BLOCK_USER_VALUE : 0));
    link_big_locked(heap, big, bytes, true);
    return big;
}

void nth_big_detach_locked(nth_heap *heap, nth_big *big)
{
    nth_assert_held(heap);
    size_t bytes = big->owner.reserve;
    unlink_big(heap, big);
    nth_addrmap_clear(big->owner.base, bytes);
    heap->big_blocks--;
    heap->big_bytes -= bytes;
    heap->reserved_bytes -= bytes;
    heap->committed_bytes -= bytes;
    heap->busy_blocks--;
    heap->busy_bytes -= big->size;
    heap->free_calls++;
    record_put(big);
}

/* Resizes the block's mapping to new_bytes and keeps the address map in step: in place, else
 * (may_move) onto a new reservation that is entered in the map before the pages move; when the
 * kernel cannot move them (a range it keeps as two mappings), onto fresh pages by copying.
 * Returns the mapping's base, or NULL with the old mapping, its map entries and the record
 * untouched. */
static char *resize_mapping(nth_heap *heap, nth_big *big, size_t new_bytes, bool may_move)
{
    char *base = big->owner.base;
    size_t old_bytes = big->owner.reserve;
    if (nth_vm_remap(base, old_bytes, new_bytes, NTH_CHUNK, false)) {
        if (new_bytes < old_bytes) {
            nth_addrmap_clear(base + new_bytes, old_bytes - new_bytes);
        } else if (!nth_addrmap_set(base + old_bytes, new_bytes - old_bytes, &big->owner)) {
            nth_vm_remap(base, new_bytes, old_bytes, NTH_CHUNK, false); /* shrinking in place cannot fail */
            return NULL;
        }
        return base;
    }
    if (!may_move) return NULL;
    char *target = nth_vm_reserve(new_bytes, NTH_CHUNK);
    if (!target) return NULL;
    if (!nth_addrmap_set(target, new_bytes, &big->owner)) {
        nth_vm_release(target, new_bytes);
        return NULL;
    }
    if (!nth_vm_move(base, old_bytes, target, new_bytes)) {
        size_t keep = old_bytes < new_bytes ? old_bytes : new_bytes;
        if (!nth_vm_commit(target, new_bytes, heap->flags & NTH_CREATE_ENABLE_EXECUTE)) {
            nth_addrmap_clear(target, new_bytes);
            nth_vm_release(target, new_bytes);
            return NULL;
        }
        memcpy(target, base, keep);
        nth_vm_release(base, old_bytes);
        big->dirty_pg = (uint32_t)(keep / NTH_PAGE);
    }
    nth_addrmap_clear(base, old_bytes);
    big->region = heap->big_region_next++;
    return target;
}

void *nth_big_realloc_locked(nth_heap *heap, nth_big *big, uint32_t flags, size_t size)
{
    nth_assert_held(heap);
    if (size > NTH_MAX_REQUEST) return NULL;
    nth_big_check_locked(heap, big);
    size_t old_size = big->size;
    char *base = big->owner.base;
    size_t lead = (size_t)(big->data - NTH_BIG_HEADER_BYTES - base);
    size_t old_bytes = big->owner.reserve;
    size_t new_bytes = mapping_bytes(lead, size);
    if (new_bytes != old_bytes) {
        char *new_base = resize_mapping(heap, big, new_bytes, !(flags & NTH_REALLOC_IN_PLACE_ONLY));
        if (!new_base) return NULL;
        big->owner.base = new_base;
        big->owner.reserve = new_bytes;
        big->data = new_base + lead + NTH_BIG_HEADER_BYTES;
        heap->big_bytes += new_bytes - old_bytes;
        heap->reserved_bytes += new_bytes - old_bytes;
        heap->committed_bytes += new_bytes - old_bytes;
        nth_big_cache_note_live_locked(heap, new_bytes > old_bytes ? new_bytes - old_bytes : 0);
        if (new_bytes < old_bytes && (size_t)big->dirty_pg * NTH_PAGE > new_bytes)
            big->dirty_pg = (uint32_t)(new_bytes / NTH_PAGE);
    }
    mark_dirty(big, lead + NTH_BIG_HEADER_BYTES + size);
    big->size = size;
    asan_picture(big);
    /* The header's check covers its address: rewrite the prefix at the (possibly new) place. */
    store_prefix(heap, big);
    /* Bytes past the old size within the old mapping may hold old data; pages beyond are new
     * and zero. */
    if (size > old_size && (flags & NTH_ZERO_MEMORY)) {
        size_t old_end = old_bytes - lead - NTH_BIG_HEADER_BYTES;
        size_t zero_to = size < old_end ? size : old_end;
        if (zero_to > old_size) memset(big->data + old_size, 0, zero_to - old_size);
    }
    heap->busy_bytes += size;
    heap->busy_bytes -= old_size;
    return big->data;
}

/* --------------------------------------------------------------------- checks, teardown */

bool nth_big_validate_pages_locked(nth_heap *heap, size_t *committed)
{
    nth_assert_held(heap);
    *committed += heap->big_cache_bytes; /* freed mappings kept for reuse */
    size_t records = 0;
    for (nth_big_page *page = heap->big_pages; page; page = page->next) {
        if (page->magic != NTH_BIG_PAGE_MAGIC || page->live > NTH_BIG_PAGE_RECORDS) {
            nth_report_problem(heap, NTH_ERR_CORRUPT, page, "a big-block record page", "damaged page fields");
            return false;
        }
        records += page->live;
        *committed += NTH_BIG_PAGE_COMMIT;
    }
    if (records != heap->big_blocks) {
        nth_report_problem(heap, NTH_ERR_CORRUPT, heap, "one record per big block", "a different count");
        return false;
    }
    return true;
}

bool nth_big_validate_record_locked(nth_heap *heap, nth_big *big, const nth_big *prev)
{
    nth_assert_held(heap);
    if (!big || big->owner.magic != NTH_BIG_MAGIC || big->owner.heap != heap || big->prev != prev ||
        page_of(big)->magic != NTH_BIG_PAGE_MAGIC || nth_addrmap_lookup(big->data) != &big->owner ||
        nth_addrmap_lookup(big->owner.base) != &big->owner) {
        nth_report_problem(heap, NTH_ERR_CORRUPT, big, "a big-block record of this heap", "damaged record fields or links");
        return false;
    }
    return nth_big_check_locked(heap, big);
}

void nth_big_release_all(nth_heap *heap)
{
    /* Bounded by the record count, so even a broken list cannot loop. */
    size_t left = heap->big_blocks;
    for (nth_big *big = heap->big_list, *next; big && left > 0; big = next, left--) {
        next = big->next;
        nth_addrmap_clear(big->owner.base, big->owner.reserve);
        nth_vm_release(big->owner.base, big->owner.reserve);
    }
    heap->big_list = NULL;
    heap->big_tail = NULL;
    nth_big_cache_teardown(heap);
    while (heap->big_pages) {
        nth_big_page *page = heap->big_pages;
        heap->big_pages = page->next;
        nth_vm_release((char *)page - NTH_PAGE, NTH_BIG_PAGE_RESERVE);
    }
}
