/*
 * test_map.c — the heap map (src/inspect/map_svg.c) over this process: for a heap holding every
 * kind of entry (back-end busy and free blocks, an LFH subsegment with freed slots, a big block,
 * a second segment, uncommitted ranges), the picture holds exactly one element per walked entry
 * of each class, and its LFH grid one cell per slot; a damaged header is reported in the
 * picture, not a crash; an address that is not a heap is refused with a reason.
 * With NTH_MAP_SVG_OUT set, the picture of the first case is also written there (the
 * well-formedness check, test_map_xml.sh, parses it with xmllint).
 */
#define HARNESS_CORRUPTS_ON_PURPOSE /* damages heap memory to test ntheap's own detection */
#include "harness/harness.h"
#include "heap/layout.h"
#include "inspect/map_svg.h"

typedef struct walk_counts {
    size_t regions, busy, free, internal, uncommitted, lfh, big;
} walk_counts;

static walk_counts count_walk(nth_heap *heap)
{
    walk_counts c = {0};
    nth_walk_entry e = {0};
    nth_heap_lock(heap);
    while (nth_heap_walk(heap, &e)) {
        if (e.flags & NTH_ENTRY_REGION) c.regions++;
        else if (e.flags & NTH_ENTRY_UNCOMMITTED) c.uncommitted++;
        else if (e.flags & NTH_ENTRY_BIG) c.big++;
        else if (e.flags & NTH_ENTRY_LFH) c.lfh++;
        else if (!(e.flags & NTH_ENTRY_BUSY)) c.free++;
        else if (e.flags & NTH_ENTRY_INTERNAL) c.internal++;
        else c.busy++;
    }
    nth_heap_unlock(heap);
    return c;
}

/* Occurrences of class="NAME" in `text`. */
static size_t count_class(const char *text, const char *name)
{
    char needle[64];
    snprintf(needle, sizeof needle, "class=\"%s\"", name);
    size_t n = 0;
    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle)) n++;
    return n;
}

/* Renders `heap` into a string (caller frees). */
static char *render(nth_heap *heap, nth_map_counts *counts)
{
    char *text = NULL;
    size_t length = 0;
    FILE *out = open_memstream(&text, &length);
    if (!out) return NULL;
    char error[200] = "";
    nth_heap_lock(heap);
    bool ok = nth_map_svg(out, &nth_mem_self, (uintptr_t)heap, "test <heap> & map", "2026-01-01 00:00:00 UTC",
                          counts, error, sizeof error);
    nth_heap_unlock(heap);
    fclose(out);
    if (!ok) {
        fprintf(stderr, "nth_map_svg: %s\n", error);
        free(text);
        return NULL;
    }
    return text;
}

TEST(every_entry_is_one_element_of_its_class)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    REQUIRE(heap);
    void *blocks[64];
    for (int i = 0; i < 64; i++) blocks[i] = nth_heap_alloc(heap, 0, 0x100); /* back-end, then LFH */
    for (int i = 0; i < 8; i++) REQUIRE(nth_heap_alloc(heap, 0, 0x3000 + 0x100 * (size_t)i));
    REQUIRE(nth_heap_free(heap, 0, blocks[3]));   /* back-end gaps */
    REQUIRE(nth_heap_free(heap, 0, blocks[9]));
    REQUIRE(nth_heap_free(heap, 0, blocks[30]));  /* LFH slots freed */
    REQUIRE(nth_heap_free(heap, 0, blocks[31]));
    REQUIRE(nth_heap_alloc(heap, 0, 2u << 20));   /* a big block */
    REQUIRE(nth_heap_alloc(heap, 0, 900u << 10)); /* does not fit segment 0: a second segment */

    walk_counts w = count_walk(heap);
    CHECK(w.lfh > 0 && w.big == 1 && w.regions >= 2 && w.free >= 2 && w.uncommitted >= 1);
    nth_map_counts c;
    char *svg = render(heap, &c);
    REQUIRE(svg);
    CHECK_EQ(c.segments, w.regions);
    CHECK_EQ(c.busy, w.busy);
    CHECK_EQ(c.free, w.free);
    CHECK_EQ(c.internal, w.internal);
    CHECK_EQ(c.uncommitted, w.uncommitted);
    CHECK_EQ(c.lfh_busy, w.lfh);
    CHECK_EQ(c.big, w.big);
    CHECK_EQ(c.problems, 0);
    CHECK_EQ(count_class(svg, "segment"), w.regions);
    CHECK_EQ(count_class(svg, "header"), w.regions);
    CHECK_EQ(count_class(svg, "busy"), w.busy);
    CHECK_EQ(count_class(svg, "free"), w.free);
    CHECK_EQ(count_class(svg, "internal"), w.internal);
    CHECK_EQ(count_class(svg, "uncommitted"), w.uncommitted);
    CHECK_EQ(count_class(svg, "lfh-busy"), w.lfh);
    CHECK_EQ(count_class(svg, "big"), w.big);
    CHECK_EQ(count_class(svg, "damaged"), 0);
    /* The grid: one cell per slot of each subsegment; the two freed slots are lfh-free. */
    CHECK(c.lfh_subsegments >= 1);
    CHECK_EQ(count_class(svg, "lfh-free"), c.lfh_free);
    CHECK_EQ(count_class(svg, "lfh-untouched"), c.lfh_untouched);
    CHECK(c.lfh_free >= 2);
    /* Text is escaped; the heap address and the time are in the picture. */
    CHECK(strstr(svg, "test &lt;heap&gt; &amp; map") != NULL);
    CHECK(strstr(svg, "2026-01-01 00:00:00 UTC") != NULL);
    char address[40];
    snprintf(address, sizeof address, "Heap 0x%" PRIxPTR, (uintptr_t)heap);
    CHECK(strstr(svg, address) != NULL);
    CHECK(strncmp(svg, "<?xml", 5) == 0);
    CHECK(strstr(svg, "</svg>\n") != NULL);
    const char *path = getenv("NTH_MAP_SVG_OUT");
    if (path) {
        FILE *f = fopen(path, "w");
        CHECK(f && fputs(svg, f) >= 0);
        if (f) fclose(f);
    }
    free(svg);
    nth_heap_destroy(heap);
}

TEST(a_freed_block_changes_one_element)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    REQUIRE(heap);
    void *a = nth_heap_alloc(heap, 0, 0x2000), *b = nth_heap_alloc(heap, 0, 0x2000);
    REQUIRE(a && b && nth_heap_alloc(heap, 0, 0x2000));
    nth_map_counts before, after;
    char *svg = render(heap, &before);
    REQUIRE(svg);
    free(svg);
    REQUIRE(nth_heap_free(heap, 0, b));
    svg = render(heap, &after);
    REQUIRE(svg);
    CHECK_EQ(after.busy + 1, before.busy);
    CHECK_EQ(count_class(svg, "busy"), after.busy);
    CHECK_EQ(count_class(svg, "free"), after.free);
    free(svg);
    nth_heap_destroy(heap);
}

/* A read seam over this process that overlays one header with garbage. */
typedef struct smashed {
    uintptr_t address;
} smashed;

static bool read_smashed(const nth_mem *mem, uintptr_t address, void *buffer, size_t length)
{
    const smashed *s = mem->context;
    memcpy(buffer, (const void *)address, length);
    for (size_t k = 0; k < sizeof(nth_block_header); k++)
        if (s->address + k >= address && s->address + k < address + length)
            ((unsigned char *)buffer)[s->address + k - address] = 0x5A;
    return true;
}

TEST(a_damaged_header_is_drawn_as_a_problem)
{
    nth_heap *heap = nth_heap_create(NTH_NO_SERIALIZE, 0, 0);
    REQUIRE(heap);
    void *p[6];
    for (int i = 0; i < 6; i++) REQUIRE((p[i] = nth_heap_alloc(heap, 0, 0x2000)));
    smashed s = {(uintptr_t)p[2] - sizeof(nth_block_header)};
    nth_mem mem = {read_smashed, NULL, &s};
    char *text = NULL;
    size_t length = 0;
    FILE *out = open_memstream(&text, &length);
    REQUIRE(out);
    char error[200];
    nth_map_counts c;
    bool ok = nth_map_svg(out, &mem, (uintptr_t)heap, NULL, NULL, &c, error, sizeof error);
    fclose(out);
    CHECK(ok);
    CHECK(c.problems >= 1);
    CHECK(text && strstr(text, "class=\"problem\"") != NULL);
    CHECK(text && strstr(text, "</svg>") != NULL);
    free(text);
    nth_heap_destroy(heap);
}

TEST(not_a_heap_is_refused)
{
    static uint64_t junk[512];
    char error[200] = "";
    FILE *out = fopen("/dev/null", "w");
    REQUIRE(out);
    CHECK(!nth_map_svg(out, &nth_mem_self, (uintptr_t)junk, NULL, NULL, NULL, error, sizeof error));
    fclose(out);
    CHECK(strstr(error, "not a heap") != NULL);
}

int main(int argc, char **argv)
{
    (void)argc;
    RUN(every_entry_is_one_element_of_its_class);
    RUN(a_freed_block_changes_one_element);
    RUN(a_damaged_header_is_drawn_as_a_problem);
    RUN(not_a_heap_is_refused);
    return harness_finish(argv[0]);
}
