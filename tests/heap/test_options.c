/*
 * test_options.c — heap options, declared once in src/heap/options.def: README.md's options table
 * is exactly the table (run with --print-readme-table to regenerate it), the setters and getters
 * know every row and refuse values out of range, a process-wide setting reaches every heap (more
 * than 256 of them), and NTHEAP_OPTIONS is parsed with one clear warning per unknown name.
 */
#include <stdint.h>

#include "harness/harness.h"
#include "ntheap.h"

/* One README line per option, as options.def declares it. */
static const char *const readme_rows[] = {
#define NTH_OPTION_ROW(name, id, type, default_value, min, max, scope, field, doc) \
    "| `" #name "` | " #default_value " | " doc " |",
#include "heap/options.def"
};
#define N_OPTIONS (sizeof readme_rows / sizeof readme_rows[0])

static const nth_heap_option option_ids[] = {
#define NTH_OPTION_ROW(name, id, ...) NTH_OPTION_##id,
#include "heap/options.def"
};

static const char *const option_names[] = {
#define NTH_OPTION_ROW(name, ...) #name,
#include "heap/options.def"
};

static void print_readme_table(void)
{
    printf("| option | default | meaning |\n|---|---|---|\n");
    for (size_t i = 0; i < N_OPTIONS; i++) printf("%s\n", readme_rows[i]);
}

TEST(readme_table_is_the_options_table)
{
    FILE *f = fopen("README.md", "r");
    REQUIRE(f != NULL); /* the suite runs from the top of the source tree */
    char line[512];
    bool in_options = false;
    size_t row = 0, extra = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (strncmp(line, "## ", 3) == 0) in_options = strcmp(line, "## Options") == 0;
        if (!in_options || strncmp(line, "| `", 3) != 0) continue;
        if (row < N_OPTIONS && strcmp(line, readme_rows[row]) == 0) {
            row++;
        } else {
            fprintf(stderr, "  README row not in options.def (or out of order): %s\n", line);
            extra++;
        }
    }
    fclose(f);
    if (row != N_OPTIONS) fprintf(stderr, "  README lacks: %s\n  (run test_options --print-readme-table)\n", readme_rows[row]);
    CHECK_EQ(row, N_OPTIONS);
    CHECK_EQ(extra, 0);
}

TEST(every_option_can_be_read_and_written_back)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    REQUIRE(heap != NULL);
    for (size_t i = 0; i < N_OPTIONS; i++) {
        size_t value = 77;
        CHECK(nth_heap_get_option(NULL, option_ids[i], &value));
        CHECK(value != 77);
        CHECK(nth_heap_set_option(NULL, option_ids[i], value));
        size_t again = 0;
        CHECK(nth_heap_get_option(heap, option_ids[i], &again));
    }
    CHECK(!nth_heap_get_option(NULL, (nth_heap_option)99, &(size_t){0}));
    CHECK_EQ(nth_last_error(), NTH_ERR_INVALID_PARAMETER);
    CHECK(nth_heap_destroy(heap));
}

TEST(values_out_of_range_are_refused)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    REQUIRE(heap != NULL);
    size_t before = 0, after = 0;
    CHECK(nth_heap_get_option(heap, NTH_OPTION_LFH, &before));
    CHECK(!nth_heap_set_option(heap, NTH_OPTION_LFH, 2));
    CHECK_EQ(nth_last_error(), NTH_ERR_INVALID_PARAMETER);
    CHECK(nth_heap_get_option(heap, NTH_OPTION_LFH, &after));
    CHECK_EQ(after, before);
    CHECK(!nth_heap_set_option(NULL, NTH_OPTION_TERMINATE_ON_CORRUPTION, 5));
    CHECK(nth_heap_set_option(heap, NTH_OPTION_DECOMMIT_FREE_BLOCK, SIZE_MAX));
    CHECK(nth_heap_get_option(heap, NTH_OPTION_DECOMMIT_FREE_BLOCK, &after));
    CHECK_EQ(after, SIZE_MAX);
    CHECK(nth_heap_destroy(heap));
}

TEST(validate_at_exit_is_process_wide)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    REQUIRE(heap != NULL);
    size_t value = 9;
    CHECK(nth_heap_get_option(NULL, NTH_OPTION_VALIDATE_AT_EXIT, &value));
    CHECK_EQ(value, 0);
    CHECK(!nth_heap_set_option(heap, NTH_OPTION_VALIDATE_AT_EXIT, 1));
    CHECK_EQ(nth_last_error(), NTH_ERR_NOT_SUPPORTED);
    CHECK(nth_heap_destroy(heap));
}

/* The process-wide termination setting reaches every live heap, the 300th too. */
TEST(process_setting_reaches_every_heap)
{
    enum { HEAPS = 300 };
    static nth_heap *heaps[HEAPS];
    int created = 0;
    for (; created < HEAPS; created++) {
        heaps[created] = nth_heap_create(0, 0, 0);
        if (!heaps[created]) break;
    }
    REQUIRE(created == HEAPS);
    CHECK(nth_heap_set_option(NULL, NTH_OPTION_TERMINATE_ON_CORRUPTION, 1));
    int off = 0;
    for (int i = 0; i < HEAPS; i++) {
        size_t value = 0;
        CHECK(nth_heap_get_option(heaps[i], NTH_OPTION_TERMINATE_ON_CORRUPTION, &value));
        if (value != 1) off++;
    }
    CHECK_EQ(off, 0);
    CHECK(nth_heap_set_option(NULL, NTH_OPTION_TERMINATE_ON_CORRUPTION, 0));
    for (int i = 0; i < HEAPS; i++) CHECK(nth_heap_destroy(heaps[i]));
}

/* Child mode: prints every option's process value, one "name=value" per line. */
static int print_values(void)
{
    for (size_t i = 0; i < N_OPTIONS; i++) {
        size_t value = 0;
        if (!nth_heap_get_option(NULL, option_ids[i], &value)) return 1;
        printf("%s=%zu\n", option_names[i], value);
    }
    return 0;
}

/* Runs this program with NTHEAP_OPTIONS=`options` and --print-values; returns its merged output. */
static void run_with_options(const char *options, char *out, size_t size)
{
    char command[512];
    snprintf(command, sizeof command, "NTHEAP_OPTIONS='%s' /proc/%d/exe --print-values 2>&1", options, (int)getpid());
    FILE *p = popen(command, "r");
    size_t n = p ? fread(out, 1, size - 1, p) : 0;
    out[n] = '\0';
    if (p) pclose(p);
}

TEST(environment_is_parsed_with_warnings)
{
    char out[4096];
    run_with_options("lfh=0,decommit_free_block=0x1000,no_such_option=1,validate_at_exit=1", out, sizeof out);
    CHECK(strstr(out, "lfh=0\n") != NULL);
    CHECK(strstr(out, "decommit_free_block=4096\n") != NULL);
    CHECK(strstr(out, "validate_at_exit=1\n") != NULL);
    CHECK(strstr(out, "unknown option \"no_such_option\" ignored") != NULL);
    CHECK(strstr(out, "terminate_on_corruption") != NULL);
    /* Out of range and malformed values keep the default, with a warning naming the range. */
    run_with_options("lfh=2,decommit_total_free=lots", out, sizeof out);
    CHECK(strstr(out, "lfh=1\n") != NULL);
    CHECK(strstr(out, "decommit_total_free=8388608\n") != NULL);
    CHECK(strstr(out, "lfh: value must be a number from 0 to 1") != NULL);
    CHECK(strstr(out, "decommit_total_free: value must be a number") != NULL);
}

/* A pair without '=' (or an empty one) is reported and skipped: the pairs after it still apply. */
TEST(a_pair_without_a_value_does_not_stop_the_others)
{
    char out[4096];
    run_with_options("bogus,lfh=0,,decommit_free_block=5", out, sizeof out);
    CHECK(strstr(out, "lfh=0\n") != NULL);
    CHECK(strstr(out, "decommit_free_block=5\n") != NULL);
    CHECK(strstr(out, "expected name=value, found \"bogus\"") != NULL);
}

/* Numbers are decimal or 0x hex, unsigned, of at most 64 bits: anything else keeps the default
 * with a warning (it used to saturate, read 010 as octal, and accept a sign or a space). */
TEST(values_are_decimal_or_hex_and_fit_64_bits)
{
    static const char *const refused[] = {"99999999999999999999999", "0x1FFFFFFFFFFFFFFFF", "+7", " 7", "-1", "0x",
                                          "7 "};
    char options[128], out[4096];
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        snprintf(options, sizeof options, "decommit_free_block=%s", refused[i]);
        run_with_options(options, out, sizeof out);
        CHECK(strstr(out, "decommit_free_block=262144\n") != NULL);
        CHECK(strstr(out, "decommit_free_block: value must be a number") != NULL);
    }
    run_with_options("decommit_free_block=010,decommit_total_free=0xFFFFFFFFFFFFFFFF", out, sizeof out);
    CHECK(strstr(out, "decommit_free_block=10\n") != NULL);
    CHECK(strstr(out, "decommit_total_free=18446744073709551615\n") != NULL);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--print-readme-table") == 0) {
        print_readme_table();
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "--print-values") == 0) return print_values();
    RUN(readme_table_is_the_options_table);
    RUN(every_option_can_be_read_and_written_back);
    RUN(values_out_of_range_are_refused);
    RUN(validate_at_exit_is_process_wide);
    RUN(process_setting_reaches_every_heap);
    RUN(environment_is_parsed_with_warnings);
    RUN(a_pair_without_a_value_does_not_stop_the_others);
    RUN(values_are_decimal_or_hex_and_fit_64_bits);
    return harness_finish(argv[0]);
}
