/*
 * test_tags.c — heap tags: exact per-tag counters after a scripted sequence, realloc moving bytes
 * between sizes (and tags), a tagged heap running without the LFH, the table going away with its
 * heap, argument errors, the poolmon-style print, and the Win32 names (HeapCreateTagsW,
 * HEAP_MAKE_TAG_FLAGS, HeapQueryTagW).
 *
 * With --module-child the program instead allocates from two objects (itself: 10 malloc(1000),
 * 3 of them freed; libc: 5 strdup) and exits: tests/debug/tags_module.sh runs it that way under
 * the malloc replacement with NTHEAP_OPTIONS=tags=module,tag_report=1 and reads the report.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <wchar.h>

#include "harness/harness.h"
#include <ntheap.h>
#include <ntheap/win32.h>

static void quiet(const nth_report *report, void *context)
{
    (void)report;
    (void)context;
}

static nth_tag_stats row(nth_heap *heap, uint32_t index)
{
    nth_tag_stats s;
    memset(&s, 0, sizeof s);
    CHECK(nth_heap_query_tag(heap, index, false, &s));
    return s;
}

#define CHECK_ROW(heap, index, a, f, b, p)                                                         \
    do {                                                                                           \
        nth_tag_stats s_ = row(heap, index);                                                       \
        CHECK_EQ(s_.allocs, a);                                                                    \
        CHECK_EQ(s_.frees, f);                                                                     \
        CHECK_EQ(s_.bytes, b);                                                                     \
        CHECK_EQ(s_.peak_bytes, p);                                                                \
    } while (0)

TEST(counters_are_exact_after_a_scripted_sequence)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    REQUIRE(heap);
    uint32_t a = nth_heap_create_tag(heap, "A"), b = nth_heap_create_tag(heap, "B");
    CHECK_EQ(a, 1);
    CHECK_EQ(b, 2);
    void *pa[10], *pb[5], *pu[3];
    for (int i = 0; i < 10; i++) pa[i] = nth_heap_alloc(heap, NTH_MAKE_TAG_FLAGS(0, a), 100);
    for (int i = 0; i < 5; i++) pb[i] = nth_heap_alloc(heap, NTH_MAKE_TAG_FLAGS(NTH_ZERO_MEMORY, b), 1000);
    for (int i = 0; i < 3; i++) pu[i] = nth_heap_alloc(heap, 0, 50);
    void *big = nth_heap_alloc(heap, NTH_MAKE_TAG_FLAGS(0, b), 2u << 20); /* a big block, mapped alone */
    void *aligned = nth_heap_alloc_aligned(heap, NTH_MAKE_TAG_FLAGS(0, a), 256, 300);
    REQUIRE(pa[9] && pb[4] && pu[2] && big && aligned);
    CHECK_EQ(((unsigned char *)pb[3])[999], 0); /* the tag bits leave the other flags alone */
    for (int i = 0; i < 4; i++) CHECK(nth_heap_free(heap, 0, pa[i]));
    for (int i = 0; i < 2; i++) CHECK(nth_heap_free(heap, 0, pb[i]));
    CHECK(nth_heap_free(heap, 0, pu[0]));
    CHECK(nth_heap_free(heap, 0, big));

    CHECK_ROW(heap, a, 11, 4, 6 * 100 + 300, 10 * 100 + 300);
    CHECK_ROW(heap, b, 6, 3, 3 * 1000, 5 * 1000 + (2u << 20));
    CHECK_ROW(heap, 0, 3, 1, 2 * 50, 3 * 50);
    nth_tag_stats rows[8];
    CHECK_EQ(nth_heap_tag_stats(heap, rows, 8), 3);
    CHECK_EQ(nth_heap_tag_stats(heap, NULL, 8), 3); /* no buffer: the count alone */
    nth_set_last_error(NTH_OK);
    CHECK(!nth_heap_print_tags(heap, NULL, NTH_TAG_SORT_BYTES));
    CHECK_EQ(nth_last_error(), NTH_ERR_INVALID_PARAMETER);
    CHECK_STR(rows[0].name, "(untagged)");
    CHECK_STR(rows[1].name, "A");
    CHECK_STR(rows[2].name, "B");
    CHECK_EQ(rows[2].index, 2);

    /* A bad free changes no counter. */
    nth_set_report_handler(quiet, NULL);
    CHECK(!nth_heap_free(heap, 0, (char *)pa[5] + 16));
    CHECK(!nth_heap_free(heap, 0, pa[0]));
    nth_set_report_handler(NULL, NULL);
    CHECK_ROW(heap, a, 11, 4, 6 * 100 + 300, 10 * 100 + 300);

    /* Reset: counts restart, bytes stay, peak comes down to bytes. */
    nth_tag_stats before;
    CHECK(nth_heap_query_tag(heap, a, true, &before));
    CHECK_EQ(before.allocs, 11);
    CHECK_ROW(heap, a, 0, 0, 6 * 100 + 300, 6 * 100 + 300);
    CHECK(nth_heap_validate(heap, 0, NULL));
    CHECK(nth_heap_destroy(heap));
}

TEST(realloc_moves_bytes_between_sizes_under_the_same_tag)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    REQUIRE(heap);
    uint32_t t = nth_heap_create_tag(heap, "grow"), u = nth_heap_create_tag(heap, "other");
    void *p = nth_heap_alloc(heap, NTH_MAKE_TAG_FLAGS(0, t), 100);
    void *wall = nth_heap_alloc(heap, 0, 16); /* keeps the block from growing in place */
    REQUIRE(p && wall);
    memset(p, 0x5A, 100);
    void *q = nth_heap_realloc(heap, 0, p, 5000);
    REQUIRE(q);
    CHECK(q != p);
    CHECK_EQ(((unsigned char *)q)[99], 0x5A);
    CHECK_ROW(heap, t, 1, 0, 5000, 5000);
    q = nth_heap_realloc(heap, 0, q, 10); /* shrinks in place */
    REQUIRE(q);
    CHECK_ROW(heap, t, 1, 0, 10, 5000);
    q = nth_heap_realloc(heap, 0, q, 3u << 20); /* becomes a big block */
    REQUIRE(q);
    CHECK_ROW(heap, t, 1, 0, 3u << 20, 3u << 20);
    q = nth_heap_realloc(heap, 0, q, 200); /* and back */
    REQUIRE(q);
    CHECK_ROW(heap, t, 1, 0, 200, 3u << 20);
    /* Tag flags on a realloc move the block to that tag. */
    q = nth_heap_realloc(heap, NTH_MAKE_TAG_FLAGS(0, u), q, 300);
    REQUIRE(q);
    CHECK_ROW(heap, t, 1, 1, 0, 3u << 20);
    CHECK_ROW(heap, u, 1, 0, 300, 300);
    CHECK(nth_heap_free(heap, 0, q));
    CHECK_ROW(heap, u, 1, 1, 0, 300);
    CHECK(nth_heap_free(heap, 0, wall));
    CHECK_ROW(heap, 0, 1, 1, 0, 16);
    CHECK(nth_heap_destroy(heap));
}

TEST(a_tagged_heap_runs_without_the_lfh)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    REQUIRE(heap);
    uint32_t t = nth_heap_create_tag(heap, "small");
    enum { N = 3000 };
    static void *p[N];
    for (int i = 0; i < N; i++) p[i] = nth_heap_alloc(heap, NTH_MAKE_TAG_FLAGS(0, t), 32);
    nth_heap_stats stats;
    REQUIRE(nth_heap_query_stats(heap, &stats));
    CHECK_EQ(stats.lfh_blocks, 0);
    size_t value = 1;
    CHECK(nth_heap_get_option(heap, NTH_OPTION_LFH, &value));
    CHECK_EQ(value, 0);
    for (int i = 0; i < N; i++) CHECK(nth_heap_free(heap, 0, p[i]));
    CHECK_ROW(heap, t, N, N, 0, (size_t)N * 32);
    CHECK(nth_heap_destroy(heap));
}

TEST(the_table_goes_away_with_its_heap)
{
    for (int round = 0; round < 3; round++) {
        nth_heap *heap = nth_heap_create(0, 0, 0);
        REQUIRE(heap);
        nth_tag_stats rows[4];
        CHECK_EQ(nth_heap_tag_stats(heap, rows, 4), 0); /* never the table of a dead heap */
        CHECK_EQ(nth_heap_create_tag(heap, "x"), 1);
        CHECK(nth_heap_alloc(heap, NTH_MAKE_TAG_FLAGS(0, 1), 64) != NULL);
        CHECK(nth_heap_destroy(heap));
    }
}

TEST(argument_errors)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    REQUIRE(heap);
    CHECK_EQ(nth_heap_create_tag(heap, NULL), 0);
    CHECK_EQ(nth_last_error(), NTH_ERR_INVALID_PARAMETER);
    CHECK_EQ(nth_heap_create_tag(heap, ""), 0);
    CHECK_EQ(nth_heap_create_tag((nth_heap *)&heap, "x"), 0);
    CHECK_EQ(nth_last_error(), NTH_ERR_INVALID_HANDLE);
    CHECK(!nth_heap_query_tag(heap, 0, false, NULL)); /* no tags yet */
    CHECK(!nth_heap_print_tags(heap, stderr, NTH_TAG_SORT_BYTES));
    for (uint32_t i = 1; i <= NTH_MAX_TAG; i++)
        if (nth_heap_create_tag(heap, "many") != i) {
            CHECK(!"every index up to NTH_MAX_TAG is handed out");
            break;
        }
    CHECK_EQ(nth_heap_create_tag(heap, "one too many"), 0);
    CHECK_EQ(nth_last_error(), NTH_ERR_INVALID_PARAMETER);
    CHECK(!nth_heap_query_tag(heap, NTH_MAX_TAG + 1, false, NULL));
    /* An index the heap never created counts as untagged. */
    nth_heap *small = nth_heap_create(0, 0, 0);
    REQUIRE(small);
    CHECK_EQ(nth_heap_create_tag(small, "only"), 1);
    void *p = nth_heap_alloc(small, NTH_MAKE_TAG_FLAGS(0, 7), 40);
    CHECK(p != NULL);
    CHECK_ROW(small, 0, 1, 0, 40, 40);
    CHECK(nth_heap_destroy(small));
    CHECK(nth_heap_destroy(heap));
}

TEST(print_is_a_poolmon_table_sorted_by_the_chosen_column)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    REQUIRE(heap);
    uint32_t many = nth_heap_create_tag(heap, "many_small"), few = nth_heap_create_tag(heap, "few_large");
    (void)nth_heap_create_tag(heap, "never_used");
    for (int i = 0; i < 20; i++) CHECK(nth_heap_alloc(heap, NTH_MAKE_TAG_FLAGS(0, many), 8) != NULL);
    for (int i = 0; i < 2; i++) CHECK(nth_heap_alloc(heap, NTH_MAKE_TAG_FLAGS(0, few), 4000) != NULL);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    REQUIRE(out);
    CHECK(nth_heap_print_tags(heap, out, NTH_TAG_SORT_BYTES));
    CHECK(nth_heap_print_tags(heap, out, NTH_TAG_SORT_ALLOCS));
    fclose(out);
    REQUIRE(text);
    char header[128];
    CHECK(sscanf(text, "%127[^\n]", header) == 1);
    CHECK(strstr(header, "tag") && strstr(header, "allocs") && strstr(header, "frees") && strstr(header, "diff") &&
          strstr(header, "bytes") && strstr(header, "peak"));
    const char *by_bytes = strchr(text, '\n') + 1;
    const char *second_table = strstr(by_bytes, header);
    REQUIRE(second_table);
    const char *by_allocs = strchr(second_table, '\n') + 1;
    CHECK(strncmp(by_bytes + 6, "few_large", 9) == 0);
    CHECK(strncmp(by_allocs + 6, "many_small", 10) == 0);
    CHECK(strstr(text, "never_used") == NULL);
    unsigned idx;
    unsigned long long allocs, frees;
    long long diff;
    size_t bytes, peak;
    char name[64];
    CHECK(sscanf(by_allocs, "%u %63s %llu %llu %lld %zu %zu", &idx, name, &allocs, &frees, &diff, &bytes, &peak) == 7);
    CHECK_EQ(idx, many);
    CHECK_EQ(allocs, 20);
    CHECK_EQ(diff, 20);
    CHECK_EQ(bytes, 160);
    free(text);
    CHECK(nth_heap_destroy(heap));
}

TEST(win32_tags)
{
    HANDLE heap = HeapCreate(0, 0, 0);
    REQUIRE(heap);
    DWORD base = HeapCreateTagsW(heap, 0, L"MOD!", L"TEMP\0CACHE\0");
    CHECK_EQ(base, HEAP_MAKE_TAG_FLAGS(0, 1));
    void *p = HeapAlloc(heap, HEAP_MAKE_TAG_FLAGS(base, 1) | HEAP_ZERO_MEMORY, 64);
    void *q = HeapAlloc(heap, HEAP_MAKE_TAG_FLAGS(base, 1), 36);
    REQUIRE(p && q);
    CHECK(HeapFree(heap, 0, q));
    HEAP_TAG_INFO info;
    LPCWSTR name = HeapQueryTagW(heap, 0, 2, FALSE, &info);
    REQUIRE(name);
    CHECK(wcscmp(name, L"MOD!CACHE") == 0);
    CHECK_EQ(info.dwNumberOfAllocations, 2);
    CHECK_EQ(info.dwNumberOfFrees, 1);
    CHECK_EQ(info.dwBytesAllocated, 64);
    name = HeapQueryTagW(heap, 0, 1, FALSE, &info);
    REQUIRE(name);
    CHECK(wcscmp(name, L"MOD!TEMP") == 0);
    CHECK_EQ(info.dwNumberOfAllocations, 0);
    CHECK(HeapQueryTagW(heap, 0, 2, TRUE, &info) != NULL); /* reset after reading */
    CHECK(HeapQueryTagW(heap, 0, 2, FALSE, &info) != NULL);
    CHECK_EQ(info.dwNumberOfAllocations, 0);
    CHECK_EQ(info.dwBytesAllocated, 64);
    CHECK(HeapQueryTagW(heap, 0, 9, FALSE, &info) == NULL);
    CHECK_EQ(GetLastError(), ERROR_INVALID_PARAMETER);
    CHECK_EQ(HeapCreateTagsW(heap, 0, NULL, L"\0"), 0);
    CHECK_EQ(GetLastError(), ERROR_INVALID_PARAMETER);
    CHECK_EQ(HeapCreateTagsW(heap, 0, NULL, L"THIRD\0"), HEAP_MAKE_TAG_FLAGS(0, 3));
    /* Strings and structures that are not readable / writable memory fail with ERROR_NOACCESS,
     * without a fault and without a tag made. */
    void *gone = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(gone != MAP_FAILED);
    munmap(gone, 4096);
    SetLastError(0);
    CHECK_EQ(HeapCreateTagsW(heap, 0, NULL, gone), 0);
    CHECK_EQ(GetLastError(), ERROR_NOACCESS);
    SetLastError(0);
    CHECK_EQ(HeapCreateTagsW(heap, 0, gone, L"FOURTH\0"), 0);
    CHECK_EQ(GetLastError(), ERROR_NOACCESS);
    SetLastError(0);
    CHECK(HeapQueryTagW(heap, 0, 1, FALSE, gone) == NULL);
    CHECK_EQ(GetLastError(), ERROR_NOACCESS);
    CHECK(HeapQueryTagW(heap, 0, 4, FALSE, &info) == NULL); /* no fourth tag */
    CHECK(HeapDestroy(heap));
}

/* Allocations from this program and from libc, left for the exit report (tags_module.sh); kept
 * in a volatile global so the compiler cannot drop a malloc/free pair. */
static void *volatile module_blocks[15];

static int module_child(void)
{
    for (int i = 0; i < 10; i++) module_blocks[i] = malloc(1000);
    for (int i = 0; i < 3; i++) free(module_blocks[i]);
    for (int i = 0; i < 5; i++) module_blocks[10 + i] = strdup("a copy made by the C library");
    printf("module child: %p %p\n", module_blocks[9], module_blocks[14]);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--module-child") == 0) return module_child();
    RUN(counters_are_exact_after_a_scripted_sequence);
    RUN(realloc_moves_bytes_between_sizes_under_the_same_tag);
    RUN(a_tagged_heap_runs_without_the_lfh);
    RUN(the_table_goes_away_with_its_heap);
    RUN(argument_errors);
    RUN(print_is_a_poolmon_table_sorted_by_the_chosen_column);
    RUN(win32_tags);
    return harness_finish("test_tags");
}
