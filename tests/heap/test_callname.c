/*
 * test_callname.c — the "call in progress" that every report names: each native entry point
 * names itself, an outer layer's name (nth_set_call_name, the *_as calls) wins over the native
 * call it goes through, and no name outlives its call (a report raised later, inside another
 * call, never names the previous one).
 */
#define HARNESS_CORRUPTS_ON_PURPOSE /* damages heap memory to test ntheap's own detection */
#include "harness/harness.h"
#include "heap/internal.h"
#include "ntheap.h"

#define MAX_CALLS 64

static const char *calls[MAX_CALLS];
static int n_calls;

static void record(const nth_report *report, void *context)
{
    (void)context;
    if (n_calls < MAX_CALLS) calls[n_calls] = report->call;
    n_calls++;
}

static void start_recording(void)
{
    n_calls = 0;
    nth_set_report_handler(record, NULL);
}

static int stack_word; /* an address no heap owns */

TEST(native_calls_name_themselves)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    REQUIRE(heap != NULL);
    start_recording();
    CHECK_EQ(nth_heap_size(heap, 0, &stack_word), NTH_SIZE_ERROR);
    CHECK(!nth_heap_free(heap, 0, &stack_word));
    CHECK(nth_heap_realloc(heap, 0, &stack_word, 10) == NULL);
    CHECK(!nth_heap_validate(heap, 0, &stack_word));
    nth_set_report_handler(NULL, NULL);
    REQUIRE(n_calls == 4);
    CHECK_STR(calls[0], "nth_heap_size");
    CHECK_STR(calls[1], "nth_heap_free");
    CHECK_STR(calls[2], "nth_heap_realloc");
    CHECK_STR(calls[3], "nth_heap_validate");
    CHECK(nth_call_in_progress == NULL); /* nothing left behind by any of them */
    CHECK(nth_heap_destroy(heap));
}

TEST(outer_layer_name_wins)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    REQUIRE(heap != NULL);
    start_recording();
    CHECK(!nth_free_as(&stack_word, "free"));
    CHECK(nth_heap_realloc_as(heap, 0, &stack_word, 10, "realloc") == NULL);
    CHECK_EQ(nth_heap_usable_size_as(heap, &stack_word, "malloc_usable_size"), NTH_SIZE_ERROR);
    nth_set_call_name("HeapFree");
    CHECK(!nth_heap_free(heap, 0, &stack_word));
    CHECK(!nth_free_as(&stack_word, "free")); /* the outermost name stays */
    nth_set_call_name(NULL);
    CHECK(!nth_heap_free(heap, 0, &stack_word));
    nth_set_report_handler(NULL, NULL);
    REQUIRE(n_calls == 6);
    CHECK_STR(calls[0], "free");
    CHECK_STR(calls[1], "realloc");
    CHECK_STR(calls[2], "malloc_usable_size");
    CHECK_STR(calls[3], "HeapFree");
    CHECK_STR(calls[4], "HeapFree");
    CHECK_STR(calls[5], "nth_heap_free");
    CHECK(nth_call_in_progress == NULL);
    CHECK(nth_heap_destroy(heap));
}

/* Probe of the old stale name: a report raised inside an allocation (LFH or back-end) right
 * after a call of nth_heap_size must name the allocation: the LFH's first allocation in a bucket
 * carves a subsegment from a damaged back-end free block, and reports. Before every allocation, a
 * bad nth_heap_size call names itself first. */
static void stale_name_probe(void)
{
    nth_heap *heap = nth_heap_create(0, 1 << 20, 0); /* one large free block to carve from */
    if (!heap) _exit(2);
    /* Warm one bucket so that the LFH exists, and bring the 64-byte bucket to the point where
     * its next allocation is the LFH's (no subsegment yet). */
    for (int i = 0; i < 64; i++)
        if (!nth_heap_alloc(heap, 0, 32)) _exit(3);
    for (int i = 0; i < 17; i++)
        if (!nth_heap_alloc(heap, 0, 64)) _exit(3);
    /* A large free block (kept apart from the top by a guard, and kept committed) that the new
     * subsegment will be carved from; then a write after free smashes its header and links. */
    if (!nth_heap_set_option(heap, NTH_OPTION_DECOMMIT_FREE_BLOCK, SIZE_MAX)) _exit(3);
    unsigned char *large = nth_heap_alloc(heap, 0, 100000), *guard = nth_heap_alloc(heap, 0, 20000);
    if (!large || !guard || !nth_heap_free(heap, 0, large)) _exit(3);
    volatile uintptr_t header = (uintptr_t)large - 16; /* hidden from the compiler's bounds checks */
    memset((void *)header, 0x5A, 48);
    start_recording();
    int in_alloc = 0;
    for (int i = 0; i < 8; i++) {
        n_calls = 0;
        (void)nth_heap_size(heap, 0, &stack_word); /* reports as nth_heap_size */
        void *p = nth_heap_alloc(heap, 0, 64);
        (void)p;
        for (int k = 1; k < n_calls && k < MAX_CALLS; k++) {
            in_alloc++;
            if (strcmp(calls[k], "nth_heap_alloc") != 0) {
                fprintf(stderr, "report inside nth_heap_alloc named %s\n", calls[k]);
                _exit(5);
            }
        }
    }
    _exit(in_alloc > 0 ? 0 : 6);
}

TEST(report_inside_an_allocation_names_it)
{
    int status = -1;
    int signal = expect_child_death(stale_name_probe, &status);
    CHECK_EQ(signal, 0);
    CHECK_EQ(status, 0);
}

int main(int argc, char **argv)
{
    (void)argc;
    RUN(native_calls_name_themselves);
    RUN(outer_layer_name_wins);
    RUN(report_inside_an_allocation_names_it);
    return harness_finish(argv[0]);
}
