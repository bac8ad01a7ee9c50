/*
 * test_information.c — HeapSetInformation / HeapQueryInformation (spec §4.12, oracle info.*)
 * and HEAP_GENERATE_EXCEPTIONS (spec §4.3, oracle child.gen_exceptions_*).
 */
#include "win32_test.h"

#include <sys/mman.h>

static ULONG query(HANDLE heap)
{
    ULONG value = 0xFFFF;
    SIZE_T length = 0;
    CHECK(HeapQueryInformation(heap, HeapCompatibilityInformation, &value, sizeof value, &length));
    CHECK_EQ(length, sizeof(ULONG));
    return value;
}

static BOOL set_compat(HANDLE heap, ULONG value)
{
    return HeapSetInformation(heap, HeapCompatibilityInformation, &value, sizeof value);
}

/* ------------------------------------------------------------------------------ query */

TEST(query_of_new_and_process_heaps_is_0_with_length_4) /* oracle info.query.process_heap/new_heap */
{
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    prime();
    CHECK_EQ(query(h), 0);
    CHECK_EQ(query(GetProcessHeap()), 0);
    CHECK_EQ(GetLastError(), PRIMED);
    CHECK(HeapDestroy(h));
}

TEST(query_with_a_short_buffer_fails_insufficient_buffer_and_says_4) /* oracle info.query.short_buffer */
{
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    ULONG value = 0;
    SIZE_T length = 0;
    prime();
    CHECK(!HeapQueryInformation(h, HeapCompatibilityInformation, &value, 2, &length));
    CHECK_EQ(GetLastError(), ERROR_INSUFFICIENT_BUFFER);
    CHECK_EQ(length, 4);
    prime();
    CHECK(!HeapQueryInformation(h, HeapCompatibilityInformation, &value, 0, NULL));
    CHECK_EQ(GetLastError(), ERROR_INSUFFICIENT_BUFFER);
    CHECK(HeapDestroy(h));
}

TEST(query_without_return_length_and_with_a_longer_buffer_works) /* oracle info.query.null_retlen, spec len = 5 */
{
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    unsigned char buffer[5] = { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF };
    CHECK(HeapQueryInformation(h, HeapCompatibilityInformation, buffer, sizeof buffer, NULL));
    ULONG value;
    memcpy(&value, buffer, sizeof value);
    CHECK_EQ(value, 0);
    CHECK(HeapDestroy(h));
}

TEST(query_of_a_null_heap_fails_noaccess_and_leaves_length) /* spec §4.12 (Wine todo) */
{
    ULONG value = 0;
    SIZE_T length = 0x77;
    prime();
    CHECK(!HeapQueryInformation(NULL, HeapCompatibilityInformation, &value, sizeof value, &length));
    CHECK_EQ(GetLastError(), ERROR_NOACCESS);
    CHECK_EQ(length, 0x77);
}

TEST(query_of_other_classes_fails_invalid_parameter) /* oracle info.query.termination_on_corruption */
{
    ULONG value = 0;
    SIZE_T length = 0;
    prime();
    CHECK(!HeapQueryInformation(GetProcessHeap(), HeapEnableTerminationOnCorruption, &value, sizeof value, &length));
    CHECK_EQ(GetLastError(), ERROR_INVALID_PARAMETER);
    prime();
    CHECK(!HeapQueryInformation(GetProcessHeap(), (HEAP_INFORMATION_CLASS)99, &value, sizeof value, &length));
    CHECK_EQ(GetLastError(), ERROR_INVALID_PARAMETER);
}

/* -------------------------------------------------------------------------------- LFH */

TEST(set_lfh_reads_2_at_once_and_cannot_be_undone) /* spec §4.12, oracle info.set.* (Wine differs) */
{
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    prime();
    CHECK(set_compat(h, 2));
    CHECK_EQ(GetLastError(), PRIMED);
    CHECK_EQ(query(h), 2);
    CHECK(set_compat(h, 2)); /* again: still fine */
    prime();
    CHECK(!set_compat(h, 0));
    CHECK_EQ(GetLastError(), ERROR_GEN_FAILURE);
    prime();
    CHECK(!set_compat(h, 1));
    CHECK_EQ(GetLastError(), ERROR_GEN_FAILURE);
    CHECK_EQ(query(h), 2);
    /* The heap keeps working, and small blocks keep their exact sizes. */
    for (int i = 0; i < 40; i++) {
        void *p = HeapAlloc(h, 0, 0x20);
        REQUIRE(p != NULL);
        CHECK_EQ(HeapSize(h, 0, p), 0x20);
    }
    CHECK(HeapValidate(h, 0, NULL));
    CHECK(HeapDestroy(h));
}

TEST(set_lfh_on_a_no_serialize_heap_fails_invalid_parameter) /* spec §4.12, oracle info.set.noserialize_heap_to2 */
{
    HANDLE h = HeapCreate(HEAP_NO_SERIALIZE, 0, 0);
    REQUIRE(h != NULL);
    prime();
    CHECK(!set_compat(h, 2));
    CHECK_EQ(GetLastError(), ERROR_INVALID_PARAMETER);
    CHECK_EQ(query(h), 0);
    CHECK(HeapDestroy(h));
}

TEST(set_lfh_on_a_fixed_heap_is_refused) /* spec §4.12 docs: fixed-size heaps */
{
    HANDLE h = HeapCreate(0, 0, 0x100000);
    REQUIRE(h != NULL);
    prime();
    CHECK(!set_compat(h, 2));
    CHECK_EQ(GetLastError(), ERROR_INVALID_PARAMETER);
    CHECK_EQ(query(h), 0);
    CHECK(HeapDestroy(h));
}

TEST(set_0_or_1_on_a_standard_heap_succeeds_and_other_values_fail) /* spec §4.12 */
{
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    CHECK(set_compat(h, 0));
    CHECK(set_compat(h, 1));
    CHECK_EQ(query(h), 0);
    prime();
    CHECK(!set_compat(h, 3));
    CHECK_EQ(GetLastError(), ERROR_INVALID_PARAMETER);
    CHECK(HeapDestroy(h));
}

TEST(set_with_a_short_buffer_or_null_heap_fails) /* oracle info.set.short_buffer (Wine differs) */
{
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    ULONG value = 2;
    prime();
    CHECK(!HeapSetInformation(h, HeapCompatibilityInformation, &value, 2));
    CHECK_EQ(GetLastError(), ERROR_INSUFFICIENT_BUFFER);
    CHECK_EQ(query(h), 0);
    prime();
    CHECK(!HeapSetInformation(NULL, HeapCompatibilityInformation, &value, sizeof value));
    CHECK_EQ(GetLastError(), ERROR_NOACCESS);
    prime();
    CHECK(!HeapSetInformation((HANDLE)0x1234, HeapCompatibilityInformation, &value, sizeof value));
    CHECK_EQ(GetLastError(), ERROR_INVALID_HANDLE);
    CHECK(HeapDestroy(h));
}

/* Buffers that cannot be read or written (unmapped, read-only) fail with ERROR_NOACCESS, as a
 * NULL one does, instead of faulting inside the call. */
TEST(wild_or_read_only_buffers_fail_noaccess)
{
    char *pages = mmap(NULL, 8192, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(pages != MAP_FAILED);
    REQUIRE(munmap(pages + 4096, 4096) == 0); /* pages: read-only; pages + 4096: unmapped */
    void *read_only = pages, *unmapped = pages + 4096;
    HANDLE heap = HeapCreate(0, 0, 0);
    REQUIRE(heap != NULL);
    ULONG value = 0;
    SIZE_T length = 0;
    prime();
    CHECK(!HeapSetInformation(heap, HeapCompatibilityInformation, unmapped, sizeof(ULONG)));
    CHECK_EQ(GetLastError(), ERROR_NOACCESS);
    prime();
    CHECK(!HeapSetInformation(NULL, HeapOptimizeResources, unmapped, sizeof(HEAP_OPTIMIZE_RESOURCES_INFORMATION)));
    CHECK_EQ(GetLastError(), ERROR_NOACCESS);
    prime();
    CHECK(!HeapQueryInformation(heap, HeapCompatibilityInformation, unmapped, sizeof value, &length));
    CHECK_EQ(GetLastError(), ERROR_NOACCESS);
    prime();
    CHECK(!HeapQueryInformation(heap, HeapCompatibilityInformation, read_only, sizeof value, NULL));
    CHECK_EQ(GetLastError(), ERROR_NOACCESS);
    prime();
    CHECK(!HeapQueryInformation(heap, HeapCompatibilityInformation, &value, sizeof value, (PSIZE_T)read_only));
    CHECK_EQ(GetLastError(), ERROR_NOACCESS);
    CHECK(HeapQueryInformation(heap, HeapCompatibilityInformation, &value, sizeof value, &length));
    CHECK_EQ(length, sizeof(ULONG));
    CHECK(HeapDestroy(heap));
    munmap(pages, 4096);
}

TEST(lfh_engages_by_itself_after_repeated_same_size_allocations) /* spec §2 LFH activation, §4.12 */
{
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    for (int i = 0; i < 16; i++) REQUIRE(HeapAlloc(h, 0, 0x100) != NULL);
    CHECK_EQ(query(h), 0); /* not yet */
    for (int i = 0; i < 16; i++) REQUIRE(HeapAlloc(h, 0, 0x100) != NULL);
    CHECK_EQ(query(h), 2); /* without any Set call */
    CHECK(HeapDestroy(h));
}

/* -------------------------------------------------------------- other classes */

TEST(set_optimize_resources_needs_version_1) /* spec §4.12 HeapOptimizeResources */
{
    HEAP_OPTIMIZE_RESOURCES_INFORMATION info = { HEAP_OPTIMIZE_RESOURCES_CURRENT_VERSION, 0 };
    CHECK(HeapSetInformation(NULL, HeapOptimizeResources, &info, sizeof info));
    CHECK(HeapSetInformation(GetProcessHeap(), HeapOptimizeResources, &info, sizeof info));
    info.Version = 7;
    prime();
    CHECK(!HeapSetInformation(NULL, HeapOptimizeResources, &info, sizeof info));
    CHECK_EQ(GetLastError(), ERROR_INVALID_PARAMETER);
}

TEST(set_unknown_class_fails_invalid_parameter) /* oracle info.set.class99 (Wine accepts) */
{
    ULONG value = 0;
    prime();
    CHECK(!HeapSetInformation(GetProcessHeap(), (HEAP_INFORMATION_CLASS)99, &value, sizeof value));
    CHECK_EQ(GetLastError(), ERROR_INVALID_PARAMETER);
}

/* Without termination on corruption a double free is reported and fails (child: nothing to
 * inherit); with it, the process ends. */
static void double_free_without_termination(void)
{
    HANDLE h = HeapCreate(0, 0, 0);
    void *p = HeapAlloc(h, 0, 64);
    HeapFree(h, 0, p);
    _exit(HeapFree(h, 0, p) ? 1 : 0);
}

static void double_free_with_termination(void)
{
    if (!HeapSetInformation(NULL, HeapEnableTerminationOnCorruption, NULL, 0)) _exit(2);
    HANDLE h = HeapCreate(0, 0, 0);
    void *p = HeapAlloc(h, 0, 64);
    HeapFree(h, 0, p);
    HeapFree(h, 0, p);
    _exit(0); /* must not be reached */
}

static void private_heap_termination(void)
{
    HANDLE h = HeapCreate(0, 0, 0);
    if (!HeapSetInformation(h, HeapEnableTerminationOnCorruption, NULL, 0)) _exit(2);
    void *p = HeapAlloc(GetProcessHeap(), 0, 64);
    HeapFree(GetProcessHeap(), 0, p);
    HeapFree(GetProcessHeap(), 0, p); /* process-wide: the process heap terminates too */
    _exit(0);
}

TEST(termination_on_corruption_is_process_wide_and_ends_the_process) /* spec §4.5, §4.12, oracle info.set.termination_on_corruption */
{
    int status = -1;
    CHECK_EQ(expect_child_death(double_free_without_termination, &status), 0);
    CHECK_EQ(status, 0);
    CHECK(expect_child_death(double_free_with_termination, &status) != 0);
    CHECK(expect_child_death(private_heap_termination, &status) != 0);
}

/* ------------------------------------------------------- HEAP_GENERATE_EXCEPTIONS */

static uint32_t raised_status;
static int raised_count;
static void catch_exception(uint32_t status, const nth_report *report, void *context)
{
    (void)report;
    (void)context;
    raised_status = status;
    raised_count++;
}

TEST(generate_exceptions_on_the_call_raises_status_no_memory) /* spec §4.3, oracle child.gen_exceptions_flag_on_alloc */
{
    nth_set_exception_handler(catch_exception, NULL);
    HANDLE h = HeapCreate(0, 0, 0x10000);
    REQUIRE(h != NULL);
    raised_count = 0;
    CHECK(HeapAlloc(h, HEAP_GENERATE_EXCEPTIONS, 0x20000) == NULL);
    CHECK_EQ(raised_count, 1);
    CHECK_EQ(raised_status, STATUS_NO_MEMORY);
    raised_count = 0;
    void *p = HeapAlloc(h, 0, 0x100);
    REQUIRE(p != NULL);
    CHECK(HeapReAlloc(h, HEAP_GENERATE_EXCEPTIONS, p, 0x20000) == NULL);
    CHECK_EQ(raised_count, 1);
    CHECK_EQ(raised_status, STATUS_NO_MEMORY);
    /* Without the flag, nothing is raised. */
    raised_count = 0;
    CHECK(HeapAlloc(h, 0, 0x20000) == NULL);
    CHECK_EQ(raised_count, 0);
    CHECK(HeapDestroy(h));
    nth_set_exception_handler(NULL, NULL);
}

TEST(generate_exceptions_on_a_failed_in_place_realloc_raises_status_no_memory) /* spec §4.4: in-place failure is lack of memory */
{
    nth_set_exception_handler(catch_exception, NULL);
    HANDLE h = HeapCreate(0, 0, 0);
    REQUIRE(h != NULL);
    void *p = HeapAlloc(h, 0, 0x100);
    void *fence = HeapAlloc(h, 0, 0x100);
    REQUIRE(p && fence);
    raised_count = 0;
    CHECK(HeapReAlloc(h, HEAP_GENERATE_EXCEPTIONS | HEAP_REALLOC_IN_PLACE_ONLY, p, 0x1000) == NULL);
    CHECK_EQ(raised_count, 1);
    CHECK_EQ(raised_status, STATUS_NO_MEMORY);
    CHECK(HeapDestroy(h));
    nth_set_exception_handler(NULL, NULL);
}

TEST(generate_exceptions_given_at_create_applies_to_every_call) /* spec §4.3 (Wine misses it: oracle child.gen_exceptions_fail) */
{
    nth_set_exception_handler(catch_exception, NULL);
    HANDLE h = HeapCreate(HEAP_GENERATE_EXCEPTIONS, 0, 0x10000);
    REQUIRE(h != NULL);
    raised_count = 0;
    CHECK(HeapAlloc(h, 0, 0x20000) == NULL);
    CHECK_EQ(raised_count, 1);
    CHECK_EQ(raised_status, STATUS_NO_MEMORY);
    CHECK(HeapDestroy(h));
    nth_set_exception_handler(NULL, NULL);
}

static void unhandled_exception(void)
{
    HANDLE h = HeapCreate(0, 0, 0x10000);
    (void)HeapAlloc(h, HEAP_GENERATE_EXCEPTIONS, 0x20000);
    _exit(0);
}

TEST(generate_exceptions_without_a_handler_raises_sigabrt) /* include/ntheap.h: default handler */
{
    int status = -1;
    CHECK_EQ(expect_child_death(unhandled_exception, &status), SIGABRT);
}

int main(int argc, char **argv)
{
    (void)argc;
    quiet_reports();
    RUN(query_of_new_and_process_heaps_is_0_with_length_4);
    RUN(query_with_a_short_buffer_fails_insufficient_buffer_and_says_4);
    RUN(query_without_return_length_and_with_a_longer_buffer_works);
    RUN(query_of_a_null_heap_fails_noaccess_and_leaves_length);
    RUN(query_of_other_classes_fails_invalid_parameter);
    RUN(set_lfh_reads_2_at_once_and_cannot_be_undone);
    RUN(set_lfh_on_a_no_serialize_heap_fails_invalid_parameter);
    RUN(set_lfh_on_a_fixed_heap_is_refused);
    RUN(set_0_or_1_on_a_standard_heap_succeeds_and_other_values_fail);
    RUN(set_with_a_short_buffer_or_null_heap_fails);
    RUN(wild_or_read_only_buffers_fail_noaccess);
    RUN(lfh_engages_by_itself_after_repeated_same_size_allocations);
    RUN(set_optimize_resources_needs_version_1);
    RUN(set_unknown_class_fails_invalid_parameter);
    RUN(termination_on_corruption_is_process_wide_and_ends_the_process);
    RUN(generate_exceptions_on_the_call_raises_status_no_memory);
    RUN(generate_exceptions_on_a_failed_in_place_realloc_raises_status_no_memory);
    RUN(generate_exceptions_given_at_create_applies_to_every_call);
    RUN(generate_exceptions_without_a_handler_raises_sigabrt);
    return harness_finish(argv[0]);
}
