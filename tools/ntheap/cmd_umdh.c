/*
 * cmd_umdh.c — `ntheap umdh A.txt B.txt`: what grew between two heap snapshots, per allocation
 * stack, biggest growth first (Windows' UMDH in its comparison mode).
 *
 * Snapshots are written by the program itself (src/heap/debug/leaks.c describes the format):
 * NTHEAP_OPTIONS=leak_report=2 writes ntheap-umdh.PID.txt at exit, and nth_heap_write_snapshot()
 * writes one whenever the program asks. Stacks are matched by their frames' module+offset
 * names, so snapshots of two runs of the same program compare even with address-space layout
 * randomisation. Output, one entry per stack that changed:
 *
 *   +    7 blocks      +224 bytes   (A: 0 blocks 0 bytes; B: 7 blocks 224 bytes)
 *       leak_function+0x1f (program+0x1234)
 *       main+0x55 (program+0x1400)
 *   total: +224 bytes in +7 blocks
 *
 * Snapshots of another process (`-p PID`) or of a core file (`-c CORE`) are taken from outside,
 * in the same format: cmd_umdh_take.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd_umdh.h"

typedef struct umdh_stack {
    char *key;     /* the frames' module+offset names, one per line */
    char *symbols; /* the frames as shown: symbol+offset (module+offset), one per line */
    long long count, bytes;
} umdh_stack;

typedef struct snapshot {
    umdh_stack *stacks;
    size_t n, capacity;
} snapshot;

static void append(char **s, const char *text)
{
    size_t old = *s ? strlen(*s) : 0, add = strlen(text);
    char *grown = realloc(*s, old + add + 1);
    if (!grown) {
        perror("ntheap umdh");
        exit(1);
    }
    memcpy(grown + old, text, add + 1);
    *s = grown;
}

static bool load(const char *path, snapshot *snap, bool *unreadable)
{
    /* O_NONBLOCK and a regular-file check: a FIFO or device named as a snapshot must not hang. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat st;
    FILE *f = fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? fdopen(fd, "r") : NULL;
    if (!f) {
        fprintf(stderr, "ntheap umdh: %s: cannot open it as a file: %s\n", path,
                fd < 0 ? strerror(errno) : "not a regular file");
        if (fd >= 0) close(fd);
        *unreadable = true;
        return false;
    }
    char line[1024];
    if (!fgets(line, sizeof line, f) || strncmp(line, "# ntheap umdh snapshot 1", 24) != 0) {
        fprintf(stderr, "ntheap umdh: %s: not an ntheap heap snapshot\n", path);
        fclose(f);
        return false;
    }
    umdh_stack *cur = NULL;
    while (fgets(line, sizeof line, f)) {
        long long count, bytes;
        unsigned id;
        char addr[64], where[512], sym[512];
        if (sscanf(line, "stack %u count %lld bytes %lld", &id, &count, &bytes) == 3) {
            if (snap->n == snap->capacity) {
                snap->capacity = snap->capacity ? 2 * snap->capacity : 64;
                snap->stacks = realloc(snap->stacks, snap->capacity * sizeof *snap->stacks);
                if (!snap->stacks) {
                    perror("ntheap umdh");
                    exit(1);
                }
            }
            cur = &snap->stacks[snap->n++];
            *cur = (umdh_stack){NULL, NULL, count, bytes};
            append(&cur->key, "");
            append(&cur->symbols, "");
        } else if (cur && sscanf(line, " %63s %511s %511s", addr, where, sym) == 3) {
            char shown[1100];
            append(&cur->key, where);
            append(&cur->key, "\n");
            snprintf(shown, sizeof shown, "    %s (%s)\n", sym, where);
            append(&cur->symbols, shown);
        }
    }
    fclose(f);
    return true;
}

static const umdh_stack *find(const snapshot *snap, const char *key)
{
    for (size_t i = 0; i < snap->n; i++)
        if (strcmp(snap->stacks[i].key, key) == 0) return &snap->stacks[i];
    return NULL;
}

typedef struct change {
    const umdh_stack *shown;
    long long count_a, bytes_a, count_b, bytes_b;
} change;

static int by_growth(const void *x, const void *y)
{
    const change *a = x, *b = y;
    long long ga = a->bytes_b - a->bytes_a, gb = b->bytes_b - b->bytes_a;
    if (ga != gb) return ga > gb ? -1 : 1;
    return (b->count_b - b->count_a) > (a->count_b - a->count_a) ? 1 : -1;
}

static void release(snapshot *snap)
{
    for (size_t i = 0; i < snap->n; i++) {
        free(snap->stacks[i].key);
        free(snap->stacks[i].symbols);
    }
    free(snap->stacks);
}

static int print_changes(const snapshot *a, const snapshot *b);

static int compare(const char *path_a, const char *path_b)
{
    snapshot a = {0}, b = {0};
    bool unreadable = false;
    int status;
    if (load(path_a, &a, &unreadable) && load(path_b, &b, &unreadable))
        status = print_changes(&a, &b);
    else
        status = unreadable ? 2 : 1;
    release(&a);
    release(&b);
    return status;
}

static int print_changes(const snapshot *pa, const snapshot *pb)
{
    const snapshot a = *pa, b = *pb;
    change *changes = calloc(a.n + b.n + 1, sizeof *changes);
    if (!changes) return 1;
    size_t n = 0;
    for (size_t i = 0; i < b.n; i++) {
        const umdh_stack *old = find(&a, b.stacks[i].key);
        changes[n++] = (change){&b.stacks[i], old ? old->count : 0, old ? old->bytes : 0, b.stacks[i].count,
                                b.stacks[i].bytes};
    }
    for (size_t i = 0; i < a.n; i++)
        if (!find(&b, a.stacks[i].key)) changes[n++] = (change){&a.stacks[i], a.stacks[i].count, a.stacks[i].bytes, 0, 0};
    qsort(changes, n, sizeof *changes, by_growth);
    long long total_bytes = 0, total_count = 0;
    for (size_t i = 0; i < n; i++) {
        const change *c = &changes[i];
        long long dc = c->count_b - c->count_a, db = c->bytes_b - c->bytes_a;
        if (dc == 0 && db == 0) continue;
        total_bytes += db;
        total_count += dc;
        printf("%+6lld blocks %+12lld bytes   (A: %lld blocks %lld bytes; B: %lld blocks %lld bytes)\n%s", dc, db,
               c->count_a, c->bytes_a, c->count_b, c->bytes_b,
               *c->shown->symbols ? c->shown->symbols : "    (no stack recorded)\n");
    }
    printf("total: %+lld bytes in %+lld blocks\n", total_bytes, total_count);
    free(changes);
    return 0;
}

static void usage(FILE *out)
{
    fputs("usage: ntheap umdh A.txt B.txt      what grew from snapshot A to snapshot B, by stack\n"
          "       ntheap umdh (-p PID | -c CORE) [--no-stop] [-o FILE] [--json]\n"
          "                                    snapshot another process (or a core file) from outside:\n"
          "                                    every busy block grouped by allocation stack\n"
          "\n"
          "The target must run with NTHEAP_OPTIONS=stack_traces=1 (its stack-trace database is read).\n"
          "Snapshots also come from the program itself: NTHEAP_OPTIONS=leak_report=2 writes\n"
          "ntheap-umdh.PID.txt at exit, and nth_heap_write_snapshot(path, false) writes one on demand;\n"
          "all are in one format. Entries are sorted by growth in bytes, biggest first. -o FILE\n"
          "writes the snapshot there (default: standard output); --json writes it as JSON instead.\n"
          "\n"
          "Exit status: 0 compared or written, 1 a file is not an ntheap heap snapshot (or the target\n"
          "has no stack-trace database), 2 bad usage, a file or target that cannot be opened.\n",
          out);
}

int nth_cli_umdh(int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "-p") == 0 || strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--self") == 0)
            return nth_cli_umdh_take(argc, argv);
    if (argc != 3) {
        usage(stderr);
        return 2;
    }
    return compare(argv[1], argv[2]);
}
