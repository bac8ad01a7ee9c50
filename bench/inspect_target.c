/*
 * inspect_target.c — a process holding one private heap of N live blocks (default 1,000,000),
 * for timing the inspector from outside (bench/inspect.sh): sizes cycle through 24..1000 bytes;
 * with "backend" the LFH is off, so every block is a back-end block with its own header (the
 * slower case for a reader: one header per block), otherwise most blocks are LFH blocks.
 * Prints the pid of the process holding the heap (a forked copy), which waits to be killed.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "ntheap.h"

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
    bool backend = argc > 2 && strcmp(argv[2], "backend") == 0;
    nth_heap *heap = nth_heap_create(0, 0, 0);
    if (!heap || (backend && !nth_heap_set_option(heap, NTH_OPTION_LFH, 0))) return 1;
    static const size_t sizes[] = {24, 40, 64, 100, 200, 300, 500, 1000};
    for (size_t i = 0; i < n; i++)
        if (!nth_heap_alloc(heap, 0, sizes[i % (sizeof sizes / sizeof sizes[0])])) return 1;
    /* the heap lives on in a child (a copy of this process), so that the caller's $(...) ends */
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) return 1;
    if (pid > 0) {
        printf("%d\n", (int)pid);
        return 0;
    }
    if (!freopen("/dev/null", "w", stdout)) return 1;
    for (;;) pause();
}
