/*
 * test_malloc_engine_contract.c — what src/malloc/malloc.c relies on from the engine, checked
 * through the nth_ API on the process heap.
 *
 * malloc.c maps every malloc-family call onto nth_process_heap(), nth_heap_alloc (ZERO_MEMORY
 * for calloc), nth_heap_alloc_aligned, nth_heap_realloc, nth_heap_free, nth_heap_usable_size
 * and nth_heap_from_pointer, and holds the process heap's lock across fork(). These tests pin
 * down exactly those properties, so that an engine change that would break malloc shows up
 * here, in every build variant (this program is linked statically and needs no preload, so it
 * also runs under the sanitizers, where the preload tests are skipped).
 */
#include "harness/harness.h"
#include "ntheap.h"

#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>

static void *opaque_pointer(void *value)
{
    void *volatile copy = value;
    return copy;
}

static unsigned report_count;
static void count_report(const nth_report *report, void *context)
{
    (void)report;
    (void)context;
    report_count++;
}

TEST(process_heap_is_stable_and_listed_first)
{
    nth_heap *heap = nth_process_heap();
    REQUIRE(heap != NULL);
    CHECK(nth_process_heap() == heap);
    CHECK(nth_heap_is_valid_handle(heap));
    nth_heap *list[8];
    size_t count = nth_heap_list(list, 8);
    REQUIRE(count >= 1);
    CHECK(list[0] == heap);
}

TEST(alloc_zero_is_unique_and_owned)
{
    nth_heap *heap = nth_process_heap();
    void *a = nth_heap_alloc(heap, 0, 0), *b = nth_heap_alloc(heap, 0, 0);
    REQUIRE(a != NULL && b != NULL);
    CHECK(a != b);
    CHECK(nth_heap_from_pointer(a) == heap);
    CHECK(nth_heap_free(heap, 0, a));
    CHECK(nth_heap_free(heap, 0, b));
    CHECK(nth_heap_free(heap, 0, NULL)); /* free(NULL) is a successful no-op */
}

TEST(usable_size_covers_request_for_every_kind_of_block)
{
    nth_heap *heap = nth_process_heap();
    for (size_t size = 1; size < (8u << 20); size = size * 3 + 1) {
        unsigned char *p = nth_heap_alloc(heap, 0, size);
        REQUIRE(p != NULL);
        CHECK(((uintptr_t)p & 15) == 0);
        CHECK(nth_heap_from_pointer(p) == heap);
        size_t usable = nth_heap_usable_size(heap, p);
        REQUIRE(usable != NTH_SIZE_ERROR);
        CHECK(usable >= size);
        memset(p, 0xC3, usable); /* malloc_usable_size promises every one of these bytes */
        CHECK(nth_heap_validate(heap, 0, p));
        CHECK(nth_heap_free(heap, 0, p));
    }
}

TEST(aligned_blocks_behave_like_any_other)
{
    nth_heap *heap = nth_process_heap();
    for (size_t alignment = 1; alignment <= (2u << 20); alignment *= 2) {
        for (size_t size = 0; size < 20000; size += 4999) {
            unsigned char *p = nth_heap_alloc_aligned(heap, 0, alignment, size);
            REQUIRE(p != NULL);
            CHECK(((uintptr_t)p & (alignment - 1)) == 0);
            CHECK(nth_heap_from_pointer(p) == heap);
            CHECK(nth_heap_usable_size(heap, p) >= size);
            memset(p, 0x11, size);
            unsigned char *q = nth_heap_realloc(heap, 0, p, size + 100);
            REQUIRE(q != NULL);
            CHECK(((uintptr_t)q & 15) == 0);
            size_t same = 0;
            for (size_t i = 0; i < size; i++) same += q[i] == 0x11;
            CHECK_EQ(same, size);
            CHECK(nth_heap_free(heap, 0, q));
        }
    }
    CHECK(opaque_pointer(nth_heap_alloc_aligned(heap, 0, 24, 10)) == NULL);
    CHECK_EQ(nth_last_error(), NTH_ERR_INVALID_PARAMETER);
    CHECK(nth_heap_validate(heap, 0, NULL));
}

TEST(zero_memory_zeroes_reused_blocks)
{
    nth_heap *heap = nth_process_heap();
    for (size_t size = 16; size <= (1u << 20); size *= 4) {
        unsigned char *dirty = nth_heap_alloc(heap, 0, size);
        REQUIRE(dirty != NULL);
        memset(dirty, 0xEE, size);
        CHECK(nth_heap_free(heap, 0, dirty));
        unsigned char *clean = nth_heap_alloc(heap, NTH_ZERO_MEMORY, size);
        REQUIRE(clean != NULL);
        size_t nonzero = 0;
        for (size_t i = 0; i < size; i++) nonzero += clean[i] != 0;
        CHECK_EQ(nonzero, 0);
        CHECK(nth_heap_free(heap, 0, clean));
    }
}

TEST(impossible_sizes_fail_cleanly)
{
    nth_heap *heap = nth_process_heap();
    volatile size_t huge = SIZE_MAX;
    CHECK(opaque_pointer(nth_heap_alloc(heap, 0, huge)) == NULL);
    CHECK(nth_last_error() == NTH_ERR_NO_MEMORY || nth_last_error() == NTH_ERR_INVALID_PARAMETER);
    CHECK(opaque_pointer(nth_heap_alloc(heap, 0, (size_t)PTRDIFF_MAX)) == NULL);
    void *p = nth_heap_alloc(heap, 0, 64);
    REQUIRE(p != NULL);
    memset(p, 0x42, 64);
    CHECK(opaque_pointer(nth_heap_realloc(heap, 0, p, huge - 64)) == NULL);
    CHECK(((unsigned char *)p)[63] == 0x42); /* a failed realloc leaves the block alone */
    CHECK(nth_heap_free(heap, 0, p));
}

TEST(from_pointer_recognises_only_live_blocks)
{
    nth_heap *heap = nth_process_heap();
    static alignas(16) char static_bytes[64];
    alignas(16) char stack_bytes[64];
    memset(stack_bytes, 0, sizeof stack_bytes);
    char *block = nth_heap_alloc(heap, 0, 200);
    REQUIRE(block != NULL);
    memset(block, 0, 200);
    char *gone = nth_heap_alloc(heap, 0, 200);
    REQUIRE(gone != NULL);
    CHECK(nth_heap_free(heap, 0, gone));
    CHECK(nth_heap_from_pointer(static_bytes) == NULL);
    CHECK(nth_heap_from_pointer(stack_bytes) == NULL);
    CHECK(nth_heap_from_pointer(block + 16) == NULL);
    CHECK(nth_heap_from_pointer(block + 1) == NULL);
    CHECK(nth_heap_from_pointer(opaque_pointer(gone)) == NULL);
    CHECK(nth_heap_from_pointer((void *)(uintptr_t)4096) == NULL);

    /* What free() does with such a pointer: the engine reports it and changes nothing. */
    report_count = 0;
    nth_set_report_handler(count_report, NULL);
    CHECK(!nth_heap_free(heap, 0, stack_bytes));
    CHECK(!nth_heap_free(heap, 0, block + 16));
    CHECK(!nth_heap_free(heap, 0, opaque_pointer(gone)));
    nth_set_report_handler(NULL, NULL);
    CHECK_EQ(report_count, 3);
    CHECK(nth_heap_validate(heap, 0, NULL));
    CHECK(nth_heap_free(heap, 0, block));
}

/* ----------------------------------------------------------------------- threads and fork */

enum { THREADS = 8, OPS_PER_THREAD = 40000, SLOTS = 256 };

/* The size mix of malloc in a typical program: mostly small, one in 16 up to 70 000 bytes
 * (past the LFH, below the big-block threshold), half of them zeroed as calloc does. */
static void *mixed_churn(void *arg)
{
    harness_rng rng = {(uintptr_t)arg * 0x9E3779B97F4A7C15ull + 1};
    nth_heap *heap = nth_process_heap();
    unsigned char *slot[SLOTS] = {0};
    size_t size[SLOTS] = {0};
    for (int op = 0; op < OPS_PER_THREAD; op++) {
        size_t i = harness_rand(&rng) % SLOTS;
        if (slot[i]) {
            if (slot[i][0] != (unsigned char)i || slot[i][size[i] - 1] != (unsigned char)i)
                return (void *)"block contents changed while it was live";
            if (!nth_heap_free(heap, 0, slot[i])) return (void *)"nth_heap_free failed";
            slot[i] = NULL;
            continue;
        }
        uint64_t r = harness_rand(&rng);
        size[i] = (r & 15) == 0 ? 1 + r % 70000 : 1 + r % 512;
        slot[i] = nth_heap_alloc(heap, (r & 2) ? 0 : NTH_ZERO_MEMORY, size[i]);
        if (!slot[i]) {
            static _Thread_local char what[96];
            snprintf(what, sizeof what, "nth_heap_alloc(%zu) failed with %s", size[i],
                     nth_error_name(nth_last_error()));
            return what;
        }
        slot[i][0] = slot[i][size[i] - 1] = (unsigned char)i;
    }
    for (size_t i = 0; i < SLOTS; i++)
        if (slot[i] && !nth_heap_free(heap, 0, slot[i])) return (void *)"nth_heap_free failed";
    return NULL;
}

TEST(many_threads_share_the_process_heap)
{
    pthread_t threads[THREADS];
    for (uintptr_t t = 0; t < THREADS; t++)
        REQUIRE(pthread_create(&threads[t], NULL, mixed_churn, (void *)(t + 1)) == 0);
    for (int t = 0; t < THREADS; t++) {
        void *result = NULL;
        pthread_join(threads[t], &result);
        if (result) harness_fail(__FILE__, __LINE__, result);
    }
    CHECK(nth_heap_validate(nth_process_heap(), 0, NULL));
}

static atomic_bool stop;

static void *churn(void *arg)
{
    harness_rng rng = {(uintptr_t)arg * 977 + 1};
    nth_heap *heap = nth_process_heap();
    void *slot[128] = {0};
    long bad = 0;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        size_t i = harness_rand(&rng) % 128;
        if (slot[i] && !nth_heap_free(heap, 0, slot[i])) bad++;
        slot[i] = nth_heap_alloc(heap, 0, 1 + harness_rand(&rng) % 4000);
        if (!slot[i]) bad++;
    }
    for (int i = 0; i < 128; i++)
        if (slot[i] && !nth_heap_free(heap, 0, slot[i])) bad++;
    return (void *)(intptr_t)(bad != 0);
}

TEST(lock_across_fork_leaves_a_usable_heap_in_both_processes)
{
    nth_heap *heap = nth_process_heap();
    pthread_t threads[3];
    atomic_store(&stop, false);
    for (uintptr_t t = 0; t < 3; t++)
        REQUIRE(pthread_create(&threads[t], NULL, churn, (void *)t) == 0);
    for (int round = 0; round < 20; round++) {
        sched_yield();
        fflush(NULL);
        /* What malloc.c's pthread_atfork handlers do. */
        REQUIRE(nth_heap_lock(heap));
        pid_t pid = fork();
        if (pid == 0) {
            alarm(10);
            if (!nth_heap_unlock(heap)) _exit(2);
            for (int i = 0; i < 2000; i++) {
                void *p = nth_heap_alloc(heap, 0, 1 + (size_t)i * 7);
                if (!p || !nth_heap_free(heap, 0, p)) _exit(3);
            }
            _exit(nth_heap_validate(heap, 0, NULL) ? 0 : 4);
        }
        CHECK(nth_heap_unlock(heap));
        REQUIRE(pid > 0);
        int status = 0;
        REQUIRE(waitpid(pid, &status, 0) == pid);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            char what[96];
            snprintf(what, sizeof what, "child of round %d: %s %d", round,
                     WIFSIGNALED(status) ? "killed by signal" : "exit status",
                     WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
            harness_fail(__FILE__, __LINE__, what);
            break;
        }
    }
    atomic_store(&stop, true);
    for (int t = 0; t < 3; t++) {
        void *result = NULL;
        pthread_join(threads[t], &result);
        CHECK(result == NULL);
    }
    CHECK(nth_heap_validate(heap, 0, NULL));
}

TEST(lock_is_recursive_for_the_forking_thread)
{
    /* Another atfork handler may allocate in the parent while ours holds the lock. */
    nth_heap *heap = nth_process_heap();
    REQUIRE(nth_heap_lock(heap));
    void *p = nth_heap_alloc(heap, 0, 100);
    CHECK(p != NULL);
    CHECK(nth_heap_free(heap, 0, p));
    CHECK(nth_heap_unlock(heap));
    CHECK(!nth_heap_unlock(heap));
    CHECK_EQ(nth_last_error(), NTH_ERR_NOT_LOCKED);
}

int main(int argc, char **argv)
{
    (void)argc;
    RUN(process_heap_is_stable_and_listed_first);
    RUN(alloc_zero_is_unique_and_owned);
    RUN(usable_size_covers_request_for_every_kind_of_block);
    RUN(aligned_blocks_behave_like_any_other);
    RUN(zero_memory_zeroes_reused_blocks);
    RUN(impossible_sizes_fail_cleanly);
    RUN(from_pointer_recognises_only_live_blocks);
    RUN(many_threads_share_the_process_heap);
    RUN(lock_is_recursive_for_the_forking_thread);
    RUN(lock_across_fork_leaves_a_usable_heap_in_both_processes);
    return harness_finish(argv[0]);
}
