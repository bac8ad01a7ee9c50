/*
 * small_rss.c — a small program's resident memory, for bench/run.sh (part "rss").
 *
 * Keeps 2000 blocks of 8 B-1 KiB (about 1 MiB) and, with an argument N, runs N threads that
 * each allocate and free 200 blocks of 16 B-1.6 KiB: what a short-lived tool or a test binary
 * does. run.sh reads its peak RSS with /usr/bin/time; everything above the allocator-free
 * baseline (libc, the stack, the binary) is the allocator's start-up and per-thread cost.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEEP 2000
#define THREAD_BLOCKS 200

static void *work(void *arg)
{
    (void)arg;
    void *p[THREAD_BLOCKS];
    for (int i = 0; i < THREAD_BLOCKS; i++) {
        p[i] = malloc(16 + (size_t)i * 8);
        if (p[i]) memset(p[i], 1, 16 + (size_t)i * 8);
    }
    for (int i = 0; i < THREAD_BLOCKS; i++) free(p[i]);
    return NULL;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 0;
    if (threads > 16) threads = 16;
    static void *keep[KEEP];
    size_t sum = 0;
    for (int i = 0; i < KEEP; i++) {
        size_t size = 8 + (size_t)(i % 64) * 16;
        keep[i] = malloc(size);
        if (!keep[i]) return 1;
        memset(keep[i], 2, size);
        sum += size;
    }
    pthread_t t[16];
    for (int i = 0; i < threads; i++)
        if (pthread_create(&t[i], NULL, work, NULL) != 0) return 1;
    for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < KEEP; i++) free(keep[i]);
    printf("small_rss %zu bytes kept, %d threads\n", sum, threads);
    return 0;
}
