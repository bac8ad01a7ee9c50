/*
 * test_iter.c — unit tier for the one traversal (src/heap/iter.c): over this process it yields
 * exactly the walk's entries; over a patched image (the live heap seen through a read seam that
 * overlays chosen bytes, or refuses chosen ranges) it survives cycles, wild links, damaged
 * headers and unreadable memory: it always ends, records a problem at the damaged address, and
 * still lists what lies outside the damage.
 */
#define HARNESS_CORRUPTS_ON_PURPOSE /* damages heap memory to test ntheap's own detection */
#include "harness/harness.h"
#include "heap/iter.h"

enum { MAX_ENTRIES = 20000, MAX_PATCHES = 4 };

typedef struct patch {
    uintptr_t address;
    size_t length;
    unsigned char bytes[16]; /* overlay; with `refuse`, the range cannot be read */
    bool refuse;
} patch;

typedef struct patched_image {
    patch patches[MAX_PATCHES];
    int n;
    size_t reads;
} patched_image;

static bool read_patched(const nth_mem *mem, uintptr_t address, void *buffer, size_t length)
{
    patched_image *image = mem->context;
    image->reads++;
    for (int i = 0; i < image->n; i++) {
        const patch *p = &image->patches[i];
        if (p->refuse && address < p->address + p->length && p->address < address + length) return false;
    }
    memcpy(buffer, (const void *)address, length);
    for (int i = 0; i < image->n; i++) {
        const patch *p = &image->patches[i];
        for (size_t k = 0; k < p->length && !p->refuse; k++)
            if (p->address + k >= address && p->address + k < address + length)
                ((unsigned char *)buffer)[p->address + k - address] = p->bytes[k];
    }
    return true;
}

static void add_patch(patched_image *image, const void *address, const void *bytes, size_t length)
{
    patch *p = &image->patches[image->n++];
    p->address = (uintptr_t)address;
    p->length = length;
    memcpy(p->bytes, bytes, length);
    p->refuse = false;
}

static void add_refusal(patched_image *image, const void *address, size_t length)
{
    patch *p = &image->patches[image->n++];
    p->address = (uintptr_t)address;
    p->length = length;
    p->refuse = true;
}

static nth_walk_entry walked[MAX_ENTRIES], iterated[MAX_ENTRIES];

static size_t walk_all(nth_heap *heap)
{
    size_t n = 0;
    nth_walk_entry e = {0};
    while (n < MAX_ENTRIES && nth_heap_walk(heap, &e)) walked[n++] = e;
    return n;
}

static size_t iterate(const nth_mem *mem, nth_heap *heap, nth_iter *it)
{
    size_t n = 0;
    nth_walk_entry e;
    if (!nth_iter_open(it, mem, (uintptr_t)heap)) return 0;
    while (nth_iter_next(it, &e)) {
        if (n == MAX_ENTRIES) { /* a loop would run past this */
            CHECK(n < MAX_ENTRIES);
            break;
        }
        iterated[n++] = e;
    }
    return n;
}

/* A heap with two segments, uncommitted ranges, free gaps, LFH blocks and big blocks. */
static nth_heap *known_heap(void **keep)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    for (int i = 0; i < 60; i++) keep[i] = nth_heap_alloc(heap, 0, 48);                      /* LFH */
    for (int i = 60; i < 160; i++) keep[i] = nth_heap_alloc(heap, 0, 20000 + (size_t)i * 16); /* 2 segments */
    for (int i = 60; i < 160; i += 3) nth_heap_free(heap, 0, keep[i]), keep[i] = NULL;       /* gaps */
    for (int i = 160; i < 163; i++) keep[i] = nth_heap_alloc(heap, 0, (size_t)3 << 20);       /* big */
    return heap;
}

TEST(same_entries_as_the_walk)
{
    void *keep[163];
    nth_heap *heap = known_heap(keep);
    nth_heap_lock(heap);
    size_t n_walk = walk_all(heap);
    nth_iter it;
    size_t n_iter = iterate(&nth_mem_self, heap, &it);
    nth_heap_unlock(heap);
    CHECK_EQ(it.problems, 0);
    CHECK_EQ(n_iter, n_walk);
    size_t regions = 0, lfh = 0, big = 0, ucr = 0;
    for (size_t i = 0; i < n_walk && i < n_iter; i++) {
        CHECK(iterated[i].data == walked[i].data);
        CHECK_EQ(iterated[i].flags & ~NTH_ENTRY_USER_VALUE, walked[i].flags & ~NTH_ENTRY_USER_VALUE);
        if (!(walked[i].flags & NTH_ENTRY_REGION) && !(walked[i].flags & NTH_ENTRY_BUSY)) continue;
        CHECK_EQ(iterated[i].size, walked[i].size);
        regions += !!(walked[i].flags & NTH_ENTRY_REGION);
        lfh += !!(walked[i].flags & NTH_ENTRY_LFH);
        big += !!(walked[i].flags & NTH_ENTRY_BIG);
    }
    for (size_t i = 0; i < n_iter; i++) ucr += !!(iterated[i].flags & NTH_ENTRY_UNCOMMITTED);
    CHECK(regions >= 2);
    CHECK(ucr >= 1);
    CHECK_EQ(lfh, 60 - 18);
    CHECK_EQ(big, 3);
    nth_heap_destroy(heap);
}

/* Runs the traversal over the heap seen through `image`; checks it ends with a problem at
 * `damaged` and still lists the big blocks (outside the damage) when `bigs_survive`. */
static void survives(nth_heap *heap, patched_image *image, const void *damaged, bool bigs_survive)
{
    nth_mem mem = {read_patched, NULL, image};
    nth_iter it;
    size_t n = iterate(&mem, heap, &it);
    CHECK(it.problems >= 1);
    CHECK(it.problem.address == (uintptr_t)damaged);
    size_t big = 0;
    for (size_t i = 0; i < n; i++) big += !!(iterated[i].flags & NTH_ENTRY_BIG);
    if (bigs_survive) CHECK_EQ(big, 3);
    CHECK(image->reads < 100000); /* bounded work */
}

TEST(a_cycle_in_the_segment_list)
{
    void *keep[163];
    nth_heap *heap = known_heap(keep);
    nth_heap *copy = heap;
    /* Segment 0 (inside the heap object) names itself as its successor. */
    nth_iter probe;
    REQUIRE(nth_iter_open(&probe, &nth_mem_self, (uintptr_t)heap));
    const nth_segment *first = probe.heap.first_segment;
    patched_image image = {0};
    add_patch(&image, &first->next, &first, sizeof first);
    nth_mem mem = {read_patched, NULL, &image};
    nth_iter it;
    size_t n = iterate(&mem, copy, &it);
    CHECK(it.problems >= 1);
    CHECK(n < MAX_ENTRIES);
    nth_heap_destroy(heap);
}

TEST(a_cycle_in_the_big_block_list)
{
    void *keep[163];
    nth_heap *heap = known_heap(keep);
    nth_iter probe;
    REQUIRE(nth_iter_open(&probe, &nth_mem_self, (uintptr_t)heap));
    const nth_big *first = probe.heap.big_list;
    patched_image image = {0};
    add_patch(&image, &first->next, &first, sizeof first); /* the first record names itself */
    nth_mem mem = {read_patched, NULL, &image};
    nth_iter it;
    size_t n = iterate(&mem, heap, &it);
    size_t big = 0;
    for (size_t i = 0; i < n; i++) big += !!(iterated[i].flags & NTH_ENTRY_BIG);
    CHECK_EQ(big, 1); /* the list ends where it loops back (and never goes past big_blocks) */
    CHECK(it.problems >= 1);
    nth_heap_destroy(heap);
}

/* A cyclic list whose heap also claims a huge count: the count bounds nothing, the walk must
 * still end after visiting each node once (a hostile core can say anything). */
TEST(a_cycle_with_a_huge_count_ends)
{
    void *keep[163];
    nth_heap *heap = known_heap(keep);
    nth_iter probe;
    REQUIRE(nth_iter_open(&probe, &nth_mem_self, (uintptr_t)heap));
    const nth_segment *first = probe.heap.first_segment;
    const nth_big *big_first = probe.heap.big_list;
    uint32_t segments = UINT32_MAX;
    size_t bigs = SIZE_MAX;
    patched_image image = {0};
    add_patch(&image, &first->next, &first, sizeof first);
    add_patch(&image, &big_first->next, &big_first, sizeof big_first);
    add_patch(&image, (const char *)heap + offsetof(nth_heap, n_segments), &segments, sizeof segments);
    add_patch(&image, (const char *)heap + offsetof(nth_heap, big_blocks), &bigs, sizeof bigs);
    nth_mem mem = {read_patched, NULL, &image};
    nth_iter it;
    size_t n = iterate(&mem, heap, &it);
    size_t regions = 0, big = 0;
    for (size_t i = 0; i < n; i++) {
        regions += !!(iterated[i].flags & NTH_ENTRY_REGION);
        big += !!(iterated[i].flags & NTH_ENTRY_BIG);
    }
    CHECK(regions >= 1 && regions <= 3);
    CHECK(big >= 1 && big <= 3);
    CHECK(it.problems >= 2);
    CHECK(image.reads < 100000);
    nth_heap_destroy(heap);
}

TEST(a_wild_segment_link)
{
    void *keep[163];
    nth_heap *heap = known_heap(keep);
    nth_iter probe;
    REQUIRE(nth_iter_open(&probe, &nth_mem_self, (uintptr_t)heap));
    const nth_segment *first = probe.heap.first_segment;
    static char not_a_segment[4096];
    const void *wild = not_a_segment;
    patched_image image = {0};
    add_patch(&image, &first->next, &wild, sizeof wild);
    survives(heap, &image, not_a_segment, true);
    nth_heap_destroy(heap);
}

TEST(a_damaged_header_and_an_unreadable_range)
{
    void *keep[163];
    nth_heap *heap = known_heap(keep);
    char *victim = (char *)keep[61] - 16; /* a back-end block's header */
    static const unsigned char junk[16] = "not a header....";
    patched_image image = {0};
    add_patch(&image, victim, junk, sizeof junk);
    survives(heap, &image, victim, true);
    patched_image refused = {0};
    add_refusal(&refused, victim, 16);
    survives(heap, &refused, victim, true);
    nth_heap_destroy(heap);
}

/* Entries of the sound walk (walked[0..n_walk)) missing from the patched traversal's. */
static size_t missing_entries(size_t n_walk, size_t n_iter)
{
    size_t missing = 0;
    for (size_t i = 0; i < n_walk; i++) {
        bool found = false;
        for (size_t k = 0; k < n_iter && !found; k++) found = iterated[k].data == walked[i].data;
        missing += !found;
    }
    return missing;
}

/* One damaged header, or two in a row, cost those blocks only: the traversal finds the block
 * after them and every other entry of the walk. */
TEST(damaged_headers_cost_their_own_blocks_only)
{
    void *keep[163];
    nth_heap *heap = known_heap(keep);
    nth_heap_lock(heap);
    size_t n_walk = walk_all(heap);
    nth_heap_unlock(heap);
    char *victim = (char *)keep[61] - 16, *second = NULL;
    for (size_t i = 0; i + 1 < n_walk; i++)
        if (walked[i].u.block.header == victim) second = walked[i + 1].u.block.header; /* its neighbour */
    REQUIRE(second != NULL && !(walked[0].flags & NTH_ENTRY_BIG));
    static const unsigned char junk[16] = "not a header....";
    patched_image one = {0};
    add_patch(&one, victim, junk, sizeof junk);
    nth_mem mem = {read_patched, NULL, &one};
    nth_iter it;
    size_t n = iterate(&mem, heap, &it);
    CHECK(it.problems >= 1 && it.problem.address == (uintptr_t)victim);
    CHECK_EQ(missing_entries(n_walk, n), 1);
    patched_image two = {0};
    add_patch(&two, victim, junk, sizeof junk);
    add_patch(&two, second, junk, sizeof junk);
    mem.context = &two;
    n = iterate(&mem, heap, &it);
    CHECK_EQ(missing_entries(n_walk, n), 2);
    CHECK(two.reads < 100000);
    nth_heap_destroy(heap);
}

/* Read from outside, a big block whose in-band prefix was overwritten is a problem at its data
 * address (this process's walk checks it and repairs it from the record). */
TEST(a_damaged_big_block_prefix_seen_from_outside)
{
    void *keep[163];
    nth_heap *heap = known_heap(keep);
    char *big = keep[161];
    static const unsigned char junk[16] = "an underrun.....";
    patched_image image = {0};
    add_patch(&image, big - 16, junk, sizeof junk);
    survives(heap, &image, big, true);
    nth_heap_destroy(heap);
}

/* The heap object's own header block (segment 0's header block) damaged: reported at the heap. */
TEST(a_damaged_heap_header_block_seen_from_outside)
{
    void *keep[163];
    nth_heap *heap = known_heap(keep);
    static const unsigned char junk[16] = "not a header....";
    patched_image image = {0};
    add_patch(&image, heap, junk, sizeof junk);
    survives(heap, &image, heap, true);
    nth_heap_destroy(heap);
}

/* A segment descriptor whose committed count disagrees with its ranges: reported at the
 * descriptor once the segment has been listed (outside readers; validate checks it inside). */
TEST(a_wrong_committed_count_seen_from_outside)
{
    void *keep[163];
    nth_heap *heap = known_heap(keep);
    size_t zero = 0;
    patched_image image = {0};
    add_patch(&image, &heap->segment0.committed, &zero, sizeof zero);
    survives(heap, &image, &heap->segment0, true);
    nth_heap_destroy(heap);
}

/* An LFH descriptor whose bitmap pointer is off its fixed place: the subsegment is not trusted
 * (its slots would be read from the wrong words), and that is reported at its user area. */
TEST(an_lfh_descriptor_with_a_moved_bitmap_pointer)
{
    void *keep[163];
    nth_heap *heap = known_heap(keep);
    nth_lfh_subsegment *sub = (nth_lfh_subsegment *)nth_addrmap_lookup(keep[59]);
    REQUIRE(sub != NULL && sub->owner.kind == OWNER_LFH);
    uintptr_t moved = (uintptr_t)sub->busy_bits - 0x81;
    patched_image image = {0};
    add_patch(&image, &sub->busy_bits, &moved, sizeof moved);
    survives(heap, &image, sub->owner.base, true);
    nth_heap_destroy(heap);
}

TEST(a_truncated_segment_list)
{
    void *keep[163];
    nth_heap *heap = known_heap(keep);
    nth_iter probe;
    REQUIRE(nth_iter_open(&probe, &nth_mem_self, (uintptr_t)heap));
    REQUIRE(probe.heap.n_segments >= 2);
    const nth_segment *first = probe.heap.first_segment;
    const void *none = NULL;
    patched_image image = {0};
    add_patch(&image, &first->next, &none, sizeof none); /* the list ends after segment 0 */
    survives(heap, &image, heap, true);
    nth_heap_destroy(heap);
}

TEST(clients_leave_out_slots_and_big_blocks)
{
    void *keep[163];
    nth_heap *heap = known_heap(keep);
    nth_iter it;
    size_t all = iterate(&nth_mem_self, heap, &it);
    REQUIRE(nth_iter_open(&it, &nth_mem_self, (uintptr_t)heap));
    it.options = NTH_ITER_NO_LFH_SLOTS | NTH_ITER_NO_BIG;
    size_t n = 0, subsegments = 0;
    nth_walk_entry e;
    while (n < MAX_ENTRIES && nth_iter_next(&it, &e)) {
        n++;
        CHECK(!(e.flags & NTH_ENTRY_BIG));
        CHECK(!(e.flags & NTH_ENTRY_LFH)); /* a subsegment's block, not its slots */
        subsegments += (e.flags & NTH_ENTRY_INTERNAL) && (it.hdr.flags & BLOCK_LFH);
    }
    CHECK_EQ(it.problems, 0);
    CHECK(subsegments >= 1);
    CHECK_EQ(n, all - (60 - 18) - 3); /* 42 LFH blocks and 3 big blocks fewer */
    nth_heap_destroy(heap);
}

TEST(continuing_inside_an_uncommitted_range)
{
    void *keep[163];
    nth_heap *heap = known_heap(keep);
    nth_heap_lock(heap);
    nth_iter it;
    REQUIRE(nth_iter_open(&it, &nth_mem_self, (uintptr_t)heap));
    nth_walk_entry e;
    bool found = false;
    while (nth_iter_next(&it, &e))
        if (e.flags & NTH_ENTRY_UNCOMMITTED) {
            found = true;
            break;
        }
    REQUIRE(found);
    REQUIRE(e.size >= 2 * NTH_PAGE);
    uintptr_t range_end = (uintptr_t)e.data + e.size;
    /* As after a decommit that merged ranges over the position the client was at. */
    nth_iter_continue_at(&it, (uintptr_t)e.data + NTH_PAGE);
    nth_walk_entry after;
    bool more = nth_iter_next(&it, &after);
    nth_heap_unlock(heap);
    CHECK_EQ(it.problems, 0);
    CHECK(more);
    if (range_end < (uintptr_t)it.segment.limit)
        CHECK((uintptr_t)after.u.block.header == range_end); /* the block after the range */
    else
        CHECK(after.flags & (NTH_ENTRY_REGION | NTH_ENTRY_BIG)); /* it ended the segment: what follows */
    nth_heap_destroy(heap);
}

TEST(not_a_heap)
{
    static char junk[sizeof(nth_heap)];
    nth_iter it;
    CHECK(!nth_iter_open(&it, &nth_mem_self, (uintptr_t)junk));
    CHECK_EQ(it.problems, 1);
    nth_walk_entry e;
    CHECK(!nth_iter_next(&it, &e));
}

int main(int argc, char **argv)
{
    (void)argc;
    RUN(same_entries_as_the_walk);
    RUN(a_cycle_in_the_segment_list);
    RUN(a_cycle_in_the_big_block_list);
    RUN(a_cycle_with_a_huge_count_ends);
    RUN(a_wild_segment_link);
    RUN(a_damaged_header_and_an_unreadable_range);
    RUN(damaged_headers_cost_their_own_blocks_only);
    RUN(a_damaged_big_block_prefix_seen_from_outside);
    RUN(a_damaged_heap_header_block_seen_from_outside);
    RUN(a_wrong_committed_count_seen_from_outside);
    RUN(an_lfh_descriptor_with_a_moved_bitmap_pointer);
    RUN(a_truncated_segment_list);
    RUN(clients_leave_out_slots_and_big_blocks);
    RUN(continuing_inside_an_uncommitted_range);
    RUN(not_a_heap);
    return harness_finish(argv[0]);
}
