/*
 * test_faults.c — fault injection: the N-th reserve or commit fails, for every N a scenario
 * reaches, at every entry point that can grow the heap (create, alloc of back-end, big and LFH
 * blocks, aligned alloc, realloc). Each failure must return NULL / false with
 * NTH_ERR_NO_MEMORY, leave the contents of every live block intact, and leave a heap that
 * validates and keeps working once memory is available again.
 */
#include "harness/harness.h"
#include "heap/vm.h"
#include "ntheap.h"

#define LIVE 64
#define PATTERN 8192 /* bytes of each block that carry its pattern */

/* A scenario that needs several commits and reserves: growing segments, big blocks, LFH
 * subsegments, aligned blocks and reallocs. Returns the number of failed calls. */
static int scenario(nth_heap *heap, int *bad)
{
    static unsigned char *live[LIVE];
    static size_t sizes[LIVE];
    int failures = 0;
    harness_rng rng = {42};
    memset(live, 0, sizeof live);
    for (int step = 0; step < 600; step++) {
        int i = (int)(harness_rand(&rng) % LIVE);
        /* The heap keeps no freed big mappings (sweep sets big_cache_decay_ms to 0): each 20 MiB
         * block maps anew. */
        size_t size = step % 50 == 0 ? (size_t)20 << 20 : harness_rand_range(&rng, 1, step % 7 == 0 ? 90000 : 600);
        if (live[i]) {
            if (step % 3 == 0) {
                unsigned char *q = nth_heap_realloc(heap, 0, live[i], size);
                if (!q) {
                    failures++;
                    if (nth_last_error() != NTH_ERR_NO_MEMORY) (*bad)++;
                    continue; /* the old block is untouched */
                }
                size_t keep = sizes[i] < size ? sizes[i] : size;
                if (keep > PATTERN) keep = PATTERN;
                for (size_t k = 0; k < keep; k++)
                    if (q[k] != (unsigned char)(i + k)) (*bad)++;
                live[i] = q;
            } else {
                for (size_t k = 0; k < sizes[i] && k < PATTERN; k++)
                    if (live[i][k] != (unsigned char)(i + k)) (*bad)++;
                nth_heap_free(heap, 0, live[i]);
                live[i] = NULL;
                continue;
            }
        } else {
            live[i] = step % 11 == 0 ? nth_heap_alloc_aligned(heap, 0, 256, size) : nth_heap_alloc(heap, 0, size);
            if (!live[i]) {
                failures++;
                if (nth_last_error() != NTH_ERR_NO_MEMORY) (*bad)++;
                continue;
            }
        }
        sizes[i] = size;
        for (size_t k = 0; k < size && k < PATTERN; k++) live[i][k] = (unsigned char)(i + k);
    }
    for (int i = 0; i < LIVE; i++)
        if (live[i]) nth_heap_free(heap, 0, live[i]);
    return failures;
}

static void sweep(enum nth_vm_fault kind)
{
    int total_failures = 0;
    for (unsigned n = 1; n <= 40; n++) {
        nth_vm_inject_failure(kind, n);
        nth_heap *heap = nth_heap_create(0, 0, 0);
        if (!heap) {
            CHECK_EQ(nth_last_error(), NTH_ERR_NO_MEMORY);
            total_failures++;
            continue;
        }
        CHECK(nth_heap_set_option(heap, NTH_OPTION_BIG_CACHE_DECAY_MS, 0));
        int bad = 0;
        total_failures += scenario(heap, &bad);
        nth_vm_inject_failure(kind, 0);
        CHECK_EQ(bad, 0);
        CHECK(nth_heap_validate(heap, 0, NULL));
        /* Works again once memory comes back. */
        void *p = nth_heap_alloc(heap, 0, 200000);
        CHECK(p != NULL);
        CHECK(nth_heap_free(heap, 0, p));
        CHECK(nth_heap_validate(heap, 0, NULL));
        CHECK(nth_heap_destroy(heap));
    }
    /* Some failures are absorbed (another range or a new segment serves the request); the
     * sweep must still have surfaced failures to callers. */
    if (getenv("NTH_TEST_VERBOSE")) fprintf(stderr, "  %d calls failed over the sweep\n", total_failures);
    CHECK(total_failures >= 5);
}

TEST(every_nth_commit_fails) { sweep(NTH_VM_FAULT_COMMIT); }
TEST(every_nth_reserve_fails) { sweep(NTH_VM_FAULT_RESERVE); }

TEST(create_fails_cleanly)
{
    /* Nothing cached to fall back on: destroyed heaps' segments are not kept. */
    CHECK(nth_heap_set_option(NULL, NTH_OPTION_SEGMENT_CACHE_DECAY_MS, 0));
    nth_heap_compact(nth_process_heap(), 0);
    nth_heap *before[64];
    size_t n = nth_heap_list(before, 64);
    nth_vm_inject_failure(NTH_VM_FAULT_RESERVE, 1);
    CHECK(nth_heap_create(0, 0, 0) == NULL);
    CHECK_EQ(nth_last_error(), NTH_ERR_NO_MEMORY);
    nth_vm_inject_failure(NTH_VM_FAULT_COMMIT, 1);
    CHECK(nth_heap_create(0, 1 << 20, 0) == NULL);
    CHECK_EQ(nth_heap_list(before, 64), n);
}

int main(int argc, char **argv)
{
    (void)argc;
    nth_process_heap(); /* created before any injection */
    RUN(every_nth_commit_fails);
    RUN(every_nth_reserve_fails);
    RUN(create_fails_cleanly);
    return harness_finish(argv[0]);
}
