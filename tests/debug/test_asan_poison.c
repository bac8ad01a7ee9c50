/*
 * test_asan_poison.c — in SAN=asan builds with NTHEAP_OPTIONS asan_poison=1, AddressSanitizer
 * sees ntheap blocks: a write into the slack after a block or into the next block's header, and
 * a read of a freed block, back-end, big or LFH (freed here or by another thread), are ASan reports (use-after-poison) at the faulting access, made in a
 * child whose stderr is checked; a workload over the entry points runs clean with poisoning on
 * (the engine never trips over its own poison); with the option off nothing is poisoned.
 * Other builds print SKIP: there is no ASan to report anything.
 */
#include <fcntl.h>
#include <pthread.h>
#include <string.h>

#include "harness/harness.h"
#include <ntheap.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASAN_ON 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define ASAN_ON 1
#endif

#ifdef ASAN_ON

typedef void (*bug_fn)(nth_heap *heap);

static void poke(char *p, long offset)
{
    *(volatile char *)(p + offset) = 1;
}

static void slack_overrun(nth_heap *heap)
{
    char *p = nth_heap_alloc(heap, 0, 24); /* a 48-byte block: 8 bytes of slack */
    poke(p, 24);
}

static void header_underrun(nth_heap *heap)
{
    char *p = nth_heap_alloc(heap, 0, 64);
    char *q = nth_heap_alloc(heap, 0, 64);
    (void)p;
    poke(q, -8); /* inside q's header */
}

static void use_after_free(nth_heap *heap)
{
    char *p = nth_heap_alloc(heap, 0, 200);
    volatile uintptr_t freed = (uintptr_t)p;
    nth_heap_free(heap, 0, p);
    printf("%d\n", *(volatile char *)((char *)freed + 100));
}

static void big_overrun(nth_heap *heap)
{
    char *p = nth_heap_alloc(heap, 0, (size_t)3 << 20); /* a big block: mapped on its own */
    poke(p, (long)(3 << 20) + 5);
}

static void big_prefix_underrun(nth_heap *heap)
{
    char *p = nth_heap_alloc(heap, 0, (size_t)3 << 20);
    poke(p, -40); /* into the checked prefix in front of the data */
}

static void big_use_after_free(nth_heap *heap)
{
    char *p = nth_heap_alloc(heap, 0, (size_t)3 << 20);
    volatile uintptr_t freed = (uintptr_t)p;
    nth_heap_free(heap, 0, p); /* the mapping stays in the cache for reuse */
    printf("%d\n", *(volatile char *)((char *)freed + 4096));
}

/* A heap whose 64-byte requests are served by the LFH (the 19th one is its first block). */
static nth_heap *lfh_heap(void)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    for (int i = 0; i < 40; i++)
        if (!nth_heap_alloc(heap, 0, 64)) _exit(12);
    return heap;
}

static void lfh_use_after_free(nth_heap *unused)
{
    (void)unused;
    nth_heap *heap = lfh_heap();
    char *p = nth_heap_alloc(heap, 0, 64);
    volatile uintptr_t freed = (uintptr_t)p;
    nth_heap_free(heap, 0, p);
    printf("%d\n", *(volatile char *)((char *)freed + 24));
}

static void *free_from_another_thread(void *block)
{
    nth_heap_free(nth_heap_owner(block), 0, block);
    return NULL;
}

static void lfh_use_after_remote_free(nth_heap *unused)
{
    (void)unused;
    nth_heap *heap = lfh_heap();
    char *p = nth_heap_alloc(heap, 0, 64);
    pthread_t thread;
    if (pthread_create(&thread, NULL, free_from_another_thread, p) != 0) _exit(13);
    pthread_join(thread, NULL);
    printf("%d\n", *(volatile char *)(p + 40));
}

/* Every entry point that moves blocks around, with poisoning on: must draw no report. */
static void clean_workload(nth_heap *heap)
{
    char *p[48];
    for (int i = 0; i < 48; i++) {
        p[i] = nth_heap_alloc(heap, i % 4 ? 0 : NTH_ZERO_MEMORY, (size_t)(i * 53 % 900) + 1);
        memset(p[i], i, (size_t)(i * 53 % 900) + 1);
    }
    for (int i = 0; i < 48; i += 2) nth_heap_free(heap, 0, p[i]);
    for (int i = 1; i < 48; i += 2) {
        p[i] = nth_heap_realloc(heap, NTH_ZERO_MEMORY, p[i], (size_t)(i * 97 % 3000) + 1);
        p[i] = nth_heap_realloc(heap, 0, p[i], 5);
    }
    char *aligned = nth_heap_alloc_aligned(heap, 0, 1024, 300);
    char *valued = nth_heap_alloc(heap, NTH_SETTABLE_USER_VALUE, 40);
    (void)nth_heap_set_user_value(heap, valued, 7);
    memset(aligned, 1, 300);
    if (!nth_heap_validate(heap, 0, NULL)) _exit(3);
    nth_walk_entry entry;
    memset(&entry, 0, sizeof entry);
    while (nth_heap_walk(heap, &entry)) {}
    (void)nth_heap_compact(heap, 0);
    if (nth_heap_usable_size(heap, p[1]) != 5) _exit(4); /* the slack is not the caller's */
    for (int i = 1; i < 48; i += 2) nth_heap_free(heap, 0, p[i]);
    nth_heap_free(heap, 0, aligned);
    if (!nth_heap_validate(heap, 0, NULL)) _exit(5);
    if (!nth_heap_destroy(heap)) _exit(6);
    /* Big blocks: grown and shrunk (in place or moved), reused from the cache, zeroed. */
    heap = nth_heap_create(0, 0, 0);
    char *big = nth_heap_alloc(heap, NTH_ZERO_MEMORY, (size_t)2 << 20);
    memset(big, 3, (size_t)2 << 20);
    big = nth_heap_realloc(heap, NTH_ZERO_MEMORY, big, (size_t)9 << 20);
    memset(big, 4, (size_t)9 << 20);
    big = nth_heap_realloc(heap, 0, big, (size_t)1 << 20);
    memset(big, 5, (size_t)1 << 20);
    if (nth_heap_usable_size(heap, big) != (size_t)1 << 20) _exit(9);
    nth_heap_free(heap, 0, big);
    big = nth_heap_alloc(heap, NTH_ZERO_MEMORY, (size_t)1 << 20); /* from the cache */
    memset(big, 6, (size_t)1 << 20);
    if (!nth_heap_validate(heap, 0, NULL)) _exit(10);
    memset(&entry, 0, sizeof entry);
    while (nth_heap_walk(heap, &entry)) {}
    nth_heap_free(heap, 0, big);
    if (!nth_heap_destroy(heap)) _exit(11);
    /* LFH blocks: freed here and by another thread, reused, grown in place, walked, validated. */
    heap = lfh_heap();
    char *small[64];
    for (int i = 0; i < 64; i++) memset(small[i] = nth_heap_alloc(heap, 0, 64), i, 64);
    for (int i = 0; i < 64; i += 2) nth_heap_free(heap, 0, small[i]);
    for (int i = 1; i < 64; i += 4) {
        pthread_t thread;
        if (pthread_create(&thread, NULL, free_from_another_thread, small[i]) != 0) _exit(14);
        pthread_join(thread, NULL);
    }
    for (int i = 0; i < 64; i += 2) memset(small[i] = nth_heap_alloc(heap, NTH_ZERO_MEMORY, 64), 7, 64);
    for (int i = 3; i < 64; i += 4) memset(small[i] = nth_heap_realloc(heap, NTH_ZERO_MEMORY, small[i], 70), 8, 70);
    if (!nth_heap_validate(heap, 0, NULL)) _exit(15);
    memset(&entry, 0, sizeof entry);
    while (nth_heap_walk(heap, &entry)) {}
    (void)nth_heap_compact(heap, 0);
    if (!nth_heap_destroy(heap)) _exit(16);
    nth_heap *again = nth_heap_create(0, 0, 0); /* likely at the released heap's address */
    char *fresh = nth_heap_alloc(again, 0, 4000);
    memset(fresh, 2, 4000);
    nth_heap_destroy(again);
}

/* Runs fn in a child with poisoning as asked; returns its exit status and its stderr in `out`. */
static int run_child(bug_fn fn, bool poison, char *out, size_t out_size)
{
    char path[] = "/tmp/nth-asan-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return -1;
    unlink(path);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fd, 2);
        if (!nth_heap_set_option(NULL, NTH_OPTION_ASAN_POISON, poison)) _exit(7);
        nth_heap *heap = nth_heap_create(0, 0, 0);
        if (!heap || !nth_heap_set_option(heap, NTH_OPTION_LFH, 0)) _exit(8);
        fn(heap);
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    ssize_t n = pread(fd, out, out_size - 1, 0);
    out[n > 0 ? n : 0] = '\0';
    close(fd);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static char report[1 << 16];

#define CHECK_ASAN(fn, access)                                                     \
    do {                                                                           \
        int status_ = run_child(fn, true, report, sizeof report);                  \
        CHECK(status_ != 0);                                                       \
        CHECK(strstr(report, "AddressSanitizer: use-after-poison") != NULL);       \
        CHECK(strstr(report, access) != NULL);                                     \
        CHECK(strstr(report, #fn) != NULL); /* the faulting function */           \
    } while (0)

TEST(an_overrun_into_the_slack_is_reported)
{
    CHECK_ASAN(slack_overrun, "WRITE of size 1");
}

TEST(an_overrun_into_a_header_is_reported)
{
    CHECK_ASAN(header_underrun, "WRITE of size 1");
}

TEST(a_use_after_free_is_reported)
{
    CHECK_ASAN(use_after_free, "READ of size 1");
}

TEST(big_blocks_overrun_underrun_and_use_after_free_are_reported)
{
    CHECK_ASAN(big_overrun, "WRITE of size 1");
    CHECK_ASAN(big_prefix_underrun, "WRITE of size 1");
    CHECK_ASAN(big_use_after_free, "READ of size 1");
}

TEST(a_use_after_free_of_an_lfh_block_is_reported)
{
    CHECK_ASAN(lfh_use_after_free, "READ of size 1");
    CHECK_ASAN(lfh_use_after_remote_free, "READ of size 1");
}

TEST(the_engine_never_trips_over_its_own_poison)
{
    int status = run_child(clean_workload, true, report, sizeof report);
    CHECK_EQ(status, 0);
    if (status != 0) fprintf(stderr, "%.2000s\n", report);
}

TEST(nothing_is_poisoned_with_the_option_off)
{
    CHECK_EQ(run_child(slack_overrun, false, report, sizeof report), 0);
    CHECK(strstr(report, "AddressSanitizer") == NULL);
}

int main(void)
{
    RUN(an_overrun_into_the_slack_is_reported);
    RUN(an_overrun_into_a_header_is_reported);
    RUN(a_use_after_free_is_reported);
    RUN(big_blocks_overrun_underrun_and_use_after_free_are_reported);
    RUN(a_use_after_free_of_an_lfh_block_is_reported);
    RUN(the_engine_never_trips_over_its_own_poison);
    RUN(nothing_is_poisoned_with_the_option_off);
    return harness_finish("test_asan_poison");
}

#else

int main(void)
{
    printf("SKIP not an AddressSanitizer build (make SAN=asan): nothing can report poisoned memory\n");
    return harness_finish("test_asan_poison");
}

#endif
