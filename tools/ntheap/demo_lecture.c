/*
 * demo_lecture.c — `ntheap demo --lecture PROGRAM [--out DIR]`: the growable-heap lecture
 * replayed from outside. PROGRAM is the lecture's program (examples/lec04_growable_heap.c);
 * ntheap starts it as its own child, so that it may read it with ptrace even where only a
 * parent may (yama ptrace_scope=1), and at each of its stops:
 *
 *   PROGRAM ──"<step> <heap> <chunk> <what>\n"──► ntheap      (a pipe: the program stops)
 *            ntheap: facts read from outside, the heap map of the step (DIR/lec04-stepNN.svg),
 *                    then each of the lecture's debugger commands beside ntheap's own
 *                    (`!heap -s` beside `ntheap heap -p PID -s`), run in this process
 *   PROGRAM ◄──────────────── one byte ──────────── ntheap     (the program goes on)
 *
 * The facts tell the lecture's story as ntheap reads it: no LFH after 17 allocations, an LFH
 * object after the 18th (whose block is still a back-end block), the 19th chunk as slot 0 of
 * the first LFH subsegment, a freed slot handed out again first. The last line is the path of
 * the last heap map written.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd_demo.h"
#include "cmd_map.h"
#include "inspect/dt.h"
#include "target_arg.h"

#define MAX_COMMANDS 6
#define MAX_ARGS 8

/* One debugger command of the lecture and the ntheap command that shows the same thing.
 * Arguments may name {pid}, {heap}, {chunk} (the chunk the step is about), {lfh}, {sub} (the
 * LFH subsegment holding the chunk), {next_slot} (the slot after the chunk's) and {tcache} (the
 * thread's LFH cache). Slot 0's address is also the data address of the back-end block that
 * holds the subsegment; `heap -i` and `-x` answer with the slot. */
typedef struct lecture_command {
    const char *windbg;
    const char *ntheap[MAX_ARGS];
} lecture_command;

typedef struct lecture_step {
    const char *lecture; /* what the debugger showed at this stop, in the lecture */
    lecture_command commands[MAX_COMMANDS];
} lecture_step;

#define HEAP_S {"heap", "-p", "{pid}", "-s"}
#define HEAP_H {"heap", "-p", "{pid}", "-h", "{heap}"}
#define HEAP_HL {"heap", "-p", "{pid}", "-hl", "{heap}"}
#define DT(type, address) {"dt", type, address, "-p", "{pid}"}

static const lecture_step steps[] = {
    {"a new growable heap, the 4th of the process: one segment, 0x1000 bytes committed of 0x40000 reserved",
     {{"!address /f:Heap", {"address", "-p", "{pid}"}},
      {"!heap", {"heap", "-p", "{pid}"}},
      {"!heap -h", {"heap", "-p", "{pid}", "-h"}},
      {"!heap -s", HEAP_S},
      {"dt _HEAP 00470000", DT("heap", "{heap}")}}},
    {"17 chunks carved off the back-end one after the other; _HEAP.FrontEndHeap is still null",
     {{"dt _HEAP 00470000", DT("heap", "{heap}")}, {"!heap -s", HEAP_S}}},
    {"after the 18th allocation !heap -s shows LFH in the Fast heap column and FrontEndHeap points to the "
     "_LFH_HEAP, while the 18th chunk itself (0x4acf28) is a back-end block",
     {{"!heap -s", HEAP_S}, {"dt _HEAP 00470000", DT("heap", "{heap}")}, {"dt _LFH_HEAP 0x00475678", DT("lfh", "{lfh}")}}},
    {"!heap -hl lists the 19th chunk (0x4ad048) as the first block of the first LFH data region",
     {{"!heap -h 470000", HEAP_H},
      {"!heap -hl 470000", HEAP_HL},
      {"dt _HEAP_SUBSEGMENT 0x004af080", DT("subsegment", "{sub}")},
      {"!heap -i 00302058", {"heap", "-p", "{pid}", "-i", "{chunk}"}}}},
    {"the freed 18th chunk becomes a free back-end block",
     {{"!heap -h 470000", HEAP_H}, {"!heap -i 00303708", {"heap", "-p", "{pid}", "-i", "{chunk}"}}}},
    {"the next 0x100 request is served by the LFH (0x303710), not by the free back-end block",
     {{"!heap -hl 470000", HEAP_HL}}},
    {"freeing the 19th chunk frees the first slot of the first LFH data region", {{"!heap -hl 470000", HEAP_HL}}},
    {"the next request gets that slot back (0x4ad048): the last block freed is the first one used",
     {{"!heap -hl 470000", HEAP_HL},
      {"dt _HEAP_LOCAL_SEGMENT_INFO ...", DT("tcache", "{tcache}")},
      {"dt _HEAP_SUBSEGMENT 0x004af040", DT("subsegment", "{sub}")}}},
    {"three LFH chunks freed; each slot is marked free in its data region",
     {{"!heap -hl 470000", HEAP_HL}, {"dt _HEAP_LOCAL_SEGMENT_INFO ...", DT("tcache", "{tcache}")}}},
    {"nine allocations: the freed slots come back first, then new ones",
     {{"dt _HEAP_LOCAL_SEGMENT_INFO ...", DT("tcache", "{tcache}")}}},
    {"one more allocation", {{"!heap -hl 470000", HEAP_HL}}},
    {"all done", {{"!heap -s", HEAP_S}}},
};

#define STEP_COUNT (sizeof steps / sizeof steps[0])

/* What the driver reads of the heap at a stop. */
typedef struct facts {
    uintptr_t heap, chunk, lfh, sub, tcache, next_slot;
    uint64_t busy_blocks, n_subsegments;
    bool chunk_in_lfh;
    uint32_t slot, block_size, bucket;
} facts;

static uint64_t field_value(const nth_mem *mem, const char *type, uintptr_t address, const char *name)
{
    const nth_dt_type *t = nth_dt_find(type);
    for (size_t i = 0; t && address && i < t->n_fields; i++) {
        uint64_t v;
        if (strcmp(t->fields[i].name, name) == 0 && nth_dt_value(&t->fields[i], mem, address, &v)) return v;
    }
    return 0;
}

/* Reads the facts of a stop: the LFH object and the subsegment holding the step's chunk. */
static void read_facts(const nth_mem *mem, facts *f)
{
    f->lfh = (uintptr_t)field_value(mem, "heap", f->heap, "lfh");
    f->busy_blocks = field_value(mem, "heap", f->heap, "busy_blocks");
    f->n_subsegments = field_value(mem, "lfh", f->lfh, "n_subsegments");
    f->tcache = (uintptr_t)field_value(mem, "lfh", f->lfh, "caches");
    uintptr_t sub = (uintptr_t)field_value(mem, "lfh", f->lfh, "all");
    for (uint64_t n = 0; sub && n < f->n_subsegments; n++) {
        uintptr_t first = (uintptr_t)field_value(mem, "subsegment", sub, "first_block");
        uint64_t span = field_value(mem, "subsegment", sub, "span");
        uint32_t size = (uint32_t)field_value(mem, "subsegment", sub, "block_size");
        if (!f->sub) f->sub = sub; /* a subsegment to show when the chunk is in none */
        if (size && f->chunk >= first && f->chunk - first < span) {
            f->sub = sub;
            f->chunk_in_lfh = true;
            f->slot = (uint32_t)((f->chunk - first) / size);
            f->next_slot = first + (uintptr_t)(f->slot + 1) * size;
            f->block_size = size;
            f->bucket = (uint32_t)field_value(mem, "subsegment", sub, "bucket");
            return;
        }
        sub = (uintptr_t)field_value(mem, "subsegment", sub, "next");
    }
}

static void tell_facts(unsigned step, const facts *f, uintptr_t *first_lfh_chunk, int *story)
{
    printf("From outside: heap 0x%" PRIxPTR " holds %" PRIu64 " busy back-end blocks; ", f->heap, f->busy_blocks);
    if (!f->lfh) printf("no LFH yet (nth_heap.lfh is null)\n");
    else printf("its LFH is at 0x%" PRIxPTR " with %" PRIu64 " subsegment(s)\n", f->lfh, f->n_subsegments);
    if (f->chunk && f->chunk_in_lfh)
        printf("From outside: chunk 0x%" PRIxPTR " is slot %" PRIu32 " of LFH subsegment 0x%" PRIxPTR
               " (0x%" PRIx32 "-byte slots, bucket %" PRIu32 ")\n",
               f->chunk, f->slot, f->sub, f->block_size, f->bucket);
    else if (f->chunk)
        printf("From outside: chunk 0x%" PRIxPTR " is a back-end block\n", f->chunk);
    /* The lecture's two landmarks. */
    if (step == 2 && !f->lfh) *story |= 1;
    if (step == 3 && f->lfh && !f->chunk_in_lfh) {
        printf("=> the 18th allocation created the LFH; its own block came from the back-end\n");
        *story |= 2;
    }
    if (step == 4 && f->chunk_in_lfh && f->slot == 0) {
        printf("=> the 19th chunk (0x%" PRIxPTR ") is the LFH's first block: slot 0 of its first subsegment\n",
               f->chunk);
        *first_lfh_chunk = f->chunk;
        *story |= 4;
    }
    if (step == 8 && *first_lfh_chunk && f->chunk == *first_lfh_chunk) {
        printf("=> the slot freed last (0x%" PRIxPTR ") is the first one handed out again\n", f->chunk);
        *story |= 8;
    }
}

/* Expands the {name} placeholders of one argument into `out`. */
static const char *expand(const char *arg, int pid, const facts *f, char *out, size_t size)
{
    uintptr_t value;
    if (strcmp(arg, "{pid}") == 0) {
        snprintf(out, size, "%d", pid);
        return out;
    }
    if (strcmp(arg, "{heap}") == 0) value = f->heap;
    else if (strcmp(arg, "{chunk}") == 0) value = f->chunk;
    else if (strcmp(arg, "{lfh}") == 0) value = f->lfh;
    else if (strcmp(arg, "{sub}") == 0) value = f->sub;
    else if (strcmp(arg, "{tcache}") == 0) value = f->tcache;
    else if (strcmp(arg, "{next_slot}") == 0) value = f->next_slot ? f->next_slot : f->chunk;
    else return arg;
    snprintf(out, size, "0x%" PRIxPTR, value);
    return out;
}

static void run_command(const lecture_command *c, int pid, const facts *f)
{
    char storage[MAX_ARGS][40];
    char *argv[MAX_ARGS + 1];
    int argc = 0;
    for (; argc < MAX_ARGS && c->ntheap[argc]; argc++)
        argv[argc] = (char *)expand(c->ntheap[argc], pid, f, storage[argc], sizeof storage[argc]);
    argv[argc] = NULL;
    char shown[256] = "ntheap";
    for (int i = 0; i < argc; i++) {
        size_t used = strlen(shown);
        snprintf(shown + used, sizeof shown - used, " %s", argv[i]);
    }
    printf("\n0:001> %-44s  (WinDbg, in the lecture)\n$ %-49s  (ntheap, from outside)\n", c->windbg, shown);
    fflush(stdout);
    optind = 0; /* the commands parse their arguments afresh */
    int status = nth_cli_dispatch(argc, argv);
    fflush(stdout);
    fflush(stderr);
    if (status < 0) printf("(this ntheap has no \"%s\" command)\n", argv[0]);
    else if (status != 0) printf("(exit status %d)\n", status);
}

/* One stop of the program: facts, the map, the lecture's commands. */
static void replay_step(unsigned step, int pid, facts *f, const char *dir, char *map_path, size_t map_size,
                        uintptr_t *first_lfh_chunk, int *story)
{
    char what[256];
    printf("The lecture: %s\n", step <= STEP_COUNT ? steps[step - 1].lecture : "(a step it did not have)");
    char error[256] = "";
    nth_target *target = nth_target_open_pid(pid, 0, error, sizeof error);
    if (!target) {
        printf("(cannot read pid %d: %s)\n", pid, error);
        return;
    }
    read_facts(nth_target_mem(target), f);
    tell_facts(step, f, first_lfh_chunk, story);
    snprintf(map_path, map_size, "%s/lec04-step%02u.svg", dir, step);
    nth_map_counts counts;
    int status = nth_cli_map_write(target, f->heap, map_path, &counts);
    nth_target_close(target);
    snprintf(what, sizeof what, "%zu LFH blocks in %zu subsegment(s), %zu back-end blocks", counts.lfh_busy,
             counts.lfh_subsegments, counts.busy + counts.free + counts.internal);
    printf("Heap map of this step: %s (%s)%s\n", map_path, what, status ? " - problems found" : "");
    if (step <= STEP_COUNT)
        for (int i = 0; i < MAX_COMMANDS && steps[step - 1].commands[i].windbg; i++)
            run_command(&steps[step - 1].commands[i], pid, f);
    fflush(stdout);
}

/* Starts `program` with its step descriptors; its pid, or -1. */
static pid_t start(const char *program, int *up, int *down)
{
    int to_driver[2], to_program[2];
    if (pipe2(to_driver, O_CLOEXEC) != 0) return -1;
    if (pipe2(to_program, O_CLOEXEC) != 0) {
        close(to_driver[0]);
        close(to_driver[1]);
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        char fds[32];
        fcntl(to_driver[1], F_SETFD, 0);
        fcntl(to_program[0], F_SETFD, 0);
        snprintf(fds, sizeof fds, "%d,%d", to_driver[1], to_program[0]);
        execl(program, program, "--step-fds", fds, (char *)NULL);
        fprintf(stderr, "ntheap demo: cannot execute %s: %s\n", program, strerror(errno));
        _exit(127);
    }
    close(to_driver[1]);
    close(to_program[0]);
    if (pid < 0) {
        close(to_driver[0]);
        close(to_program[1]);
        return -1;
    }
    *up = to_driver[0];
    *down = to_program[1];
    return pid;
}

int nth_cli_demo_lecture(const char *program, const char *dir)
{
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "ntheap demo: cannot create %s: %s\n", dir, strerror(errno));
        return 1;
    }
    signal(SIGPIPE, SIG_IGN); /* a program gone early must not take the driver with it */
    printf("ntheap demo: the growable-heap lecture replayed from outside, against %s\n"
           "(its own output is interleaved: it prints before each stop)\n\n",
           program);
    int up, down;
    pid_t pid = start(program, &up, &down);
    if (pid < 0) {
        fprintf(stderr, "ntheap demo: cannot start %s: %s\n", program, strerror(errno));
        return 1;
    }
    FILE *lines = fdopen(up, "r");
    char line[512], map_path[4096] = "";
    unsigned steps_seen = 0;
    uintptr_t first_lfh_chunk = 0;
    int story = 0;
    while (lines && fgets(line, sizeof line, lines)) {
        unsigned step;
        int used = 0;
        facts f = {0};
        if (sscanf(line, "%u %" SCNxPTR " %" SCNxPTR " %n", &step, &f.heap, &f.chunk, &used) != 3 || step == 0) {
            fprintf(stderr, "ntheap demo: unexpected line from the program: %s", line);
            break;
        }
        steps_seen++;
        line[strcspn(line, "\n")] = '\0';
        printf("\n==== Step %u (pid %d): %s\n", step, (int)pid, line + used);
        replay_step(step, (int)pid, &f, dir, map_path, sizeof map_path, &first_lfh_chunk, &story);
        if (write(down, "g", 1) != 1) break;
    }
    if (lines) fclose(lines);
    else close(up);
    close(down);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    fflush(stdout);
    bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    printf("\nThe lecture's program %s after %u steps.\n", clean ? "ended normally" : "failed", steps_seen);
    if ((story & 15) != 15)
        printf("The LFH story was not seen as the lecture tells it (landmarks: 0x%x of 0xf).\n", (unsigned)story);
    if (map_path[0]) printf("Heap map of the last step: %s\n", map_path);
    return clean && steps_seen == STEP_COUNT && (story & 15) == 15 ? 0 : 1;
}
