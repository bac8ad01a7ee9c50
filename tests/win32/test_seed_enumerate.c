/*
 * test_seed_enumerate.c — Microsoft's "Enumerating a Heap" sample (examples/enumerate_heap.c,
 * included unchanged; only its entry point is renamed) runs against the shims and prints what
 * the Windows output of the sample shows: "Walking heap 0X<address>...", then a Region, one free
 * Block and an Uncommitted range, in that order, with the same fields. The test reads the output
 * back and checks its shape and the identities between the entries, never fixed addresses.
 */
#include "win32_test.h"

#define _tmain seed_main
int seed_main(void);
#include "../../examples/enumerate_heap.c"

#include <ctype.h>
#include <inttypes.h>

static void run_seed(void)
{
    int status = seed_main();
    fflush(stdout);
    _exit(status);
}

typedef struct seed_entry {
    char kind[32];
    uintptr_t committed, uncommitted, first_block, last_block; /* Region only */
    uintptr_t data, size, overhead, region_index;
} seed_entry;

/* Parses a "0X" + 2 * sizeof(void *) upper-case hex digits pointer, as the sample prints it. */
static bool parse_pointer(const char *text, uintptr_t *value)
{
    if (strncmp(text, "0X", 2) != 0) return false;
    for (size_t i = 0; i < 2 * sizeof(void *); i++)
        if (!isxdigit((unsigned char)text[2 + i]) || islower((unsigned char)text[2 + i])) return false;
    if (isxdigit((unsigned char)text[2 + 2 * sizeof(void *)])) return false;
    *value = (uintptr_t)strtoull(text + 2, NULL, 16);
    return true;
}

static bool field(const char *line, const char *prefix, uintptr_t *value, bool pointer)
{
    size_t n = strlen(prefix);
    if (strncmp(line, prefix, n) != 0) return false;
    if (pointer) return parse_pointer(line + n, value);
    char *end;
    *value = (uintptr_t)strtoull(line + n, &end, 10);
    return end != line + n;
}

static char output[65536];

TEST(seed_example_prints_region_block_uncommitted_like_windows)
{
    int status = capture_child(run_seed, output, sizeof output);
    CHECK_EQ(status, 0);
    CHECK(strstr(output, "failed") == NULL);

    char *save = NULL;
    char *line = strtok_r(output, "\n", &save);
    REQUIRE(line != NULL);
    uintptr_t heap = 0;
    REQUIRE(strncmp(line, "Walking heap ", 13) == 0);
    CHECK(parse_pointer(line + 13, &heap));
    CHECK_STR(line + 13 + 2 + 2 * sizeof(void *), "...");
    CHECK_EQ(heap & 0xFFFF, 0);

    seed_entry entries[8];
    int n = -1;
    while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
        if (line[0] != ' ') {
            REQUIRE(n < 7);
            n++;
            memset(&entries[n], 0, sizeof entries[n]);
            snprintf(entries[n].kind, sizeof entries[n].kind, "%s", line);
            continue;
        }
        REQUIRE(n >= 0);
        seed_entry *e = &entries[n];
        bool known = field(line, "  Data portion begins at: ", &e->data, true) ||
                     field(line, "  Size: ", &e->size, false) || field(line, "  Overhead: ", &e->overhead, false) ||
                     field(line, "  Region index: ", &e->region_index, false) ||
                     field(line, "  First block address: ", &e->first_block, true) ||
                     field(line, "  Last block address: ", &e->last_block, true);
        if (!known) {
            uintptr_t bytes = 0;
            char *end;
            bytes = (uintptr_t)strtoull(line, &end, 10);
            if (strcmp(end, " bytes committed") == 0) e->committed = bytes, known = true;
            else if (strcmp(end, " bytes uncommitted") == 0) e->uncommitted = bytes, known = true;
        }
        CHECK(known);
    }
    n++;
    /* The same three kinds of entries as the seed's Windows output, in the same order. */
    REQUIRE(n == 3);
    CHECK_STR(entries[0].kind, "Region");
    CHECK_STR(entries[1].kind, "Block");
    CHECK_STR(entries[2].kind, "Uncommitted range");

    const seed_entry *region = &entries[0], *block = &entries[1], *ucr = &entries[2];
    CHECK_EQ(region->data, heap);
    CHECK(region->size > 0 && region->size < region->committed); /* header bytes, as in the seed (1416) */
    CHECK_EQ(region->overhead, 0);
    CHECK(region->committed > 0);
    CHECK(region->first_block >= region->data + region->size);
    CHECK_EQ(region->last_block, region->data + region->committed + region->uncommitted);
    CHECK(block->data >= region->first_block);
    CHECK(block->size > 0);
    /* The seed's free block: overhead 4 pointers (16 on its x86), and it ends two overheads
     * before the uncommitted range (0X005307D8 + 2056 + 2 * 16 == 0X00531000). */
    CHECK_EQ(block->overhead, 4 * sizeof(void *));
    CHECK_EQ(ucr->data, block->data + block->size + 2 * block->overhead);
    CHECK_EQ(ucr->data, region->data + region->committed);
    CHECK_EQ(ucr->size, region->uncommitted);
    CHECK_EQ(ucr->data + ucr->size, region->last_block);
    CHECK_EQ(ucr->overhead, 0);
    for (int i = 0; i < 3; i++) CHECK_EQ(entries[i].region_index, 0);
}

int main(int argc, char **argv)
{
    (void)argc;
    RUN(seed_example_prints_region_block_uncommitted_like_windows);
    return harness_finish(argv[0]);
}
