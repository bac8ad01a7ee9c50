/*
 * test_vm_seam.c — the platform seam (src/heap/vm.h) and failure injection for the mappings
 * that are not heap memory: an address-map leaf that cannot be mapped makes the heap creation or
 * allocation that needed it fail cleanly (NULL, NTH_ERR_NO_MEMORY, nothing half-registered);
 * remaps fail on request; nth_vm_protect turns pages into guard pages and back with their
 * contents kept.
 */
#include <stdint.h>

#include "harness/harness.h"
#include "heap/vm.h"
#include "ntheap.h"

#define GIB ((size_t)1 << 30)

/* Mappings held until the end of the program, so that each new attempt lands in address space
 * no earlier mapping used (address-map leaves are never freed). */
static nth_heap *held_heaps[8];
static int n_held_heaps;

/* A reservation of 9 GiB covers at least one whole 4 GiB address-map leaf; unless an earlier
 * mapping of the process covered it already, it must map a new leaf. The attempt that reaches
 * the injected failure must fail cleanly; one that needed no new leaf is kept and tried again. */
TEST(heap_creation_fails_cleanly_without_a_map_leaf)
{
    nth_heap *list[64];
    bool reached = false;
    for (int attempt = 0; attempt < 4 && !reached; attempt++) {
        size_t heaps_before = nth_heap_list(list, 64);
        nth_vm_inject_failure(NTH_VM_FAULT_PRIVATE, 1);
        nth_heap *heap = nth_heap_create(0, 0, 9 * GIB);
        reached = nth_vm_pending_failure(NTH_VM_FAULT_PRIVATE) == 0;
        nth_vm_inject_failure(NTH_VM_FAULT_PRIVATE, 0);
        if (!reached) {
            REQUIRE(heap != NULL);
            held_heaps[n_held_heaps++] = heap;
            continue;
        }
        CHECK(heap == NULL);
        CHECK_EQ(nth_last_error(), NTH_ERR_NO_MEMORY);
        CHECK_EQ(nth_heap_list(list, 64), heaps_before);
    }
    CHECK(reached);
    nth_heap *heap = nth_heap_create(0, 0, 9 * GIB);
    REQUIRE(heap != NULL);
    void *p = nth_heap_alloc(heap, 0, 1000);
    CHECK(p != NULL);
    CHECK(nth_heap_free(heap, 0, p));
    held_heaps[n_held_heaps++] = heap;
}

TEST(big_allocation_fails_cleanly_without_a_map_leaf)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    REQUIRE(heap != NULL);
    unsigned char *small = nth_heap_alloc(heap, 0, 100);
    REQUIRE(small != NULL);
    memset(small, 0x3C, 100);
    bool reached = false;
    size_t kept = 0;
    for (int attempt = 0; attempt < 4 && !reached; attempt++) {
        nth_vm_inject_failure(NTH_VM_FAULT_PRIVATE, 1);
        void *big = nth_heap_alloc(heap, 0, 9 * GIB);
        reached = nth_vm_pending_failure(NTH_VM_FAULT_PRIVATE) == 0;
        nth_vm_inject_failure(NTH_VM_FAULT_PRIVATE, 0);
        if (!reached) {
            REQUIRE(big != NULL); /* kept: the next attempt must map elsewhere */
            kept++;
            continue;
        }
        CHECK(big == NULL);
        CHECK_EQ(nth_last_error(), NTH_ERR_NO_MEMORY);
    }
    CHECK(reached);
    CHECK(nth_heap_validate(heap, 0, NULL));
    for (int i = 0; i < 100; i++) CHECK_EQ(small[i], 0x3C);
    nth_heap_stats stats;
    CHECK(nth_heap_query_stats(heap, &stats));
    CHECK_EQ(stats.big_blocks, kept); /* the failed attempt left no block behind */
    CHECK(nth_heap_free(heap, 0, small));
    CHECK(nth_heap_destroy(heap));
}

/* Every remap failing: big-block reallocs either succeed with the requested size and the old
 * contents, or fail with NTH_ERR_NO_MEMORY / CANNOT_MOVE and leave the block as it was. */
TEST(failed_remaps_keep_blocks_whole)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    REQUIRE(heap != NULL);
    size_t size = (size_t)2 << 20;
    unsigned char *p = nth_heap_alloc(heap, 0, size);
    REQUIRE(p != NULL);
    memset(p, 0x61, size);
    for (unsigned n = 1; n <= 4; n++) {
        nth_vm_inject_failure(NTH_VM_FAULT_REMAP, n);
        for (int step = 0; step < 6; step++) {
            size_t want = size + ((size_t)(step + 1) << 20);
            unsigned char *q = nth_heap_realloc(heap, step % 2 ? NTH_REALLOC_IN_PLACE_ONLY : 0, p, want);
            if (!q) {
                CHECK(nth_last_error() == NTH_ERR_NO_MEMORY || nth_last_error() == NTH_ERR_CANNOT_MOVE);
                continue;
            }
            CHECK(nth_heap_size(heap, 0, q) == want);
            CHECK(q[0] == 0x61 && q[size - 1] == 0x61);
            memset(q + size, 0x61, want - size);
            p = q;
            size = want;
        }
        nth_vm_inject_failure(NTH_VM_FAULT_REMAP, 0);
        CHECK(nth_heap_validate(heap, 0, NULL));
    }
    CHECK(nth_heap_free(heap, 0, p));
    CHECK(nth_heap_destroy(heap));
}

static unsigned char *guarded;

static void touch_guarded(void)
{
    volatile unsigned char *g = guarded;
    g[0] = 1;
}

TEST(protect_makes_guard_pages_and_keeps_contents)
{
    guarded = nth_vm_map_private(8192);
    REQUIRE(guarded != NULL);
    CHECK_EQ(guarded[4000], 0); /* zeroed */
    guarded[0] = 0x7E;
    CHECK(nth_vm_protect(guarded, 8192, NTH_VM_NO_ACCESS));
    int status = 0, signal = expect_child_death(touch_guarded, &status);
#if defined(NTH_SANITIZER_BUILD) && NTH_SANITIZER_BUILD
    /* The sanitizer catches the fault itself and exits with an error. */
    CHECK(signal == SIGSEGV || (signal == 0 && status != 0));
#else
    CHECK_EQ(signal, SIGSEGV);
#endif
    CHECK(nth_vm_protect(guarded, 8192, NTH_VM_READ_WRITE));
    CHECK_EQ(guarded[0], 0x7E);
    nth_vm_inject_failure(NTH_VM_FAULT_PROTECT, 1);
    CHECK(!nth_vm_protect(guarded, 8192, NTH_VM_READ));
    nth_vm_inject_failure(NTH_VM_FAULT_PRIVATE, 1);
    CHECK(nth_vm_map_private(4096) == NULL);
    nth_vm_unmap_private(guarded, 8192);
}

TEST(random_words_differ)
{
    uint64_t a = nth_random64(), b = nth_random64();
    CHECK(a != b);
}

int main(int argc, char **argv)
{
    (void)argc;
    nth_process_heap(); /* created before any injection */
    RUN(heap_creation_fails_cleanly_without_a_map_leaf);
    RUN(big_allocation_fails_cleanly_without_a_map_leaf);
    RUN(failed_remaps_keep_blocks_whole);
    RUN(protect_makes_guard_pages_and_keeps_contents);
    RUN(random_words_differ);
    for (int i = 0; i < n_held_heaps; i++) CHECK(nth_heap_destroy(held_heaps[i]));
    return harness_finish(argv[0]);
}
