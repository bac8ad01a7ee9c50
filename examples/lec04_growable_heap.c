/*
 * lec04_growable_heap.c — the program of the growable-heap lecture, ported: a growable private
 * heap, 100 allocations of 0x100 bytes in the lecture's steps, then the frees and allocations
 * that show the Low Fragmentation Heap at work (the 18th allocation activates it, the 19th is
 * the first block of its first subsegment; the last block freed is the first one reused).
 *
 * It stops at each step so that a debugger can look at its heap from outside. The lecture
 * waited for a key press; this port talks through two file descriptors instead:
 *
 *   lec04_growable_heap [--step-fds OUT,IN]      (or LEC04_STEP_FDS=OUT,IN in the environment)
 *
 *   at each step it writes one line to OUT and waits for one byte on IN:
 *       <step> <heap address> <address of the chunk the step is about, or 0x0> <what happened>
 *   end of file on IN lets it run on to the end without stopping again.
 *
 * Without them it runs straight through. Its standard output is the lecture's console output
 * ("A heap chunk was allocated : 0x..."), flushed before each stop.
 */
#define _POSIX_C_SOURCE 200809L
#include <windows.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNKS 100
#define CHUNK_SIZE 0x100

static int step_out = -1, step_in = -1;
static unsigned step_number;
static HANDLE heap;

/* Announces a step and waits until the driver lets the program go on. */
static void stop(const void *focus, const char *what)
{
    fflush(stdout);
    step_number++;
    if (step_out < 0) return;
    char line[256];
    int n = snprintf(line, sizeof line, "%u 0x%" PRIxPTR " 0x%" PRIxPTR " %s\n", step_number, (uintptr_t)heap,
                     (uintptr_t)focus, what);
    if (n <= 0 || write(step_out, line, (size_t)n) != n) {
        step_out = -1; /* the driver is gone: run on */
        return;
    }
    char go;
    if (read(step_in, &go, 1) != 1) step_out = -1;
}

static void *allocate(void)
{
    void *chunk = HeapAlloc(heap, 0, CHUNK_SIZE);
    if (!chunk) {
        printf("HeapAlloc failed with LastError %lu\n", (unsigned long)GetLastError());
        exit(1);
    }
    printf("A heap chunk was allocated : %p\n", chunk);
    return chunk;
}

static void deallocate(void *chunks[], int index)
{
    if (!HeapFree(heap, 0, chunks[index])) {
        printf("HeapFree failed with LastError %lu\n", (unsigned long)GetLastError());
        exit(1);
    }
    /* The lecture counts chunks from 0 in these lines. */
    printf("%dth chunk(%p) was deallocated\n", index, chunks[index]);
}

static bool parse_fds(const char *text)
{
    char *end;
    long out = strtol(text, &end, 10);
    if (end == text || *end != ',') return false;
    const char *rest = end + 1;
    long in = strtol(rest, &end, 10);
    if (end == rest || *end != '\0' || out < 0 || in < 0 || out > 65535 || in > 65535) return false;
    step_out = (int)out;
    step_in = (int)in;
    return true;
}

int main(int argc, char **argv)
{
    const char *fds = getenv("LEC04_STEP_FDS");
    if (argc == 3 && strcmp(argv[1], "--step-fds") == 0) fds = argv[2];
    else if (argc != 1) {
        fprintf(stderr, "usage: %s [--step-fds OUT,IN]\n", argv[0]);
        return 2;
    }
    if (fds && !parse_fds(fds)) {
        fprintf(stderr, "%s: --step-fds wants two descriptor numbers, OUT,IN\n", argv[0]);
        return 2;
    }

    heap = HeapCreate(0, 0, 0); /* growable: no maximum */
    if (!heap) {
        printf("HeapCreate failed with LastError %lu\n", (unsigned long)GetLastError());
        return 1;
    }
    printf("A size-growable heap was created : %p\n", (void *)heap);
    printf("Let's allocate %d chunks(size 0x%x)\n", CHUNKS, CHUNK_SIZE);
    stop(NULL, "a size-growable heap was created");

    void *chunks[CHUNKS];
    for (int i = 0; i < 17; i++) chunks[i] = allocate();
    stop(chunks[16], "17 chunks allocated from the back-end");

    chunks[17] = allocate();
    stop(chunks[17], "the 18th allocation activated the LFH (its block still came from the back-end)");

    for (int i = 18; i < CHUNKS; i++) chunks[i] = allocate();
    printf("%d chunks are allocated\n", CHUNKS);
    stop(chunks[18], "100 chunks allocated; the 19th was the first block of the LFH");

    deallocate(chunks, 17);
    stop(chunks[17], "the 18th chunk (back-end) was freed");

    void *next = allocate();
    stop(next, "a new chunk came from the LFH, not from the freed back-end block");

    deallocate(chunks, 18);
    stop(chunks[18], "the 19th chunk (the LFH's first block) was freed");

    chunks[18] = allocate();
    stop(chunks[18], "the new chunk reuses it: the last block freed is the first used");

    deallocate(chunks, 18);
    deallocate(chunks, 48);
    deallocate(chunks, 78);
    stop(chunks[78], "three LFH chunks were freed");

    void *more[15];
    for (int i = 0; i < 9; i++) more[i] = allocate();
    stop(more[8], "nine chunks allocated: the three freed slots are used first, last freed first");

    more[9] = allocate();
    stop(more[9], "one more chunk");

    for (int i = 10; i < 15; i++) more[i] = allocate();
    printf("All done!\n");
    stop(more[14], "all done");

    (void)next;
    HeapDestroy(heap);
    return 0;
}
