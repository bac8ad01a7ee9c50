/*
 * test_port_leak_report.c — the port-style program examples/port_leak_report.c (private heap,
 * HeapWalk-based leak listing, moveable GlobalAlloc memory), included unchanged with its entry
 * point renamed, runs in a child; the test checks what it printed.
 */
#define _tmain port_main
#include "win32_test.h"

#include <tchar.h>

int port_main(int argc, TCHAR *argv[]);
#include "../../examples/port_leak_report.c"

static void run_port(void)
{
    char name[] = "port_leak_report";
    char *args[] = { name, NULL };
    int status = port_main(1, args);
    fflush(stdout);
    _exit(status);
}

static char output[16384];

static int count_lines(const char *text, const char *prefix)
{
    int n = 0;
    size_t len = strlen(prefix);
    for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
        if (strncmp(line, prefix, len) == 0) n++;
    return n;
}

TEST(port_program_lists_its_leaks_and_finds_its_moveable_block)
{
    int status = capture_child(run_port, output, sizeof output);
    CHECK_EQ(status, 0);
    CHECK(strstr(output, "FAILED") == NULL);
    CHECK(strstr(output, "\nOK\n") != NULL);
    CHECK_EQ(count_lines(output, "LEAK 0X"), 3);
    CHECK_EQ(count_lines(output, "MOVEABLE 0X"), 1);
    /* The three leaked contacts are those never removed: 0, 3 and 6. */
    size_t expected = 3 * sizeof(CONTACT) + strlen("Ada Lovelace") + strlen("Alan Turing") + strlen("Ken Thompson");
    char line[128];
    snprintf(line, sizeof line, "LEAKS 3 blocks, %zu bytes\n", expected);
    CHECK(strstr(output, line) != NULL);
    snprintf(line, sizeof line, "SUMMARY allocated %zu\n", expected);
    CHECK(strstr(output, line) != NULL);
    /* The clipboard was locked once and held the seven names. */
    const char *clip = strstr(output, "CLIPBOARD ");
    REQUIRE(clip != NULL);
    unsigned bytes = 0, locks = 0;
    CHECK(sscanf(clip, "CLIPBOARD %u bytes, lock count %u", &bytes, &locks) == 2);
    CHECK(bytes >= 88);
    CHECK_EQ(locks, 1);
    if (harness_case_failed) fprintf(stderr, "%s", output);
}

int main(int argc, char **argv)
{
    (void)argc;
    RUN(port_program_lists_its_leaks_and_finds_its_moveable_block);
    return harness_finish(argv[0]);
}
