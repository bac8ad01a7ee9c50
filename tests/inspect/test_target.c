/*
 * test_target.c — libntheap-inspect's targets: this process, a live child (stopped while open,
 * resumed after), a core file of that child made by gcore, each walked through the target's
 * read seam and compared with the child's own walk (same entries, counts, bytes, order hash);
 * and hostile targets: a registry of another layout version, a damaged heap (smashed header,
 * cyclic segment, heap and big-block lists), a truncated core, things that are not targets.
 *
 * Run with "--child FILE MODE" it is the child instead (see known_heaps.h): the CLI tests use it.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define HARNESS_CORRUPTS_ON_PURPOSE /* damages heap memory to test ntheap's own detection */
#include "harness/harness.h"
#include "inspect/known_heaps.h"
#include "inspect/target.h"

enum { MAX_HEAPS = 8 };

typedef struct child {
    pid_t pid;
    heap_summary heaps[MAX_HEAPS];
    int n_heaps;
    uint64_t stale, stale_slot;  /* a dropped block, and where a copy of its address lies */
    int threads;                 /* as the child counted them */
    bool ready;
} child;

static bool start_child(child *c, const char *mode)
{
    memset(c, 0, sizeof *c);
    int fds[2];
    if (pipe(fds) != 0) return false;
    c->pid = fork();
    if (c->pid == 0) {
        close(fds[0]);
        known_heaps_child(fdopen(fds[1], "w"), mode);
    }
    close(fds[1]);
    FILE *in = fdopen(fds[0], "r");
    char line[512];
    while (in && fgets(line, sizeof line, in)) {
        heap_summary s;
        if (c->n_heaps < MAX_HEAPS &&
            sscanf(line, SUMMARY_FORMAT, &s.address, &s.entries, &s.busy, &s.busy_bytes, &s.free, &s.free_bytes, &s.lfh,
                   &s.big, &s.hash) == 9)
            c->heaps[c->n_heaps++] = s;
        (void)sscanf(line, "stale %" SCNx64, &c->stale);
        (void)sscanf(line, "stale_slot %" SCNx64, &c->stale_slot);
        (void)sscanf(line, "threads %d", &c->threads);
        if (strcmp(line, "ready\n") == 0) {
            c->ready = true;
            break;
        }
    }
    if (in) fclose(in);
    return c->ready;
}

static void stop_child(child *c)
{
    if (c->pid <= 0) return;
    kill(c->pid, SIGKILL);
    waitpid(c->pid, NULL, 0);
}

/* The summary of the heap at `address` through the target's read seam; its problem count. */
static uint32_t walk_target(const nth_target *t, uint64_t address, heap_summary *s)
{
    memset(s, 0, sizeof *s);
    s->address = address;
    nth_iter it;
    if (!nth_iter_open(&it, nth_target_mem(t), (uintptr_t)address)) return it.problems ? it.problems : 1;
    nth_walk_entry e;
    for (int n = 0; n < 1000000 && nth_iter_next(&it, &e); n++) summary_add(s, &e);
    return it.problems;
}

static bool target_has_heap(const nth_target *t, uint64_t address)
{
    for (size_t i = 0; i < nth_target_heap_count(t); i++)
        if (nth_target_heap_address(t, i) == address) return true;
    return false;
}

static void check_same_heaps(const nth_target *t, const child *c)
{
    CHECK_EQ(c->n_heaps, 2);
    for (int i = 0; i < c->n_heaps; i++) {
        const heap_summary *want = &c->heaps[i];
        CHECK(target_has_heap(t, want->address));
        heap_summary got;
        CHECK_EQ(walk_target(t, want->address, &got), 0);
        CHECK_EQ(got.entries, want->entries);
        CHECK_EQ(got.busy, want->busy);
        CHECK_EQ(got.busy_bytes, want->busy_bytes);
        CHECK_EQ(got.free, want->free);
        CHECK_EQ(got.free_bytes, want->free_bytes);
        CHECK_EQ(got.lfh, want->lfh);
        CHECK_EQ(got.big, want->big);
        CHECK_EQ(got.hash, want->hash);
    }
    CHECK_EQ(nth_target_process_heap(t), c->heaps[0].address);
}

/* The child's threads are all seen; its main thread's stack pointer lies in a stack mapping
 * above the slot where the child left a stale copy of a dropped address (the copy is there, in
 * dead stack), and its registers are known. */
static void check_thread(const nth_target *t, const child *c)
{
    REQUIRE(c->stale != 0 && c->stale_slot != 0 && c->threads >= 1);
    CHECK_EQ(nth_target_thread_count(t), (size_t)c->threads);
    const nth_target_thread *th = NULL;
    for (size_t i = 0; i < nth_target_thread_count(t); i++)
        if (nth_target_thread_at(t, i)->tid == c->pid) th = nth_target_thread_at(t, i);
    REQUIRE(th != NULL);
    CHECK(th->n_regs >= 27);
    CHECK(th->live_low <= th->sp && th->sp - th->live_low <= 128);
    const nth_target_mapping *stack = NULL;
    for (size_t i = 0; i < nth_target_mapping_count(t); i++) {
        const nth_target_mapping *m = nth_target_mapping_at(t, i);
        if (th->sp >= m->start && th->sp < m->end) stack = m;
    }
    REQUIRE(stack != NULL);
    CHECK((stack->prot & 6) == 6);
    CHECK(c->stale_slot >= stack->start && c->stale_slot + 4096 < th->live_low); /* dead stack */
    uint64_t copy = 0;
    CHECK_EQ(nth_target_read(t, (uintptr_t)c->stale_slot, &copy, sizeof copy), 0);
    CHECK_EQ(copy, c->stale);
}

/* The state letter of /proc/PID/stat ('t' while traced and stopped). */
static char proc_state(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return '?';
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *paren = strrchr(buf, ')');
    return paren && paren[1] ? paren[2] : '?';
}

TEST(self_target_walks_like_the_engine)
{
    char error[512];
    nth_heap *heap = nth_heap_create(0, 0, 0);
    for (int i = 0; i < 40; i++) (void)!nth_heap_alloc(heap, 0, 0x40 + (size_t)i * 8);
    nth_target *t = nth_target_open_self(error, sizeof error);
    REQUIRE(t != NULL);
    CHECK(target_has_heap(t, (uintptr_t)heap));
    CHECK(strstr(nth_target_describe(t), "this process") != NULL);
    CHECK_EQ(nth_target_thread_count(t), 1); /* the caller, its stack pointer at the open */
    volatile char here = 0;
    CHECK(nth_target_thread_at(t, 0)->sp < (uintptr_t)&here);
    CHECK(nth_target_thread_at(t, 0)->sp + 65536 > (uintptr_t)&here);
    heap_summary want = {(uintptr_t)heap, 0, 0, 0, 0, 0, 0, 0, 0}, got;
    nth_walk_entry e = {0};
    while (nth_heap_walk(heap, &e)) summary_add(&want, &e);
    CHECK_EQ(walk_target(t, (uintptr_t)heap, &got), 0);
    CHECK_EQ(got.entries, want.entries);
    CHECK_EQ(got.hash, want.hash);
    unsigned char byte;
    CHECK_EQ(nth_target_read(t, 16, &byte, 1), -1); /* unmapped: refused, not a fault */
    nth_target_close(t);
    nth_heap_destroy(heap);
}

TEST(live_child_is_stopped_read_and_resumed)
{
    child c;
    REQUIRE(start_child(&c, "normal"));
    char error[512];
    nth_target *t = nth_target_open_pid(c.pid, 0, error, sizeof error);
    if (!t && strstr(error, "ptrace refused")) { /* e.g. a container without CAP_SYS_PTRACE */
        printf("SKIP %s\n", error);
        stop_child(&c);
        return;
    }
    if (!t) fprintf(stderr, "  open_pid: %s\n", error);
    if (t) {
        CHECK_EQ(proc_state(c.pid), 't');
        check_same_heaps(t, &c);
        check_thread(t, &c);
        CHECK(strstr(nth_target_registry_source(t, 0), "(.symtab)") != NULL); /* a static test program */
        nth_target_close(t);
        CHECK(proc_state(c.pid) != 't');
    }
    CHECK(t != NULL);
    t = nth_target_open_pid(c.pid, NTH_TARGET_NO_STOP, error, sizeof error);
    CHECK(t != NULL);
    if (t) {
        CHECK(proc_state(c.pid) != 't');
        check_same_heaps(t, &c);
        CHECK_EQ(nth_target_thread_count(t), 0); /* running: no registers */
        nth_target_close(t);
    }
    stop_child(&c);
}

static bool have_gcore(void) { return system("command -v gcore >/dev/null 2>&1") == 0; }

static bool make_core(pid_t pid, char *path, size_t size)
{
    snprintf(path, size, "/tmp/ntheap-test-core-%d", (int)getpid());
    char command[512];
    snprintf(command, sizeof command, "gcore -o %s %d >/dev/null 2>&1", path, (int)pid);
    if (system(command) != 0) return false;
    snprintf(path + strlen(path), size - strlen(path), ".%d", (int)pid);
    return access(path, R_OK) == 0;
}

TEST(core_of_the_child_reads_the_same)
{
#if defined(NTH_SANITIZER_BUILD) && NTH_SANITIZER_BUILD
    printf("SKIP a sanitizer build's child has terabytes of shadow mappings: no core is made of it\n");
    return;
#endif
    if (!have_gcore()) {
        printf("SKIP gcore (gdb) is not installed: core targets not tested\n");
        return;
    }
    child c;
    REQUIRE(start_child(&c, "normal"));
    char core[256], error[512];
    bool made = make_core(c.pid, core, sizeof core);
    stop_child(&c);
    if (!made) {
        printf("SKIP gcore could not dump the child (ptrace refused?)\n");
        return;
    }
    nth_target *t = nth_target_open_core(core, error, sizeof error);
    if (!t) {
        fprintf(stderr, "  open_core: %s\n", error);
        unlink(core);
    }
    REQUIRE(t != NULL);
    check_same_heaps(t, &c);
    check_thread(t, &c); /* from the NT_PRSTATUS note */
    nth_target_close(t);
    /* truncated: the registry or heap bytes are missing; never a fault */
    struct stat st;
    REQUIRE(stat(core, &st) == 0);
    for (int cut = 1; cut <= 3; cut++) {
        REQUIRE(truncate(core, st.st_size * (4 - cut) / 4) == 0);
        t = nth_target_open_core(core, error, sizeof error);
        if (!t) {
            CHECK(error[0] != '\0');
            continue;
        }
        for (size_t i = 0; i < nth_target_heap_count(t); i++) {
            heap_summary s;
            (void)walk_target(t, nth_target_heap_address(t, i), &s);
        }
        nth_target_close(t);
    }
    unlink(core);
}

TEST(another_layout_version_is_refused_with_a_reason)
{
    child c;
    REQUIRE(start_child(&c, "version"));
    char error[512] = "";
    nth_target *t = nth_target_open_pid(c.pid, 0, error, sizeof error);
    CHECK(t == NULL);
    CHECK(strstr(error, "layout version 1") != NULL);
    char reads[32];
    snprintf(reads, sizeof reads, "reads version %u", NTH_LAYOUT_VERSION);
    CHECK(strstr(error, reads) != NULL);
    if (t) nth_target_close(t);
    CHECK(proc_state(c.pid) != 't'); /* resumed after the failed open */
    stop_child(&c);
}

TEST(damaged_heap_is_walked_with_problems)
{
    child c;
    REQUIRE(start_child(&c, "smash"));
    char error[512];
    nth_target *t = nth_target_open_pid(c.pid, 0, error, sizeof error);
    REQUIRE(t != NULL);
    CHECK_EQ(nth_target_heap_count(t), 2); /* the cyclic heap list ends */
    heap_summary s;
    CHECK(walk_target(t, c.heaps[1].address, &s) > 0);
    CHECK(s.entries > 0 && s.entries < c.heaps[1].entries + 10);
    CHECK_EQ(walk_target(t, c.heaps[0].address, &s), 0); /* the process heap is intact */
    nth_target_close(t);
    stop_child(&c);
}

TEST(things_that_are_not_targets)
{
    char error[512] = "";
    CHECK(nth_target_open_pid(0x3ffffff0, 0, error, sizeof error) == NULL);
    CHECK(strstr(error, "no such process") != NULL);
    CHECK(nth_target_open_core("/nonexistent/core", error, sizeof error) == NULL);
    CHECK(nth_target_open_core("/proc/self/exe", error, sizeof error) == NULL);
    CHECK(strstr(error, "not an ELF64 core") != NULL);
    pid_t pid = fork(); /* a process without ntheap heaps in use is still a target... */
    if (pid == 0) {
        execl("/bin/sleep", "sleep", "5", (char *)NULL);
        _exit(127);
    }
    usleep(100000);
    nth_target *t = nth_target_open_pid(pid, 0, error, sizeof error);
    CHECK(t == NULL); /* ...but it has no registry */
    CHECK(strstr(error, "nth_heap_registry") != NULL);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--child") == 0) {
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.tmp", argv[2]);
        FILE *out = fopen(tmp, "w");
        if (!out) return 2;
        setvbuf(out, NULL, _IOFBF, 1 << 16);
        /* the report is renamed into place once complete (after "ready") */
        signal(SIGUSR1, SIG_IGN);
        pid_t pid = fork();
        if (pid == 0) { /* leaves the caller's stdout, so that $(...) returns */
            if (!freopen("/dev/null", "w", stdout)) _exit(2);
            known_heaps_child(out, argv[3]);
        }
        fclose(out);
        for (int i = 0; i < 500; i++) {
            FILE *f = fopen(tmp, "r");
            char line[512];
            bool ready = false;
            while (f && fgets(line, sizeof line, f)) ready = strcmp(line, "ready\n") == 0;
            if (f) fclose(f);
            if (ready) break;
            usleep(10000);
        }
        rename(tmp, argv[2]);
        printf("%d\n", (int)pid);
        return 0;
    }
    RUN(self_target_walks_like_the_engine);
    RUN(live_child_is_stopped_read_and_resumed);
    RUN(core_of_the_child_reads_the_same);
    RUN(another_layout_version_is_refused_with_a_reason);
    RUN(damaged_heap_is_walked_with_problems);
    RUN(things_that_are_not_targets);
    return harness_finish("test_target");
}
