/*
 * test_page_heap.c — the full and light page heap and the debug fills, each bug made to happen
 * in a child: a 1-byte overrun faults at the write and the report names the block and its size;
 * a use after free faults while the block is in the delayed-free queue; an underrun faults with
 * page_heap_align_start; a double free of a delayed block is reported; a write into the bytes
 * between the block's end and the guard is caught on free; the light page heap catches a write
 * after free when the block leaves the queue, and refuses a block waiting there in every call
 * that takes a pointer; tags count page-heap blocks, and a page-heap realloc carries the user
 * value and flags; page-heap blocks are seen by HeapSize, walk,
 * validate and destroy; debug_fill's patterns are visible and checked on free, realloc and
 * validate; parameter_checking refuses unknown flags.
 */
#include "debug/debug_child.h"

/* Fault tests need this process's SIGSEGV handler; under AddressSanitizer they still run
 * (the page heap's handler is installed after ASan's and handles its own faults first). */

static nth_heap *heap_with(nth_heap_option option, size_t value)
{
    nth_heap_set_option(NULL, option, value);
    return nth_heap_create(0, 0, 0);
}

/* Exported (not static) so that stacks can name them. */
char *debug_test_alloc(nth_heap *heap, size_t size);
void debug_test_free(nth_heap *heap, void *p);

__attribute__((noinline)) char *debug_test_alloc(nth_heap *heap, size_t size)
{
    char *p = nth_heap_alloc(heap, 0, size);
    __asm__ volatile("" ::: "memory");
    return p;
}

__attribute__((noinline)) void debug_test_free(nth_heap *heap, void *p)
{
    nth_heap_free(heap, 0, p);
    __asm__ volatile("" ::: "memory");
}

static void write_byte(volatile char *p)
{
    *p = 1;
}

static void overrun_scenario(void)
{
    nth_heap_set_option(NULL, NTH_OPTION_STACK_TRACES, 1);
    nth_heap *heap = heap_with(NTH_OPTION_PAGE_HEAP, 1);
    char *p = debug_test_alloc(heap, 32);
    announce(p);
    memset(p, 0x11, 32); /* every byte of the block is usable */
    write_byte(p + 32);  /* one past the end: the guard page */
    fprintf(stderr, "NOT REACHED\n");
}

TEST(overrun_by_one_byte_faults_at_the_write)
{
    static child_result r;
    REQUIRE(child_ran(&r, overrun_scenario));
    CHECK(died_by(&r, SIGSEGV));
    CHECK(!says(&r, "NOT REACHED"));
    char want[160];
    snprintf(want, sizeof want, "buffer overrun of block %p (32 bytes) at address %p (+0 bytes from its end)",
             r.block, (void *)((char *)r.block + 32));
    CHECK(r.block != NULL && says(&r, want));
    CHECK(says(&r, "debug_test_alloc")); /* the allocation stack names the test's function */
    show_on_failure(&r);
}

static void use_after_free_scenario(void)
{
    nth_heap_set_option(NULL, NTH_OPTION_STACK_TRACES, 1);
    nth_heap *heap = heap_with(NTH_OPTION_PAGE_HEAP, 1);
    char *p = debug_test_alloc(heap, 100);
    announce(p);
    debug_test_free(heap, p);
    write_byte(p + 3);
    fprintf(stderr, "NOT REACHED\n");
}

TEST(use_after_free_faults_while_the_block_is_delayed)
{
    static child_result r;
    REQUIRE(child_ran(&r, use_after_free_scenario));
    CHECK(died_by(&r, SIGSEGV));
    char want[160];
    snprintf(want, sizeof want, "use after free of block %p (100 bytes) at address %p (+3 bytes from its start)",
             r.block, (void *)((char *)r.block + 3));
    CHECK(r.block != NULL && says(&r, want));
    CHECK(says(&r, "debug_test_alloc"));
    CHECK(says(&r, "and freed at:") && says(&r, "debug_test_free"));
    show_on_failure(&r);
}

static void underrun_scenario(void)
{
    nth_heap_set_option(NULL, NTH_OPTION_PAGE_HEAP_ALIGN_START, 1);
    nth_heap *heap = heap_with(NTH_OPTION_PAGE_HEAP, 1);
    char *p = debug_test_alloc(heap, 64);
    announce(p);
    CHECK((uintptr_t)p % 4096 == 0);
    write_byte(p - 1);
    fprintf(stderr, "NOT REACHED\n");
}

TEST(underrun_faults_with_align_start)
{
    static child_result r;
    REQUIRE(child_ran(&r, underrun_scenario));
    CHECK(died_by(&r, SIGSEGV));
    char want[160];
    snprintf(want, sizeof want, "buffer underrun of block %p (64 bytes) at address %p (-1 bytes from its start)",
             r.block, (void *)((char *)r.block - 1));
    CHECK(r.block != NULL && says(&r, want));
    show_on_failure(&r);
}

static void double_free_scenario(void)
{
    nth_heap *heap = heap_with(NTH_OPTION_PAGE_HEAP, 1);
    char *p = debug_test_alloc(heap, 40);
    announce(p);
    CHECK(nth_heap_free(heap, 0, p));
    CHECK(!nth_heap_free(heap, 0, p));
    CHECK_EQ(nth_last_error(), NTH_ERR_DOUBLE_FREE);
    if (harness_case_failed) _exit(1);
}

static int handled;
static void count_report(const nth_report *report, void *context)
{
    (void)report;
    (void)context;
    handled++;
}

/* With a report handler, the double free goes to the handler alone: nothing on stderr. */
static void double_free_handled_scenario(void)
{
    nth_set_report_handler(count_report, NULL);
    double_free_scenario();
    CHECK_EQ(handled, 1);
    if (harness_case_failed) _exit(1);
}

TEST(double_free_of_a_delayed_block_is_reported)
{
    static child_result r;
    REQUIRE(child_ran(&r, double_free_scenario));
    CHECK(exited_ok(&r));
    CHECK(reported(&r, r.block, "NTH_ERR_DOUBLE_FREE"));
    CHECK(says(&r, "delayed-free queue"));
    CHECK(says(&r, "was allocated at:")); /* and its stacks */
    show_on_failure(&r);
    REQUIRE(child_ran(&r, double_free_handled_scenario));
    CHECK(exited_ok(&r));
    CHECK(!says(&r, "ntheap:"));
    show_on_failure(&r);
}

static void slack_scenario(void)
{
    nth_heap *heap = heap_with(NTH_OPTION_PAGE_HEAP, 1);
    char *p = debug_test_alloc(heap, 13); /* 16-byte aligned: 3 bytes lie before the guard */
    announce(p);
    p[13] = 0;
    nth_heap_free(heap, 0, p);
}

TEST(overrun_short_of_the_guard_is_caught_on_free)
{
    static child_result r;
    REQUIRE(child_ran(&r, slack_scenario));
    CHECK(exited_ok(&r));
    CHECK(r.block && reported(&r, (char *)r.block + 13, "NTH_ERR_CORRUPT"));
    show_on_failure(&r);
}

static void engine_views_scenario(void)
{
    nth_heap *heap = heap_with(NTH_OPTION_PAGE_HEAP, 1);
    char *a = debug_test_alloc(heap, 200), *b = debug_test_alloc(heap, 5000);
    CHECK(a && b);
    CHECK_EQ(nth_heap_size(heap, 0, a), 200);
    CHECK_EQ(nth_heap_size(heap, 0, b), 5000);
    CHECK(nth_heap_owner(a) == heap);
    CHECK(nth_heap_validate(heap, 0, NULL));
    CHECK(!nth_heap_set_option(heap, NTH_OPTION_LFH, 1)); /* a debug heap keeps its LFH off */
    CHECK_EQ(nth_last_error(), NTH_ERR_NOT_SUPPORTED);
    nth_walk_entry e = {0};
    int seen = 0;
    while (nth_heap_walk(heap, &e))
        if ((e.flags & NTH_ENTRY_BUSY) && (e.data == a || e.data == b)) seen++;
    CHECK_EQ(seen, 2);
    nth_heap_stats st;
    CHECK(nth_heap_query_stats(heap, &st) && st.busy_blocks >= 2);
    char *c = nth_heap_realloc(heap, 0, a, 300); /* always moves on a page heap */
    CHECK(c && c != a && nth_heap_size(heap, 0, c) == 300);
    CHECK(nth_heap_size(heap, 0, a) == NTH_SIZE_ERROR);
    CHECK(nth_heap_destroy(heap));
    if (harness_case_failed) _exit(1);
}

TEST(page_heap_blocks_are_seen_by_size_walk_validate_and_destroy)
{
    static child_result r;
    REQUIRE(child_ran(&r, engine_views_scenario));
    CHECK(exited_ok(&r));
    show_on_failure(&r);
}

static void light_scenario(void)
{
    nth_heap_set_option(NULL, NTH_OPTION_PAGE_HEAP_DELAY, 4);
    nth_heap *heap = heap_with(NTH_OPTION_PAGE_HEAP, 2);
    uint32_t *p = (uint32_t *)debug_test_alloc(heap, 64);
    announce(p);
    CHECK_EQ(p[0], 0xBAADF00Du); /* new blocks carry the new-block fill */
    CHECK_EQ(p[15], 0xBAADF00Du);
    nth_heap_stats stats;
    REQUIRE(nth_heap_query_stats(heap, &stats));
    size_t live_blocks = stats.busy_blocks, live_bytes = stats.busy_bytes;
    debug_test_free(heap, p);
    REQUIRE(nth_heap_query_stats(heap, &stats)); /* freed for the program, though held back */
    CHECK_EQ(stats.busy_blocks, live_blocks - 1);
    CHECK_EQ(stats.busy_bytes, live_bytes - 64);
    CHECK(nth_heap_validate(heap, 0, NULL));
    CHECK_EQ(p[5], 0xFEEEFEEEu); /* a delayed block is still readable, filled */
    p[5] = 7;                    /* the write after free */
    fprintf(stderr, "VALIDATE\n");
    CHECK(!nth_heap_validate(heap, 0, NULL)); /* found while the block waits, */
    fprintf(stderr, "QUEUE\n");
    for (int i = 0; i < 4; i++) debug_test_free(heap, debug_test_alloc(heap, 32)); /* and when it leaves */
    if (harness_case_failed) _exit(1);
}

TEST(light_page_heap_catches_a_write_after_free_by_validate_and_when_the_block_leaves_the_queue)
{
    static child_result r;
    REQUIRE(child_ran(&r, light_scenario));
    CHECK(exited_ok(&r));
    CHECK(r.block && reported(&r, (char *)r.block + 20, "NTH_ERR_CORRUPT"));
    const char *validate = strstr(r.err, "VALIDATE\n"), *queue = strstr(r.err, "QUEUE\n");
    REQUIRE(validate && queue);
    CHECK(strstr(validate, "written after free") && strstr(validate, "written after free") < queue);
    CHECK(strstr(queue, "written after free"));
    show_on_failure(&r);
}

/* A block waiting in the light page heap's queue is busy in the engine but freed for the program:
 * every call that takes a pointer refuses it, and none writes to it. */
static void light_delayed_scenario(void)
{
    nth_heap_set_option(NULL, NTH_OPTION_PAGE_HEAP_DELAY, 4);
    nth_heap *heap = heap_with(NTH_OPTION_PAGE_HEAP, 2);
    char *p = nth_heap_alloc(heap, NTH_SETTABLE_USER_VALUE, 64);
    REQUIRE(p != NULL);
    REQUIRE(nth_heap_free(heap, 0, p));
    CHECK_EQ(nth_heap_size(heap, 0, p), NTH_SIZE_ERROR);
    CHECK_EQ(nth_last_error(), NTH_ERR_DOUBLE_FREE);
    CHECK_EQ(nth_heap_usable_size(heap, p), NTH_SIZE_ERROR);
    CHECK(nth_heap_from_pointer(p) == NULL);
    CHECK(!nth_heap_validate(heap, 0, p));
    CHECK(!nth_heap_set_user_value(heap, p, 42));
    CHECK_EQ(nth_last_error(), NTH_ERR_DOUBLE_FREE);
    CHECK(!nth_heap_set_user_flags(heap, p, 0, NTH_SETTABLE_USER_FLAG1));
    uintptr_t value = 0;
    uint32_t flags = 0;
    CHECK(!nth_heap_get_user_info(heap, p, &value, &flags));
    CHECK(nth_heap_realloc(heap, 0, p, 100) == NULL);
    CHECK(!nth_heap_free(heap, 0, p));
    uint32_t fill;
    memcpy(&fill, p + 8, sizeof fill);
    CHECK_EQ(fill, 0xFEEEFEEEu); /* the free fill is intact: nothing wrote to the block */
    for (int i = 0; i < 4; i++) nth_heap_free(heap, 0, nth_heap_alloc(heap, 0, 32)); /* p leaves the queue */
    CHECK(nth_heap_validate(heap, 0, NULL));
    if (harness_case_failed) _exit(1);
}

TEST(light_page_heap_refuses_a_delayed_block_in_every_call)
{
    static child_result r;
    REQUIRE(child_ran(&r, light_delayed_scenario));
    CHECK(exited_ok(&r));
    CHECK(!says(&r, "written after free"));
    show_on_failure(&r);
}

/* Tags count page-heap blocks as the program sees them: allocated when handed out, freed when
 * the program frees them (a light page heap's block is debited before it waits in the queue). */
static void tagged_scenario(size_t mode)
{
    nth_heap_set_option(NULL, NTH_OPTION_PAGE_HEAP_DELAY, 8);
    nth_heap *heap = heap_with(NTH_OPTION_PAGE_HEAP, mode);
    uint32_t tag = nth_heap_create_tag(heap, "PAGE");
    REQUIRE(tag != 0);
    void *blocks[10];
    for (int i = 0; i < 10; i++) REQUIRE((blocks[i] = nth_heap_alloc(heap, NTH_MAKE_TAG_FLAGS(0, tag), 100)) != NULL);
    for (int i = 0; i < 4; i++) CHECK(nth_heap_free(heap, 0, blocks[i]));
    nth_tag_stats stats;
    REQUIRE(nth_heap_query_tag(heap, tag, false, &stats));
    CHECK_EQ(stats.allocs, 10);
    CHECK_EQ(stats.frees, 4);
    CHECK_EQ(stats.bytes, 600);
    /* A realloc moves the block; without tag flags it keeps its tag (an allocation and a free). */
    REQUIRE((blocks[4] = nth_heap_realloc(heap, 0, blocks[4], 300)) != NULL);
    REQUIRE(nth_heap_query_tag(heap, tag, false, &stats));
    CHECK_EQ(stats.bytes, 800);
    CHECK_EQ(stats.allocs, 11);
    CHECK_EQ(stats.frees, 5);
    /* In place, to the same size, with another tag's flags: the block moves to that tag. */
    uint32_t other = nth_heap_create_tag(heap, "OTHER");
    REQUIRE(other != 0);
    CHECK(nth_heap_realloc(heap, NTH_MAKE_TAG_FLAGS(NTH_REALLOC_IN_PLACE_ONLY, other), blocks[5], 100) == blocks[5]);
    REQUIRE(nth_heap_query_tag(heap, tag, false, &stats));
    CHECK_EQ(stats.bytes, 700);
    CHECK_EQ(stats.frees, 6);
    REQUIRE(nth_heap_query_tag(heap, other, false, &stats));
    CHECK_EQ(stats.bytes, 100);
    CHECK_EQ(stats.allocs, 1);
    for (int i = 4; i < 10; i++) CHECK(nth_heap_free(heap, 0, blocks[i]));
    for (int i = 0; i < 8; i++) nth_heap_free(heap, 0, nth_heap_alloc(heap, 0, 32)); /* the queue empties */
    REQUIRE(nth_heap_query_tag(heap, tag, false, &stats));
    CHECK_EQ(stats.frees, 11);
    CHECK_EQ(stats.bytes, 0);
    REQUIRE(nth_heap_query_tag(heap, other, false, &stats));
    CHECK_EQ(stats.frees, 1);
    CHECK_EQ(stats.bytes, 0);
    if (harness_case_failed) _exit(1);
}

/* Runs a scenario once under the full page heap and once under the light one, each in a child. */
static void run_in_both_modes(void (*full)(void), void (*light)(void))
{
    static child_result r;
    void (*scenarios[2])(void) = {full, light};
    for (int i = 0; i < 2; i++) {
        REQUIRE(child_ran(&r, scenarios[i]));
        CHECK(exited_ok(&r));
        show_on_failure(&r);
    }
}

static void tagged_full_scenario(void) { tagged_scenario(1); }
static void tagged_light_scenario(void) { tagged_scenario(2); }

/* A page heap's realloc always moves the block; its user value and flags move with it. */
static void user_info_scenario(size_t mode)
{
    nth_heap *heap = heap_with(NTH_OPTION_PAGE_HEAP, mode);
    void *p = nth_heap_alloc(heap, NTH_SETTABLE_USER_VALUE | NTH_SETTABLE_USER_FLAG2, 100);
    REQUIRE(p && nth_heap_set_user_value(heap, p, 0x1234567));
    void *q = nth_heap_realloc(heap, 0, p, 5000);
    REQUIRE(q);
    uintptr_t value = 0;
    uint32_t flags = 0;
    CHECK(nth_heap_get_user_info(heap, q, &value, &flags));
    CHECK_EQ(value, 0x1234567);
    CHECK_EQ(flags, NTH_SETTABLE_USER_FLAG2);
    CHECK(nth_heap_free(heap, 0, q));
    /* As on the engine's blocks: no user value without NTH_SETTABLE_USER_VALUE, and a block that
     * has one keeps it through a realloc, set or not. */
    void *plain = nth_heap_alloc(heap, 0, 50);
    REQUIRE(plain);
    CHECK(!nth_heap_set_user_value(heap, plain, 0x77));
    CHECK_EQ(nth_last_error(), NTH_ERR_NOT_SUPPORTED);
    void *unset = nth_heap_alloc(heap, NTH_SETTABLE_USER_VALUE, 50);
    REQUIRE(unset && (unset = nth_heap_realloc(heap, 0, unset, 3000)) != NULL);
    CHECK(nth_heap_set_user_value(heap, unset, 0x99));
    CHECK(nth_heap_free(heap, 0, plain));
    CHECK(nth_heap_free(heap, 0, unset));
    if (harness_case_failed) _exit(1);
}

static void user_info_full_scenario(void) { user_info_scenario(1); }
static void user_info_light_scenario(void) { user_info_scenario(2); }

TEST(a_page_heap_realloc_carries_the_user_value_and_flags)
{
    run_in_both_modes(user_info_full_scenario, user_info_light_scenario);
}

TEST(tags_count_page_heap_blocks_as_the_program_sees_them)
{
    run_in_both_modes(tagged_full_scenario, tagged_light_scenario);
}

static void fill_scenario(void)
{
    nth_heap *heap = heap_with(NTH_OPTION_DEBUG_FILL, 1);
    unsigned char *p = (unsigned char *)debug_test_alloc(heap, 24);
    uint32_t w;
    memcpy(&w, p + 20, 4);
    CHECK_EQ(w, 0xBAADF00Du);
    CHECK_EQ(p[24], 0xAB); /* tail fill right after the block */
    p[24] = 0;             /* overrun 1 */
    fprintf(stderr, "FREE\n");
    nth_heap_free(heap, 0, p);
    unsigned char *q = (unsigned char *)debug_test_alloc(heap, 40);
    q[41] = 0; /* overrun 2 */
    fprintf(stderr, "REALLOC\n");
    q = nth_heap_realloc(heap, 0, q, 400);
    unsigned char *v = (unsigned char *)debug_test_alloc(heap, 56);
    announce(v);
    v[56] = 0; /* overrun 3 */
    fprintf(stderr, "VALIDATE\n");
    CHECK(!nth_heap_validate(heap, 0, NULL));
    if (harness_case_failed) _exit(1);
}

TEST(debug_fill_patterns_are_written_and_checked_on_free_realloc_and_validate)
{
    static child_result r;
    REQUIRE(child_ran(&r, fill_scenario));
    CHECK(exited_ok(&r));
    const char *f = strstr(r.err, "FREE\n"), *re = strstr(r.err, "REALLOC\n"), *v = strstr(r.err, "VALIDATE\n");
    REQUIRE(f && re && v);
    CHECK(strstr(f, "tail fill 0xAB") && strstr(f, "tail fill 0xAB") < re); /* reported by free */
    CHECK(strstr(re, "tail fill 0xAB") && strstr(re, "tail fill 0xAB") < v); /* by realloc */
    CHECK(strstr(v, "NTH_ERR_CORRUPT"));                                      /* by validate */
    show_on_failure(&r);
}

static void freed_fill_scenario(void)
{
    nth_heap *heap = heap_with(NTH_OPTION_DEBUG_FILL, 1);
    char *keep = debug_test_alloc(heap, 16);
    uint32_t *p = (uint32_t *)debug_test_alloc(heap, 256);
    char *after = debug_test_alloc(heap, 16); /* keeps p from merging with the free space */
    nth_heap_free(heap, 0, p);
    CHECK_EQ(p[40], 0xFEEEFEEEu); /* the freed body carries the free fill */
    p[40] = 1;                    /* a write after free ... */
    announce(&p[40]);
    CHECK(!nth_heap_validate(heap, 0, NULL)); /* ... found by validate */
    (void)keep, (void)after;
    if (harness_case_failed) _exit(1);
}

TEST(debug_fill_marks_freed_blocks_and_validate_finds_a_write_after_free)
{
    static child_result r;
    REQUIRE(child_ran(&r, freed_fill_scenario));
    CHECK(exited_ok(&r));
    CHECK(r.block && reported(&r, r.block, "NTH_ERR_CORRUPT"));
    show_on_failure(&r);
}

static void parameter_scenario(void)
{
    nth_heap *heap = heap_with(NTH_OPTION_PARAMETER_CHECKING, 1);
    CHECK(nth_heap_alloc(heap, 0x40000000u, 16) == NULL);
    CHECK_EQ(nth_last_error(), NTH_ERR_INVALID_PARAMETER);
    void *p = nth_heap_alloc(heap, 0, 16);
    CHECK(p != NULL);
    CHECK(nth_heap_free(heap, 0, p));
    uint32_t tag = nth_heap_create_tag(heap, "CHECKED"); /* tag bits are known flags */
    REQUIRE(tag != 0);
    p = nth_heap_alloc(heap, NTH_MAKE_TAG_FLAGS(0, tag), 16);
    CHECK(p != NULL);
    CHECK((p = nth_heap_realloc(heap, NTH_MAKE_TAG_FLAGS(0, tag), p, 32)) != NULL);
    CHECK(nth_heap_free(heap, 0, p));
    if (harness_case_failed) _exit(1);
}

TEST(parameter_checking_refuses_unknown_flags)
{
    static child_result r;
    REQUIRE(child_ran(&r, parameter_scenario));
    CHECK(exited_ok(&r));
    CHECK(says(&r, "unknown flag bits"));
    show_on_failure(&r);
}

static void options_off_scenario(void)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    char *p = nth_heap_alloc(heap, 0, 32);
    size_t v = 1;
    CHECK(nth_heap_get_option(NULL, NTH_OPTION_PAGE_HEAP, &v) && v == 0);
    CHECK(nth_heap_usable_size(heap, p) >= 32); /* an ordinary block: no guard, no delay */
    CHECK(nth_heap_free(heap, 0, p));
    if (harness_case_failed) _exit(1);
}

TEST(heaps_without_options_have_no_debug_mode)
{
    static child_result r;
    REQUIRE(child_ran(&r, options_off_scenario));
    CHECK(exited_ok(&r));
    show_on_failure(&r);
}

static void light_by_name_scenario(void)
{
    setenv("NTHEAP_OPTIONS", "page_heap=light,page_heap_delay=4", 1); /* read by the first heap call */
    size_t v = 0;
    CHECK(nth_heap_get_option(NULL, NTH_OPTION_PAGE_HEAP, &v) && v == 2);
    CHECK(nth_heap_get_option(NULL, NTH_OPTION_PAGE_HEAP_DELAY, &v) && v == 4);
    nth_heap *heap = nth_heap_create(0, 0, 0);
    uint32_t *p = (uint32_t *)debug_test_alloc(heap, 32);
    CHECK(p && p[0] == 0xBAADF00Du);
    if (harness_case_failed) _exit(1);
}

TEST(page_heap_light_is_accepted_by_name)
{
    static child_result r;
    REQUIRE(child_ran(&r, light_by_name_scenario));
    CHECK(exited_ok(&r));
    CHECK(!says(&r, "NTHEAP_OPTIONS")); /* no warning */
    show_on_failure(&r);
}

int main(int argc, char **argv)
{
    (void)argc;
    RUN(overrun_by_one_byte_faults_at_the_write);
    RUN(use_after_free_faults_while_the_block_is_delayed);
    RUN(underrun_faults_with_align_start);
    RUN(double_free_of_a_delayed_block_is_reported);
    RUN(overrun_short_of_the_guard_is_caught_on_free);
    RUN(page_heap_blocks_are_seen_by_size_walk_validate_and_destroy);
    RUN(light_page_heap_catches_a_write_after_free_by_validate_and_when_the_block_leaves_the_queue);
    RUN(light_page_heap_refuses_a_delayed_block_in_every_call);
    RUN(tags_count_page_heap_blocks_as_the_program_sees_them);
    RUN(a_page_heap_realloc_carries_the_user_value_and_flags);
    RUN(debug_fill_patterns_are_written_and_checked_on_free_realloc_and_validate);
    RUN(debug_fill_marks_freed_blocks_and_validate_finds_a_write_after_free);
    RUN(parameter_checking_refuses_unknown_flags);
    RUN(heaps_without_options_have_no_debug_mode);
    RUN(page_heap_light_is_accepted_by_name);
    return harness_finish(argv[0]);
}
