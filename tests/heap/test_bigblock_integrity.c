/*
 * test_bigblock_integrity.c — big blocks under misuse and memory pressure.
 *
 * The 128 bytes in front of a big block's data are user-writable: writing any word there, or
 * overflowing into them from the mapping in front, must be reported once (NTH_ERR_CORRUPT,
 * naming the block's data address) at the next free, realloc, validate or walk, and must never
 * make the heap write outside itself, crash, or hand a block out twice. The record the address
 * map names as a big block's owner must lie outside the block's mapping.
 *
 * Under pressure (fault injection on every reserve, commit and remap; RLIMIT_AS sweeps) every
 * allocation either succeeds with at least the requested size (the whole of it writable, the
 * exact size reported by nth_heap_size) or fails with NTH_ERR_NO_MEMORY, and a failed realloc
 * leaves the old block valid and owned. Every risky step runs in a forked child, which must not
 * die by a signal.
 */
#include <sys/resource.h>

#define HARNESS_CORRUPTS_ON_PURPOSE /* damages heap memory to test ntheap's own detection */
#include "harness/harness.h"
#include "heap/internal.h"
#include "heap/vm.h"
#include "ntheap.h"

#define MIB ((size_t)1 << 20)

/* ------------------------------------------------------------------ reports and children */

static int reports;
static nth_error report_error;
static const void *report_address;

static void capture(const nth_report *report, void *context)
{
    (void)context;
    if (getenv("NTH_TEST_VERBOSE")) fprintf(stderr, "  report: %s\n", report->message);
    if (reports++ == 0) {
        report_error = report->error;
        report_address = report->address;
    }
}

static void reset_reports(void)
{
    reports = 0;
    report_error = NTH_OK;
    report_address = NULL;
}

/* Checks inside a child count failures; the child's exit status is their number. */
static int child_failures;
#define CK(cond)                                                                              \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            child_failures++;                                                                 \
            fprintf(stderr, "  child check failed (%s:%d): %s\n", __FILE__, __LINE__, #cond); \
        }                                                                                     \
    } while (0)

/* Runs fn(arg) in a child; the child must exit normally with no failed check. */
static void in_child(void (*fn)(long), long arg)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        child_failures = 0;
        reset_reports();
        nth_set_report_handler(capture, NULL);
        fn(arg);
        _exit(child_failures > 100 ? 100 : child_failures);
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    if (WIFSIGNALED(status)) fprintf(stderr, "  child (arg %ld) died by signal %d\n", arg, WTERMSIG(status));
    CHECK(!WIFSIGNALED(status));
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* Hides where a pointer came from, so the compiler lets a test write in front of a block. */
static void *launder(void *p)
{
    __asm__ volatile("" : "+r"(p));
    return p;
}

static void fill(unsigned char *p, size_t n, unsigned char seed)
{
    for (size_t i = 0; i < n; i += 4096) p[i] = (unsigned char)(seed + i / 4096);
    if (n) p[n - 1] = seed;
}

static bool filled(const unsigned char *p, size_t n, unsigned char seed)
{
    for (size_t i = 0; i < n; i += 4096)
        if (p[i] != (unsigned char)(seed + i / 4096) && !(i == n - 1)) return false;
    return n == 0 || p[n - 1] == seed;
}

static bool heap_sound(nth_heap *heap)
{
    int before = reports;
    bool ok = nth_heap_validate(heap, 0, NULL);
    return ok && reports == before;
}

/* --------------------------------------------------------------------- trust boundary */

TEST(record_lies_outside_the_mapping)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    size_t alignments[] = {16, 4096, 2 * MIB, (size_t)1 << 30};
    for (int i = 0; i < 4; i++) {
        unsigned char *p = nth_heap_alloc_aligned(heap, 0, alignments[i], 2 * MIB);
        REQUIRE(p);
        CHECK((uintptr_t)p % alignments[i] == 0);
        const nth_owner *owner = nth_addrmap_lookup(p);
        REQUIRE(owner);
        CHECK(owner->kind == OWNER_BIG);
        CHECK(owner->heap == heap);
        /* Not in the mapping, and not next to it: no underrun or overrun reaches it. */
        CHECK((const char *)owner + sizeof(nth_big) <= owner->base || (const char *)owner >= owner->base + owner->reserve);
        CHECK(owner->base <= (char *)p - NTH_BIG_HEADER_BYTES);
        CHECK(nth_addrmap_lookup(p + 2 * MIB - 1) == owner);
        /* The whole prefix and the data can be overwritten without touching the record. */
        nth_owner copy = *owner;
        memset((char *)launder(p) - NTH_BIG_HEADER_BYTES, 0x41, NTH_BIG_HEADER_BYTES + 2 * MIB);
        CHECK(memcmp(&copy, owner, sizeof copy) == 0);
        CHECK_EQ(nth_heap_size(heap, 0, p), 2 * MIB);
        nth_set_report_handler(capture, NULL);
        reset_reports();
        CHECK(!nth_heap_free(heap, 0, p)); /* reported and repaired, not freed */
        CHECK_EQ(reports, 1);
        CHECK_EQ(report_error, NTH_ERR_CORRUPT);
        CHECK(report_address == p);
        CHECK(nth_addrmap_lookup(p) == owner); /* still a sound, allocated block */
        CHECK(nth_heap_free(heap, 0, p));
        CHECK_EQ(reports, 1);
        nth_set_report_handler(NULL, NULL);
        CHECK(nth_addrmap_lookup(p) == NULL);
    }
    CHECK(nth_heap_validate(heap, 0, NULL));
    nth_heap_destroy(heap);
}

static uint64_t static_target[32];

/* One 8-byte word written at data[-k] (k = 1..16), with several values: a pointer to static
 * memory, to another live big block, to its own record, and text. */
static void one_word_in_front(long arg)
{
    long k = arg % 16 + 1, kind = arg / 16;
    nth_heap *heap = nth_heap_create(0, 0, 0);
    uint64_t *p = nth_heap_alloc(heap, 0, 2 * MIB);
    uint64_t *q = nth_heap_alloc(heap, 0, 3 * MIB);
    CK(p && q);
    if (!p || !q) return;
    fill((unsigned char *)q, 3 * MIB, 7);
    uint64_t values[] = {(uint64_t)(uintptr_t)static_target, (uint64_t)(uintptr_t)q,
                         (uint64_t)(uintptr_t)((char *)q - NTH_BIG_HEADER_BYTES),
                         (uint64_t)(uintptr_t)nth_addrmap_lookup(q), 0x4141414141414141ull, 0};
    ((uint64_t *)launder(p))[-k] = values[kind];
    reset_reports();
    CK(!nth_heap_free(heap, 0, p));
    CK(reports == 1 && report_error == NTH_ERR_CORRUPT && report_address == p);
    for (int i = 0; i < 32; i++) CK(static_target[i] == 0);
    /* q is intact, still owned once, and never handed out again while live. */
    CK(nth_heap_size(heap, 0, q) == 3 * MIB);
    CK(filled((unsigned char *)q, 3 * MIB, 7));
    unsigned char *more[8];
    for (int i = 0; i < 8; i++) {
        size_t n = (size_t)(i + 1) * MIB;
        more[i] = nth_heap_alloc(heap, 0, n);
        CK(more[i] && more[i] != (unsigned char *)q);
        if (more[i]) more[i][0] = more[i][n - 1] = 1;
    }
    CK(filled((unsigned char *)q, 3 * MIB, 7));
    CK(heap_sound(heap));
    for (int i = 0; i < 8; i++) CK(nth_heap_free(heap, 0, more[i]));
    CK(nth_heap_free(heap, 0, q));
    CK(!nth_heap_free(heap, 0, q)); /* a second free is refused */
    CK(reports == 2);
    CK(heap_sound(heap));
    CK(nth_heap_destroy(heap));
}

TEST(one_word_in_front_is_reported_never_followed)
{
    for (long arg = 0; arg < 16 * 6; arg++) in_child(one_word_in_front, arg);
}

/* Damage found by validate, walk, realloc, flag changes: reported once each, then repaired. */
static void damage_seen_by_every_path(long which)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    unsigned char *p = nth_heap_alloc(heap, 0, 2 * MIB);
    unsigned char *q = nth_heap_alloc(heap, 0, 2 * MIB);
    CK(p && q);
    if (!p || !q) return;
    CK(nth_heap_set_user_value(heap, p, 0x1234));
    fill(p, 2 * MIB, 3);
    memset((char *)launder(p) - 40, 0, 8);
    reset_reports();
    switch (which) {
    case 0:
        CK(!nth_heap_validate(heap, 0, NULL));
        break;
    case 1:
        CK(!nth_heap_validate(heap, 0, p));
        break;
    case 2: {
        nth_walk_entry e = {0};
        int big_seen = 0;
        while (nth_heap_walk(heap, &e))
            if (e.flags & NTH_ENTRY_BIG) {
                big_seen++;
                if (e.data == p) CK(e.size == 2 * MIB && e.u.block.user_value == 0x1234);
            }
        CK(big_seen == 2);
        CK(nth_last_error() == NTH_ERR_NO_MORE_ITEMS);
        break;
    }
    case 3: {
        /* The realloc that finds the damage fails (reported, prefix repaired); the next works. */
        CK(nth_heap_realloc(heap, 0, p, 5 * MIB) == NULL && nth_last_error() == NTH_ERR_CORRUPT);
        unsigned char *r = nth_heap_realloc(heap, 0, p, 5 * MIB);
        CK(r != NULL);
        if (r) {
            p = r;
            CK(filled(p, 2 * MIB, 3));
            CK(nth_heap_size(heap, 0, p) == 5 * MIB);
        }
        break;
    }
    default:
        CK(nth_heap_set_user_flags(heap, p, 0, NTH_SETTABLE_USER_FLAG2));
        break;
    }
    CK(reports == 1 && report_error == NTH_ERR_CORRUPT);
    CK(report_address == p || which == 3);
    /* Reported once: the heap is whole again and the block keeps its value. */
    CK(heap_sound(heap));
    uintptr_t value = 0;
    CK(nth_heap_get_user_info(heap, p, &value, NULL) && value == 0x1234);
    CK(nth_heap_free(heap, 0, p));
    CK(nth_heap_free(heap, 0, q));
    CK(reports == 1);
    CK(nth_heap_destroy(heap));
}

TEST(damage_is_reported_once_by_every_path)
{
    for (long which = 0; which < 5; which++) in_child(damage_seen_by_every_path, which);
}

/* A block whose data ends at its mapping's end, grown by realloc, overflows 64 bytes into the
 * mapping after it: that block's free must report it. */
static void overflow_into_next_mapping(long through_nth_free)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    enum { N = 24 };
    unsigned char *b[N];
    size_t size[N];
    for (int i = 0; i < N; i++) {
        size[i] = (size_t)(i % 3 + 1) * MIB - NTH_BIG_HEADER_BYTES;
        b[i] = nth_heap_alloc(heap, 0, size[i]);
        CK(b[i] != NULL);
        if (!b[i]) return;
        if (i % 2) {
            size[i] += 2 * MIB;
            b[i] = nth_heap_realloc(heap, 0, b[i], size[i]);
            CK(b[i] != NULL);
            if (!b[i]) return;
        }
    }
    /* Find a grown block whose mapping ends where another block's mapping starts. */
    int from = -1, into = -1;
    for (int i = 0; i < N && from < 0; i++)
        for (int j = 0; j < N; j++)
            if (i % 2 && b[i] + size[i] == b[j] - NTH_BIG_HEADER_BYTES) {
                from = i;
                into = j;
                break;
            }
    if (from < 0) { /* the system placed no two of them back to back: nothing to overflow into */
        fprintf(stderr, "  skipped: no big-block mapping ends where another starts\n");
        CK(nth_heap_destroy(heap));
        return;
    }
    memset((char *)launder(b[from]) + size[from], 0x5A, 64);
    reset_reports();
    bool freed = through_nth_free ? nth_free(b[into]) : nth_heap_free(heap, 0, b[into]);
    CK(!freed);
    CK(reports == 1 && report_error == NTH_ERR_CORRUPT && report_address == b[into]);
    CK(nth_heap_owner(b[into]) == heap); /* reported and repaired, still allocated */
    for (int i = 0; i < N; i++)
        if (b[i]) CK(nth_heap_free(heap, 0, b[i]));
    CK(reports == 1);
    CK(heap_sound(heap));
    CK(nth_heap_destroy(heap));
}

TEST(overflow_into_next_mapping_is_reported_by_free)
{
    in_child(overflow_into_next_mapping, 0);
    in_child(overflow_into_next_mapping, 1);
}

/* ------------------------------------------------------------------------ pressure */

/* A freed small mapping sits in the cache; the next, larger request must not get it when it
 * cannot be grown. kind 1: the fresh reservation fails too; the heap then drops its cache and
 * asks once more (as under RLIMIT_AS), which succeeds. */
static void cache_remap_failure(long kind)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    void *small = nth_heap_alloc(heap, 0, 1 * MIB);
    CK(small && nth_heap_free(heap, 0, small));
    nth_vm_inject_failure(NTH_VM_FAULT_REMAP, 1);
    if (kind) nth_vm_inject_failure(NTH_VM_FAULT_RESERVE, 1);
    unsigned char *p = nth_heap_alloc(heap, 0, 8 * MIB);
    nth_vm_inject_failure(NTH_VM_FAULT_REMAP, 0);
    nth_vm_inject_failure(NTH_VM_FAULT_RESERVE, 0);
    CK(p != NULL);
    {
        if (p) {
            CK(nth_heap_size(heap, 0, p) == 8 * MIB);
            CK(nth_heap_usable_size(heap, p) >= 8 * MIB);
            memset(p, 0x6B, 8 * MIB); /* dies here if the block is smaller */
            CK(nth_heap_free(heap, 0, p));
        }
    }
    CK(heap_sound(heap));
    p = nth_heap_alloc(heap, 0, 8 * MIB);
    CK(p && nth_heap_size(heap, 0, p) == 8 * MIB);
    if (p) memset(p, 1, 8 * MIB);
    CK(reports == 0);
    CK(nth_heap_destroy(heap));
}

TEST(cache_remap_failure_never_returns_a_smaller_block)
{
    in_child(cache_remap_failure, 0);
    in_child(cache_remap_failure, 1);
}

/* A realloc that must move a big block: remap number `n` fails (1: the growth in place, 2: the
 * move, which then copies); reserve number `n - 2` fails (the new place). A failed realloc leaves
 * the old block valid and owned. */
static void realloc_move_failure(long arg)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    unsigned char *p = nth_heap_alloc(heap, 0, 2 * MIB);
    unsigned char *blocker = nth_heap_alloc(heap, 0, 2 * MIB); /* usually right behind p */
    CK(p && blocker);
    if (!p || !blocker) return;
    fill(p, 2 * MIB, 9);
    if (arg <= 2)
        nth_vm_inject_failure(NTH_VM_FAULT_REMAP, (unsigned)arg);
    else {
        nth_vm_inject_failure(NTH_VM_FAULT_REMAP, 1);
        nth_vm_inject_failure(NTH_VM_FAULT_RESERVE, 1);
    }
    unsigned char *q = nth_heap_realloc(heap, 0, p, 64 * MIB);
    nth_vm_inject_failure(NTH_VM_FAULT_REMAP, 0);
    nth_vm_inject_failure(NTH_VM_FAULT_RESERVE, 0);
    if (arg <= 2) {
        CK(q != NULL); /* moved instead (arg 2: by copying) */
        if (q) {
            CK(filled(q, 2 * MIB, 9) && nth_heap_size(heap, 0, q) == 64 * MIB);
            memset(q, 0x11, 64 * MIB);
            p = q;
        }
    } else {
        CK(q == NULL && nth_last_error() == NTH_ERR_NO_MEMORY);
        CK(nth_heap_owner(p) == heap && nth_heap_size(heap, 0, p) == 2 * MIB);
        CK(filled(p, 2 * MIB, 9));
    }
    CK(heap_sound(heap));
    CK(nth_heap_free(heap, 0, p));
    CK(nth_heap_free(heap, 0, blocker));
    CK(reports == 0);
    CK(heap_sound(heap));
    CK(nth_heap_destroy(heap));
}

TEST(failed_realloc_leaves_the_block_owned)
{
    for (long arg = 1; arg <= 3; arg++) in_child(realloc_move_failure, arg);
}

typedef struct live_block {
    unsigned char *p;
    size_t size;
} live_block;

/* Allocations, aligned allocations, reallocs (growing in place, moving, shrinking) and frees of
 * big blocks, with the cache in play. Every block is checked over its whole size; a failed call
 * must say NTH_ERR_NO_MEMORY (or CANNOT_MOVE in place) and leave the old block as it was. */
static int big_scenario(nth_heap *heap, uint64_t seed, int steps, size_t max_size)
{
    int failed_calls = 0;
    enum { LIVE = 8 };
    live_block live[LIVE] = {{0}};
    harness_rng rng = {seed};
    nth_heap_stats st;
    CK(nth_heap_query_stats(heap, &st));
    size_t big_before = st.big_blocks;
    for (int step = 0; step < steps; step++) {
        int i = (int)(harness_rand(&rng) % LIVE);
        size_t size = (size_t)harness_rand_range(&rng, 600000, max_size);
        unsigned r = (unsigned)(harness_rand(&rng) % 4);
        if (live[i].p && r < 2) {
            uint32_t flags = r == 1 ? NTH_REALLOC_IN_PLACE_ONLY : 0;
            unsigned char *q = nth_heap_realloc(heap, flags, live[i].p, size);
            if (!q) {
                nth_error e = nth_last_error();
                if (e == NTH_ERR_NO_MEMORY) failed_calls++;
                CK(e == NTH_ERR_NO_MEMORY || (flags && e == NTH_ERR_CANNOT_MOVE));
                /* The old block is still valid and owned. */
                CK(nth_heap_size(heap, 0, live[i].p) == live[i].size);
                CK(filled(live[i].p, live[i].size, (unsigned char)i));
                continue;
            }
            size_t keep = live[i].size < size ? live[i].size : size;
            CK(nth_heap_size(heap, 0, q) == size);
            for (size_t k = 0; k + 4096 <= keep; k += 4096) CK(q[k] == (unsigned char)(i + k / 4096));
            live[i].p = q;
            live[i].size = size;
            fill(q, size, (unsigned char)i);
        } else if (live[i].p) {
            CK(filled(live[i].p, live[i].size, (unsigned char)i));
            CK(nth_heap_free(heap, 0, live[i].p));
            live[i].p = NULL;
        } else {
            size_t alignment = r == 3 ? (size_t)1 << (16 + harness_rand(&rng) % 6) : 16;
            unsigned char *p = nth_heap_alloc_aligned(heap, 0, alignment, size);
            if (!p) {
                failed_calls++;
                CK(nth_last_error() == NTH_ERR_NO_MEMORY);
                continue;
            }
            CK((uintptr_t)p % alignment == 0);
            CK(nth_heap_size(heap, 0, p) == size);
            live[i].p = p;
            live[i].size = size;
            fill(p, size, (unsigned char)i); /* touches every page: dies if the block is short */
        }
    }
    CK(nth_heap_query_stats(heap, &st));
    /* The walk lists every big block once, with its exact size; the counters agree. */
    nth_walk_entry e = {0};
    size_t walked = 0, ours = 0;
    while (nth_heap_walk(heap, &e)) {
        if (!(e.flags & NTH_ENTRY_BIG)) continue;
        walked++;
        for (int i = 0; i < LIVE; i++)
            if (live[i].p == e.data) {
                CK(e.size == live[i].size);
                ours++;
            }
    }
    CK(st.big_blocks == walked && walked == big_before + ours);
    CK(heap_sound(heap));
    for (int i = 0; i < LIVE; i++)
        if (live[i].p) CK(nth_heap_free(heap, 0, live[i].p));
    return failed_calls;
}

/* arg = kind * 1000 + n: the n-th reserve / commit / remap fails. */
static void injected_fault(long arg)
{
    enum nth_vm_fault kind = (enum nth_vm_fault)(arg / 1000);
    nth_heap *heap = nth_heap_create(0, 0, 0);
    CK(heap != NULL);
    if (!heap) return;
    nth_vm_inject_failure(kind, (unsigned)(arg % 1000));
    int failed = big_scenario(heap, 99, 60, 6 * MIB);
    if (getenv("NTH_TEST_VERBOSE")) fprintf(stderr, "  fault %ld: %d failed calls\n", arg, failed);
    /* A failed reserve or commit is felt by the call that makes it; a failed remap may be
     * absorbed (a cached mapping is replaced by a fresh one, an in-place growth moves). */
    if (arg % 1000 == 1 && kind != NTH_VM_FAULT_REMAP) CK(failed > 0);
    nth_vm_inject_failure(kind, 0);
    big_scenario(heap, 7, 20, 6 * MIB); /* and it keeps working */
    CK(reports == 0);
    CK(heap_sound(heap));
    CK(nth_heap_destroy(heap));
}

TEST(every_injected_fault_fails_cleanly)
{
    for (long kind = NTH_VM_FAULT_RESERVE; kind <= NTH_VM_FAULT_REMAP; kind++)
        for (long n = 1; n <= 24; n++) in_child(injected_fault, kind * 1000 + n);
}

/* arg: MiB of address space allowed above what the process uses now. */
static void under_rlimit(long extra_mib)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    CK(heap != NULL);
    if (!heap) return;
    void *warm = nth_heap_alloc(heap, 0, 2 * MIB); /* address-map leaf and record page exist */
    struct rlimit lim = {harness_address_space_in_use() + (size_t)extra_mib * MIB, RLIM_INFINITY};
    lim.rlim_max = lim.rlim_cur;
    CK(setrlimit(RLIMIT_AS, &lim) == 0);
    big_scenario(heap, (uint64_t)extra_mib * 31 + 5, 100, 12 * MIB);
    CK(nth_heap_free(heap, 0, warm));
    CK(reports == 0);
    CK(heap_sound(heap));
    CK(nth_heap_destroy(heap));
}

TEST(rlimit_as_sweep)
{
#if defined(NTH_SANITIZER_BUILD) && NTH_SANITIZER_BUILD
    /* Sanitizer runtimes reserve terabytes of shadow memory: RLIMIT_AS cannot be used there. */
    (void)under_rlimit;
#else
    for (long extra = 4; extra <= 100; extra += 3) in_child(under_rlimit, extra);
#endif
}

/* ------------------------------------------------------------------------ keeps working */

/* More blocks than one record page holds, with user values, some moved by realloc: the walk
 * lists them in allocation order with their values and exact sizes. */
static void many_blocks_then_destroy(void)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    REQUIRE(heap);
    enum { N = 1000 };
    static void *blocks[N];
    for (int i = 0; i < N; i++) {
        blocks[i] = nth_heap_alloc(heap, NTH_SETTABLE_USER_VALUE, MIB - NTH_BIG_HEADER_BYTES);
        REQUIRE(blocks[i]);
        CHECK(nth_heap_set_user_value(heap, blocks[i], (uintptr_t)i + 1));
    }
    for (int i = 0; i < N; i += 97) {
        blocks[i] = nth_heap_realloc(heap, 0, blocks[i], 5 * MIB);
        REQUIRE(blocks[i]);
    }
    nth_walk_entry e = {0};
    int seen = 0;
    while (nth_heap_walk(heap, &e)) {
        if (!(e.flags & NTH_ENTRY_BIG)) continue;
        REQUIRE(seen < N);
        CHECK(e.data == blocks[seen]);
        CHECK(e.u.block.user_value == (uintptr_t)seen + 1);
        CHECK_EQ(e.size, seen % 97 == 0 ? 5 * MIB : MIB - NTH_BIG_HEADER_BYTES);
        seen++;
    }
    CHECK_EQ(seen, N);
    for (int i = 0; i < N; i += 2) CHECK(nth_heap_free(heap, 0, blocks[i])); /* some go to the cache */
    CHECK(nth_heap_validate(heap, 0, NULL));
    CHECK(nth_heap_destroy(heap));
}

/* Destroy gives back every mapping (blocks, cached mappings, record pages): a second round
 * leaves the address space as the first did (address-map leaves outlive heaps by design). */
TEST(user_values_order_and_destroy)
{
    many_blocks_then_destroy();
    size_t after_first = harness_address_space_in_use();
    many_blocks_then_destroy();
    CHECK_EQ(harness_address_space_in_use(), after_first);
}

/* Two threads free one big block at once: the loser found the block's record in the address map
 * just before the winner released it (its fields then read as zeros). Replayed here in that
 * order: the loser's free must fail as a reported bad pointer, not as a silent bad handle; so
 * must nth_heap_from_pointer answer NULL for it. */
TEST(a_free_that_loses_the_race_for_a_big_block_is_reported)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    REQUIRE(heap != NULL);
    void *keep = nth_heap_alloc(heap, 0, 2 * MIB); /* the record page stays in use */
    void *p = nth_heap_alloc(heap, 0, 2 * MIB);
    REQUIRE(keep && p);
    const nth_owner *seen = nth_addrmap_lookup(p); /* the loser's look at the map */
    REQUIRE(seen != NULL && seen->kind == OWNER_BIG);
    REQUIRE(nth_heap_free(heap, 0, p)); /* the winner */
    reset_reports();
    nth_set_report_handler(capture, NULL);
    nth_set_last_error(NTH_OK);
    CHECK(!nth_free_as_slow(p, seen, "nth_free"));
    CHECK_EQ(reports, 1);
    CHECK_EQ(nth_last_error(), NTH_ERR_INVALID_POINTER);
    CHECK(report_address == p);
    CHECK(nth_heap_from_pointer(p) == NULL);
    nth_set_report_handler(NULL, NULL);
    CHECK(heap_sound(heap));
    nth_heap_free(heap, 0, keep);
    nth_heap_destroy(heap);
}

int main(int argc, char **argv)
{
    (void)argc;
    RUN(record_lies_outside_the_mapping);
    RUN(one_word_in_front_is_reported_never_followed);
    RUN(damage_is_reported_once_by_every_path);
    RUN(overflow_into_next_mapping_is_reported_by_free);
    RUN(cache_remap_failure_never_returns_a_smaller_block);
    RUN(failed_realloc_leaves_the_block_owned);
    RUN(every_injected_fault_fails_cleanly);
    RUN(rlimit_as_sweep);
    RUN(user_values_order_and_destroy);
    RUN(a_free_that_loses_the_race_for_a_big_block_is_reported);
    return harness_finish(argv[0]);
}
