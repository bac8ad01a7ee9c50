/*
 * test_map_cli.c — `ntheap map` and `ntheap dt` against a live process: a child builds a heap
 * (back-end blocks with freed gaps, an LFH subsegment with freed slots, a big block), walks it
 * itself, reports its counts and addresses through a pipe and waits; the picture ntheap draws
 * of it from outside (-p PID) holds one element per entry the child walked, class by class; dt
 * shows the child's own values (heap, segment, subsegment), as text and as JSON; the wrong
 * type at an address, an unknown heap, type or missing argument give exit 1 or 2 as documented.
 * With gcore (gdb) installed, the picture and dt from a core file of the child agree too.
 *
 * The child allows any process of its user to trace it (PR_SET_PTRACER), since ntheap is its
 * sibling here, not its parent (yama ptrace_scope=1 lets only ancestors trace otherwise).
 */
#include <stdarg.h>
#include <sys/prctl.h>

#include "harness/harness.h"
#include "heap/lfh.h"

typedef struct report {
    uintptr_t heap, first_segment, sub, big;
    uint32_t n_segments, block_size;
    size_t regions, busy, free, internal, uncommitted, lfh, big_blocks;
} report;

static char ntheap[512], dir[256];
static pid_t child;
static int go_fd = -1;
static report r;

static void count(nth_heap *heap, report *out)
{
    nth_walk_entry e = {0};
    while (nth_heap_walk(heap, &e)) {
        if (e.flags & NTH_ENTRY_REGION) out->regions++;
        else if (e.flags & NTH_ENTRY_UNCOMMITTED) out->uncommitted++;
        else if (e.flags & NTH_ENTRY_BIG) out->big_blocks++;
        else if (e.flags & NTH_ENTRY_LFH) out->lfh++;
        else if (!(e.flags & NTH_ENTRY_BUSY)) out->free++;
        else if (e.flags & NTH_ENTRY_INTERNAL) out->internal++;
        else out->busy++;
    }
}

/* The child: builds the heap, reports, waits for a byte (or end of file), exits. */
static void child_main(int report_fd, int wait_fd)
{
    nth_heap *heap = nth_heap_create(0, 0, 0);
    if (!heap) _exit(1);
    void *p[60];
    for (int i = 0; i < 60; i++) p[i] = nth_heap_alloc(heap, 0, 0x100);
    for (int i = 0; i < 6; i++)
        if (!nth_heap_alloc(heap, 0, 0x3000)) _exit(1);
    nth_heap_free(heap, 0, p[4]);
    nth_heap_free(heap, 0, p[10]);
    nth_heap_free(heap, 0, p[40]);
    if (!nth_heap_alloc(heap, 0, 2u << 20)) _exit(1);
    report out = {0};
    out.heap = (uintptr_t)heap;
    out.first_segment = (uintptr_t)heap->first_segment;
    out.n_segments = heap->n_segments;
    nth_lfh *lfh = atomic_load(&heap->lfh);
    out.sub = lfh && lfh->all ? (uintptr_t)lfh->all : 0;
    out.block_size = lfh && lfh->all ? lfh->all->block_size : 0;
    out.big = (uintptr_t)heap->big_list;
    count(heap, &out);
#ifdef PR_SET_PTRACER
    (void)prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0); /* fails harmlessly without yama */
#endif
    if (write(report_fd, &out, sizeof out) != (ssize_t)sizeof out) _exit(1);
    char byte;
    if (read(wait_fd, &byte, 1) < 0) _exit(1);
    _exit(0);
}

static bool start_child(void)
{
    int up[2], down[2];
    if (pipe(up) != 0 || pipe(down) != 0) return false;
    fflush(NULL);
    child = fork();
    if (child == 0) {
        close(up[0]);
        close(down[1]);
        child_main(up[1], down[0]);
    }
    close(up[1]);
    close(down[0]);
    go_fd = down[1];
    return child > 0 && read(up[0], &r, sizeof r) == (ssize_t)sizeof r;
}

/* Runs `ntheap ARGS` with output in dir/out; returns its exit status, the output in `text`. */
static int run(char **text, const char *format, ...) __attribute__((format(printf, 2, 3)));
static int run(char **text, const char *format, ...)
{
    char args[1024], command[2048];
    va_list ap;
    va_start(ap, format);
    vsnprintf(args, sizeof args, format, ap);
    va_end(ap);
    snprintf(command, sizeof command, "%s %s >%s/out 2>&1", ntheap, args, dir);
    int status = system(command);
    if (text) {
        char path[300];
        snprintf(path, sizeof path, "%s/out", dir);
        FILE *f = fopen(path, "r");
        *text = NULL;
        size_t length = 0;
        if (f) {
            *text = calloc(1, 1 << 20);
            if (*text) length = fread(*text, 1, (1 << 20) - 1, f);
            fclose(f);
        }
        if (*text) (*text)[length] = '\0';
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static size_t count_class(const char *text, const char *name)
{
    char needle[64];
    snprintf(needle, sizeof needle, "class=\"%s\"", name);
    size_t n = 0;
    for (const char *p = text ? strstr(text, needle) : NULL; p; p = strstr(p + 1, needle)) n++;
    return n;
}

/* The SVG file `name` in the test's directory as a string (up to 8 MiB), or NULL. */
static char *read_svg(const char *name)
{
    char path[300];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    char *svg = f ? calloc(1, 8 << 20) : NULL;
    if (svg) svg[fread(svg, 1, (8 << 20) - 1, f)] = '\0';
    if (f) fclose(f);
    return svg;
}

TEST(map_of_a_live_process_matches_its_own_walk)
{
    char *text = NULL;
    CHECK_EQ(run(&text, "map -p %d -h 0x%" PRIxPTR " -o %s/map.svg", (int)child, r.heap, dir), 0);
    if (text && !strstr(text, "map.svg")) fprintf(stderr, "  ntheap map said: %s\n", text);
    free(text);
    char *svg = read_svg("map.svg");
    REQUIRE(svg);
    CHECK(r.lfh > 0 && r.big_blocks == 1 && r.free >= 2);
    CHECK_EQ(count_class(svg, "segment"), r.regions);
    CHECK_EQ(count_class(svg, "busy"), r.busy);
    CHECK_EQ(count_class(svg, "free"), r.free);
    CHECK_EQ(count_class(svg, "internal"), r.internal);
    CHECK_EQ(count_class(svg, "uncommitted"), r.uncommitted);
    CHECK_EQ(count_class(svg, "lfh-busy"), r.lfh);
    CHECK_EQ(count_class(svg, "big"), r.big_blocks);
    CHECK(count_class(svg, "lfh-free") >= 1); /* slot 40 - 18 was freed */
    char pid_text[40];
    snprintf(pid_text, sizeof pid_text, "pid %d", (int)child);
    CHECK(strstr(svg, pid_text) != NULL);
    free(svg);
}

#if NTH_SANITIZER_BUILD
static const bool sanitizer_build = true;
#else
static const bool sanitizer_build = false;
#endif

/* The same picture from a core file of the child (gcore, from gdb), when gcore is installed. */
TEST(map_of_a_core_matches_the_live_walk)
{
    if (sanitizer_build) {
        fprintf(stderr, "  note: sanitizer build: a core would hold the sanitizer's shadow memory; not checked\n");
        return;
    }
    if (system("command -v gcore >/dev/null 2>&1") != 0) {
        fprintf(stderr, "  note: gcore (gdb) is not installed: the core case is not checked\n");
        return;
    }
    char command[700], core[300];
    snprintf(command, sizeof command, "gcore -o %s/core %d >/dev/null 2>&1", dir, (int)child);
    snprintf(core, sizeof core, "%s/core.%d", dir, (int)child);
    if (system(command) != 0 || access(core, R_OK) != 0) {
        fprintf(stderr, "  note: gcore could not dump the child: the core case is not checked\n");
        return;
    }
    char *text = NULL;
    CHECK_EQ(run(&text, "map -c %s -h 0x%" PRIxPTR " -o %s/core.svg", core, r.heap, dir), 0);
    free(text);
    char *svg = read_svg("core.svg");
    REQUIRE(svg);
    CHECK_EQ(count_class(svg, "busy"), r.busy);
    CHECK_EQ(count_class(svg, "free"), r.free);
    CHECK_EQ(count_class(svg, "lfh-busy"), r.lfh);
    CHECK_EQ(count_class(svg, "big"), r.big_blocks);
    CHECK(strstr(svg, "core ") != NULL);
    free(svg);
    CHECK_EQ(run(&text, "dt heap 0x%" PRIxPTR " -c %s", r.heap, core), 0);
    CHECK(text && strstr(text, ": 0xeeffeeff uint32_t") != NULL);
    free(text);
}

TEST(map_refuses_what_is_not_there)
{
    CHECK_EQ(run(NULL, "map -p %d -h 99 -o %s/x.svg", (int)child, dir), 2);
    CHECK_EQ(run(NULL, "map -p %d", (int)child), 2);        /* no -o */
    CHECK_EQ(run(NULL, "map -o %s/x.svg", dir), 2);          /* no target */
    CHECK_EQ(run(NULL, "map -p %d -c core -o x.svg", (int)child), 2);
}

TEST(dt_shows_the_childs_values)
{
    char *text = NULL, needle[160];
    CHECK_EQ(run(&text, "dt heap 0x%" PRIxPTR " -p %d", r.heap, (int)child), 0);
    REQUIRE(text);
    snprintf(needle, sizeof needle, "ntheap!nth_heap at 0x%" PRIxPTR, r.heap);
    CHECK(strstr(text, needle) != NULL);
    snprintf(needle, sizeof needle, "+0x%03zx [   8] first_segment           : 0x%" PRIxPTR " nth_segment *",
             offsetof(nth_heap, first_segment), r.first_segment);
    CHECK(strstr(text, needle) != NULL);
    free(text);

    CHECK_EQ(run(&text, "dt heap 0x%" PRIxPTR " -p %d --json", r.heap, (int)child), 0);
    REQUIRE(text);
    CHECK(strstr(text, "\"magic_matches\": true") != NULL);
    snprintf(needle, sizeof needle, "\"name\": \"n_segments\", \"value\": \"0x%" PRIx32 "\"", r.n_segments);
    CHECK(strstr(text, needle) != NULL);
    snprintf(needle, sizeof needle, "\"offset\": \"0x%zX\", \"size\": 4, \"name\": \"magic\", \"value\": \"0x%x\"",
             offsetof(nth_heap, magic), NTH_HEAP_MAGIC);
    CHECK(strstr(text, needle) != NULL);
    free(text);

    REQUIRE(r.sub);
    CHECK_EQ(run(&text, "dt _HEAP_SUBSEGMENT 0x%" PRIxPTR " -p %d", r.sub, (int)child), 0);
    snprintf(needle, sizeof needle, "block_size              : 0x%" PRIx32 " uint32_t", r.block_size);
    CHECK(text && strstr(text, needle) != NULL);
    free(text);
    CHECK_EQ(run(&text, "dt big 0x%" PRIxPTR " -p %d", r.big, (int)child), 0);
    CHECK(text && strstr(text, ": 0x200000 size_t") != NULL);
    free(text);
}

TEST(dt_tells_the_wrong_structure_and_bad_usage)
{
    char *text = NULL;
    CHECK_EQ(run(&text, "dt segment 0x%" PRIxPTR " -p %d", r.heap, (int)child), 1);
    CHECK(text && strstr(text, "not a nth_segment") != NULL);
    free(text);
    CHECK_EQ(run(&text, "dt heap 0x10 -p %d", (int)child), 1);
    CHECK(text && strstr(text, "cannot be read") != NULL);
    free(text);
    CHECK_EQ(run(NULL, "dt heap -p %d", (int)child), 2);
    CHECK_EQ(run(NULL, "dt no_such_type 0x1000 -p %d", (int)child), 2);
    CHECK_EQ(run(NULL, "dt heap zzz -p %d", (int)child), 2);
    CHECK_EQ(run(NULL, "dt heap 0x1000"), 2);
}

int main(int argc, char **argv)
{
    (void)argc;
    /* argv[0] is BUILD/tests/inspect/test_map_cli: ntheap is BUILD/ntheap. */
    snprintf(ntheap, sizeof ntheap, "%s", argv[0]);
    char *cut = strstr(ntheap, "/tests/inspect/");
    if (!cut) {
        printf("SKIP run from the build tree (BUILD/tests/inspect/test_map_cli)\n");
        return harness_finish(argv[0]);
    }
    strcpy(cut, "/ntheap");
    if (access(ntheap, X_OK) != 0) {
        printf("SKIP %s is not built\n", ntheap);
        return harness_finish(argv[0]);
    }
    snprintf(dir, sizeof dir, "/tmp/ntheap-test-map-cli.XXXXXX");
    if (!mkdtemp(dir) || !start_child()) {
        printf("cannot set up the child\n");
        return 1;
    }
    RUN(map_of_a_live_process_matches_its_own_walk);
    RUN(map_of_a_core_matches_the_live_walk);
    RUN(map_refuses_what_is_not_there);
    RUN(dt_shows_the_childs_values);
    RUN(dt_tells_the_wrong_structure_and_bad_usage);
    close(go_fd);
    waitpid(child, NULL, 0);
    char command[400];
    snprintf(command, sizeof command, "rm -rf %s", dir);
    if (system(command) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return harness_finish(argv[0]);
}
