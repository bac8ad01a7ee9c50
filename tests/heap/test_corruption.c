/*
 * test_corruption.c — the corruption table. Each row commits one misuse or corruption and names
 * the report the heap must produce (call, error); the heap must never crash, and afterwards the
 * blocks the row did not touch must be intact and, unless the row damaged metadata on purpose,
 * the heap must validate. Row 0 misuses nothing and must produce no report. The termination
 * policy rows run in a child that must die with SIGABRT after printing the report.
 */
#include <sys/mman.h>

#define HARNESS_CORRUPTS_ON_PURPOSE /* damages heap memory to test ntheap's own detection */
#include "harness/harness.h"
#include "ntheap.h"

typedef struct captured {
    int count;
    nth_error error;
    const void *address;
    char message[512];
} captured;

static captured seen;

static void capture(const nth_report *report, void *context)
{
    (void)context;
    if (seen.count++ == 0) {
        seen.error = report->error;
        seen.address = report->address;
        snprintf(seen.message, sizeof seen.message, "%s", report->message);
    }
}

typedef struct fixture {
    nth_heap *heap, *other;
    char *small, *medium, *lfh, *big, *bystander;
    const void *named; /* set by a row: the address its first report must name */
} fixture;

static void setup(fixture *f, uint32_t flags)
{
    f->named = NULL;
    f->heap = nth_heap_create(flags, 0, 0);
    f->other = nth_heap_create(0, 0, 0);
    char *warm[20];
    for (int i = 0; i < 20; i++) warm[i] = nth_heap_alloc(f->heap, 0, 32); /* activates the LFH for 32 */
    f->lfh = warm[19];
    f->small = nth_heap_alloc(f->heap, 0, 100);
    f->medium = nth_heap_alloc(f->heap, 0, 20000);
    (void)!nth_heap_alloc(f->heap, 0, 20000); /* overflow rows run into this one */
    f->bystander = nth_heap_alloc(f->heap, 0, 20000);
    f->big = nth_heap_alloc(f->heap, 0, 3 << 20);
    memset(f->bystander, 0x5B, 20000);
}

static void teardown(fixture *f)
{
    nth_heap_destroy(f->heap);
    nth_heap_destroy(f->other);
}

typedef enum { HEAP_SOUND, HEAP_DAMAGED } outcome;

typedef struct row {
    const char *name;
    uint32_t heap_flags;
    void (*misuse)(fixture *f);
    nth_error expected; /* NTH_OK: no report at all */
    outcome after;
} row;

static void control(fixture *f) { CHECK(nth_heap_free(f->heap, 0, f->small)); }
static void wild(fixture *f) { CHECK(!nth_heap_free(f->heap, 0, (void *)0x1000)); }
static void wild_high(fixture *f) { CHECK(!nth_heap_free(f->heap, 0, (void *)0x7ffffffff000)); }
static void kernel_address(fixture *f) { CHECK(!nth_heap_free(f->heap, 0, (void *)0xffff800000001000)); }
static void stack_pointer(fixture *f)
{
    char local[64] = {0};
    CHECK(!nth_heap_free(f->heap, 0, local + 16));
}
static void static_pointer(fixture *f)
{
    static char global[64] __attribute__((aligned(16)));
    CHECK(!nth_heap_free(f->heap, 0, global));
}
static void glibc_pointer(fixture *f)
{
    void *p = malloc(64);
    CHECK(!nth_heap_free(f->heap, 0, p));
    free(p);
}
static void interior(fixture *f) { CHECK(!nth_heap_free(f->heap, 0, f->medium + 160)); }
static void misaligned(fixture *f) { CHECK(!nth_heap_free(f->heap, 0, f->small + 1)); }
static void double_free(fixture *f)
{
    CHECK(nth_heap_free(f->heap, 0, f->small));
    CHECK(!nth_heap_free(f->heap, 0, f->small));
}
static void double_free_after_coalesce(fixture *f)
{
    CHECK(nth_heap_free(f->heap, 0, f->medium));
    CHECK(nth_heap_free(f->heap, 0, f->small)); /* may merge with its neighbours */
    CHECK(!nth_heap_free(f->heap, 0, f->medium));
}
static void double_free_after_merging_into_prev(fixture *f)
{
    CHECK(nth_heap_free(f->heap, 0, f->small));
    CHECK(nth_heap_free(f->heap, 0, f->medium)); /* merges into the free block before it */
    CHECK(!nth_heap_free(f->heap, 0, f->medium));
}
/* With free checking, the merged block is filled but for the tombstone where medium started:
 * a reuse of that memory must not take the tombstone for a write after free... */
static void reuse_over_a_merged_block(fixture *f)
{
    CHECK(nth_heap_free(f->heap, 0, f->small));
    CHECK(nth_heap_free(f->heap, 0, f->medium));
    CHECK(nth_heap_alloc(f->heap, 0, 20100) == f->small);
}
/* ...and a write over the tombstone is one. */
static void write_over_a_tombstone(fixture *f)
{
    CHECK(nth_heap_free(f->heap, 0, f->small));
    CHECK(nth_heap_free(f->heap, 0, f->medium));
    f->medium[-4] = 1;
    CHECK(!nth_heap_validate(f->heap, 0, NULL));
}
/* A write after free where the reuse writes headers: the rest of a split, a block grown in place
 * over its free neighbour, a reuse over a tombstone. Each is found before it is overwritten. */
static void write_after_free_under_the_rest_header(fixture *f)
{
    nth_heap_free(f->heap, 0, f->medium);
    size_t taken = (19000 + 16 + 15) / 16 * 16; /* 19000 bytes and a header, in granules */
    f->medium[taken - 16 + 8] = 1;               /* where the split writes the rest's header */
    (void)!nth_heap_alloc(f->heap, 0, 19000);
}
static void write_after_free_under_an_in_place_grow(fixture *f)
{
    nth_heap_free(f->heap, 0, f->medium);
    f->medium[20] = 1;
    CHECK(nth_heap_realloc(f->heap, NTH_REALLOC_IN_PLACE_ONLY, f->small, 300) == f->small);
}
static void write_over_a_tombstone_found_on_reuse(fixture *f)
{
    CHECK(nth_heap_free(f->heap, 0, f->small));
    CHECK(nth_heap_free(f->heap, 0, f->medium));
    f->medium[-4] = 1;
    CHECK(nth_heap_alloc(f->heap, 0, 20100) == f->small);
}
static void double_free_lfh(fixture *f)
{
    CHECK(nth_heap_free(f->heap, 0, f->lfh));
    CHECK(!nth_heap_free(f->heap, 0, f->lfh));
}
static void lfh_interior(fixture *f) { CHECK(!nth_heap_free(f->heap, 0, f->lfh + 16)); }
static void lfh_unused_slot(fixture *f) { CHECK(!nth_heap_free(f->heap, 0, f->lfh + 32 * 40)); }
static void big_interior(fixture *f) { CHECK(!nth_heap_free(f->heap, 0, f->big + 4096)); }
static void big_double_free(fixture *f)
{
    CHECK(nth_heap_free(f->heap, 0, f->big));
    CHECK(!nth_heap_free(f->heap, 0, f->big));
}
static void foreign_heap(fixture *f) { CHECK(!nth_heap_free(f->other, 0, f->small)); }
static void foreign_heap_lfh(fixture *f) { CHECK(!nth_heap_free(f->other, 0, f->lfh)); }
static void foreign_heap_big(fixture *f) { CHECK(!nth_heap_free(f->other, 0, f->big)); }
static void heap_header(fixture *f) { CHECK(!nth_heap_free(f->heap, 0, (char *)f->heap + 16)); }
static void uncommitted(fixture *f) { CHECK(!nth_heap_free(f->heap, 0, (char *)f->heap + (200 << 10))); }
static void size_of_wild(fixture *f) { CHECK_EQ(nth_heap_size(f->heap, 0, (void *)0x5000), NTH_SIZE_ERROR); }
static void size_of_freed(fixture *f)
{
    nth_heap_free(f->heap, 0, f->small);
    CHECK_EQ(nth_heap_size(f->heap, 0, f->small), NTH_SIZE_ERROR);
}
static void realloc_freed(fixture *f)
{
    nth_heap_free(f->heap, 0, f->small);
    CHECK(nth_heap_realloc(f->heap, 0, f->small, 500) == NULL);
}
static void realloc_interior(fixture *f) { CHECK(nth_heap_realloc(f->heap, 0, f->medium + 32, 10) == NULL); }
static void validate_interior(fixture *f) { CHECK(!nth_heap_validate(f->heap, 0, f->medium + 48)); }
static void usable_of_stack(fixture *f)
{
    char local[32] = {0};
    CHECK_EQ(nth_heap_usable_size(f->heap, local), NTH_SIZE_ERROR);
}
static void user_value_on_wild(fixture *f) { CHECK(!nth_heap_set_user_value(f->heap, (void *)0x2000, 1)); }
static void overflow_into_next_header(fixture *f)
{
    memset(f->medium, 0x41, 20000 + 40); /* runs over the next block's header */
    CHECK(!nth_heap_validate(f->heap, 0, NULL));
}
static void free_after_overflow(fixture *f)
{
    memset(f->medium, 0x41, 20000 + 40);
    nth_heap_free(f->heap, 0, f->medium); /* coalescing would read the damaged header */
}
static void free_of_overflowed_block(fixture *f)
{
    memset(f->small - 16, 0, 8); /* its own header */
    CHECK(!nth_heap_free(f->heap, 0, f->small));
}
static void underflow_into_own_header(fixture *f)
{
    f->medium[-3] ^= 0x10;
    CHECK(!nth_heap_free(f->heap, 0, f->medium));
}
static void validate_block_after_overflow(fixture *f)
{
    memset(f->small, 0x42, 100 + 20);
    CHECK(!nth_heap_validate(f->heap, 0, f->small));
}
static void tail_fill_overrun(fixture *f)
{
    f->small[100] = 0; /* the first fill byte */
    nth_heap_free(f->heap, 0, f->small);
}
static void tail_fill_overrun_validate(fixture *f)
{
    f->small[103] = 0;
    CHECK(!nth_heap_validate(f->heap, 0, NULL));
}
static void write_after_free(fixture *f)
{
    nth_heap_free(f->heap, 0, f->medium);
    f->medium[1000] = 1; /* into the free fill */
    CHECK(!nth_heap_validate(f->heap, 0, NULL));
}
static void write_after_free_realloc(fixture *f)
{
    nth_heap_free(f->heap, 0, f->medium);
    f->medium[64] = 1;
    (void)!nth_heap_alloc(f->heap, 0, 19000); /* reuses it and checks the fill */
}
static void free_list_link_smash(fixture *f)
{
    nth_heap_free(f->heap, 0, f->medium);
    memset(f->medium, 0x66, 16); /* the free block's links */
    (void)!nth_heap_alloc(f->heap, 0, 19000);
    f->named = f->medium;
}
static void validate_after_link_smash(fixture *f)
{
    nth_heap_free(f->heap, 0, f->medium);
    memset(f->medium, 0x66, 16);
    CHECK(!nth_heap_validate(f->heap, 0, NULL));
    f->named = f->medium;
}

/* Back-end damage containment: a stale pointer writes over a free block's links. The block must
 * be named once, taken out of service, and every size must still be served afterwards. */
static bool serves_every_size(fixture *f)
{
    static const size_t sizes[] = {1, 24, 100, 500, 1000, 4000, 19000, 20000, 60000, 200000, 900000, 3 << 20};
    void *got[sizeof sizes / sizeof sizes[0]][4];
    bool ok = true;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        for (int k = 0; k < 4; k++) {
            got[i][k] = nth_heap_alloc(f->heap, 0, sizes[i]);
            if (!got[i][k] || (char *)got[i][k] == f->medium) ok = false;
            if (got[i][k]) memset(got[i][k], 0x77, sizes[i]);
        }
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        for (int k = 0; k < 4; k++)
            if (got[i][k]) ok &= nth_heap_free(f->heap, 0, got[i][k]);
    return ok;
}
static void uaf_links(fixture *f, const void *next, const void *prev)
{
    nth_heap_free(f->heap, 0, f->medium);
    memcpy(f->medium, &next, sizeof next);
    memcpy(f->medium + 8, &prev, sizeof prev);
    f->named = f->medium;
}
static void uaf_text_then_every_size(fixture *f)
{
    nth_heap_free(f->heap, 0, f->medium);
    memcpy(f->medium, "use after free!", 16);
    f->named = f->medium;
    CHECK(serves_every_size(f));
    nth_heap_stats st;
    CHECK(nth_heap_query_stats(f->heap, &st));
    CHECK_EQ(st.damaged_blocks, 1);
}
static void uaf_static_then_stats(fixture *f)
{
    static char elsewhere[64] __attribute__((aligned(16)));
    uaf_links(f, elsewhere, elsewhere);
    nth_heap_stats st;
    CHECK(nth_heap_query_stats(f->heap, &st)); /* used to fault in nth_header_load */
    CHECK(serves_every_size(f));
    CHECK(nth_heap_query_stats(f->heap, &st));
    CHECK_EQ(st.damaged_blocks, 1);
    CHECK_EQ(st.damaged_bytes, 20000 + 16);
}
static void uaf_static_then_compact(fixture *f)
{
    static char elsewhere[64] __attribute__((aligned(16)));
    uaf_links(f, elsewhere, elsewhere + 16);
    (void)nth_heap_compact(f->heap, 0); /* used to fault */
    CHECK(serves_every_size(f));
}
static void uaf_live_block_then_alloc(fixture *f)
{
    uaf_links(f, f->small, f->bystander); /* links at two live blocks of the same heap */
    CHECK(serves_every_size(f));
}
static void uaf_self_cycle(fixture *f)
{
    uaf_links(f, f->medium, f->medium); /* a cycle of one: safe unlink alone would accept it */
    CHECK(serves_every_size(f));
}
static void uaf_wild_then_walk(fixture *f)
{
    uaf_links(f, (void *)0x1000, (void *)0x7ffffffff000);
    nth_heap_stats st;
    CHECK(nth_heap_query_stats(f->heap, &st));
    CHECK(serves_every_size(f));
    nth_walk_entry e = {0};
    int damaged = 0;
    while (nth_heap_walk(f->heap, &e))
        if ((e.flags & NTH_ENTRY_DAMAGED) && e.data == f->medium) damaged++;
    CHECK_EQ(damaged, 1);
}
static void destroyed_heap_alloc(fixture *f)
{
    nth_heap *h = nth_heap_create(0, 0, 0);
    nth_heap_destroy(h);
    CHECK(nth_heap_alloc(h, 0, 10) == NULL);
    CHECK_EQ(nth_last_error(), NTH_ERR_INVALID_HANDLE);
    (void)f;
}
static void destroyed_heap_pointer(fixture *f)
{
    nth_heap *h = nth_heap_create(0, 0, 0);
    void *p = nth_heap_alloc(h, 0, 64);
    nth_heap_destroy(h);
    CHECK(!nth_heap_free(f->heap, 0, p));
}
static void unmapped_neighbour(fixture *f)
{
    char *page = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(page + 4096, 4096);
    CHECK(!nth_heap_free(f->heap, 0, page + 4096)); /* never read */
    munmap(page, 4096);
}
static void lfh_remote_double_free_setup(fixture *f);

static const row table[] = {
    {"control: a plain free", 0, control, NTH_OK, HEAP_SOUND},
    {"wild low pointer", 0, wild, NTH_ERR_INVALID_POINTER, HEAP_SOUND},
    {"wild high pointer", 0, wild_high, NTH_ERR_INVALID_POINTER, HEAP_SOUND},
    {"non-canonical address", 0, kernel_address, NTH_ERR_INVALID_POINTER, HEAP_SOUND},
    {"stack pointer", 0, stack_pointer, NTH_ERR_INVALID_POINTER, HEAP_SOUND},
    {"static data pointer", 0, static_pointer, NTH_ERR_INVALID_POINTER, HEAP_SOUND},
    {"glibc malloc pointer", 0, glibc_pointer, NTH_ERR_INVALID_POINTER, HEAP_SOUND},
    {"interior pointer", 0, interior, NTH_ERR_INVALID_POINTER, HEAP_SOUND},
    {"misaligned pointer", 0, misaligned, NTH_ERR_INVALID_POINTER, HEAP_SOUND},
    {"double free", 0, double_free, NTH_ERR_DOUBLE_FREE, HEAP_SOUND},
    {"double free after coalescing", 0, double_free_after_coalesce, NTH_ERR_DOUBLE_FREE, HEAP_SOUND},
    {"LFH double free", 0, double_free_lfh, NTH_ERR_DOUBLE_FREE, HEAP_SOUND},
    {"LFH interior pointer", 0, lfh_interior, NTH_ERR_INVALID_POINTER, HEAP_SOUND},
    {"LFH never-used slot", 0, lfh_unused_slot, NTH_ERR_INVALID_POINTER, HEAP_SOUND},
    {"big block interior", 0, big_interior, NTH_ERR_INVALID_POINTER, HEAP_SOUND},
    {"big block double free", 0, big_double_free, NTH_ERR_INVALID_POINTER, HEAP_SOUND},
    {"block of another heap", 0, foreign_heap, NTH_ERR_WRONG_HEAP, HEAP_SOUND},
    {"LFH block of another heap", 0, foreign_heap_lfh, NTH_ERR_WRONG_HEAP, HEAP_SOUND},
    {"big block of another heap", 0, foreign_heap_big, NTH_ERR_WRONG_HEAP, HEAP_SOUND},
    {"the heap's own header", 0, heap_header, NTH_ERR_INVALID_POINTER, HEAP_SOUND},
    {"uncommitted heap memory", 0, uncommitted, NTH_ERR_INVALID_POINTER, HEAP_SOUND},
    {"size of a wild pointer", 0, size_of_wild, NTH_ERR_INVALID_POINTER, HEAP_SOUND},
    {"size of a freed block", 0, size_of_freed, NTH_ERR_DOUBLE_FREE, HEAP_SOUND},
    {"realloc of a freed block", 0, realloc_freed, NTH_ERR_DOUBLE_FREE, HEAP_SOUND},
    {"realloc of an interior pointer", 0, realloc_interior, NTH_ERR_INVALID_POINTER, HEAP_SOUND},
    {"validate an interior pointer", 0, validate_interior, NTH_ERR_INVALID_POINTER, HEAP_SOUND},
    {"usable size of a stack pointer", 0, usable_of_stack, NTH_ERR_INVALID_POINTER, HEAP_SOUND},
    {"user value of a wild pointer", 0, user_value_on_wild, NTH_ERR_INVALID_POINTER, HEAP_SOUND},
    {"pointer into a destroyed heap", 0, destroyed_heap_pointer, NTH_ERR_INVALID_POINTER, HEAP_SOUND},
    {"pointer next to unmapped memory", 0, unmapped_neighbour, NTH_ERR_INVALID_POINTER, HEAP_SOUND},
    {"alloc on a destroyed heap", 0, destroyed_heap_alloc, NTH_OK, HEAP_SOUND},
    {"overflow into the next header", 0, overflow_into_next_header, NTH_ERR_CORRUPT, HEAP_DAMAGED},
    {"free after overflowing the next header", 0, free_after_overflow, NTH_ERR_CORRUPT, HEAP_DAMAGED},
    {"free of a block whose header was zeroed", 0, free_of_overflowed_block, NTH_ERR_INVALID_POINTER, HEAP_DAMAGED},
    {"underflow into the block's own header", 0, underflow_into_own_header, NTH_ERR_INVALID_POINTER, HEAP_DAMAGED},
    {"validate one block after an overflow", 0, validate_block_after_overflow, NTH_ERR_CORRUPT, HEAP_DAMAGED},
    {"tail fill overrun, found on free", NTH_TAIL_CHECKING_ENABLED, tail_fill_overrun, NTH_ERR_CORRUPT, HEAP_SOUND},
    {"tail fill overrun, found by validate", NTH_TAIL_CHECKING_ENABLED, tail_fill_overrun_validate, NTH_ERR_CORRUPT, HEAP_DAMAGED},
    {"write after free, found by validate", NTH_FREE_CHECKING_ENABLED, write_after_free, NTH_ERR_CORRUPT, HEAP_DAMAGED},
    {"write after free, found on reuse", NTH_FREE_CHECKING_ENABLED, write_after_free_realloc, NTH_ERR_CORRUPT, HEAP_SOUND},
    {"double free after coalescing, free checking", NTH_FREE_CHECKING_ENABLED, double_free_after_coalesce, NTH_ERR_DOUBLE_FREE, HEAP_SOUND},
    {"double free after merging into the block before", 0, double_free_after_merging_into_prev, NTH_ERR_DOUBLE_FREE, HEAP_SOUND},
    {"the same, free checking", NTH_FREE_CHECKING_ENABLED, double_free_after_merging_into_prev, NTH_ERR_DOUBLE_FREE, HEAP_SOUND},
    {"reuse of a merged block, free checking", NTH_FREE_CHECKING_ENABLED, reuse_over_a_merged_block, NTH_OK, HEAP_SOUND},
    {"write over a merged block's tombstone, free checking", NTH_FREE_CHECKING_ENABLED, write_over_a_tombstone, NTH_ERR_CORRUPT, HEAP_DAMAGED},
    {"write after free under a split's new header, found on reuse", NTH_FREE_CHECKING_ENABLED, write_after_free_under_the_rest_header, NTH_ERR_CORRUPT, HEAP_SOUND},
    {"write after free, found by an in-place grow", NTH_FREE_CHECKING_ENABLED, write_after_free_under_an_in_place_grow, NTH_ERR_CORRUPT, HEAP_SOUND},
    {"write over a tombstone, found on reuse", NTH_FREE_CHECKING_ENABLED, write_over_a_tombstone_found_on_reuse, NTH_ERR_CORRUPT, HEAP_SOUND},
    {"free-list links smashed, found on alloc", 0, free_list_link_smash, NTH_ERR_CORRUPT, HEAP_SOUND},
    {"free-list links smashed, found by validate", 0, validate_after_link_smash, NTH_ERR_CORRUPT, HEAP_DAMAGED},
    {"back-end UAF text over links: every size still served", 0, uaf_text_then_every_size, NTH_ERR_CORRUPT, HEAP_SOUND},
    {"back-end UAF links to static memory, then stats", 0, uaf_static_then_stats, NTH_ERR_CORRUPT, HEAP_SOUND},
    {"back-end UAF links to static memory, then compact", 0, uaf_static_then_compact, NTH_ERR_CORRUPT, HEAP_SOUND},
    {"back-end UAF links to live blocks, then alloc", 0, uaf_live_block_then_alloc, NTH_ERR_CORRUPT, HEAP_SOUND},
    {"back-end UAF links to the block itself (cycle)", 0, uaf_self_cycle, NTH_ERR_CORRUPT, HEAP_SOUND},
    {"back-end UAF wild links, then walk shows it damaged", 0, uaf_wild_then_walk, NTH_ERR_CORRUPT, HEAP_SOUND},
    {"LFH double free from another thread", 0, lfh_remote_double_free_setup, NTH_ERR_DOUBLE_FREE, HEAP_SOUND},
};

#include <pthread.h>
static fixture *remote_fixture;
static void *remote_free_twice(void *arg)
{
    (void)arg;
    CHECK(nth_heap_free(remote_fixture->heap, 0, remote_fixture->lfh));
    CHECK(!nth_heap_free(remote_fixture->heap, 0, remote_fixture->lfh));
    return NULL;
}
static void lfh_remote_double_free_setup(fixture *f)
{
    pthread_t t;
    remote_fixture = f;
    pthread_create(&t, NULL, remote_free_twice, NULL);
    pthread_join(t, NULL);
}

static bool bystander_intact(const fixture *f)
{
    for (int i = 0; i < 20000; i++)
        if ((unsigned char)f->bystander[i] != 0x5B) return false;
    return true;
}

TEST(corruption_table)
{
    nth_set_report_handler(capture, NULL);
    int detected = 0, rows = (int)(sizeof table / sizeof table[0]);
    for (int i = 0; i < rows; i++) {
        const row *r = &table[i];
        fixture f;
        setup(&f, r->heap_flags);
        memset(&seen, 0, sizeof seen);
        r->misuse(&f);
        bool ok = r->expected == NTH_OK ? seen.count == 0 : seen.count >= 1 && seen.error == r->expected;
        if (ok && f.named && seen.address != f.named) {
            fprintf(stderr, "  row \"%s\": the report names %p, not %p\n", r->name, seen.address, f.named);
            ok = false;
        }
        if (!ok)
            fprintf(stderr, "  row \"%s\": expected %s, got %d reports (first %s: %s)\n", r->name,
                    nth_error_name(r->expected), seen.count, nth_error_name(seen.error), seen.message);
        CHECK(ok);
        detected += ok;
        CHECK(bystander_intact(&f));
        if (r->after == HEAP_SOUND) {
            bool sound = nth_heap_validate(f.heap, 0, NULL);
            if (!sound) fprintf(stderr, "  row \"%s\": heap no longer validates\n", r->name);
            CHECK(sound);
        }
        teardown(&f);
    }
    nth_set_report_handler(NULL, NULL);
    fprintf(stderr, "corruption table: %d of %d rows as expected\n", detected, rows);
    CHECK(rows >= 40);
}

TEST(report_names_call_heap_and_address)
{
    nth_set_report_handler(capture, NULL);
    fixture f;
    setup(&f, 0);
    memset(&seen, 0, sizeof seen);
    nth_heap_free(f.heap, 0, f.small);
    nth_heap_free(f.heap, 0, f.small);
    char heap_text[32], addr_text[32];
    snprintf(heap_text, sizeof heap_text, "%p", (void *)f.heap);
    snprintf(addr_text, sizeof addr_text, "%p", (void *)f.small);
    CHECK(strstr(seen.message, "nth_heap_free(") != NULL);
    CHECK(strstr(seen.message, heap_text) != NULL);
    CHECK(strstr(seen.message, addr_text) != NULL);
    CHECK(strstr(seen.message, "expected a busy block") != NULL);
    CHECK(strstr(seen.message, "already freed") != NULL);
    nth_set_call_name("HeapFree");
    memset(&seen, 0, sizeof seen);
    nth_heap_free(f.heap, 0, f.small);
    CHECK(strstr(seen.message, "HeapFree(") != NULL);
    nth_set_call_name(NULL);
    teardown(&f);
    nth_set_report_handler(NULL, NULL);
}

static void terminate_double_free(void)
{
    fixture f;
    setup(&f, 0);
    nth_heap_set_option(f.heap, NTH_OPTION_TERMINATE_ON_CORRUPTION, 1);
    nth_heap_free(f.heap, 0, f.small);
    nth_heap_free(f.heap, 0, f.small);
}

static void terminate_process_wide(void)
{
    nth_heap_set_option(NULL, NTH_OPTION_TERMINATE_ON_CORRUPTION, 1);
    fixture f;
    setup(&f, 0);
    nth_heap_free(f.heap, 0, f.lfh + 16);
}

static void no_termination(void)
{
    fixture f;
    setup(&f, 0);
    nth_heap_free(f.heap, 0, f.small);
    nth_heap_free(f.heap, 0, f.small);
}

TEST(termination_on_corruption)
{
    CHECK_EQ(expect_child_death(terminate_double_free, NULL), SIGABRT);
    CHECK_EQ(expect_child_death(terminate_process_wide, NULL), SIGABRT);
    int status = -1;
    CHECK_EQ(expect_child_death(no_termination, &status), 0);
    CHECK_EQ(status, 0);
}

static uint32_t raised_status;
static void remember_exception(uint32_t status, const nth_report *report, void *context)
{
    (void)report;
    (void)context;
    raised_status = status;
}

static void default_exception(void)
{
    nth_heap *heap = nth_heap_create(NTH_GENERATE_EXCEPTIONS, 0, 1 << 20);
    (void)!nth_heap_alloc(heap, 0, 4 << 20);
}

TEST(generate_exceptions)
{
    nth_heap *heap = nth_heap_create(NTH_GENERATE_EXCEPTIONS, 0, 1 << 20);
    nth_set_exception_handler(remember_exception, NULL);
    CHECK(nth_heap_alloc(heap, 0, 4 << 20) == NULL);
    CHECK_EQ(raised_status, NTH_STATUS_NO_MEMORY);
    nth_heap *plain = nth_heap_create(0, 0, 1 << 20);
    raised_status = 0;
    CHECK(nth_heap_alloc(plain, NTH_GENERATE_EXCEPTIONS, 4 << 20) == NULL);
    CHECK_EQ(raised_status, NTH_STATUS_NO_MEMORY);
    raised_status = 0;
    CHECK(nth_heap_alloc(plain, 0, 4 << 20) == NULL);
    CHECK_EQ(raised_status, 0);
    nth_set_exception_handler(NULL, NULL);
    CHECK_EQ(expect_child_death(default_exception, NULL), SIGABRT);
    nth_heap_destroy(plain);
    nth_heap_destroy(heap);
}

int main(int argc, char **argv)
{
    (void)argc;
    RUN(corruption_table);
    RUN(report_names_call_heap_and_address);
    RUN(termination_on_corruption);
    RUN(generate_exceptions);
    return harness_finish(argv[0]);
}
